#!/usr/bin/python3
"""A second phantom generator, chest CT and head CTA, written apart from `ctscope synth` to see how the bundled
models do on anatomy and scanner models they were not trained on (the issue's "phantoms from a different
generator").

  /usr/bin/python3 models/altphantom.py [chest|cta] OUT_ROOT FIRST_SEED LAST_SEED

writes OUT_ROOT/truth/alt-KIND-SEED/ (a DICOM series written with pydicom and a truth.json that
`ctscope eval --detect` reads). Nothing is shared with src/synth:
- chest: the trunk is a stack of superellipses with a fat layer, the lungs superellipses per slice that shrink to
  the apex and the dome, with a front-to-back density gradient; vessels are trees of tapered capsules grown from
  each hilum toward random lung points; a vertebral body, rib arcs; nodules have an error-function edge and are
  round, lobulated (sums of spheres) or spiculated, solid, part-solid or ground-glass (drawn over lung only),
  isolated, juxta-pleural (touching the wall) or juxta-vascular (against a vessel);
- head CTA: ellipsoidal scalp, skull (tables and diploe), brain with a cortical ribbon, ventricles, a skull base
  floor open in the midline, dense petrous ridges, sinus air; the arteries are Catmull-Rom curves through
  jittered control points laid out as a circle of Willis (ICA siphons, M1/M2, A1/A2, ACom, PComs, basilar, P1/P2)
  plus short random branches, and the venous sinuses; saccular aneurysms of 2-13 mm sit on a neck at the ACom,
  the ICA terminus, the ICA-PCom junction, the MCA bifurcation or the basilar tip, or on a side wall, one in three
  with a daughter bleb.
The scanner model is a Gaussian point spread, a slice profile of the slice thickness, and grainy (band-pass) noise
rather than white noise, at a drawn matrix, pixel size, slice thickness and spacing, signedness and intercept.
Pixel data are deterministic per seed (the UIDs are not). It is still written by the same team, so it is a weak
stand-in for a truly unseen generator.
Needs Debian's python3-numpy, python3-scipy and python3-pydicom.
"""
import datetime
import json
import math
import os
import sys

import numpy as np
from scipy import ndimage, special
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

GENERATOR = 'ctscope-altphantom/1'


class Scene:
    """HU on a grid of voxel centres x (L), y (P), z (S) in mm, with the truth kept beside it."""

    def __init__(self, rng):
        self.rng = rng
        fov = rng.uniform(300, 420)
        self.n = int(rng.choice([256, 320, 384]))
        self.dx = fov / self.n
        self.thick = float(rng.choice([0.625, 1.0, 1.25, 2.0, 2.5]))
        self.dz = self.thick * float(rng.choice([0.5, 0.8, 1.0])) if self.thick < 2 else self.thick
        self.dz = max(self.dz, 0.6)
        length = rng.uniform(220, 300)
        self.nz = int(length / self.dz)
        # Pixel centres; the body sits a little off the field's centre, as patients do.
        self.cx, self.cy = rng.uniform(-15, 15), rng.uniform(-10, 25)
        self.x = (np.arange(self.n) - (self.n - 1) / 2) * self.dx
        self.y = (np.arange(self.n) - (self.n - 1) / 2) * self.dx
        self.z = np.arange(self.nz) * self.dz  # 0 = lung bases' level minus a margin, up = superior
        self.hu = np.full((self.nz, self.n, self.n), -1000.0, dtype=np.float32)
        self.nodules = []

    def grid2d(self):
        return np.meshgrid(self.x, self.y, indexing='xy')  # [row = y][col = x]


def superellipse(X, Y, cx, cy, a, b, p):
    return (np.abs((X - cx) / a) ** p + np.abs((Y - cy) / b) ** p) ** (1 / p)


