#!/usr/bin/python3
"""Installs a package's second stage built from detectors and classifiers: each first-stage candidate is re-scored
from a cube of the grid around it by every member, and the members' scores are averaged.

  PKG_DIR=DIR /usr/bin/python3 models/cascade.py TASK VERSION CROP FIRST_WEIGHT MEMBER [MEMBER ...]

MEMBER is `heat:FILE[@W]` (a heatmap network: weights.pt from train_*.py, or an ONNX heatmap model such as a
package's model.onnx; its score is its heatmap's maximum over the centre's 3^3 voxels, since its peak can sit a
voxel away from the first stage's) or `cls:FILE.onnx[@W]` (a train_refine.py classifier with a logit output,
given the cube's central crop of its own input size). W weights the member (default 1).
The final score is FIRST_WEIGHT x the first stage's score + (1 - FIRST_WEIGHT) x the members' weighted mean
(manifest refine.combine 'mean'; with FIRST_WEIGHT 0, combine 'refine': the members' score alone); with heat members only and FIRST_WEIGHT = 1 / (members + 1), every network
counts alike. That is an ensemble that runs the extra networks only where the first stage found something: a
full-volume ensemble costs one sliding window per member, this one CROP^3 cube per candidate and member.
CROP must be a multiple of 4 (the heatmap network's two stride-2 levels). Every member sees the cube windowed as the
package's first stage (input.channels, on its grid): a weights.pt member must be trained for the same task; an ONNX
member with a manifest.json beside it is checked against it. Keep a copy of a package's refine.onnx that is to be
a member: this writes over the package's refine.onnx.
Needs Debian's python3-onnx besides python3-torch.
FLIPS (1, 4 or 8; default 1) adds test-time augmentation: every member also sees the cube mirrored along each axis
(4: the cube and its three single-axis mirrors; 8: every combination of axes), its heatmaps are mirrored back and
averaged (a classifier's probabilities are averaged), at FLIPS times the member's cost. The networks are trained with
random flips, so every view is one they know. This is done in the graph, not with the manifest's window.tta (the
sliding window's flips): a heatmap must be mirrored back and averaged before its centre maximum, which the runtime
never sees.
Environment: PKG_DIR (default models/<task>), CANDIDATES (default 50), CANDIDATE_SCORE (default 0.05), BATCH (8),
FLIPS (1).
"""
import hashlib
import io
import itertools
import json
import math
import os
import sys

import numpy as np
import onnx
import onnx.compose
from onnx import TensorProto, helper, numpy_helper
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from detector import load_net, with_refine, write_manifest  # noqa: E402

OPSET = 13
PRODUCER = 'ctscope models/cascade.py'


def same_input(path, package):
    """Refuses an ONNX member whose own package windows or samples its input unlike this package."""
    side = os.path.join(os.path.dirname(os.path.abspath(path)), 'manifest.json')
    if not os.path.exists(side):
        return
    own = json.load(open(side))['input']
    for key in ('channels', 'spacing'):
        if own.get(key) != package['input'].get(key):
            sys.exit(f'{path}: its manifest has input.{key} {own.get(key)}, this package {package["input"].get(key)}')


def heat_onnx(path):
    """A heatmap network as an ONNX model with any batch and cube size."""
    if path.endswith('.onnx'):
        return onnx.load(path)
    buf = io.BytesIO()
    torch.onnx.export(load_net(path).eval(), torch.zeros(1, 1, 32, 32, 32), buf, input_names=['image'], output_names=['heatmap'],
                      opset_version=OPSET, do_constant_folding=True,
                      dynamic_axes={'image': {0: 'N', 2: 'D', 3: 'H', 4: 'W'}, 'heatmap': {0: 'N', 2: 'D', 3: 'H', 4: 'W'}})
    return onnx.load_from_string(buf.getvalue())


def free_dims(value_info):
    """Declares every axis but the channel one symbolic (a package's model.onnx may be exported for 64^3 patches)."""
    for a, d in enumerate(value_info.type.tensor_type.shape.dim):
        if a != 1:
            d.ClearField('dim_value')
            d.dim_param = f'{value_info.name}_{a}'


