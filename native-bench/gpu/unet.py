"""A small 3-D U-Net (1.40 M parameters, 47.4 GMAC per 96^3 patch: the model of ../shared/ANCHORS.md) used to compare ctscope's ONNX Runtime path with PyTorch on
the same graph. Exports ONNX (fp32 and fp16) with a dynamic batch dimension and times PyTorch itself.
    python3 unet.py --out DIR [--patch 96] [--batches 1,4,8] [--iters 20] [--no-time]
Prints one JSON line per measurement."""
import argparse
import json
import os
import time

import torch
import torch.nn as nn


def block(cin, cout):
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, inplace=True),
        nn.Conv3d(cout, cout, 3, padding=1, bias=False), nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, inplace=True),
    )


class UNet3D(nn.Module):
    def __init__(self, c=(16, 32, 64, 128)):
        super().__init__()
        self.enc = nn.ModuleList([block(1, c[0]), block(c[0], c[1]), block(c[1], c[2])])
        self.mid = block(c[2], c[3])
        self.up = nn.ModuleList([nn.ConvTranspose3d(c[3], c[2], 2, 2), nn.ConvTranspose3d(c[2], c[1], 2, 2), nn.ConvTranspose3d(c[1], c[0], 2, 2)])
        self.dec = nn.ModuleList([block(2 * c[2], c[2]), block(2 * c[1], c[1]), block(2 * c[0], c[0])])
        self.head = nn.Conv3d(c[0], 1, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = nn.functional.max_pool3d(x, 2)
        x = self.mid(x)
        for up, dec, s in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), s], 1))
        return torch.sigmoid(self.head(x))


class HalfInside(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.half()).float()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--patch', type=int, default=96)
    ap.add_argument('--batches', default='1,4,8')
    ap.add_argument('--iters', type=int, default=20)
    ap.add_argument('--no-time', action='store_true')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    model = UNet3D().eval()
    params = sum(p.numel() for p in model.parameters())
    p = a.patch
    x = torch.randn(1, 1, p, p, p)
    for dtype, name in ((torch.float32, 'unet_fp32.onnx'), (torch.float16, 'unet_fp16.onnx'), ('mixed', 'unet_fp16_io32.onnx')):
        m = UNet3D().eval()
        m.load_state_dict(model.state_dict())
        if dtype == 'mixed':
            # float16 inside, float32 at the graph's edges: the casts run on the GPU, none on the host.
            if not torch.cuda.is_available():
                continue
            m = HalfInside(m.half()).cuda()
            xi = x.cuda()
        elif dtype == torch.float16:
            if not torch.cuda.is_available():
                continue  # fp16 export needs a device that runs fp16 convolutions
            m = m.half().cuda()
            xi = x.half().cuda()
        else:
            xi = x
        kw = dict(opset_version=17, input_names=['input'], output_names=['output'],
                  dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
        try:  # torch >= 2.5 defaults to the dynamo exporter; the TorchScript one gives the classic graph
            torch.onnx.export(m, xi, os.path.join(a.out, name), dynamo=False, **kw)
        except TypeError:
            torch.onnx.export(m, xi, os.path.join(a.out, name), **kw)
    print(json.dumps({'params': params, 'onnx': sorted(os.listdir(a.out))}), flush=True)
    if a.no_time:
        return
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.backends.cudnn.benchmark = True
    for half in (False, True) if dev == 'cuda' else (False,):
        m = UNet3D().eval().to(dev)
        m.load_state_dict(model.state_dict())
        if half:
            m = m.half()
        for b in [int(s) for s in a.batches.split(',')]:
            xb = torch.randn(b, 1, p, p, p, device=dev, dtype=torch.float16 if half else torch.float32)
            with torch.inference_mode():
                for _ in range(3):
                    m(xb)
                if dev == 'cuda':
                    torch.cuda.synchronize()
                times = []
                for _ in range(a.iters):
                    t0 = time.perf_counter()
                    m(xb)
                    if dev == 'cuda':
                        torch.cuda.synchronize()
                    times.append(time.perf_counter() - t0)
            times.sort()
            med = times[len(times) // 2]
            print(json.dumps({'runtime': 'pytorch-eager', 'device': dev, 'dtype': 'fp16' if half else 'fp32', 'batch': b,
                              'medianMs': med * 1000, 'mvoxPerS': b * p ** 3 / med / 1e6}), flush=True)


if __name__ == '__main__':
    main()