def build_body(s):
    rng = s.rng
    X, Y = s.grid2d()
    a0, b0 = rng.uniform(140, 185), rng.uniform(95, 130)
    fat = rng.uniform(6, 25)
    p = rng.uniform(2.2, 3.2)
    lung = dict(
        gap=rng.uniform(28, 45),  # half-distance between the lungs' inner walls at the heart
        a=rng.uniform(50, 70), b=rng.uniform(65, 95), p=rng.uniform(2.0, 2.8),
        base=rng.uniform(25, 45), apex=s.z[-1] - rng.uniform(0, 30), hu=rng.uniform(-890, -830),
        grad=rng.uniform(20, 70))
    s.lung = lung
    lungs = np.zeros(s.hu.shape, dtype=bool)
    for k, z in enumerate(s.z):
        # The trunk narrows toward the shoulders' level less than the lungs do.
        t = (z - lung['base']) / max(lung['apex'] - lung['base'], 1)
        a, b = a0 * (1 - 0.12 * max(t, 0)), b0 * (1 - 0.05 * max(t, 0))
        r = superellipse(X, Y, s.cx, s.cy, a, b, p)
        sl = s.hu[k]
        sl[r <= 1] = rng.normal(-100, 3)  # fat
        inner = superellipse(X, Y, s.cx, s.cy, a - fat, b - fat * 0.8, p)
        sl[inner <= 1] = 45
        # Lungs: a superellipse per side, shrinking to a point at the apex and cut by a dome at the base.
        if 0 <= t <= 1:
            scale = math.sqrt(max(1 - t, 0)) if t > 0.6 else 1.0
            scale *= min(1.0, 0.55 + t * 3)  # the diaphragm's dome: small sections at the base
            for side in (-1, 1):
                lx = s.cx + side * (lung['gap'] + lung['a'] * scale * 0.95)
                m = superellipse(X, Y, lx, s.cy - 5, lung['a'] * scale, lung['b'] * scale, lung['p']) <= 1
                m &= inner <= 0.97
                lungs[k] |= m
        # Vertebral body and canal behind, table under the back.
        spine = np.hypot(X - s.cx, Y - (s.cy + b - fat - 35)) <= 17
        sl[spine] = rng.normal(260, 10)
        sl[np.hypot(X - s.cx, Y - (s.cy + b - fat - 35)) <= 14.5] = 180
        sl[np.hypot(X - s.cx, Y - (s.cy + b - fat - 8)) <= 7] = 20
    s.hu[lungs] = lung['hu']
    # Dependent density: the back of the lungs is denser.
    Ygrid = s.y[None, :, None]
    s.hu += np.where(lungs, lung['grad'] * (Ygrid - s.cy) / 100.0, 0).astype(np.float32)
    s.lungs = lungs
    # Heart and aorta between the lungs.
    Z, Yy, Xx = np.ogrid[:s.nz, :s.n, :s.n]
    zc = lung['base'] + rng.uniform(25, 45)
    heart = ((s.x[Xx] - s.cx - 10) / 55) ** 2 + ((s.y[Yy] - s.cy + 15) / 50) ** 2 + ((s.z[Z] - zc) / 55) ** 2 <= 1
    s.hu[heart & ~lungs] = 40
    s.hu[heart & lungs] = 40
    s.lungs &= ~heart


def ribs(s):
    rng = s.rng
    X, Y = s.grid2d()
    step = rng.uniform(22, 30)
    for z0 in np.arange(s.lung['base'], s.z[-1], step):
        k0, k1 = int((z0 - 4) / s.dz), int((z0 + 4) / s.dz) + 1
        for k in range(max(k0, 0), min(k1, s.nz)):
            sl = s.hu[k]
            inner = (s.lungs[k] == 0) & (sl > -300) & (sl < 80)
            # A ring just outside the lungs' hull: where soft tissue meets lung within 10 mm.
            near = ndimage.binary_dilation(s.lungs[k], iterations=max(1, int(9 / s.dx))) & ~ndimage.binary_dilation(s.lungs[k], iterations=max(1, int(3 / s.dx)))
            lateral = np.abs(X - s.cx) > s.lung['gap'] + 15  # ribs curve round the sides, not along the mediastinum
            sl[near & inner & lateral & (Y < s.cy + 80)] = rng.normal(550, 40)


def capsule(s, p0, p1, r0, r1, hu):
    """A tapered capsule with a partial-volume edge, written as max(current, tube) where it is inside the lungs."""
    lo = np.minimum(p0, p1) - max(r0, r1) - 2
    hi = np.maximum(p0, p1) + max(r0, r1) + 2
    i0, i1 = np.searchsorted(s.x, lo[0]), np.searchsorted(s.x, hi[0])
    j0, j1 = np.searchsorted(s.y, lo[1]), np.searchsorted(s.y, hi[1])
    k0, k1 = np.searchsorted(s.z, lo[2]), np.searchsorted(s.z, hi[2])
    if i1 <= i0 or j1 <= j0 or k1 <= k0:
        return
    Z, Y, X = np.meshgrid(s.z[k0:k1], s.y[j0:j1], s.x[i0:i1], indexing='ij')
    d = p1 - p0
    L2 = float(d @ d) or 1e-6
    t = np.clip(((X - p0[0]) * d[0] + (Y - p0[1]) * d[1] + (Z - p0[2]) * d[2]) / L2, 0, 1)
    dist = np.sqrt((X - p0[0] - t * d[0]) ** 2 + (Y - p0[1] - t * d[1]) ** 2 + (Z - p0[2] - t * d[2]) ** 2)
    r = r0 + (r1 - r0) * t
    frac = np.clip(r - dist + 0.5, 0, 1)  # about a voxel of partial volume at the wall
    box = s.hu[k0:k1, j0:j1, i0:i1]
    val = box + frac * (hu - box)
    if s.lungs is None:  # CTA: vessels run through everything, bone stays brighter
        np.maximum(box, val, out=box)
        return
    inside = s.lungs[k0:k1, j0:j1, i0:i1]
    box[inside] = np.maximum(box, val)[inside]


