"""Shared code for the bundled detectors: data (crops from models/make_crops.mjs), augmentation, network, loss,
training loop and ONNX + manifest export. Run through models/train_nodule.py and models/train_aneurysm.py with
/usr/bin/python3 (Debian python3-torch, CPU) or any PyTorch >= 1.13 (CUDA is used when present).

The network is a small fully convolutional 3-D encoder-decoder (two stride-2 levels, 8-16-32 channels,
additive skips) that outputs a heatmap: a Gaussian at each lesion centre. ctscope runs it in a sliding window
and reads lesions off the heatmap's local maxima (src/inference, output kind 'heatmap').
"""
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv(cin, cout, stride=1, dilation=1):
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


class HeatmapNet(nn.Module):
    """Input [N, 1, D, H, W] (D, H, W multiples of 4), output sigmoid heatmap of the same size.

    The first convolution has stride 2, so no multi-channel tensor is ever held at full resolution (on CPU
    that memory traffic, not arithmetic, sets the speed); the half-resolution logits are upsampled
    trilinearly and the sub-voxel peak is refined by ctscope's parabola fit.
    """

    def __init__(self, w=16):
        super().__init__()
        self.s1 = conv(1, w, stride=2)
        self.c2 = conv(w, w)
        self.d2 = conv(w, 2 * w, stride=2)
        self.c3 = conv(2 * w, 2 * w, dilation=2)
        self.c4 = conv(2 * w, 2 * w, dilation=4)
        self.r2 = nn.Conv3d(2 * w, w, 1)
        self.u2 = conv(w, w)
        self.head = nn.Conv3d(w, 1, 1)
        nn.init.constant_(self.head.bias, -4.0)

    def logits(self, x):
        b = self.c2(self.s1(x))
        c = self.c4(self.c3(self.d2(b)))
        b2 = self.u2(F.interpolate(self.r2(c), scale_factor=2, mode='nearest') + b)
        return F.interpolate(self.head(b2), scale_factor=2, mode='trilinear', align_corners=False)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