def cube_slice(nodes, inits, src, dst, lo, size, tag):
    """dst = src[:, :, lo:lo+size, lo:lo+size, lo:lo+size]."""
    for name, v in (('starts', [lo] * 3), ('ends', [lo + size] * 3), ('axes', [2, 3, 4])):
        inits.append(numpy_helper.from_array(np.array(v, dtype=np.int64), f'{tag}_{name}'))
    nodes.append(helper.make_node('Slice', [src, f'{tag}_starts', f'{tag}_ends', f'{tag}_axes'], [dst]))


def flip_views(flips):
    """The mirrored views as tuples of spatial axes to reverse; the first is the cube itself."""
    if flips == 1:
        return [()]
    if flips == 4:
        return [(), (2,), (3,), (4,)]
    if flips == 8:
        return [a for k in range(4) for a in itertools.combinations((2, 3, 4), k)]
    sys.exit('FLIPS must be 1, 4 or 8')


def mirror(nodes, inits, src, dst, axes, tag):
    """dst = src reversed along axes (a Slice with step -1)."""
    k = len(axes)
    for name, v in (('starts', [-1] * k), ('ends', [-(2 ** 63)] * k), ('axes', list(axes)), ('steps', [-1] * k)):
        inits.append(numpy_helper.from_array(np.array(v, dtype=np.int64), f'{tag}_{name}'))
    nodes.append(helper.make_node('Slice', [src] + [f'{tag}_{n}' for n in ('starts', 'ends', 'axes', 'steps')], [dst]))


def to_views(nodes, inits, src, dst, views, tag):
    """dst = the views of src stacked along the batch axis: [V x N, ...], view-major."""
    if len(views) == 1:
        nodes.append(helper.make_node('Identity', [src], [dst]))
        return
    names = []
    for v, axes in enumerate(views):
        names.append(src if not axes else f'{tag}_v{v}')
        if axes:
            mirror(nodes, inits, src, names[-1], axes, f'{tag}_v{v}')
    nodes.append(helper.make_node('Concat', names, [dst], axis=0))


def from_views(nodes, inits, src, views, tag, back):
    """The sum over views of src's [V x N, ...] blocks, each mirrored back first when back is set; src if one view."""
    if len(views) == 1:
        return src
    dst = f'{tag}_sum'
    parts = [f'{tag}_p{v}' for v in range(len(views))]
    nodes.append(helper.make_node('Split', [src], parts, axis=0))
    names = []
    for v, axes in enumerate(views):
        names.append(f'{tag}_b{v}' if back and axes else parts[v])
        if back and axes:
            mirror(nodes, inits, parts[v], names[-1], axes, f'{tag}_b{v}')
    nodes.append(helper.make_node('Sum', names, [dst]))
    return dst


