import type { Vec3 } from '../volume/types.js';
import { Frame, insideGrid, perpendicular, smoothPath, pathShapes, unit, type VesselPath } from './anatomy.js';
import { fillSteps, fractionAbove, paintSteps, type Canvas } from './raster.js';
import { Rng } from './rng.js';
import { Box, Capsule, Ellipsoid, eulerRot, HalfSpace, Intersect, mulRot, Profile, Shell, Sphere, Union, type Rot, type Section } from './shapes.js';
import type { FilledSynthOptions } from './options.js';
import type { Drawn, FindingLocation, HardNegative, Phantom, PhantomFactory, SynthFinding } from './truth.js';

const DEG = Math.PI / 180;
/** Bone in a CTA phantom is 700-1800 HU, contrast-filled lumen 280-520 HU. */
const BONE_HU = 650;
/** The most of an aneurysm's sphere that may lie in bone before the placement is drawn again. */
const MAX_BONE_SHARE = 0.1;

/** A named artery: body-frame control points (mm, before head scaling) and radii. */
interface VesselDef {
  name: string;
  ctrl: Vec3[];
  r: number[];
  /** Draw only into voxels below this HU (keeps distal branches out of bone). */
  maskMax?: number;
}

/** Where a saccular aneurysm can arise: a point on a parent vessel and the direction its dome points. */
interface AneurysmSite {
  name: string;
  location: Extract<FindingLocation, 'bifurcation' | 'sidewall'>;
  at: Vec3;
  dir: Vec3;
  parentR: number;
  weight: number;
}