def vessels(s):
    rng = s.rng
    lung = s.lung
    pts = np.argwhere(s.lungs[::4, ::4, ::4]) * 4
    if not len(pts):
        return
    for side in (-1, 1):
        mine = pts[(s.x[pts[:, 2]] - s.cx) * side > 0]
        if not len(mine):
            continue
        hilum = np.array([s.cx + side * (lung['gap'] + 18), s.cy - 5, lung['base'] + (s.z[-1] - lung['base']) * 0.45])
        # Several trunks leave the hilum (lobar arteries and veins), each a tree.
        stack = [(hilum, rng.uniform(3.5, 5.5), 0) for _ in range(int(rng.integers(4, 7)))]
        count = 0
        while stack and count < 900:
            p, r, depth = stack.pop()
            target = mine[rng.integers(len(mine))]
            tp = np.array([s.x[target[2]], s.y[target[1]], s.z[target[0]]])
            d = tp - p
            n = np.linalg.norm(d) or 1
            length = min(n, rng.uniform(12, 35) * (r / 3 + 0.5))
            wob = rng.normal(0, 0.25, 3)
            q = p + (d / n + wob) / np.linalg.norm(d / n + wob) * length
            r1 = r * rng.uniform(0.72, 0.9)
            capsule(s, p, q, r, r1, rng.uniform(30, 60))
            count += 1
            if r1 > 0.6 and depth < 12:
                kids = 2 if rng.random() < 0.7 else 1
                for _ in range(kids):
                    stack.append((q, r1 * (rng.uniform(0.75, 0.95) if kids == 2 else 1.0), depth + 1))


def lung_point(s, margin):
    """A random point well inside a lung (its distance from the lung's edge at least margin mm), or None."""
    dist = s.lung_dist
    cand = np.argwhere(dist >= margin)
    if not len(cand):
        return None
    k, j, i = cand[s.rng.integers(len(cand))]
    return np.array([s.x[i], s.y[j], s.z[k]])


def edge_point(s, depth):
    """A lung voxel at about `depth` mm from the lung's wall (juxta-pleural)."""
    dist = s.lung_dist
    cand = np.argwhere((dist >= depth - 1) & (dist <= depth + 1))
    if not len(cand):
        return None
    k, j, i = cand[s.rng.integers(len(cand))]
    return np.array([s.x[i], s.y[j], s.z[k]])


def blob(s, c, diam, hu, shape, lung_only=False):
    """Writes a nodule of nominal diameter diam at centre c; its HU blends over an error-function edge. lung_only
    (ground glass): only over lung, so vessels and the chest wall it touches keep their HU."""
    rng = s.rng
    R = diam / 2
    pad = R * 1.6 + 4
    i0, i1 = np.searchsorted(s.x, c[0] - pad), np.searchsorted(s.x, c[0] + pad)
    j0, j1 = np.searchsorted(s.y, c[1] - pad), np.searchsorted(s.y, c[1] + pad)
    k0, k1 = np.searchsorted(s.z, c[2] - pad), np.searchsorted(s.z, c[2] + pad)
    Z, Y, X = np.meshgrid(s.z[k0:k1], s.y[j0:j1], s.x[i0:i1], indexing='ij')
    d = np.sqrt((X - c[0]) ** 2 + (Y - c[1]) ** 2 + (Z - c[2]) ** 2)
    sdf = d - R
    if shape == 'lobulated':
        for _ in range(rng.integers(2, 5)):
            u = rng.normal(size=3)
            u /= np.linalg.norm(u)
            rc = R * rng.uniform(0.45, 0.7)
            cc = c + u * (R - rc * 0.6)
            sdf = np.minimum(sdf, np.sqrt((X - cc[0]) ** 2 + (Y - cc[1]) ** 2 + (Z - cc[2]) ** 2) - rc)
    frac = 0.5 * (1 - special.erf(sdf / 0.7))
    if shape == 'spiculated':
        for _ in range(rng.integers(5, 10)):
            u = rng.normal(size=3)
            u /= np.linalg.norm(u)
            L = R * rng.uniform(0.5, 1.2)
            a = c + u * R * 0.8
            b = c + u * (R + L)
            dd = b - a
            t = np.clip(((X - a[0]) * dd[0] + (Y - a[1]) * dd[1] + (Z - a[2]) * dd[2]) / float(dd @ dd), 0, 1)
            dist = np.sqrt((X - a[0] - t * dd[0]) ** 2 + (Y - a[1] - t * dd[1]) ** 2 + (Z - a[2] - t * dd[2]) ** 2)
            frac = np.maximum(frac, np.clip(0.6 * (1 - t) - dist + 0.4, 0, 1))
    box = s.hu[k0:k1, j0:j1, i0:i1]
    add = (frac * (hu - box)).astype(np.float32) * (frac > 0.01)
    if lung_only:
        add *= s.lungs[k0:k1, j0:j1, i0:i1] & (box < -300)
    box += add


