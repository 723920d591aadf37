"""Trains the second stage of a bundled detector: a small 3-D CNN that re-scores first-stage candidates
(false-positive reduction, as in the LUNA16 challenge's second track). Reads the crops that
models/mine_candidates.mjs cut around the first stage's candidates and around every lesion, and exports
refine.onnx next to the first-stage model; its `install` command records it in the manifest. (A second stage made
of other networks instead: models/cascade.py.)

  /usr/bin/python3 models/train_refine.py nodule|aneurysm CROPS_DIR[,CROPS_DIR...] OUT_DIR SEED
  /usr/bin/python3 models/train_refine.py install PACKAGE_DIR OUT_DIR COMBINE THRESHOLD
      copies OUT_DIR/refine.onnx into the package (e.g. models/nodule) and records it in the manifest's
      `refine` section (combine: refine|geometric|mean, mean with firstWeight 0.5; threshold: the final score's
      default operating threshold)

Environment: TRAIN_SECONDS (wall-clock budget, default 900), TRAIN_THREADS (default 2), TRAIN_BATCH (64),
VAL_SEEDS=a-b (crops of these seeds are held out and scored at the end; default none), SMALL_MM and SMALL_BOOST
(positives of a lesion under SMALL_MM are drawn SMALL_BOOST times as often; default no boost), INIT_WEIGHTS (a
refine.pt to start from instead of random weights), TRAIN_LR (peak learning rate, default 0.002).
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MINED = 32  # crop edge written by mine_candidates.mjs
PATCH = 28  # the classifier's input edge: MINED - 4 leaves +-2 voxels of jitter


def block(cin, cout):
    return nn.Sequential(nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


class RefineNet(nn.Module):
    """[N, 1, 28, 28, 28] window-normalised HU -> [N, 1] logit. 8-16-32-64 channels, three 2x poolings;
    the last features are flattened, not averaged, because the candidate is always at the centre."""

    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(
            block(1, 8), nn.MaxPool3d(2),                       # 14
            block(8, 16), block(16, 16), nn.MaxPool3d(2),       # 7
            block(16, 32), block(32, 32), nn.MaxPool3d(2, ceil_mode=True),  # 4
            block(32, 64),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 4 * 4 * 4, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))

    def forward(self, x):
        return self.head(self.f(x))


def load(dirs):
    """Crops of every folder in one array, filled folder by folder from a memory map (no second copy in memory)."""
    metas, maps = [], []
    for d in dirs.split(','):
        with open(os.path.join(d, 'crops.jsonl')) as f:
            m = [json.loads(l) for l in f if l.strip()]
        raw = np.memmap(os.path.join(d, 'crops.i16'), dtype=np.int16, mode='r')
        k = min(len(m), len(raw) // MINED ** 3)
        metas.append(m[:k])
        maps.append(raw[: k * MINED ** 3].reshape(k, MINED, MINED, MINED))
    data = np.empty((sum(len(m) for m in maps), MINED, MINED, MINED), np.int16)
    at = 0
    for m in maps:
        data[at:at + len(m)] = m
        at += len(m)
    return [x for m in metas for x in m], data


def normalise(x, window):
    lo, hi = window
    return (np.clip(x.astype(np.float32), lo, hi) - lo) / (hi - lo)


def augment(batch, rng, window, task):
    """batch: [B, 32, 32, 32] int16 HU -> [B, 1, 28, 28, 28] float32 with jitter, flips, axis order, HU and noise."""
    out = np.empty((len(batch), PATCH, PATCH, PATCH), np.float32)
    for n, c in enumerate(batch):
        o = rng.integers(0, MINED - PATCH + 1, 3)
        x = c[o[0]:o[0] + PATCH, o[1]:o[1] + PATCH, o[2]:o[2] + PATCH].astype(np.float32)
        x = x * rng.uniform(0.95, 1.05) + rng.uniform(-30, 30)
        if task == 'aneurysm':  # other bolus timings: contrast above 100 HU scaled
            hot = x > 100
            x[hot] = 100 + (x[hot] - 100) * rng.uniform(0.7, 1.4)
        if rng.random() < 0.5:
            x += rng.normal(0, rng.uniform(0, 25), x.shape).astype(np.float32)
        for ax in range(3):
            if rng.random() < 0.5:
                x = np.flip(x, ax)
        x = np.transpose(x, rng.permutation(3))
        out[n] = normalise(x, window)
    return torch.from_numpy(out[:, None])


def centre(batch, window):
    o = (MINED - PATCH) // 2
    return torch.from_numpy(normalise(batch[:, o:o + PATCH, o:o + PATCH, o:o + PATCH], window)[:, None])


def install(pkg_dir, out_dir, combine, threshold):
    import hashlib
    import shutil
    dst = os.path.join(pkg_dir, 'refine.onnx')
    shutil.copyfile(os.path.join(out_dir, 'refine.onnx'), dst)
    path = os.path.join(pkg_dir, 'manifest.json')
    m = json.load(open(path))
    refine = {'file': 'refine.onnx', 'sha256': hashlib.sha256(open(dst, 'rb').read()).hexdigest(), 'input': 'crop', 'output': 'logit',
              'activation': 'sigmoid', 'patchSize': PATCH, 'candidates': int(os.environ.get('REFINE_CANDIDATES', 100)), 'candidateScore': 0.02, 'combine': combine, 'batch': 32}
    from detector import with_refine, write_manifest
    out = with_refine(m, refine)
    out['thresholds']['score'] = float(threshold)
    write_manifest(path, out)
    print(f'{path}: refine {refine["sha256"][:12]}, combine {combine}, threshold {threshold}')


def main():
    if sys.argv[1] == 'install':
        return install(*sys.argv[2:6])
    task, src, out_dir, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    here = os.path.dirname(os.path.abspath(__file__))
    window = json.load(open(os.path.join(here, task, 'manifest.json')))['input']['channels'][0]['window']
    budget = float(os.environ.get('TRAIN_SECONDS', 900))
    torch.set_num_threads(int(os.environ.get('TRAIN_THREADS', 2)))
    B = int(os.environ.get('TRAIN_BATCH', 64))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    meta, data = load(src)
    val = os.environ.get('VAL_SEEDS')
    lo, hi = (int(v) for v in val.split('-')) if val else (1, 0)
    is_val = np.array([lo <= m['seed'] <= hi for m in meta])
    label = np.array([m['label'] for m in meta])
    pos = np.flatnonzero((label == 1) & ~is_val)
    neg = np.flatnonzero((label == 0) & ~is_val)
    small_mm, boost = float(os.environ.get('SMALL_MM', 0)), float(os.environ.get('SMALL_BOOST', 1))
    pos_w = np.array([boost if meta[i].get('d', 99) < small_mm else 1.0 for i in pos])
    pos_w /= pos_w.sum()
    print(f'{len(meta)} crops: {len(pos)} positive, {len(neg)} negative for training, {is_val.sum()} held out', flush=True)
    net = RefineNet()
    if os.environ.get('INIT_WEIGHTS'):
        net.load_state_dict(torch.load(os.environ['INIT_WEIGHTS']))
    lr = float(os.environ.get('TRAIN_LR', 2e-3))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    t0, step, losses = time.time(), 0, []
    while time.time() - t0 < budget:
        # A quarter positives per batch: lesions are rare among candidates.
        idx = np.concatenate([rng.choice(pos, B // 4, p=pos_w), rng.choice(neg, B - B // 4)])
        x = augment(data[idx], rng, window, task)
        y = torch.from_numpy(label[idx].astype(np.float32))[:, None]
        frac = (time.time() - t0) / budget
        for g in opt.param_groups:
            g['lr'] = lr * 0.5 * (1 + np.cos(np.pi * min(frac, 1)))  # cosine decay over the time budget
        net.train()
        loss = F.binary_cross_entropy_with_logits(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 100 == 0:
            print(f'step {step} loss {np.mean(losses[-100:]):.4f} {time.time() - t0:.0f} s', flush=True)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(net.state_dict(), os.path.join(out_dir, 'refine.pt'))
    net.eval()
    if is_val.any():
        vi = np.flatnonzero(is_val & np.array([m['why'] == 'cand' for m in meta]))
        with torch.no_grad():
            p = torch.cat([torch.sigmoid(net(centre(data[vi[a:a + 256]], window)))[:, 0] for a in range(0, len(vi), 256)]).numpy()
        from_seed = {}
        for i, s in zip(vi, p):
            from_seed.setdefault(meta[i]['seed'], []).append((s, meta[i]['score'], label[i]))
        json.dump({str(k): [[float(a), float(b), int(c)] for a, b, c in v] for k, v in from_seed.items()}, open(os.path.join(out_dir, 'val_scores.json'), 'w'))
    x = torch.zeros(1, 1, PATCH, PATCH, PATCH)
    torch.onnx.export(net, x, os.path.join(out_dir, 'refine.onnx'), input_names=['crop'], output_names=['logit'], opset_version=13,
                      dynamic_axes={'crop': {0: 'N'}, 'logit': {0: 'N'}}, do_constant_folding=True)
    print(f'{step} steps in {time.time() - t0:.0f} s; wrote {out_dir}/refine.onnx', flush=True)


if __name__ == '__main__':
    main()