export const ctaPhantom: PhantomFactory = (o: FilledSynthOptions): Phantom => {
  const rng = Rng.derive(o.seed, 'cta:anatomy');
  const lrng = Rng.derive(o.seed, 'cta:lesions');
  const U = (a: number, b: number): number => rng.uniform(a, b);

  const hs = U(0.9, 1.1);
  const skullR: Vec3 = [U(68, 76) * hs, U(88, 98) * hs, U(78, 88) * hs];
  const skullC: Vec3 = [0, U(2, 8), U(20, 30)];
  const ts = U(5, 8.5);
  const atrophy = U(1.5, 5);
  const hu = {
    air: -1000 + U(-8, 8),
    fat: U(-115, -80),
    soft: U(35, 55),
    cortical: U(1300, 1900),
    diploe: U(450, 850),
    csf: U(0, 14),
    gm: U(33, 44),
    wmDrop: U(5, 10),
    artery: U(260, 560),
    veinF: U(0.35, 0.85),
    petrous: U(1500, 2100),
  };
  const vein = hu.artery * hu.veinF;

  // Head pose: flexion, lateral tilt and rotation vary between patients and positionings.
  const rot: Rot = eulerRot(U(-6, 6) * DEG, U(-6, 6) * DEG, U(-12, 12) * DEG);
  const tableZ = U(-250, 250);
  const coverage = o.slices * o.spacing[2];
  const scanW = coverage >= 140 ? U(5, 25) : U(-8, 8);
  const centre: Vec3 = [U(-3, 3), U(-10, 10), tableZ + scanW];
  const frame = new Frame(rot, [centre[0] + U(-8, 8), centre[1] + U(-12, 12), tableZ]);
  const P = (u: number, v: number, w: number): Vec3 => frame.p(u, v, w);
  const Pv = (q: Vec3): Vec3 => frame.p(q[0], q[1], q[2]);
  const ell = (c: Vec3, r: Vec3, local: Rot = [1, 0, 0, 0, 1, 0, 0, 0, 1]): Ellipsoid => {
    const m = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => {
      const r0 = Math.floor(i / 3), c0 = i % 3;
      let s = 0;
      for (let k = 0; k < 3; k++) s += rot[r0 * 3 + k]! * local[k * 3 + c0]!;
      return s;
    });
    return new Ellipsoid(Pv(c), r, m);
  };
  const grow = (r: Vec3, d: number): Vec3 => [r[0] + d, r[1] + d, r[2] + d];
  // The cranial floor: flat under the frontal lobes, sloping down through the middle to the posterior fossa
  // (w = min(3, -12 - 0.45 (v + 15)) in the body frame). Brain lies above it, face and neck below.
  const slopeN = frame.d(unit([0, 0.45, 1]));
  const flatN = frame.d([0, 0, 1]);
  const flatP = (lift: number): Vec3 => P(0, 0, 3 * hs + lift);
  const slopeP = (lift: number): Vec3 => P(0, -15 * hs, -12 * hs + lift);
  const neg = (v: Vec3): Vec3 => [-v[0], -v[1], -v[2]];
  const belowFloor = (lift: number): Intersect => new Intersect([new HalfSpace(flatP(lift), flatN), new HalfSpace(slopeP(lift), slopeN)]);
  const aboveFloor = (lift: number): Union => new Union([new HalfSpace(flatP(lift), neg(flatN)), new HalfSpace(slopeP(lift), neg(slopeN))]);

  // --- Arteries (body frame, scaled by head size), per side s = -1 right, +1 left. ---
  const J = (p: Vec3, mm = 2): Vec3 => [p[0] * hs + U(-mm, mm), p[1] * hs + U(-mm, mm), p[2] * hs + U(-mm, mm)];
  const vessels: VesselDef[] = [];
  const sites: AneurysmSite[] = [];
  const hardNegatives: HardNegative[] = [];
  const findings: SynthFinding[] = [];
  const dominant = U(0, 1) < 0.5 ? -1 : 1;
  const basTip = J([0, 6, -2]);
  const vbJ = J([0, 10, -33]);
  const aca: Record<number, Vec3> = {};
  const side = (s: number): string => (s < 0 ? 'right' : 'left');
  /** Small cortical branches fanning out from `root` around direction `bias` (kept out of bone). */
  const branches = (root: Vec3, bias: Vec3, count: number, name: string): void => {
    for (let b = 0; b < count; b++) {
      const d = unit([bias[0] + U(-0.4, 0.4), bias[1] + U(-0.8, 0.8), bias[2] + U(-0.5, 0.5)]);
      const len = U(18, 40);
      const mid: Vec3 = [root[0] + d[0] * len * 0.5 + U(-4, 4), root[1] + d[1] * len * 0.5 + U(-4, 4), root[2] + d[2] * len * 0.5 + U(-3, 3)];
      const end: Vec3 = [root[0] + d[0] * len, root[1] + d[1] * len, root[2] + d[2] * len];
      const r0 = U(0.55, 0.8);
      vessels.push({ name, ctrl: [root, mid, end], r: [r0, r0 * 0.85, r0 * 0.65], maskMax: 300 });
    }
  };
  for (const s of [-1, 1]) {
    const T = J([s * 15, -10, 4]);
    const genu = J([s * 15, -24, -10]);
    const ica = [J([s * 22, 8, -130], 3), J([s * 23, 6, -75], 3), J([s * 22, 4, -45]), J([s * 18, -5, -35]), J([s * 15, -12, -30]), J([s * 14, -16, -18]), genu, J([s * 16, -23, -3]), J([s * 15, -15, 0]), T];
    const ricA = U(2.1, 2.6);
    vessels.push({ name: `${side(s)} ICA`, ctrl: ica, r: ica.map((_, i) => ricA - (0.5 * i) / ica.length) });
    hardNegatives.push({ kind: 'tight-curve', centerLps: Pv(genu), sizeMm: round2(2 * ricA), site: `${side(s)} ICA siphon` });
    const B = J([s * 40, -7, 7]);
    const rM1 = U(1.3, 1.7);
    vessels.push({ name: `${side(s)} MCA M1`, ctrl: [T, J([s * 28, -10, 5]), B], r: [rM1, rM1, rM1 * 0.95] });
    const m2s = J([s * 54, -2, 35], 4), m2i = J([s * 62, 35, 10], 4);
    vessels.push({ name: `${side(s)} MCA M2 superior`, ctrl: [B, J([s * 48, -8, 18]), m2s, J([s * 58, 10, 55], 4)], r: [1.1, 1.0, 0.9, 0.75] });
    vessels.push({ name: `${side(s)} MCA M2 inferior`, ctrl: [B, J([s * 50, 0, 6]), J([s * 58, 15, 2]), m2i], r: [1.1, 1.0, 0.9, 0.75] });
    // Cortical branches off the M2 trunks, kept out of bone.
    for (const root of [m2s, m2i, J([s * 52, 5, 10])]) branches(root, [s * 0.4, 0, 0.5], 3, `${side(s)} MCA branch`);
    sites.push({ name: `${side(s)} MCA bifurcation`, location: 'bifurcation', at: B, dir: unit([B[0] - T[0], B[1] - T[1], B[2] - T[2]]), parentR: rM1, weight: 3 });
    sites.push({ name: `${side(s)} ICA terminus`, location: 'bifurcation', at: T, dir: unit([s * 0.1, -0.2, 1]), parentR: ricA - 0.4, weight: 1 });
    const aj = J([s * 2.5, -20, 10], 1);
    aca[s] = aj;
    vessels.push({ name: `${side(s)} ACA A1`, ctrl: [T, J([s * 8, -16, 8], 1.5), aj], r: [1.2, 1.15, 1.1] });
    const a2 = [aj, J([s * 2.5, -28, 22], 1), J([s * 3, -36, 40]), J([s * 3, -25, 60]), J([s * 3, 0, 70]), J([s * 3, 30, 65])];
    vessels.push({ name: `${side(s)} ACA A2`, ctrl: a2, r: [1.1, 1.05, 1.0, 0.9, 0.8, 0.7] });
    for (const q of [2, 3, 4]) branches(a2[q]!, [s * 0.3, 0, 0.8], 1, `${side(s)} ACA branch`);
    // Vertebral artery with its V3 loop, joining the other at the vertebrobasilar junction.
    const rVA = s === dominant ? U(1.7, 2.1) : U(1.0, 1.7);
    const va = [J([s * 20, 20, -130], 3), J([s * 20, 18, -85]), J([s * 30, 30, -70]), J([s * 25, 40, -60]), J([s * 12, 30, -50]), J([s * 6, 15, -40]), vbJ];
    vessels.push({ name: `${side(s)} vertebral`, ctrl: va, r: va.map(() => rVA) });
    hardNegatives.push({ kind: 'tight-curve', centerLps: Pv(va[3]!), sizeMm: round2(2 * rVA), site: `${side(s)} vertebral V3` });
    vessels.push({ name: `${side(s)} PICA`, ctrl: [va[4]!, J([s * 18, 40, -45]), J([s * 15, 55, -35])], r: [0.8, 0.75, 0.6], maskMax: 300 });
    // PCA from the basilar tip, PComm back to the ICA (absent in some, large in a fetal variant).
    const pj = J([s * 10, 4, 0], 1);
    const rP1 = U(0.9, 1.3);
    vessels.push({ name: `${side(s)} PCA P1`, ctrl: [basTip, J([s * 6, 5, -1], 1), pj], r: [rP1, rP1, rP1] });
    const p2 = [pj, J([s * 18, 14, 3]), J([s * 22, 32, 6]), J([s * 18, 55, 10]), J([s * 10, 75, 12])];
    vessels.push({ name: `${side(s)} PCA P2`, ctrl: p2, r: [1.1, 1.0, 0.9, 0.8, 0.65] });
    for (const q of [2, 3]) branches(p2[q]!, [s * 0.4, 0.6, -0.2], 2, `${side(s)} PCA branch`);
    const pcommOrigin = J([s * 15, -12, 2], 1);
    const pcommVariant = rng.weighted([['normal', 0.7], ['absent', 0.15], ['fetal', 0.15]] as const);
    if (pcommVariant !== 'absent') {
      const rPc = pcommVariant === 'fetal' ? U(1.1, 1.4) : U(0.5, 0.9);
      vessels.push({ name: `${side(s)} PComm`, ctrl: [pcommOrigin, J([s * 12, -4, 1], 1), pj], r: [rPc, rPc, rPc] });
      sites.push({ name: `${side(s)} ICA-PComm`, location: 'sidewall', at: pcommOrigin, dir: unit([s * 0.5, 0.6, -0.3]), parentR: ricA - 0.3, weight: 3 });
      if (rng.chance(0.4)) {
        // Infundibulum: a funnel at the PComm origin, under 3 mm, that is not an aneurysm.
        const d = unit([pj[0] - pcommOrigin[0], pj[1] - pcommOrigin[1], pj[2] - pcommOrigin[2]]);
        const len = ricA + U(1.5, 2.5);
        const r0 = U(1.0, 1.4);
        const tip: Vec3 = [pcommOrigin[0] + d[0] * len, pcommOrigin[1] + d[1] * len, pcommOrigin[2] + d[2] * len];
        vessels.push({ name: `${side(s)} PComm infundibulum`, ctrl: [pcommOrigin, tip], r: [r0, rPc] });
        hardNegatives.push({ kind: 'infundibulum', centerLps: Pv([pcommOrigin[0] + d[0] * (ricA + 0.8), pcommOrigin[1] + d[1] * (ricA + 0.8), pcommOrigin[2] + d[2] * (ricA + 0.8)]), sizeMm: round2(2 * r0), site: `${side(s)} PComm origin` });
      }
    }
    vessels.push({ name: `${side(s)} SCA`, ctrl: [J([0, 6, -7], 0.5), J([s * 6, 8, -8], 1), J([s * 15, 18, -8]), J([s * 18, 35, -6])], r: [0.8, 0.8, 0.75, 0.6], maskMax: 300 });
    vessels.push({ name: `${side(s)} ophthalmic`, ctrl: [genu, J([s * 22, -40, -6]), J([s * 30, -60, -2])], r: [0.7, 0.65, 0.5], maskMax: 300 });
    sites.push({ name: `${side(s)} ICA ophthalmic segment`, location: 'sidewall', at: J([s * 16, -23, -3], 0.5), dir: unit([s * 0.3, -0.3, 1]), parentR: ricA - 0.3, weight: 1.5 });
    sites.push({ name: `${side(s)} ICA cavernous`, location: 'sidewall', at: J([s * 14, -16, -18], 0.5), dir: unit([s * 1, -0.2, 0.1]), parentR: ricA - 0.2, weight: 0.7 });
    // External carotid outside the skull.
    vessels.push({ name: `${side(s)} ECA`, ctrl: [J([s * 24, 6, -125], 2), J([s * 28, -12, -90]), J([s * 40, -18, -60]), J([s * 62, -5, -25]), J([s * 70, 0, 10])], r: [1.8, 1.5, 1.2, 0.9, 0.7], maskMax: 300 });
  }
  const basilar = [vbJ, J([U(-4, 4), 7, -20], 1), J([U(-3, 3), 6, -8], 1), basTip];
  const rBA = U(1.4, 1.9);
  vessels.push({ name: 'basilar', ctrl: basilar, r: basilar.map(() => rBA) });
  sites.push({ name: 'basilar tip', location: 'bifurcation', at: basTip, dir: unit([0, -0.1, 1]), parentR: rBA, weight: 2 });
  sites.push({ name: 'basilar trunk', location: 'sidewall', at: basilar[1]!, dir: unit([U(-1, 1), -1, 0]), parentR: rBA, weight: 0.5 });
  hardNegatives.push({ kind: 'junction', centerLps: Pv(vbJ), sizeMm: round2(2 * rBA), site: 'vertebrobasilar junction' });
  if (rng.chance(0.9)) {
    const ac: Vec3 = [(aca[-1]![0] + aca[1]![0]) / 2, (aca[-1]![1] + aca[1]![1]) / 2 - 0.8, (aca[-1]![2] + aca[1]![2]) / 2];
    vessels.push({ name: 'AComm', ctrl: [aca[-1]!, ac, aca[1]!], r: [0.8, 0.75, 0.8] });
    sites.push({ name: 'AComm', location: 'bifurcation', at: ac, dir: unit([U(-0.2, 0.2), -1, U(0, 0.8)]), parentR: 1.1, weight: 4 });
  }
  // Small vessel loops on distal branches: classic false positives.
  const loops = rng.int(0, 2);
  for (let q = 0; q < loops; q++) {
    const s = rng.chance(0.5) ? 1 : -1;
    const c = J([s * U(45, 58), U(-10, 30), U(15, 45)], 0);
    const rad = U(2.5, 4.5), rv = U(0.6, 1.0);
    const ctrl: Vec3[] = [[c[0], c[1] - 12, c[2] - 8]];
    for (let t = 0; t <= 10; t++) {
      const a = (t / 10) * 2 * Math.PI * 1.05;
      ctrl.push([c[0] + s * 2 * Math.sin(a * 0.5), c[1] + rad * Math.sin(a), c[2] + rad * (1 - Math.cos(a)) - rad]);
    }
    ctrl.push([c[0], c[1] + 12, c[2] + 6]);
    vessels.push({ name: 'loop', ctrl, r: ctrl.map(() => rv), maskMax: 300 });
    hardNegatives.push({ kind: 'loop', centerLps: Pv(c), sizeMm: round2(2 * (rad + rv)), site: `${side(s)} MCA branch` });
  }
  for (const s of [-1, 1]) {
    const B = sites.find((x) => x.name === `${side(s)} MCA bifurcation`)!;
    hardNegatives.push({ kind: 'junction', centerLps: Pv(B.at), sizeMm: round2(2 * B.parentR), site: B.name });
  }

  const paths: { def: VesselDef; path: VesselPath }[] = vessels.map((def) => ({ def, path: smoothPath(def.ctrl.map(Pv), def.r, 1.2) }));

  // A generator: it yields every few slices of a shape, so synthToDirectory can see an abort while it draws.
  const draw = function* (cv: Canvas): Generator<void, Drawn, void> {
    yield* fillSteps(cv, hu.air);
    const supineBack = o.patientPosition.endsWith('P') ? -1 : 1;
    // Head holder and table behind (supine) or in front of (prone) the head.
    // Level in the scanner, clear of the head whatever its tilt.
    const hc: Vec3 = [frame.t[0], frame.t[1] + supineBack * (skullR[1] + 28), frame.t[2]];
    yield* paintSteps(cv, new Box([hc[0], hc[1], hc[2]], [110, 4, 400]), U(60, 200));
    const section = (cu: number, cvv: number, w: number, a: number, b: number): Section => {
      const c = P(cu, cvv, w);
      return { cx: c[0], cy: c[1], a, b, n: 0.2, angle: 0 };
    };
    const neck = (a: number, b: number): Profile =>
      new Profile([-1e4, -1e4, -1e4], [1e4, 1e4, 1e4], (z) => {
        const w = z - tableZ;
        return w > -10 ? null : section(0, 15, w, a * hs, b * hs);
      });
    yield* paintSteps(cv, neck(60, 62), hu.fat);
    yield* paintSteps(cv, neck(52, 55), hu.soft);
    // Face below the forehead.
    yield* paintSteps(cv, ell([0, -50 * hs, -50 * hs], [58 * hs, 48 * hs, 55 * hs]), hu.soft);
    yield* paintSteps(cv, ell([0, -95 * hs, -25 * hs], [9, 14, 22], eulerRot(0, 0, 0.3)), hu.soft);
    // Scalp, skull tables and diploe, CSF, brain.
    const sC = skullC.map((v) => v * hs) as Vec3;
    // Outer layers as shells over the next layer, which fills their inside (see Shell).
    const overlap = 2.5 * cv.h + 1;
    const layer = (outer: Vec3, inner: Vec3): Shell => new Shell(ell(sC, outer), ell(sC, inner), overlap);
    yield* paintSteps(cv, layer(grow(skullR, 6), skullR), hu.soft);
    yield* paintSteps(cv, layer(skullR, grow(skullR, -1.8)), hu.cortical);
    yield* paintSteps(cv, layer(grow(skullR, -1.8), grow(skullR, -ts + 1.6)), hu.diploe);
    yield* paintSteps(cv, ell(sC, grow(skullR, -ts + 1.6)), hu.cortical);
    // Below the floor: soft tissue of face and skull base in front; the occipital bone stays behind.
    yield* paintSteps(cv, new Intersect([ell(sC, grow(skullR, 6)), belowFloor(-6), new HalfSpace(P(0, 20 * hs, 0), frame.d([0, 1, 0]))]), hu.soft);
    yield* paintSteps(cv, new Intersect([ell(sC, grow(skullR, -ts)), belowFloor(-3)]), hu.soft);
    const brain = new Intersect([ell(sC, grow(skullR, -ts - atrophy)), aboveFloor(2)]);
    yield* paintSteps(cv, new Shell(new Intersect([ell(sC, grow(skullR, -ts)), aboveFloor(0)]), brain, overlap), hu.csf);
    yield* paintSteps(cv, brain, hu.gm);
    for (const s of [-1, 1]) yield* paintSteps(cv, new Intersect([ell([s * 28 * hs, 5 * hs, 38 * hs], [26 * hs, 58 * hs, 36 * hs]), aboveFloor(8)]), hu.gm - hu.wmDrop, { edge: 3 });
    // Interhemispheric fissure and falx.
    yield* paintSteps(cv, new Intersect([new Box(P(0, 0, 60 * hs), [1.2 + atrophy * 0.3, 95, 50], rot), ell(sC, grow(skullR, -ts))]), hu.csf, { maskMax: 100 });
    yield* paintSteps(cv, new Intersect([new Box(P(0, 0, 60 * hs), [0.4, 95, 50], rot), ell(sC, grow(skullR, -ts))]), hu.gm + U(15, 40), { maskMax: 100 });
    // Posterior fossa: cerebellum, brainstem, fourth ventricle.
    for (const s of [-1, 1]) yield* paintSteps(cv, ell([s * 24 * hs, 52 * hs, -28 * hs], [28 * hs, 24 * hs, 19 * hs]), hu.gm - 2);
    const stem = smoothPath([P(0, 20 * hs, 12 * hs), P(0, 25 * hs, -15 * hs), P(0, 30 * hs, -60 * hs), P(0, 35 * hs, -110 * hs)], [11, 13, 9, 8], 2);
    for (const sh of pathShapes(stem)) yield* paintSteps(cv, sh, hu.gm - hu.wmDrop * 0.5);
    yield* paintSteps(cv, ell([0, 38 * hs, -25 * hs], [5, 4, 7]), hu.csf);
    // Ventricles scale with atrophy.
    const vr = 1 + (atrophy - 1.5) * 0.25;
    for (const s of [-1, 1]) {
      const lv = smoothPath([P(s * 12 * hs, -28 * hs, 28 * hs), P(s * 14 * hs, -5 * hs, 36 * hs), P(s * 20 * hs, 25 * hs, 32 * hs), P(s * 28 * hs, 15 * hs, 8 * hs), P(s * 32 * hs, -8 * hs, 0)], [4 * vr, 4.5 * vr, 6 * vr, 3 * vr, 2 * vr], 2);
      for (const sh of pathShapes(lv)) yield* paintSteps(cv, sh, hu.csf);
    }
    yield* paintSteps(cv, new Box(P(0, 2 * hs, 14 * hs), [1.5 * vr, 12, 9], rot, 1), hu.csf);
    // Skull base: cranial floor, sphenoid with its sinus, clivus, petrous bones with mastoid air.
    const floorBone = hu.cortical * 0.8;
    yield* paintSteps(cv, new Intersect([new HalfSpace(flatP(-1), neg(flatN)), new HalfSpace(flatP(-6), flatN), new HalfSpace(slopeP(-1), slopeN), ell(sC, skullR)]), floorBone);
    yield* paintSteps(cv, new Intersect([new HalfSpace(slopeP(-1), neg(slopeN)), new HalfSpace(slopeP(-6), slopeN), new HalfSpace(flatP(-1), flatN), ell(sC, skullR)]), floorBone);
    yield* paintSteps(cv, new Box(P(0, -18 * hs, -24 * hs), [20, 17, 11], rot, 3), hu.cortical * 0.75);
    if (rng.chance(0.9)) yield* paintSteps(cv, new Box(P(0, -18 * hs, -24 * hs), [U(10, 16), U(9, 14), U(5, 9)], rot, 2), hu.air);
    yield* paintSteps(cv, new Box(P(0, 6 * hs, -40 * hs), [11, 5, 20], mulRot(rot, eulerRot(0, 0, 0.5)), 2), hu.cortical * 0.8);
    for (const s of [-1, 1]) {
      yield* paintSteps(cv, new Capsule(P(s * 14 * hs, 6 * hs, -28 * hs), P(s * 48 * hs, 26 * hs, -24 * hs), 7, 9), hu.petrous);
      yield* paintSteps(cv, ell([s * 50 * hs, 32 * hs, -32 * hs], [9, 11, 10]), U(-700, -400));
    }
    // Orbits, ethmoid, frontal and maxillary sinuses, nasal cavity, pharynx.
    for (const s of [-1, 1]) {
      yield* paintSteps(cv, ell([s * 32 * hs, -66 * hs, -13 * hs], [17, 24, 15]), hu.fat);
      yield* paintSteps(cv, new Sphere(P(s * 32 * hs, -76 * hs, -13 * hs), 12), U(5, 20));
      yield* paintSteps(cv, ell([s * 32 * hs, -87 * hs, -13 * hs], [4, 1.8, 4]), U(70, 120));
      yield* paintSteps(cv, ell([s * 28 * hs, -50 * hs, -38 * hs], [U(12, 17), U(15, 20), U(15, 20)]), hu.air);
    }
    yield* paintSteps(cv, ell([0, -60 * hs, -12 * hs], [9, 18, 10]), U(-750, -550));
    if (rng.chance(0.75)) yield* paintSteps(cv, ell([0, -(skullR[1] - 3) + sC[1], 30 * hs], [U(10, 20), 5, U(7, 12)]), hu.air);
    yield* paintSteps(cv, new Box(P(0, -58 * hs, -30 * hs), [6, 24, 16], rot, 3), hu.air);
    const pharynx = smoothPath([P(0, -35 * hs, -25 * hs), P(0, -20 * hs, -60 * hs), P(0, -12 * hs, -140 * hs)], [9, 8, 7], 2);
    for (const sh of pathShapes(pharynx)) yield* paintSteps(cv, sh, hu.air);
    // Cervical spine and mandible.
    for (let n = 0; n < 6; n++) {
      const w = -62 * hs - n * 18;
      yield* paintSteps(cv, new Box(P(0, 12 * hs, w), [14, 11, 6.5], rot, 3), hu.cortical * 0.6);
      yield* paintSteps(cv, new Box(P(0, 12 * hs, w), [11, 8, 5], rot, 2), U(200, 320));
      yield* paintSteps(cv, new Box(P(0, 38 * hs, w), [17, 6, 6], rot, 2), hu.cortical * 0.6);
    }
    const jaw = smoothPath([P(-48 * hs, 2 * hs, -40 * hs), P(-45 * hs, -20 * hs, -80 * hs), P(0, -68 * hs, -88 * hs), P(45 * hs, -20 * hs, -80 * hs), P(48 * hs, 2 * hs, -40 * hs)], [6, 6, 7, 6, 6], 2);
    for (const sh of pathShapes(jaw)) yield* paintSteps(cv, sh, hu.cortical * 0.8);
    // Dural venous sinuses (along the inner table) and the cavernous sinus around the ICA.
    const inner = grow(skullR, -ts - 2.5);
    const onInner = (theta: number, u = 0): Vec3 => P(u, sC[1] + inner[1] * Math.cos(theta), sC[2] + inner[2] * Math.sin(theta));
    const sss = smoothPath([onInner(150 * DEG), onInner(110 * DEG), onInner(80 * DEG), onInner(50 * DEG), onInner(20 * DEG), onInner(-10 * DEG)], [2.5, 3, 3.5, 4, 4.5, 5], 2);
    for (const sh of pathShapes(sss)) yield* paintSteps(cv, sh, vein);
    const torcula = onInner(-10 * DEG);
    for (const s of [-1, 1]) {
      const ts1 = smoothPath([torcula, P(s * 40 * hs, 72 * hs, -12 * hs), P(s * 55 * hs, 50 * hs, -22 * hs), P(s * 45 * hs, 32 * hs, -38 * hs), P(s * 30 * hs, 22 * hs, -65 * hs), P(s * 30 * hs, 18 * hs, -130 * hs)], [4.5, 4.5, 4.5, 4, 5, 5.5], 2);
      for (const sh of pathShapes(ts1)) yield* paintSteps(cv, sh, vein);
      yield* paintSteps(cv, ell([s * 15 * hs, -18 * hs, -16 * hs], [7, 11, 6]), vein * U(0.6, 1));
    }
    const straight = smoothPath([P(0, 25 * hs, 22 * hs), P(0, 55 * hs, 12 * hs), torcula], [2.5, 3, 3.5], 2);
    for (const sh of pathShapes(straight)) yield* paintSteps(cv, sh, vein);
    // Cortical veins climbing over the convexity into the superior sagittal sinus.
    const nVeins = rng.int(3, 8);
    for (let q = 0; q < nVeins; q++) {
      const th = U(40, 130) * DEG, s = rng.chance(0.5) ? 1 : -1;
      const du = s * U(25, 55);
      const start = P(du, sC[1] + inner[1] * Math.cos(th) * 0.8, sC[2] + inner[2] * Math.sin(th) * 0.8);
      const mid = P(du * 0.5, sC[1] + inner[1] * Math.cos(th) * 0.93, sC[2] + inner[2] * Math.sin(th) * 0.93);
      const r = U(0.8, 1.5);
      const v = smoothPath([start, mid, onInner(th + U(-4, 4) * DEG)], [r, r, r * 1.2], 2);
      for (const sh of pathShapes(v)) yield* paintSteps(cv, sh, vein, { maskMax: 300 });
    }
    // Arteries.
    for (const { def, path } of paths) {
      const opts = def.maskMax !== undefined ? { maskMax: def.maskMax } : {};
      for (const sh of pathShapes(path)) yield* paintSteps(cv, sh, hu.artery, opts);
    }
    // Calcifications: carotid siphon plaque, pineal, choroid plexus.
    if (rng.chance(0.4)) {
      const s = rng.chance(0.5) ? 1 : -1;
      const p = paths.find((x) => x.def.name === `${side(s)} ICA`)!.path;
      const i = Math.floor(p.pts.length * U(0.55, 0.7));
      const off = perpendicular(unit(sub(p.pts[i + 1]!, p.pts[i]!)), U(0, 2 * Math.PI));
      const r = U(0.6, 1.3);
      const c: Vec3 = [p.pts[i]![0] + off[0] * p.r[i]!, p.pts[i]![1] + off[1] * p.r[i]!, p.pts[i]![2] + off[2] * p.r[i]!];
      yield* paintSteps(cv, new Sphere(c, r), U(700, 1300));
      hardNegatives.push({ kind: 'calcification', centerLps: c, sizeMm: round2(2 * r), site: `${side(s)} ICA siphon` });
    }
    if (rng.chance(0.6)) {
      const c = P(0, 30 * hs, 18 * hs);
      const r = U(1.5, 3);
      yield* paintSteps(cv, new Sphere(c, r), U(150, 400));
      hardNegatives.push({ kind: 'calcification', centerLps: c, sizeMm: round2(2 * r), site: 'pineal' });
    }
    yield* placeAneurysms(cv);
    return { findings, hardNegatives: hardNegatives.filter((h) => insideGrid(cv, h.centerLps, 1)) };
  };

  const placeAneurysms = function* (cv: Canvas): Generator<void, void, void> {
    const used = new Set<string>();
    for (let n = 0; n < o.lesions; n++) {
      const free = sites.filter((s) => !used.has(s.name));
      if (free.length === 0) break;
      const d = lrng.logUniform(2, 15);
      const R = d / 2;
      let placed = false;
      for (let t = 0; t < 12 && !placed; t++) {
        const site = lrng.weighted(free.map((s) => [s, s.weight] as const));
        const at = Pv(site.at);
        let dir = frame.d(unit([site.dir[0] + lrng.normal(0, 0.25), site.dir[1] + lrng.normal(0, 0.25), site.dir[2] + lrng.normal(0, 0.25)]));
        dir = unit(dir);
        const off = site.parentR * (site.location === 'bifurcation' ? 0.3 : 1) + R * lrng.uniform(0.6, 0.85);
        const c: Vec3 = [at[0] + dir[0] * off, at[1] + dir[1] * off, at[2] + dir[2] * off];
        if (!insideGrid(cv, c, R + 2)) continue;
        if (findings.some((f) => Math.hypot(f.centerLps[0] - c[0], f.centerLps[1] - c[1], f.centerLps[2] - c[2]) < f.diameterMm / 2 + R + 3)) continue;
        // A sac sunk in bone would keep the bone (see below) and be no visible aneurysm, yet truth.json would
        // list it: such a placement is drawn again (seed 21's 14 mm basilar sac was 72 % bone).
        if (fractionAbove(cv, c, R, BONE_HU) > MAX_BONE_SHARE) continue;
        const irregular = lrng.chance(0.3);
        const neckR = Math.max(site.parentR * 0.8, R * lrng.uniform(0.4, 0.75));
        // Drawn like the lumen it is; where it abuts bone, the bone stays.
        const keepBone = { maskMax: hu.artery };
        yield* paintSteps(cv, new Capsule(at, c, neckR, neckR), hu.artery, keepBone);
        yield* paintSteps(cv, new Sphere(c, R), hu.artery, keepBone);
        if (irregular) {
          const bd = unit([dir[0] + lrng.normal(0, 0.5), dir[1] + lrng.normal(0, 0.5), dir[2] + lrng.normal(0, 0.5)]);
          yield* paintSteps(cv, new Sphere([c[0] + bd[0] * R * 0.85, c[1] + bd[1] * R * 0.85, c[2] + bd[2] * R * 0.85], R * lrng.uniform(0.25, 0.45)), hu.artery, keepBone);
        }
        findings.push({ kind: 'aneurysm', centerLps: c, diameterMm: round2(d), type: 'saccular', location: site.location, shape: irregular ? 'irregular' : 'round', hu: Math.round(hu.artery), site: site.name });
        used.add(site.name);
        placed = true;
      }
    }
  };

  return {
    centre,
    bodyPart: 'HEAD',
    description: 'Synthetic CT angiography phantom (head)',
    window: rng.chance(0.5) ? { center: 300, width: 700 } : { center: 200, width: 600 },
    draw,
  };
};

function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