def nodules(s, count):
    rng = s.rng
    s.lung_dist = ndimage.distance_transform_edt(s.lungs, sampling=(s.dz, s.dx, s.dx)).astype(np.float32)
    placed = []
    for _ in range(count):
        diam = float(np.exp(rng.uniform(math.log(4), math.log(28))))
        kind = rng.choice(['solid', 'part-solid', 'ground-glass'], p=[0.55, 0.2, 0.25])
        where = rng.choice(['isolated', 'juxta-pleural', 'juxta-vascular'], p=[0.5, 0.3, 0.2])
        shape = rng.choice(['round', 'lobulated', 'spiculated'], p=[0.5, 0.3, 0.2]) if kind == 'solid' else 'round'
        c = None
        for _attempt in range(30):
            if where == 'juxta-pleural':
                c = edge_point(s, diam / 2 * 0.8)
            else:
                c = lung_point(s, diam / 2 + 3)
                if c is not None and where == 'juxta-vascular':
                    # Put it against the nearest vessel-bright voxel within 15 mm, when there is one.
                    k, j, i = (np.searchsorted(s.z, c[2]), np.searchsorted(s.y, c[1]), np.searchsorted(s.x, c[0]))
                    w = int(15 / s.dx)
                    box = (slice(max(k - int(15 / s.dz), 0), k + int(15 / s.dz)), slice(max(j - w, 0), j + w), slice(max(i - w, 0), i + w))
                    hit = np.argwhere((s.hu[box] > -300) & s.lungs[box])
                    if len(hit):
                        h = hit[rng.integers(len(hit))]
                        v = np.array([s.x[max(i - w, 0) + h[2]], s.y[max(j - w, 0) + h[1]], s.z[max(k - int(15 / s.dz), 0) + h[0]]])
                        u = c - v
                        u /= np.linalg.norm(u) or 1
                        c = v + u * (diam / 2 + 0.5)
            if c is not None and all(np.linalg.norm(c - p['c']) > (diam + p['d']) / 2 + 5 for p in placed):
                break
            c = None
        if c is None:
            continue
        if kind == 'solid':
            hu = rng.uniform(-20, 70)
            blob(s, c, diam, hu, shape)
        elif kind == 'ground-glass':
            hu = rng.uniform(-720, -450)
            blob(s, c, diam, hu, 'round', lung_only=True)
        else:
            hu = rng.uniform(-680, -480)
            blob(s, c, diam, hu, 'round', lung_only=True)
            blob(s, c, diam * rng.uniform(0.35, 0.55), rng.uniform(-10, 50), 'round')
        placed.append({'c': c, 'd': diam})
        s.nodules.append({'kind': 'nodule', 'centerLps': [round(float(v), 3) for v in lps(s, c)], 'diameterMm': round(diam, 2),
                          'type': str(kind), 'location': str(where), 'shape': str(shape), 'hu': round(float(hu))})


def lps(s, c):
    """Scene (x right-to-left as L, y anterior-to-posterior as P, z inferior-to-superior as S) to LPS mm."""
    return [c[0], c[1], c[2] + s.z0]


