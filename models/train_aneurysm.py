#!/usr/bin/python3
"""Trains and exports the bundled intracranial aneurysm detector (models/aneurysm/).

  node models/make_crops.mjs aneurysm /tmp/crops/aneurysm 1000 1199     # phantoms, seeds 1000-1199
  /usr/bin/python3 models/pack_crops.py /tmp/crops/aneurysm /tmp/crops/aneurysm.npz -200 1000 55
  python3 models/train_aneurysm.py /tmp/crops/aneurysm.npz /tmp/train/aneurysm 7   # GPU if present; exports models/aneurysm
Environment: TRAIN_STEPS, TRAIN_SECONDS (stop early), TRAIN_THREADS (CPU threads, default 2).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from detector import main, make_manifest  # noqa: E402

CFG = {
    'spacing': 0.75, 'patch': 32, 'inferPatch': 64, 'width': 16, 'batch': 32, 'steps': 3000, 'lr': 3e-3,
    'posFraction': 0.6, 'zoom': [0.9, 1.25], 'blurP': 0.3, 'contrastKnee': 100, 'contrastScale': [0.6, 1.5],
    'offset': 30, 'noise': 25, 'window': [-100, 900], 'sigmaFactor': 0.5, 'sigmaMin': 1.0, 'sigmaMax': 4.0,
    'permuteP': 0.5,
}


def manifest(seeds, version):
    return make_manifest(
        'aneurysm', CFG, version=version, min_distance_mm=4, threshold=0.6,
        description='Intracranial aneurysm detector for CTA: small 3-D encoder-decoder (16-32 channels, stride-2 stem) giving a '
                    'centre heatmap at 0.75 mm isotropic; findings are its local maxima.',
        training_data=f'Synthetic head CTA phantoms from ctscope synth (generator ctscope-synth/1, seeds {seeds}) '
                      'only. Not trained or validated on patient data; not for clinical use.')


if __name__ == '__main__':
    main('aneurysm', CFG, manifest, '1000-1116')
