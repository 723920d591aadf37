"""NIfTI-1 helpers for run.sh (numpy only, no nibabel).

`nifti.py grid CTSCOPE.nii`: prints plastimatch's --spacing, --dim and --origin (three lines) for the grid
ctscope wrote, so plastimatch resamples to exactly that grid: its `--spacing` alone keeps the input's dims
and origin (a larger field of view), not the extent.
`nifti.py compare A.nii B.nii MAX_ABS`: checks that both files hold the same grid (dims, affine within
1e-3 mm) and that their voxels differ by at most MAX_ABS; prints one line, exits 1 when not.
"""
import struct
import sys

import numpy as np

DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 512: np.uint16}


def header(path):
    h = open(path, 'rb').read(352)
    dim = struct.unpack('<8h', h[40:56])
    return {
        'dims': list(dim[1:4]),
        'dtype': DTYPES[struct.unpack('<h', h[70:72])[0]],
        'spacing': list(struct.unpack('<3f', h[80:92])),
        'offset': int(struct.unpack('<f', h[108:112])[0]),
        'slope': struct.unpack('<2f', h[112:120]),
        # srow_x/y/z: voxel index -> RAS mm.
        'affine': np.array(struct.unpack('<12f', h[280:328]), dtype=np.float64).reshape(3, 4),
    }


def voxels(path, h):
    v = np.fromfile(path, dtype=h['dtype'], offset=h['offset']).astype(np.float32)
    slope, inter = h['slope']
    return v * slope + inter if slope not in (0.0, 1.0) or inter != 0.0 else v


def grid(path):
    h = header(path)
    ras = h['affine'][:, 3]
    # plastimatch (ITK) takes the first voxel's centre in LPS and keeps the input's direction cosines.
    print(' '.join(f'{s:g}' for s in h['spacing']))
    print(' '.join(str(n) for n in h['dims']))
    print(' '.join(f'{x:.4f}' for x in (-ras[0], -ras[1], ras[2])))


def compare(a_path, b_path, max_abs):
    a, b = header(a_path), header(b_path)
    same_grid = a['dims'] == b['dims'] and np.abs(a['affine'] - b['affine']).max() < 1e-3
    msg = f"grid {'x'.join(map(str, a['dims']))} vs {'x'.join(map(str, b['dims']))}, affine max diff {np.abs(a['affine'] - b['affine']).max():.1e} mm"
    if not same_grid:
        print(f'  check {b_path.rsplit("/", 1)[-1]}: DIFFERENT GRID: {msg}')
        return False
    d = np.abs(voxels(a_path, a) - voxels(b_path, b))
    ok = float(d.max()) <= max_abs
    print(f'  check: same grid ({msg}); voxels max |diff| {d.max():g}, mean {d.mean():.3f}'
          f" {'OK' if ok else f'EXCEEDS {max_abs:g}'}")
    return ok


if __name__ == '__main__':
    if sys.argv[1] == 'grid':
        grid(sys.argv[2])
    elif sys.argv[1] == 'compare':
        sys.exit(0 if compare(sys.argv[2], sys.argv[3], float(sys.argv[4])) else 1)
    else:
        sys.exit(__doc__)