def scanner(s):
    rng = s.rng
    sig_xy = rng.uniform(0.35, 1.0) / s.dx
    sig_z = max(s.thick / 2.355, 0.3) / s.dz
    s.hu = ndimage.gaussian_filter(s.hu, (sig_z, sig_xy, sig_xy), mode='nearest')
    sd = rng.uniform(8, 40)
    noise = rng.standard_normal(s.hu.shape).astype(np.float32)
    # High-pass-ish texture: white noise minus a blurred copy, then a light blur (grainy, not white).
    g = rng.uniform(0.6, 1.4)
    noise = noise - ndimage.gaussian_filter(noise, (0, 2.5 * g, 2.5 * g))
    noise = ndimage.gaussian_filter(noise, (0, 0.6 * g, 0.6 * g))
    noise *= sd / (noise.std() or 1)
    s.hu += noise
    s.noise_sd = sd
    s.psf_mm = sig_xy * s.dx


def write(s, out, seed, kind='chest'):
    rng = s.rng
    os.makedirs(out, exist_ok=True)
    signed = bool(rng.random() < 0.5)
    intercept = 0.0 if signed else float(rng.choice([-1024, -1000]))
    stored = np.round(s.hu - intercept)
    stored = np.clip(stored, -32768 if signed else 0, 32767 if signed else 65535).astype(np.int16 if signed else np.uint16)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    now = datetime.date(2026, 1, 1).strftime('%Y%m%d')
    x0, y0 = float(s.x[0]), float(s.y[0])
    order = range(s.nz) if rng.random() < 0.5 else range(s.nz - 1, -1, -1)
    for n, k in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.Manufacturer = 'CT', 'ALTPHANTOM'
        ds.PatientName, ds.PatientID, ds.PatientSex = 'Phantom^Alt', f'ALT{seed}', 'O'
        ds.StudyDate = ds.SeriesDate = now
        ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = '1', 3, n + 1
        ds.ImageType = ['ORIGINAL', 'PRIMARY', 'AXIAL']
        ds.PatientPosition = 'HFS'
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [round(x0, 4), round(y0, 4), round(float(s.z[k] + s.z0), 4)]
        ds.SliceLocation = round(float(s.z[k] + s.z0), 4)
        ds.SliceThickness = s.thick
        ds.PixelSpacing = [round(s.dx, 6), round(s.dx, 6)]
        ds.KVP, ds.ConvolutionKernel = 120, 'ALT'
        ds.Rows = ds.Columns = s.n
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME2'
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1 if signed else 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = intercept, 1, 'HU'
        ds.PixelData = stored[k].tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        pydicom.dcmwrite(os.path.join(out, f'IM{n + 1:05d}.dcm'), ds, write_like_original=False)
    truth = {'kind': kind, 'seed': seed, 'generatorVersion': GENERATOR,
             'scanner': {'noiseSd': round(s.noise_sd, 1), 'psfMm': round(s.psf_mm, 2), 'sliceThicknessMm': s.thick,
                         'sliceSpacingMm': round(s.dz, 3), 'pixelMm': round(s.dx, 3), 'rows': s.n},
             'findings': s.nodules}
    with open(os.path.join(out, 'truth.json'), 'w') as f:
        json.dump(truth, f, indent=1)


def make(seed, out):
    rng = np.random.default_rng(seed)
    s = Scene(rng)
    s.z0 = rng.uniform(-350, -250)
    build_body(s)
    ribs(s)
    vessels(s)
    nodules(s, int(rng.integers(1, 5)))
    scanner(s)
    write(s, out, seed)
    return s


# ---------------------------------------------------------------------------------------------------------------
# Head CTA: skull, brain, ventricles, sinus air, a skull base with dense petrous ridges, contrast-filled arteries
# laid out as a circle of Willis with its branches (smooth curves through jittered control points), the venous
# sinuses, and saccular aneurysms at the classic sites (bifurcations and junctions) or on a vessel's wall.

class CtaScene(Scene):
    def __init__(self, rng):
        self.rng = rng
        self.lungs = None
        fov = rng.uniform(180, 250)
        self.n = int(rng.choice([256, 320, 384, 512]))
        self.dx = fov / self.n
        self.thick = float(rng.choice([0.5, 0.625, 0.75, 1.0, 1.25]))
        self.dz = self.thick * float(rng.choice([0.5, 0.8, 1.0])) if self.thick > 0.6 else self.thick
        length = rng.uniform(60, 110)
        self.nz = int(length / self.dz)
        self.cx, self.cy = rng.uniform(-8, 8), rng.uniform(-8, 8)
        self.x = (np.arange(self.n) - (self.n - 1) / 2) * self.dx
        self.y = (np.arange(self.n) - (self.n - 1) / 2) * self.dx
        # z = 0 is the circle of Willis' level; the scan reaches below it (the skull base) and above.
        below = rng.uniform(0.3, 0.5) * length
        self.z = np.arange(self.nz) * self.dz - below
        self.hu = np.full((self.nz, self.n, self.n), -1000.0, dtype=np.float32)
        self.nodules = []
        self.vessel_hu = rng.uniform(220, 480)


