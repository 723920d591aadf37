#!/usr/bin/python3
"""Packs crops from make_crops.mjs into one compressed file small enough to carry to a GPU machine:
the central S^3 of each crop, HU quantised to uint8 over [lo, hi] (the model clips to a narrower window).
Keeps every crop when they fit, else all lesion crops first and a random share of the others.

  /usr/bin/python3 models/pack_crops.py CROPS_DIR[,CROPS_DIR...] OUT.npz LO HI MAX_MB [S=40]
"""
import json
import os
import sys
import zlib

import numpy as np

src, out, lo, hi, max_mb = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
S = int(sys.argv[6]) if len(sys.argv) > 6 else 40
C = 48
meta, parts = [], []
for d in src.split(','):  # several crop folders: comma-separated
    with open(os.path.join(d, 'crops.jsonl')) as f:
        m = [json.loads(l) for l in f if l.strip()]
    raw = np.fromfile(os.path.join(d, 'crops.i16'), dtype=np.int16)
    k = min(len(m), len(raw) // C ** 3)
    meta += m[:k]
    parts.append(raw[: k * C ** 3].reshape(k, C, C, C))
data = np.concatenate(parts)
n = len(meta)
o = (C - S) // 2
q = np.clip(np.round((data[:, o:o + S, o:o + S, o:o + S].astype(np.float32) - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)
per = len(zlib.compress(q[: min(n, 64)].tobytes(), 6)) / min(n, 64)
keep_n = min(n, int(max_mb * 1e6 / per))
rng = np.random.default_rng(0)
pos = [i for i in range(n) if meta[i]['why'] == 'pos']
other = [i for i in range(n) if meta[i]['why'] != 'pos']
rng.shuffle(pos)
rng.shuffle(other)
take_pos = pos[: max(keep_n // 2, keep_n - len(other))]
keep = sorted(take_pos + other[: keep_n - len(take_pos)])
m = [{**meta[i], 'lesions': [{**l, 'c': [c - o for c in l['c']]} for l in meta[i]['lesions']]} for i in keep]
np.savez_compressed(out, q=q[keep], lo=lo, hi=hi, meta=json.dumps(m))
print(f'{out}: {len(keep)} of {n} crops ({len(take_pos)} around lesions), {os.path.getsize(out) / 1e6:.1f} MB')
