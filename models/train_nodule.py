#!/usr/bin/python3
"""Trains and exports the bundled lung nodule detector (models/nodule/).

  node models/make_crops.mjs nodule /tmp/crops/nodule 1000 1199     # phantoms, seeds 1000-1199
  /usr/bin/python3 models/pack_crops.py /tmp/crops/nodule /tmp/crops/nodule.npz -1024 400 55
  python3 models/train_nodule.py /tmp/crops/nodule.npz /tmp/train/nodule 7   # GPU if present; exports models/nodule
Environment: TRAIN_STEPS, TRAIN_SECONDS (stop early), TRAIN_THREADS (CPU threads, default 2).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from detector import main, make_manifest  # noqa: E402

CFG = {
    'spacing': 1.25, 'patch': 32, 'inferPatch': 64, 'width': 16, 'batch': 32, 'steps': 3000, 'lr': 3e-3,
    'posFraction': 0.6, 'zoom': [0.9, 1.25], 'blurP': 0.3, 'contrastKnee': None, 'contrastScale': [1, 1],
    'offset': 40, 'noise': 30, 'window': [-1000, 400], 'sigmaFactor': 0.5, 'sigmaMin': 1.0, 'sigmaMax': 4.0,
    'permuteP': 0.5,
}


def manifest(seeds, version):
    return make_manifest(
        'nodule', CFG, version=version, min_distance_mm=6, threshold=0.5,
        description='Lung nodule detector for chest CT: small 3-D encoder-decoder (16-32 channels, stride-2 stem) giving a '
                    'centre heatmap at 1.25 mm isotropic; findings are its local maxima.',
        training_data=f'Synthetic chest CT phantoms from ctscope synth (generator ctscope-synth/1, seeds {seeds}) '
                      'only. Not trained or validated on patient data; not for clinical use.')


if __name__ == '__main__':
    main('nodule', CFG, manifest, '1000-1114')