def smooth_path(points, rng, jitter, per_mm=0.7):
    """A Catmull-Rom curve through jittered control points, sampled about every 1/per_mm mm."""
    P = [np.asarray(p, dtype=float) + (rng.normal(0, jitter, 3) if 0 < i < len(points) - 1 else 0) for i, p in enumerate(points)]
    P = [P[0] * 2 - P[1]] + P + [P[-1] * 2 - P[-2]]
    out = []
    for i in range(1, len(P) - 2):
        p0, p1, p2, p3 = P[i - 1], P[i], P[i + 1], P[i + 2]
        n = max(2, int(np.linalg.norm(p2 - p1) * per_mm))
        for t in np.linspace(0, 1, n, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(P[-2])
    return np.array(out)


def draw_path(s, path, r0, r1, hu):
    rs = np.linspace(r0, r1, len(path))
    for a in range(len(path) - 1):
        capsule(s, path[a], path[a + 1], rs[a], rs[a + 1], hu)


def ellipsoid(s, c, axes):
    Z, Y, X = np.ogrid[:s.nz, :s.n, :s.n]
    return ((s.x[X] - c[0]) / axes[0]) ** 2 + ((s.y[Y] - c[1]) / axes[1]) ** 2 + ((s.z[Z] - c[2]) / axes[2]) ** 2


def build_head(s):
    rng = s.rng
    c = np.array([s.cx, s.cy + rng.uniform(0, 10), rng.uniform(5, 20)])
    ax = np.array([rng.uniform(68, 78), rng.uniform(85, 98), rng.uniform(70, 85)])
    bone_t, scalp = rng.uniform(5, 8), rng.uniform(3, 6)
    e_out = ellipsoid(s, c, ax + scalp)
    s.hu[e_out <= 1] = 35  # scalp
    e_bone = ellipsoid(s, c, ax)
    s.hu[e_bone <= 1] = rng.uniform(900, 1400)  # cortical table
    e_dip = ellipsoid(s, c, ax - bone_t * 0.3)
    s.hu[e_dip <= 1] = rng.uniform(400, 700)  # diploe
    e_in = ellipsoid(s, c, ax - bone_t)
    brain = e_in <= 1
    s.hu[brain] = 33
    # Grey/white: a cortical ribbon a little brighter than the white matter under it.
    s.hu[(e_in <= 1) & (e_in > 0.8)] = 38
    for side in (-1, 1):  # lateral ventricles
        v = ellipsoid(s, c + np.array([side * 9, -5, 25]), np.array([7, 28, 9]))
        s.hu[(v <= 1) & brain] = 6
    # Skull base below the circle: a bony shelf with the petrous ridges, the sphenoid sinus' air in front.
    Z, Y, X = np.ogrid[:s.nz, :s.n, :s.n]
    # The anterior and middle fossae's floor (in front of the petrous ridges), open in the midline where the
    # internal carotids rise through the cavernous sinus.
    floor = -10 - 0.2 * (s.y[Y] - c[1] + 40)
    shelf = (s.z[Z] < floor) & (s.z[Z] > floor - rng.uniform(5, 9)) & brain & (s.y[Y] < c[1] + 5) & (np.abs(s.x[X] - c[0]) > 11)
    s.hu[shelf] = rng.uniform(500, 800)
    for side in (-1, 1):
        ridge = ((s.x[X] - c[0] - side * 30) * 0.6 + (s.y[Y] - c[1] - 15) * 0.8 * side) ** 2 / 36 + (s.z[Z] + 10) ** 2 / 25 <= 1
        s.hu[ridge & (np.abs(s.x[X] - c[0]) > 14) & (np.abs(s.x[X] - c[0]) < 55)] = rng.uniform(1300, 1700)
    sinus = ellipsoid(s, c + np.array([0, -45, -22]), np.array([14, 12, 9])) <= 1
    s.hu[sinus] = -950
    s.head = (c, ax)


def circle_of_willis(s):
    """Control points (mm, scene frame: x left, y posterior, z up) of the arteries and the sites for aneurysms."""
    rng = s.rng
    c, _ = s.head
    o = np.array([c[0], c[1] - rng.uniform(0, 8), 0.0])
    j = lambda v: o + np.array(v, dtype=float) + rng.normal(0, 1.2, 3)  # noqa: E731
    R = lambda a, b: rng.uniform(a, b)  # noqa: E731
    vessels, sites = [], []
    ica_t = {}
    for side in (-1, 1):
        t = j([side * 14, -6, 0])  # ICA terminus
        ica_t[side] = t
        # ICA: up from the bottom of the scan through a siphon bend into its terminus.
        vessels.append(([j([side * 17, 2, s.z[0] - 5]), j([side * 16, -2, -18]), j([side * 19, -12, -10]), j([side * 15, -10, -4]), t], R(1.9, 2.4), R(1.7, 2.1)))
        m1_end = j([side * 38, -4, 2])
        vessels.append(([t, j([side * 26, -6, 1]), m1_end], R(1.3, 1.7), R(1.1, 1.4)))  # M1
        for up in (1, -1):  # M2 trunks from the MCA bifurcation, then out over the insula
            vessels.append(([m1_end, j([side * 45, -2 + 6 * up, 4 + 8 * up]), j([side * 55, 8 * up, 12 + 14 * up]), j([side * 58, 20 + 10 * up, 30 + 10 * up])], R(0.9, 1.2), R(0.5, 0.7)))
        sites.append(('mca-bifurcation', m1_end, np.array([side, 0, 0])))
        a1_end = j([side * 2.5, -16, 3])
        vessels.append(([t, j([side * 8, -12, 2]), a1_end], R(0.9, 1.3), R(0.9, 1.1)))  # A1
        vessels.append(([a1_end, j([side * 3, -26, 12]), j([side * 3, -30, 30]), j([side * 3, -20, 50])], R(0.9, 1.1), R(0.6, 0.8)))  # A2
        pcom_end = j([side * 10, 14, 1])
        vessels.append(([t, j([side * 12, 4, 0]), pcom_end], R(0.5, 0.9), R(0.5, 0.9)))  # PCom
        sites.append(('ica-pcom', t + np.array([0, 2, 0]), np.array([side * 0.5, 0.6, -0.6])))
        vessels.append(([j([0, 16, 0]), pcom_end, j([side * 24, 28, 4]), j([side * 30, 48, 12]), j([side * 20, 65, 20])], R(1.0, 1.3), R(0.6, 0.8)))  # P1-P2
        sites.append(('ica-terminus', t, np.array([side * 0.3, -0.2, 1])))
    acom = (j([-2.5, -16, 3]), j([2.5, -16, 3]))
    vessels.append(([acom[0], acom[1]], R(0.6, 0.9), R(0.6, 0.9)))
    sites.append(('acom', (acom[0] + acom[1]) / 2, np.array([0, -1, 0.4])))
    tip = j([0, 16, 0])
    vessels.append(([j([0, 22, s.z[0] - 5]), j([0, 20, -20]), tip], R(1.5, 2.0), R(1.4, 1.8)))  # basilar
    sites.append(('basilar-tip', tip, np.array([0, 0, 1])))
    # Small perforators and cortical branches: short random walks off the main trunks.
    for _ in range(int(rng.integers(25, 45))):
        base = vessels[int(rng.integers(len(vessels)))][0]
        p = np.asarray(base[int(rng.integers(len(base)))], dtype=float)
        pts = [p]
        d = rng.normal(size=3)
        for _k in range(int(rng.integers(2, 5))):
            d = d / np.linalg.norm(d) + rng.normal(0, 0.5, 3)
            pts.append(pts[-1] + d / np.linalg.norm(d) * rng.uniform(6, 14))
        vessels.append((pts, R(0.4, 0.7), R(0.3, 0.4)))
    return vessels, sites


def arteries_and_aneurysms(s, count):
    rng = s.rng
    vessels, sites = circle_of_willis(s)
    paths = []
    for pts, r0, r1 in vessels:
        path = smooth_path(pts, rng, jitter=1.0)
        paths.append((path, r0, r1))
        draw_path(s, path, r0, r1, s.vessel_hu * rng.uniform(0.9, 1.1))
    c, ax = s.head
    # Venous sinuses (fainter in this phase): superior sagittal along the vault's midline, transverse at the back.
    ssp = [c + np.array([0, -ax[1] * 0.7, ax[2] * 0.55]), c + np.array([0, 0, ax[2] * 0.85]), c + np.array([0, ax[1] * 0.8, ax[2] * 0.3]), c + np.array([0, ax[1] * 0.85, -10])]
    draw_path(s, smooth_path([p - np.array([0, 0, 8]) for p in ssp], rng, 0.5), 3.0, 4.0, s.vessel_hu * 0.6)
    for side in (-1, 1):
        draw_path(s, smooth_path([c + np.array([0, ax[1] * 0.85, -10]), c + np.array([side * 40, ax[1] * 0.75, -14]), c + np.array([side * 55, 40, -22])], rng, 0.5), 3.5, 3.0, s.vessel_hu * 0.6)
    # Aneurysms: at the classic sites or, one in four, on the side wall of an artery.
    order = rng.permutation(len(sites))
    placed = []
    for n in range(count):
        diam = float(np.exp(rng.uniform(math.log(2.0), math.log(13.0))))
        R = diam / 2
        if rng.random() < 0.75 and n < len(order):
            name, p, u = sites[order[n]]
            u = u / np.linalg.norm(u) + rng.normal(0, 0.25, 3)
            location = 'bifurcation'
        else:
            path, r0, r1 = paths[int(rng.integers(min(len(paths), 16)))]
            a = int(rng.integers(1, len(path) - 1))
            p = path[a]
            t = path[a + 1] - path[a - 1]
            u = np.cross(t, rng.normal(size=3))
            name, location = 'sidewall', 'sidewall'
        u = u / np.linalg.norm(u)
        centre = p + u * (R + 0.8)
        if any(np.linalg.norm(centre - q) < R + r + 3 for q, r in placed):
            continue
        if not (s.z[0] + R < centre[2] < s.z[-1] - R):
            continue
        # The neck, then the dome; one in three carries a daughter bleb.
        capsule(s, p, centre, min(R * 0.6, 1.6), R * 0.8, s.vessel_hu)
        shape = 'round'
        blob_hu(s, centre, diam, s.vessel_hu)
        if rng.random() < 0.33 and diam > 4:
            v = u + rng.normal(0, 0.5, 3)
            v /= np.linalg.norm(v)
            blob_hu(s, centre + v * R * 0.85, diam * 0.35, s.vessel_hu)
            shape = 'lobulated'
        placed.append((centre, R))
        s.nodules.append({'kind': 'aneurysm', 'centerLps': [round(float(x), 3) for x in lps(s, centre)], 'diameterMm': round(diam, 2),
                          'type': 'saccular', 'location': location, 'site': name, 'shape': shape})


def blob_hu(s, c, diam, hu):
    """A sphere with an error-function edge, written as max(current, sphere) (bone it touches stays)."""
    R = diam / 2
    pad = R + 3
    i0, i1 = np.searchsorted(s.x, c[0] - pad), np.searchsorted(s.x, c[0] + pad)
    j0, j1 = np.searchsorted(s.y, c[1] - pad), np.searchsorted(s.y, c[1] + pad)
    k0, k1 = np.searchsorted(s.z, c[2] - pad), np.searchsorted(s.z, c[2] + pad)
    Z, Y, X = np.meshgrid(s.z[k0:k1], s.y[j0:j1], s.x[i0:i1], indexing='ij')
    d = np.sqrt((X - c[0]) ** 2 + (Y - c[1]) ** 2 + (Z - c[2]) ** 2)
    frac = 0.5 * (1 - special.erf((d - R) / 0.5))
    box = s.hu[k0:k1, j0:j1, i0:i1]
    np.maximum(box, box + frac * (hu - box), out=box)


def make_cta(seed, out):
    rng = np.random.default_rng(seed)
    s = CtaScene(rng)
    s.z0 = rng.uniform(-120, -40)
    build_head(s)
    arteries_and_aneurysms(s, int(rng.integers(1, 4)))
    scanner(s)
    write(s, out, seed, kind='cta')
    return s


def main():
    args = sys.argv[1:]
    kind = args.pop(0) if args and args[0] in ('chest', 'cta') else 'chest'
    if len(args) != 3:
        sys.exit('usage: altphantom.py [chest|cta] OUT_ROOT FIRST_SEED LAST_SEED')
    root, a, b = args[0], int(args[1]), int(args[2])
    for seed in range(a, b + 1):
        out = os.path.join(root, 'truth', f'alt-{kind}-{seed}')
        s = (make if kind == 'chest' else make_cta)(seed, out)
        print(f'{out}: {s.n}x{s.n}x{s.nz}, {s.dx:.2f} x {s.dz:.2f} mm, {len(s.nodules)} lesion(s)', flush=True)


if __name__ == '__main__':
    main()