def build(members, crop, flips=1):
    """One ONNX graph: crop [N, 1, S, S, S] -> score [N, 1], the members' weighted mean (each averaged over views)."""
    pre, post, inits, graphs, scores = [], [], [], [], []  # nodes before the members' bodies (from the crop) and after
    total = sum(w for _, _, w in members)
    views = flip_views(flips)
    for i, (kind, path, w) in enumerate(members):
        p = f'm{i}_'
        raw = heat_onnx(path) if kind == 'heat' else onnx.load(path)
        if raw.producer_name == PRODUCER:
            sys.exit(f'{path}: made by cascade.py (a second stage already), not a network to add as a member')
        m = onnx.compose.add_prefix(raw, p)
        if m.opset_import[0].version != OPSET:
            sys.exit(f'{path}: opset {m.opset_import[0].version}, {OPSET} expected')
        g = m.graph
        inp, out = g.input[0], g.output[0]
        if kind == 'heat':
            free_dims(inp)
            free_dims(out)
            to_views(pre, inits, 'crop', inp.name, views, f'{p}in')
            heat = from_views(post, inits, out.name, views, f'{p}out', back=True)
            cube_slice(post, inits, heat, f'{p}centre', crop // 2 - 1, 3, f'{p}c')
            post.append(helper.make_node('ReduceMax', [f'{p}centre'], [f'{p}max'], axes=[2, 3, 4], keepdims=0))
            score = f'{p}max'
        else:
            s = inp.type.tensor_type.shape.dim[2].dim_value
            if not s or s > crop:
                sys.exit(f'{path}: input cube {s}, at most {crop} expected')
            sub = inp.name if len(views) == 1 else f'{p}sub'
            cube_slice(pre, inits, 'crop', sub, crop // 2 - s // 2, s, f'{p}c')
            if sub != inp.name:
                to_views(pre, inits, sub, inp.name, views, f'{p}in')
            post.append(helper.make_node('Sigmoid', [out.name], [f'{p}prob']))
            score = from_views(post, inits, f'{p}prob', views, f'{p}out', back=False)
        # The views' sum is averaged here, with the member's weight.
        inits.append(numpy_helper.from_array(np.array(w / total / len(views), dtype=np.float32), f'{p}w'))
        post.append(helper.make_node('Mul', [score, f'{p}w'], [f'{p}weighted']))
        scores.append(f'{p}weighted')
        graphs.append(g)
    post.append(helper.make_node('Sum', scores, ['score']))
    graph = helper.make_graph(
        pre + [n for g in graphs for n in g.node] + post,
        'cascade',
        [helper.make_tensor_value_info('crop', TensorProto.FLOAT, ['N', 1, crop, crop, crop])],
        [helper.make_tensor_value_info('score', TensorProto.FLOAT, ['N', 1])],
        initializer=[t for g in graphs for t in g.initializer] + inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)], producer_name=PRODUCER)
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def parse_member(arg):
    kind, _, rest = arg.partition(':')
    path, _, w = rest.partition('@')
    if kind not in ('heat', 'cls') or not path or (kind == 'cls' and not path.endswith('.onnx')):
        sys.exit(f'member {arg!r}: heat:FILE[@W] or cls:FILE.onnx[@W] expected')
    weight = float(w) if w else 1.0
    if not (math.isfinite(weight) and weight > 0):
        sys.exit(f'member {arg!r}: its weight must be a positive number')
    if not os.path.exists(path):
        sys.exit(f'member {arg!r}: {path} not found')
    return kind, path, weight


def main():
    if len(sys.argv) < 6:
        sys.exit('usage: cascade.py TASK VERSION CROP FIRST_WEIGHT heat:FILE[@W]|cls:FILE.onnx[@W] ...')
    task, version, crop, first_weight = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    members = [parse_member(a) for a in sys.argv[5:]]
    if crop % 4 or crop < 8:
        sys.exit('CROP must be a multiple of 4, at least 8')
    if not 0 <= first_weight <= 1:
        sys.exit('FIRST_WEIGHT must be within 0-1')
    here = os.path.dirname(os.path.abspath(__file__))
    pkg = os.environ.get('PKG_DIR') or os.path.join(here, task)
    mpath = os.path.join(pkg, 'manifest.json')
    m = json.load(open(mpath))
    for _, p, _ in members:
        if p.endswith('.onnx'):
            same_input(p, m)
    # Built in memory before anything is written, so a failure leaves the package as it was.
    flips = int(os.environ.get('FLIPS', 1))
    data = build(members, crop, flips).SerializeToString()
    path = os.path.join(pkg, 'refine.onnx')
    refine = {'file': 'refine.onnx', 'sha256': hashlib.sha256(data).hexdigest(), 'input': 'crop', 'output': 'score',
              'activation': 'none', 'patchSize': crop, 'candidates': int(os.environ.get('CANDIDATES', 50)),
              'candidateScore': float(os.environ.get('CANDIDATE_SCORE', 0.05)), 'combine': 'mean',
              'firstWeight': round(first_weight, 4), 'batch': int(os.environ.get('BATCH', 8))}
    if first_weight == 0:
        # The second stage's score alone: the manifest says so plainly (reports: "its score alone").
        refine['combine'] = 'refine'
        del refine['firstWeight']
    out = with_refine(m, refine)
    out['version'] = version
    with open(path, 'wb') as f:
        f.write(data)
    write_manifest(mpath, out)
    print(f'wrote {path}: {len(data)} bytes, {len(members)} member(s), crop {crop}, first weight {first_weight}, '
          f'{flips} view(s)')
    print('check the manifest\'s description, trainingData and thresholds.score: they are kept as they were')


if __name__ == '__main__':
    main()
