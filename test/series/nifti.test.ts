import { mkdtemp, readdir, readFile, rm, mkdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { scanPaths } from '../../src/io/scan.js';
import { applyAffine, ijkToLps } from '../../src/volume/affine.js';
import { byteChunks, lpsToRas, niftiValue, qformMatrix, readNifti, writeNifti } from '../../src/volume/nifti.js';
import type { Geometry, Volume } from '../../src/volume/types.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ctscope-nifti-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function ramp(g: Geometry, float: boolean): Volume<Int16Array | Float32Array> {
  const n = g.dims[0] * g.dims[1] * g.dims[2];
  const data = float ? new Float32Array(n) : new Int16Array(n);
  for (let i = 0; i < n; i++) data[i] = float ? i * 0.25 - 1000 : (i % 4000) - 1024;
  return { data, geometry: g };
}

const oblique: Geometry = {
  dims: [5, 4, 3],
  spacing: [0.7, 0.8, 2.5],
  origin: [-100, 50, 20],
  // Rotated 30 degrees about z.
  direction: [Math.cos(Math.PI / 6), -Math.sin(Math.PI / 6), 0, Math.sin(Math.PI / 6), Math.cos(Math.PI / 6), 0, 0, 0, 1],
};

describe('NIfTI-1 writer', () => {
  for (const [name, float, file] of [
    ['int16 .nii', false, 'a.nii'],
    ['float32 .nii.gz', true, 'b.nii.gz'],
  ] as const) {
    it(`round-trips ${name}: dims, HU values, units, sform = RAS of our affine, qform = sform when rigid`, async () => {
      const vol = ramp(oblique, float);
      const path = join(dir, file);
      await writeNifti(path, vol);
      const img = await readNifti(path);
      expect(img.dims.slice(0, 4)).toEqual([3, 5, 4, 3]);
      expect(img.datatype).toBe(float ? 16 : 4);
      expect(img.sclSlope).toBe(1);
      expect(img.sclInter).toBe(0);
      expect(img.xyztUnits).toBe(2);
      expect(img.qformCode).toBe(1);
      expect(img.sformCode).toBe(1);
      expect(img.pixdim.slice(1, 4).map((x) => Number(x.toFixed(5)))).toEqual([0.7, 0.8, 2.5]);
      expect(Array.from(img.data)).toEqual(Array.from(vol.data));
      expect(niftiValue(img, 4, 3, 2)).toBe(vol.data[4 + 5 * (3 + 4 * 2)]);
      const ras = lpsToRas(ijkToLps(oblique));
      img.sform.forEach((x, i) => expect(x).toBeCloseTo(ras[i]!, 4));
      qformMatrix(img).forEach((x, i) => expect(x).toBeCloseTo(ras[i]!, 4));
    });
  }

  it('qform = sform for left-handed grids too (qfac -1: LAS, LPI, PIL, oblique), as a reader that prefers the qform needs', async () => {
    const c = Math.cos(0.4), s = Math.sin(0.4);
    // Direction columns in LPS: LAS = +x, -y, +z; LPI = +x, +y, -z; PIL = +y, -z, +x; and LAS rotated about z.
    const directions: Record<string, number[]> = {
      LAS: [1, 0, 0, 0, -1, 0, 0, 0, 1],
      LPI: [1, 0, 0, 0, 1, 0, 0, 0, -1],
      PIL: [0, 0, 1, 1, 0, 0, 0, -1, 0],
      'oblique LAS': [c, s, 0, s, -c, 0, 0, 0, 1],
    };
    for (const [name, direction] of Object.entries(directions)) {
      const g: Geometry = { ...oblique, direction };
      const path = join(dir, 'left.nii');
      await writeNifti(path, ramp(g, false));
      const img = await readNifti(path);
      expect(img.pixdim[0], name).toBe(-1);
      const ras = lpsToRas(ijkToLps(g));
      qformMatrix(img).forEach((x, i) => expect(x, `${name} [${i}]`).toBeCloseTo(ras[i]!, 4));
    }
  });

  it('keeps the sheared affine in the sform and the rigid part in the qform for a tilted grid', async () => {
    const t = (20 * Math.PI) / 180;
    const g: Geometry = { dims: [2, 2, 4], spacing: [0.5, 0.5, 3 / Math.cos(t)], origin: [1, 2, 3], direction: [1, 0, 0, 0, 1, Math.sin(t), 0, 0, Math.cos(t)] };
    const path = join(dir, 'tilt.nii');
    await writeNifti(path, ramp(g, false));
    const img = await readNifti(path);
    const sform = img.sform;
    for (const ijk of [[0, 0, 0], [1, 1, 3], [0, 1, 2]] as const) {
      const lps = applyAffine(ijkToLps(g), [...ijk]);
      const ras = applyAffine(sform, [...ijk]);
      expect(ras[0]).toBeCloseTo(-lps[0], 4);
      expect(ras[1]).toBeCloseTo(-lps[1], 4);
      expect(ras[2]).toBeCloseTo(lps[2], 4);
    }
    // qform: k along the normal with the slice separation (3 mm), same slice planes.
    expect(img.pixdim[3]).toBeCloseTo(3, 4);
    const q = qformMatrix(img);
    expect([q[2], q[6], q[10]].map((x) => x! + 0)).toEqual([0, 0, expect.closeTo(3, 4)]);
  });

  it('a uint8 volume (resample outType uint8) is written as NIfTI uint8, not labelled int16 over its bytes', async () => {
    const data = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => i * 3);
    const path = join(dir, 'u8.nii');
    await writeNifti(path, { data, geometry: oblique });
    const img = await readNifti(path);
    expect(img.datatype).toBe(2);
    expect(img.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(img.data)).toEqual(Array.from(data));
  });

  it('the voxels go out in views of at most 16 MiB, in order (one view of a 4 GiB volume was gzipped as 0 bytes)', () => {
    const data = new Float32Array(10_000).map((_, i) => i);
    const chunks = byteChunks(data, 4096);
    expect(chunks.every((c) => c.byteLength <= 4096)).toBe(true);
    expect(chunks.reduce((n, c) => n + c.byteLength, 0)).toBe(data.byteLength);
    expect(Buffer.concat(chunks).equals(Buffer.from(data.buffer))).toBe(true);
    // A chunk size that is not a whole number of voxels still cuts between voxels.
    expect(byteChunks(new Int16Array(7), 5).map((c) => c.byteLength)).toEqual([4, 4, 4, 2]);
  });

  it('a geometry that a float32 header cannot hold (Inf, a zero slice step) is E_GEOMETRY and no file is written', async () => {
    const bad: Geometry[] = [
      { ...oblique, spacing: [0.7, 0.8, 1e39] },
      { ...oblique, origin: [1e39, 0, 0] },
      { ...oblique, spacing: [0.7, 0.8, 1e-300] },
    ];
    for (const g of bad) {
      const path = join(dir, 'bad-geometry.nii');
      await expect(writeNifti(path, ramp(g, false)), JSON.stringify(g.spacing)).rejects.toMatchObject({ code: 'E_GEOMETRY' });
      await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('writes atomically and leaves no temporary file when the write fails', async () => {
    const target = join(dir, 'atomic.txt');
    await writeFileAtomic(target, 'one');
    await writeFileAtomic(target, [new TextEncoder().encode('tw'), new TextEncoder().encode('o')]);
    expect(await readFile(target, 'utf8')).toBe('two');
    // Below a file: E_OUTPUT. A missing folder is made.
    await expect(writeFileAtomic(join(target, 'x.nii'), 'x')).rejects.toMatchObject({ code: 'E_OUTPUT' });
    await writeFileAtomic(join(dir, 'missing-folder', 'x.nii'), 'x');
    expect(await readFile(join(dir, 'missing-folder', 'x.nii'), 'utf8')).toBe('x');
    const sub = join(dir, 'ro');
    await mkdir(sub);
    await writeFile(join(sub, 'keep'), 'k');
    // A folder where the file should be: rename fails after the temp file was written.
    await mkdir(join(sub, 'out.nii'));
    await expect(writeFileAtomic(join(sub, 'out.nii'), 'data')).rejects.toMatchObject({ code: 'E_OUTPUT' });
    expect((await readdir(sub)).sort()).toEqual(['keep', 'out.nii']);
  });
});

describe('folder scan', () => {
  it('finds files at any depth with any name, follows links, lists each real file once and survives link loops', async () => {
    const root = join(dir, 'scan');
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    await writeFile(join(root, 'I10'), 'x');
    await writeFile(join(root, 'a', 'b', 'noext'), 'x');
    await symlink(root, join(root, 'a', 'loop'));
    await symlink(join(root, 'I10'), join(root, 'a', 'link-to-file'));
    await symlink(join(root, 'I10'), join(root, 'a', 'b', 'second-link'));
    const { files } = await scanPaths(root);
    // I10 reached three times (itself, two links): once, so a series is not "duplicated" by its own links.
    expect(files).toEqual([join(root, 'I10'), join(root, 'a', 'b', 'noext')]);
    expect((await scanPaths([join(root, 'a', 'link-to-file'), join(root, 'a', 'b', 'second-link')])).files).toEqual([join(root, 'a', 'b', 'second-link')]);
    await expect(scanPaths(join(root, 'nope'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect((await scanPaths(root)).unreadable).toEqual([]);
  });

  it('a folder deeper than maxDepth is not searched, and says so (its files were dropped without a word)', async () => {
    const root = join(dir, 'deep');
    const levels = Array.from({ length: 5 }, (_, k) => `L${k + 1}`);
    await mkdir(join(root, ...levels), { recursive: true });
    await writeFile(join(root, 'L1', 'near'), 'x');
    await writeFile(join(root, ...levels, 'far'), 'x');
    const scan = await scanPaths(root, { maxDepth: 3 });
    expect(scan.files).toEqual([join(root, 'L1', 'near')]);
    expect(scan.unreadable).toEqual([{ path: join(root, 'L1', 'L2', 'L3', 'L4'), message: 'more than 3 folder levels deep, not searched' }]);
    // Reached less deep as well (given itself, or through a link), in either order: searched there, nothing said.
    const deep = join(root, 'L1', 'L2', 'L3', 'L4');
    for (const inputs of [[root, deep], [deep, root]]) {
      const both = await scanPaths(inputs, { maxDepth: 3 });
      expect(both.files.sort()).toEqual([join(deep, 'L5', 'far'), join(root, 'L1', 'near')]);
      expect(both.unreadable).toEqual([]);
    }
  });
});