class Crops:
    """Crops written by make_crops.mjs: int16 HU, [count, C, C, C] in memory order (k, j, i)."""

    def __init__(self, path, size=48):
        if path.endswith('.npz'):
            # Packed by pack_crops.py: uint8 over [lo, hi] HU.
            z = np.load(path)
            self.meta = json.loads(str(z['meta']))
            q = z['q']
            self.data = q.astype(np.float32) * ((float(z['hi']) - float(z['lo'])) / 255) + float(z['lo'])
            self.size = q.shape[1]
        else:
            # One or more make_crops.mjs folders, comma-separated (crop generation runs one process per core).
            self.meta, parts = [], []
            for d in path.split(','):
                with open(os.path.join(d, 'crops.jsonl')) as f:
                    meta = [json.loads(line) for line in f if line.strip()]
                raw = np.fromfile(os.path.join(d, 'crops.i16'), dtype=np.int16)
                n = min(len(meta), len(raw) // size ** 3)
                self.meta += meta[:n]
                parts.append(raw[: n * size ** 3].reshape(n, size, size, size))
            self.size = size
            self.data = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self.pos = [i for i, m in enumerate(self.meta) if m['why'] == 'pos']
        self.neg = [i for i, m in enumerate(self.meta) if m['why'] != 'pos']

    def pos_weights(self, small_mm, boost):
        """Sampling weights of the lesion crops: those with a lesion under `small_mm` count `boost` times."""
        w = np.array([boost if any(l['d'] < small_mm for l in self.meta[i]['lesions']) else 1.0 for i in self.pos])
        return w / w.sum()


def gaussian_blur(x, sigma):
    if sigma <= 0.05:
        return x
    r = max(1, int(round(2.5 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    x = F.conv3d(F.pad(x, (0, 0, 0, 0, r, r), mode='replicate'), g.view(1, 1, -1, 1, 1))
    x = F.conv3d(F.pad(x, (0, 0, r, r, 0, 0), mode='replicate'), g.view(1, 1, 1, -1, 1))
    return F.conv3d(F.pad(x, (r, r, 0, 0, 0, 0), mode='replicate'), g.view(1, 1, 1, 1, -1))


class Sampler:
    """Draws augmented training batches: image (window-normalised) and target heatmap plus centre mask."""

    def __init__(self, crops, cfg, rng, device):
        self.c, self.cfg, self.rng, self.device = crops, cfg, rng, device
        self.pw = crops.pos_weights(cfg.get('smallMm', 0), cfg.get('smallBoost', 1.0))

    def one(self):
        cfg, rng = self.cfg, self.rng
        idx = self.c.pos[rng.choice(len(self.c.pos), p=self.pw)] if rng.random() < cfg['posFraction'] else rng.choice(self.c.neg)
        hu = torch.from_numpy(self.c.data[idx].astype(np.float32))[None, None].to(self.device)
        lesions = [(np.array(l['c'][::-1], dtype=np.float64), l['d']) for l in self.c.meta[idx]['lesions']]  # (k, j, i)
        size = self.c.size
        # Scale (zoom) first: sizes of anatomy and lesions vary between patients.
        z = float(np.exp(rng.uniform(np.log(cfg['zoom'][0]), np.log(cfg['zoom'][1]))))
        n = int(round(size * z))
        if n != size:
            hu = F.interpolate(hu, size=(n, n, n), mode='trilinear', align_corners=False)
            lesions = [((c + 0.5) * n / size - 0.5, d * n / size) for c, d in lesions]
        P = cfg['patch']
        if n < P:
            hu = F.pad(hu, [0, P - n] * 3, value=-1024.0)
            n = P
        # Crop: keep a positive's lesion in view most of the time.
        lo = [int(rng.integers(0, n - P + 1)) for _ in range(3)]
        if lesions and rng.random() < 0.9:
            c = lesions[int(rng.integers(len(lesions)))][0]
            lo = [int(np.clip(round(c[a] - rng.uniform(6, P - 6)), 0, n - P)) for a in range(3)]
        hu = hu[:, :, lo[0]:lo[0] + P, lo[1]:lo[1] + P, lo[2]:lo[2] + P]
        lesions = [(c - np.array(lo), d) for c, d in lesions]
        # Scanner: kernel blur, then intensity calibration and noise.
        if rng.random() < cfg['blurP']:
            hu = gaussian_blur(hu, float(rng.uniform(0.3, 1.2)))
        knee = cfg['contrastKnee']
        if knee is not None:
            s = float(rng.uniform(*cfg['contrastScale']))
            hu = torch.where(hu > knee, knee + (hu - knee) * s, hu)
        hu = hu * float(rng.uniform(0.93, 1.07)) + float(rng.uniform(-cfg['offset'], cfg['offset']))
        if rng.random() < 0.7:
            noise = torch.randn_like(hu) * float(rng.uniform(0, cfg['noise']))
            if rng.random() < 0.5:
                noise = gaussian_blur(noise, float(rng.uniform(0.5, 1.0))) * 2.0
            hu = hu + noise
        lo_w, hi_w = cfg['window']
        x = ((hu.clamp(lo_w, hi_w) - lo_w) / (hi_w - lo_w))[0]
        # Target.
        kk, jj, ii = torch.meshgrid(*[torch.arange(P, dtype=torch.float32, device=self.device)] * 3, indexing='ij')
        target = torch.zeros(1, P, P, P, device=self.device)
        centre = torch.zeros(1, P, P, P, device=self.device)
        for c, d in lesions:
            r = d / 2 / cfg['spacing']
            if not all(-r < c[a] < P - 1 + r for a in range(3)):
                continue
            sigma = float(np.clip(cfg['sigmaFactor'] * r, cfg['sigmaMin'], cfg['sigmaMax']))
            g = torch.exp(-((kk - c[0]) ** 2 + (jj - c[1]) ** 2 + (ii - c[2]) ** 2) / (2 * sigma ** 2))
            target[0] = torch.maximum(target[0], g)
            ci = [int(round(v)) for v in c]
            if all(0 <= ci[a] < P for a in range(3)):
                centre[0, ci[0], ci[1], ci[2]] = 1
        target = torch.maximum(target, centre)
        # Geometry: flips and axis permutations (the grid is isotropic).
        for a in range(3):
            if rng.random() < 0.5:
                x, target, centre = x.flip(a + 1), target.flip(a + 1), centre.flip(a + 1)
        if rng.random() < cfg['permuteP']:
            p = [0] + list(1 + rng.permutation(3))
            x, target, centre = x.permute(*p), target.permute(*p), centre.permute(*p)
        return x, target, centre

    def batch(self, n):
        xs, ts, cs = zip(*(self.one() for _ in range(n)))
        return torch.stack(xs), torch.stack(ts), torch.stack(cs)


class Batches(torch.utils.data.IterableDataset):
    """Endless augmented batches, made on CPU in DataLoader workers (each with its own random stream)."""

    def __init__(self, crops, cfg, seed):
        self.crops, self.cfg, self.seed = crops, cfg, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        sampler = Sampler(self.crops, self.cfg, np.random.default_rng([self.seed, wid]), 'cpu')
        torch.set_num_threads(1)
        while True:
            yield sampler.batch(self.cfg['batch'])


def focal_loss(logits, target, centre, alpha=2.0, beta=4.0):
    """CenterNet's penalty-reduced focal loss on a Gaussian heatmap; centre voxels are the positives."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = centre
    neg = 1 - centre
    pos_loss = -torch.log(p) * (1 - p) ** alpha * pos
    neg_loss = -torch.log(1 - p) * p ** alpha * (1 - target) ** beta * neg
    npos = pos.sum().clamp(min=1)
    return (pos_loss.sum() + neg_loss.sum()) / npos


def train(cfg, data_dir, out_dir, seed):
    # CFG_JSON: overrides of the task's configuration, e.g. '{"smallMm": 4, "smallBoost": 2}'.
    cfg = {**cfg, **json.loads(os.environ.get('CFG_JSON', '{}'))}
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device == 'cpu':
        torch.set_num_threads(int(os.environ.get('TRAIN_THREADS', '2')))
    crops = Crops(data_dir)
    print(f"{len(crops.meta)} crops ({len(crops.pos)} around lesions) from {data_dir}, device {device}", flush=True)
    net = HeatmapNet(cfg['width']).to(device)
    if os.environ.get('INIT_WEIGHTS'):
        # Continue from an earlier run (fine-tuning on further phantoms).
        net.load_state_dict(torch.load(os.environ['INIT_WEIGHTS'], map_location=device))
    lr = float(os.environ.get('TRAIN_LR', cfg['lr']))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = int(os.environ.get('TRAIN_STEPS', cfg['steps']))
    budget = float(os.environ.get('TRAIN_SECONDS', '1e9'))
    workers = int(os.environ.get('TRAIN_WORKERS', '0'))
    if workers > 0:
        loader = iter(torch.utils.data.DataLoader(Batches(crops, cfg, seed), batch_size=None, num_workers=workers, prefetch_factor=4))
        next_batch = lambda: [t.to(device, non_blocking=True) for t in next(loader)]  # noqa: E731
    else:
        sampler = Sampler(crops, cfg, rng, device)
        next_batch = lambda: sampler.batch(cfg['batch'])  # noqa: E731
    net.train()
    ema = None
    done = 0
    # The time budget starts with the first step, not with loading the crops. With TRAIN_SECONDS the schedule follows
    # the wall clock, so such a run is not reproducible step for step; TRAIN_STEPS alone is (on the CPU).
    t0 = time.time()
    for step in range(steps):
        x, target, centre = next_batch()
        loss = focal_loss(net.logits(x), target, centre)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done = step + 1
        # Warm-up then cosine decay over whichever ends first: the step count or the time budget.
        frac = max(done / steps, (time.time() - t0) / budget)
        for g in opt.param_groups:
            g['lr'] = lr * (min(1.0, frac / 0.05) if frac < 0.05 else 0.5 * (1 + np.cos(np.pi * min(frac, 1.0))))
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step} loss {ema:.4f} {time.time() - t0:.0f} s", flush=True)
        if frac >= 1:
            print(f"schedule done at step {step}", flush=True)
            break
    os.makedirs(out_dir, exist_ok=True)
    torch.save(net.state_dict(), os.path.join(out_dir, 'weights.pt'))
    info = {'steps': done, 'seconds': round(time.time() - t0, 1), 'device': device, 'crops': len(crops.meta), 'torch': torch.__version__}
    with open(os.path.join(out_dir, 'train-log.json'), 'w') as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info), flush=True)
    return net


def load_net(path):
    """A trained HeatmapNet from its weights file; the width is read from the weights (CFG_JSON may have changed it)."""
    state = torch.load(path, map_location='cpu')
    net = HeatmapNet(state['s1.0.weight'].shape[0])
    net.load_state_dict(state)
    return net


def export(net_or_weights, cfg, out_dir, manifest):
    """Writes out_dir/model.onnx (opset 13, dynamic batch axis, fixed patch) and manifest.json with its sha256."""
    if isinstance(net_or_weights, str):
        net = load_net(net_or_weights)
    else:
        net = HeatmapNet(net_or_weights.s1[0].weight.shape[0])
        net.load_state_dict({k: v.cpu() for k, v in net_or_weights.state_dict().items()})
    net.eval()
    P = cfg['inferPatch']
    x = torch.zeros(1, 1, P, P, P)
    path = os.path.join(out_dir, 'model.onnx')
    torch.onnx.export(net, x, path, input_names=['image'], output_names=['heatmap'], opset_version=13,
                      dynamic_axes={'image': {0: 'N'}, 'heatmap': {0: 'N'}}, do_constant_folding=True)
    data = open(path, 'rb').read()
    manifest = {'$schema': '../schema/manifest.schema.json', **manifest, 'sha256': hashlib.sha256(data).hexdigest()}
    write_manifest(os.path.join(out_dir, 'manifest.json'), manifest)
    print(f"exported {path}: {len(data)} bytes, sha256 {manifest['sha256']}")


def write_manifest(path, manifest):
    """manifest.json as the bundled packages keep it: two-space indent, final newline."""
    with open(path, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')


def with_refine(manifest, refine):
    """The manifest with its `refine` section replaced, kept in the bundled packages' field order (after window)."""
    out = {}
    for k, v in manifest.items():
        if k != 'refine':
            out[k] = v
        if k == 'window':
            out['refine'] = refine
    out.setdefault('refine', refine)  # a manifest without a window section
    return out


def make_manifest(task, cfg, *, version, description, training_data, min_distance_mm, threshold):
    """The manifest of a bundled heatmap detector (models/schema/manifest.schema.json); sha256 is added by export()."""
    return {
        'id': task, 'version': version, 'task': task, 'licence': 'MIT',
        'description': description, 'trainingData': training_data,
        'input': {'name': 'image', 'spacing': [cfg['spacing']] * 3, 'orientation': 'LPS', 'layout': 'NCDHW',
                  'patchSize': [cfg['inferPatch']] * 3,
                  'channels': [{'window': cfg['window'], 'normalisation': 'unit'}], 'dtype': 'float32',
                  'batch': {'size': 2, 'fixed': False}},
        'output': {'kind': 'heatmap', 'name': 'heatmap', 'activation': 'none', 'channel': 0,
                   'heatmap': {'minDistanceMm': min_distance_mm, 'sizeLevel': 0.5}},
        'window': {'overlap': 0.125, 'blend': 'gaussian', 'margin': 4, 'padHu': -1024},
        'thresholds': {'score': threshold, 'maxFindings': 20},
        'labels': [task],
    }


def main(task, cfg, manifest_fn, default_seeds):
    """Command line of the train_<task>.py scripts: DATA WORK [SEED]; EXPORT_ONLY, NO_EXPORT, TRAIN_SEEDS."""
    data, work, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 7
    # The configuration the network was trained with is the one its manifest must describe (grid, width, window).
    cfg = {**cfg, **json.loads(os.environ.get('CFG_JSON', '{}'))}
    export_dir = os.environ.get('EXPORT_DIR')
    if not os.environ.get('NO_EXPORT') and not export_dir:
        # The bundled packages are two-stage and assembled by cascade.py: a first-stage export over models/<task>
        # would replace them with a single-stage manifest.
        sys.exit('set EXPORT_DIR (a folder for this network\'s package), or NO_EXPORT=1; the bundled packages '
                 'are built with cascade.py (models/README.md)')
    net = os.path.join(work, 'weights.pt') if os.environ.get('EXPORT_ONLY') else train(cfg, data, work, seed)
    if not os.environ.get('NO_EXPORT'):
        export(net, cfg, export_dir, manifest_fn(os.environ.get('TRAIN_SEEDS', default_seeds), '0.1.0'))

