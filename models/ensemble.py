#!/usr/bin/python3
"""Replaces a bundled package's first stage by one trained heatmap network, or by the average of several.

  /usr/bin/python3 models/ensemble.py aneurysm VERSION WEIGHTS_A.pt [WEIGHTS_B.pt ...]

With several, one ONNX graph runs every network on the same patch and averages their (sigmoid) heatmaps, so the
package keeps one model.onnx and ctscope's sliding window, refine stage and thresholds are unchanged.
The manifest keeps everything but sha256, version and the description and training-data notes.
Environment: PKG_DIR (default models/<task>), SEEDS_NOTE (text for trainingData, e.g. which runs).
"""
import hashlib
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from detector import load_net, write_manifest  # noqa: E402

PATCH = 64


class MeanOf(torch.nn.Module):
    """Averages the heatmaps of its members."""

    def __init__(self, nets):
        super().__init__()
        self.nets = torch.nn.ModuleList(nets)

    def forward(self, x):
        return sum(n(x) for n in self.nets) / len(self.nets)


def main():
    task, version, weights = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not weights:
        sys.exit('usage: ensemble.py TASK VERSION WEIGHTS_A.pt [WEIGHTS_B.pt ...]')
    here = os.path.dirname(os.path.abspath(__file__))
    pkg = os.environ.get('PKG_DIR') or os.path.join(here, task)
    nets = [load_net(w).eval() for w in weights]
    # One network replaces the first stage as it is (a candidate to evaluate, or a retrained model).
    model = nets[0] if len(nets) == 1 else MeanOf(nets).eval()
    path = os.path.join(pkg, 'model.onnx')
    torch.onnx.export(model, torch.zeros(1, 1, PATCH, PATCH, PATCH), path, input_names=['image'], output_names=['heatmap'],
                      opset_version=13, dynamic_axes={'image': {0: 'N'}, 'heatmap': {0: 'N'}}, do_constant_folding=True)
    data = open(path, 'rb').read()
    mpath = os.path.join(pkg, 'manifest.json')
    m = json.load(open(mpath))
    m['sha256'] = hashlib.sha256(data).hexdigest()
    m['version'] = version
    # The note says how many networks the first stage averages: drop the old one, add the new one if several.
    m['description'] = re.sub(r'; first stage: the mean of \d+ heatmap networks of the same architecture', '', m['description'])
    if len(nets) > 1:
        m['description'] = m['description'].rstrip('.') + f'; first stage: the mean of {len(nets)} heatmap networks of the same architecture.'
    if os.environ.get('SEEDS_NOTE'):
        m['trainingData'] = os.environ['SEEDS_NOTE']
    write_manifest(mpath, m)
    print(f'exported {path}: {len(data)} bytes, sha256 {m["sha256"]}')
    print('check the manifest\'s description (network width, stages) and trainingData: they are kept as they were')


if __name__ == '__main__':
    main()
