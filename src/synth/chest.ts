import type { Vec3 } from '../volume/types.js';
import { Frame, insideGrid, lerp3, perpendicular, probeValues, sample, smoothPath, pathShapes, unit } from './anatomy.js';
import { fillSteps, paintSteps, type Canvas } from './raster.js';
import { Rng } from './rng.js';
import { Box, Capsule, Ellipsoid, eulerRot, Profile, Shell, Sphere, type Section, type Shape } from './shapes.js';
import type { FilledSynthOptions } from './options.js';
import type { Drawn, FindingLocation, FindingType, HardNegative, Phantom, PhantomFactory, SynthFinding } from './truth.js';

const DEG = Math.PI / 180;
/** Segments per vessel tree (8 segmental trees x artery/vein x 2 lungs). */
const VESSEL_BUDGET = 700;

/** Blood and organ enhancement per contrast phase (HU ranges). */
const PHASES = {
  none: { artery: [35, 50], vein: [35, 50], heart: [35, 50], myo: [35, 50], liver: [50, 65] },
  arterial: { artery: [220, 420], vein: [120, 220], heart: [200, 380], myo: [70, 110], liver: [60, 80] },
  venous: { artery: [130, 190], vein: [130, 190], heart: [130, 180], myo: [90, 120], liver: [95, 130] },
} as const;
type Phase = keyof typeof PHASES;

interface Segment {
  a: Vec3;
  b: Vec3;
  r: number;
  side: 'left' | 'right';
  vein: boolean;
  /** True where a segment ends in a branching. */
  fork: boolean;
}

export const chestPhantom: PhantomFactory = (o: FilledSynthOptions): Phantom => {
  const rng = Rng.derive(o.seed, 'chest:anatomy');
  const lrng = Rng.derive(o.seed, 'chest:lesions');
  const U = (a: number, b: number): number => rng.uniform(a, b);

  // Habitus: size, shape and fat vary; every organ scales with the chest.
  const hab = U(0.85, 1.18);
  const A = U(135, 172) * hab, B = U(92, 122) * hab;
  const fatT = U(4, 26) * hab * hab;
  const muscleT = U(9, 17);
  const bodyN = U(0.15, 0.7);
  const Ac = A - fatT - muscleT, Bc = B - fatT - muscleT;
  const roll = U(-6, 6) * DEG;
  const phase: Phase = rng.weighted([['none', 0.45], ['arterial', 0.25], ['venous', 0.3]] as const);
  const P = PHASES[phase];
  const hu = {
    air: -1000 + U(-8, 8),
    fat: U(-120, -85),
    muscle: U(35, 60),
    lung: U(-885, -815),
    lungGrad: U(0.1, 0.5),
    artery: U(P.artery[0], P.artery[1]),
    vein: U(P.vein[0], P.vein[1]),
    heart: U(P.heart[0], P.heart[1]),
    myo: U(P.myo[0], P.myo[1]),
    liver: U(P.liver[0], P.liver[1]),
    cortical: U(650, 1150),
    cancellous: U(160, 300),
    cartilage: U(90, 220),
    disc: U(70, 110),
    csf: U(0, 15),
    bronchialWall: U(-150, 20),
  };

  const offset: Vec3 = [U(-15, 15), U(-25, 15), 0];
  const tableZ = U(-450, 150);
  const coverage = o.slices * o.spacing[2];
  const scanW = coverage >= 250 ? U(-50, -30) : U(-70, 10);
  const centre: Vec3 = [U(-3, 3), U(-10, 10), tableZ + scanW];
  const frame = new Frame(eulerRot(roll, 0, 0), [centre[0] + offset[0], centre[1] + offset[1], tableZ]);
  const P3 = (u: number, v: number, w: number): Vec3 => frame.p(u, v, w);
  const zOf = (w: number): number => w + tableZ;

  // Heights (body frame w, mm) of landmarks.
  const apexW = U(75, 100) * hab;
  const domeR = U(-125, -90) * hab, domeL = domeR - U(5, 25);
  const domeH = U(45, 70);
  const heartW = domeL + U(40, 55);

  const wMin = -400, wMax = 400;
  const bboxFor = (a: number, b: number): [Vec3, Vec3] => {
    const r = Math.hypot(a, b) + 5;
    return [
      [frame.t[0] - r - 200, frame.t[1] - r - 200, zOf(wMin)],
      [frame.t[0] + r + 200, frame.t[1] + r + 200, zOf(wMax)],
    ];
  };
  const section = (cu: number, cv: number, w: number, a: number, b: number, n: number): Section => {
    const c = P3(cu, cv, w);
    return { cx: c[0], cy: c[1], a, b, n, angle: roll };
  };
  const extrude = (f: (w: number) => Section | null, cut?: (x: number, y: number, z: number) => number): Profile => {
    const [mn, mx] = bboxFor(A, B);
    return new Profile(mn, mx, (z) => f(z - tableZ), cut);
  };

  const findings: SynthFinding[] = [];
  const hardNegatives: HardNegative[] = [];

  // --- Lungs: superellipse sections tapering to the apex, cut from below by the diaphragm domes. ---
  const lungDef = (side: 1 | -1) => {
    const cu = side * Ac * U(0.47, 0.52), cv = Bc * U(0, 0.06);
    const a = Ac * U(0.44, 0.48) * (side === 1 ? 0.95 : 1), b = Bc * U(0.84, 0.9), n = U(0.2, 0.6);
    const dome = side === 1 ? domeL : domeR;
    const sectionAt = (w: number): Section | null => {
      if (w > apexW || w < dome - domeH * 1.4) return null;
      const s = Math.sqrt(Math.min(1, (apexW - w) / 70));
      return section(cu + side * (1 - s) * -10, cv + (1 - s) * 12, w, a * s, b * s, n);
    };
    const cr = Math.cos(roll), sr = Math.sin(roll);
    const cut = (x: number, y: number, z: number): number => {
      const dx = x - frame.t[0], dy = y - frame.t[1];
      const du = (cr * dx + sr * dy - cu) / (a * 1.15), dv = (-sr * dx + cr * dy - cv - b * 0.2) / (b * 1.25);
      const floor = dome - domeH * (du * du + dv * dv);
      return (floor - (z - tableZ)) * 0.5;
    };
    return { shape: extrude(sectionAt, cut), cu, cv, a, b, dome, side };
  };
  const lungs = [lungDef(-1), lungDef(1)];
  const inLung = (p: Vec3): number => {
    let best = Infinity;
    for (const l of lungs) {
      if (!l.shape.slice(p[2])) continue;
      best = Math.min(best, l.shape.sd(p[0], p[1], p[2]));
    }
    return best;
  };

  // --- Pulmonary vessel trees grown from the hila, clipped to the lungs. ---
  const segments: Segment[] = [];
  // Breadth-first, so a segment budget trims the finest generation evenly rather than whole lobes.
  const grow = (root: Vec3, rootDir: Vec3, r0: number, side: 'left' | 'right', vein: boolean, budget: number): void => {
    const lung = lungs[side === 'left' ? 1 : 0]!;
    const queue: { p: Vec3; d: Vec3; r: number; depth: number }[] = [{ p: root, d: rootDir, r: r0, depth: 0 }];
    let made = 0;
    while (queue.length > 0 && made < budget) {
      const { p: start, d: dir, r, depth } = queue.shift()!;
      if (r < 0.45 || depth > 16) continue;
      let len = r * U(4, 8) + U(2, 5);
      let d = unit([dir[0] + rng.normal(0, 0.12), dir[1] + rng.normal(0, 0.12), dir[2] + rng.normal(0, 0.12)]);
      let end: Vec3 = [start[0] + d[0] * len, start[1] + d[1] * len, start[2] + d[2] * len];
      let ok = depth < 3 || inLung(end) < -1.5;
      // Near the pleura a vessel turns back into the lung instead of leaving it.
      for (let t = 0; t < 3 && !ok; t++) {
        const mid = P3(lung.cu, lung.cv, end[2] - tableZ + U(-20, 20));
        const to = unit([mid[0] - start[0], mid[1] - start[1], mid[2] - start[2]]);
        d = unit([d[0] * 0.4 + to[0] * 0.6, d[1] * 0.4 + to[1] * 0.6, d[2] * 0.4 + to[2] * 0.6]);
        len *= 0.7;
        end = [start[0] + d[0] * len, start[1] + d[1] * len, start[2] + d[2] * len];
        ok = inLung(end) < -1.5;
      }
      if (!ok) continue;
      const fork = r * 0.74 >= 0.45;
      segments.push({ a: start, b: end, r, side, vein, fork });
      made++;
      const perp = perpendicular(d, U(0, 2 * Math.PI));
      const t1 = U(12, 32) * DEG, t2 = U(30, 65) * DEG;
      const turn = (t: number, sgn: number): Vec3 => unit([d[0] * Math.cos(t) + sgn * perp[0] * Math.sin(t), d[1] * Math.cos(t) + sgn * perp[1] * Math.sin(t), d[2] * Math.cos(t) + sgn * perp[2] * Math.sin(t)]);
      queue.push({ p: end, d: turn(t1, 1), r: r * U(0.74, 0.9), depth: depth + 1 });
      queue.push({ p: end, d: turn(t2, -1), r: r * U(0.5, 0.74), depth: depth + 1 });
    }
  };
  const hilum = (side: 1 | -1, dv: number, dw: number): Vec3 => P3(side * Ac * U(0.28, 0.34), Bc * 0.05 + dv, dw);
  // Lobar directions (body frame) from each hilum: up, lateral, down-back, down-front.
  const lobes: Vec3[] = [[0.1, -0.1, 1], [0.8, -0.3, -0.1], [0.3, 0.5, -0.8], [0.4, -0.5, -0.7]];
  for (const side of [-1, 1] as const) {
    for (const [kind, dv, dw] of [['a', 5, U(-15, 0)], ['v', -8, U(-45, -30)]] as const) {
      // Segmental trunks fan out from the hilum around the lobar directions.
      for (let q = 0; q < 8; q++) {
        const lobe = lobes[q % lobes.length]!;
        const d = frame.d(unit([lobe[0] * side + rng.normal(0, 0.3), lobe[1] + rng.normal(0, 0.3), lobe[2] + rng.normal(0, 0.3)]));
        grow(hilum(side, dv, dw), d, U(3, 5) * hab, side === 1 ? 'left' : 'right', kind === 'v', VESSEL_BUDGET);
      }
    }
  }

  // A generator: it yields every few slices of a shape, so synthToDirectory can see an abort while it draws.
  const draw = function* (cv: Canvas): Generator<void, Drawn, void> {
    yield* fillSteps(cv, hu.air);
    // Table under the patient: supine lies on it with the back, prone with the front.
    const prone = o.patientPosition.endsWith('P');
    const tableV = prone ? -B - 12 : B + 12;
    // The table stays level in the scanner whatever the patient's roll.
    const tc: Vec3 = [frame.t[0], frame.t[1] + tableV, zOf(0)];
    yield* paintSteps(cv, new Box([tc[0], tc[1] + (prone ? -3 : 3), tc[2]], [240, 3, 2000]), U(80, 250));
    yield* paintSteps(cv, new Box([tc[0], tc[1] + (prone ? -40 : 40), tc[2]], [200, 5, 2000]), U(-300, 0));

    // Body wall: skin/fat, muscle, the thoracic cavity.
    const bodyA = (w: number): number => A * (1 + 0.08 * smooth(40, 150, w) - 0.04 * smooth(-250, -120, -w));
    // Layers are drawn as shells over the next layer, which then fills its inside (see Shell).
    const overlap = 2.5 * cv.h + 1;
    const bodyOutline = extrude((w) => section(0, 0, w, bodyA(w), B, bodyN));
    const muscleOutline = extrude((w) => section(0, 0, w, bodyA(w) - fatT, B - fatT, bodyN));
    // Thoracic cavity (mediastinal fat), narrowing to the thoracic inlet above the lung apices.
    const inlet = (w: number): number => Math.min(1, Math.max(0.3, (apexW + 25 - w) / 50));
    const cavity = extrude((w) => section(0, -Bc * (1 - inlet(w)) * 0.3, w, (bodyA(w) - fatT - muscleT) * inlet(w), Bc * inlet(w), bodyN));
    yield* paintSteps(cv, new Shell(bodyOutline, muscleOutline, overlap), hu.fat);
    if (rng.chance(0.3)) {
      for (const s of [-1, 1]) {
        const c = P3(s * Ac * 0.45, -B + 10, U(-70, -30));
        yield* paintSteps(cv, new Ellipsoid(c, [U(45, 70), U(30, 55), U(45, 65)], eulerRot(roll, 0, 0)), hu.fat);
        yield* paintSteps(cv, new Ellipsoid([c[0], c[1] + 5, c[2]], [U(25, 40), U(15, 30), U(25, 40)]), U(10, 40), { edge: 3 });
      }
    }
    if (rng.chance(0.2)) {
      // Arms down beside the chest.
      for (const s of [-1, 1]) {
        const au = s * (bodyA(0) + U(35, 50));
        yield* paintSteps(cv, extrude((w) => (w > 160 ? null : section(au, 0, w, 38 * hab, 45 * hab, 0))), hu.fat);
        yield* paintSteps(cv, extrude((w) => (w > 160 ? null : section(au, 0, w, 30 * hab, 36 * hab, 0))), hu.muscle);
        yield* paintSteps(cv, extrude((w) => (w > 150 ? null : section(au, 0, w, 11, 11, 0))), hu.cortical);
        yield* paintSteps(cv, extrude((w) => (w > 150 ? null : section(au, 0, w, 7, 7, 0))), hu.cancellous);
      }
    }
    yield* paintSteps(cv, new Shell(muscleOutline, cavity, overlap), hu.muscle);
    const spineV = (w: number): number => Bc * 0.7 - 10 * (1 - ((w + 40) / 220) ** 2);
    yield* paintSteps(cv, cavity, hu.fat + U(0, 15));
    // Paraspinal muscles.
    yield* paintSteps(cv, extrude((w) => section(0, spineV(w) + 32, w, 62, 38, 0.4)), hu.muscle);

    // Upper abdomen below the domes: liver, spleen, stomach.
    yield* paintSteps(cv, new Ellipsoid(P3(-Ac * 0.35, Bc * 0.05, domeR - 80), [Ac * 0.75, Bc * 0.85, 95], eulerRot(roll, 0, 0)), hu.liver);
    yield* paintSteps(cv, new Ellipsoid(P3(Ac * 0.62, Bc * 0.45, domeL - 55), [32, 50, 55], eulerRot(roll + 0.4, 0, 0)), hu.liver + U(-10, 15));
    const stomach = P3(Ac * 0.35, -Bc * 0.25, domeL - 50);
    yield* paintSteps(cv, new Ellipsoid(stomach, [50, 40, 45]), hu.muscle - 10);
    yield* paintSteps(cv, new Ellipsoid([stomach[0], stomach[1], stomach[2] + 30], [35, 28, 14]), hu.air);

    // Lungs with a gravity-dependent density gradient (denser at the bottom of the patient as positioned).
    const gravY = prone ? -1 : 1;
    for (const l of lungs) yield* paintSteps(cv, l.shape, hu.lung, { gradY: hu.lungGrad * gravY, refY: frame.t[1] - gravY * Bc * 0.5 });
    // Fissures: thin oblique sheets, only inside lung.
    for (const l of lungs) {
      const c = P3(l.cu, l.cv, U(-40, -10));
      yield* paintSteps(cv, new Box(c, [l.a * 1.2, 0.25, 200], eulerRot(roll, 0, U(-55, -35) * DEG)), hu.lung + U(120, 250), { maskMax: -650 });
    }
    // Vessels (drawn only into lung; the mediastinal trunks are drawn explicitly below).
    // Bronchi run beside the larger arteries: a soft-tissue wall around air (drawn first, so vessels cross over them).
    const lungOnly = { maskMax: -300 };
    for (const s of segments) {
      if (s.vein || s.r < 1.3) continue;
      const axis = unit([s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]]);
      const side = perpendicular(axis, (s.a[0] * 7.3 + s.a[2] * 3.1) % (2 * Math.PI));
      const rb = s.r * 0.85, off = s.r + rb + 0.8;
      const a: Vec3 = [s.a[0] + side[0] * off, s.a[1] + side[1] * off, s.a[2] + side[2] * off];
      const b: Vec3 = [s.b[0] + side[0] * off, s.b[1] + side[1] * off, s.b[2] + side[2] * off];
      yield* paintSteps(cv, new Capsule(a, b, rb, rb * 0.92), hu.bronchialWall, lungOnly);
      yield* paintSteps(cv, new Capsule(a, b, rb * 0.7, rb * 0.65), hu.air, { maskMax: hu.bronchialWall + 1 });
    }
    for (const s of segments) yield* paintSteps(cv, new Capsule(s.a, s.b, s.r, s.r * 0.92), s.vein ? hu.vein : hu.artery, lungOnly);

    // Airways: trachea, main bronchi.
    const carina = P3(0, Bc * 0.05, U(-5, 5));
    const trach = smoothPath([P3(0, -Bc * 0.25, 260), P3(0, -Bc * 0.15, 120), carina], [11, 11, 10], 2);
    for (const sh of pathShapes(trach)) yield* paintSteps(cv, sh, hu.muscle);
    for (const sh of pathShapes({ pts: trach.pts, r: trach.r.map((r) => r - 2) })) yield* paintSteps(cv, sh, hu.air);
    for (const side of [-1, 1]) {
      const end = P3(side * Ac * 0.33, Bc * 0.12, side === 1 ? -35 : -20);
      const p = smoothPath([carina, lerp3(carina, end, 0.5), end], [9, 8, 6.5], 2);
      for (const sh of pathShapes(p)) yield* paintSteps(cv, sh, hu.muscle);
      for (const sh of pathShapes({ pts: p.pts, r: p.r.map((r) => r - 1.8) })) yield* paintSteps(cv, sh, hu.air);
    }
    // Oesophagus behind the trachea.
    const eso = smoothPath([P3(Ac * 0.03, Bc * 0.2, 300), P3(Ac * 0.05, Bc * 0.32, 0), P3(Ac * 0.1, Bc * 0.3, domeL - 20)], [8, 8, 8], 3);
    for (const sh of pathShapes(eso)) yield* paintSteps(cv, sh, hu.muscle);

    // Heart: pericardial fat, myocardium, two blood-filled chambers.
    const hrot = eulerRot(roll - U(30, 50) * DEG, U(15, 30) * DEG, 0);
    const hc = P3(Ac * 0.18, -Bc * 0.32, heartW);
    const hr: Vec3 = [U(48, 60) * hab, U(36, 46) * hab, U(42, 52) * hab];
    yield* paintSteps(cv, new Ellipsoid(hc, [hr[0] + 6, hr[1] + 6, hr[2] + 6], hrot), hu.fat);
    yield* paintSteps(cv, new Ellipsoid(hc, hr, hrot), hu.myo);
    const ax = (k: number, s: number): Vec3 => [hrot[k]! * s, hrot[3 + k]! * s, hrot[6 + k]! * s];
    const add = (a: Vec3, ...bs: Vec3[]): Vec3 => bs.reduce<Vec3>((p, b) => [p[0] + b[0], p[1] + b[1], p[2] + b[2]], a);
    yield* paintSteps(cv, new Ellipsoid(add(hc, ax(0, 10), ax(1, 8)), [hr[0] * 0.55, hr[1] * 0.45, hr[2] * 0.6], hrot), hu.heart);
    yield* paintSteps(cv, new Ellipsoid(add(hc, ax(0, -18), ax(1, -14)), [hr[0] * 0.5, hr[1] * 0.35, hr[2] * 0.55], hrot), phase === 'arterial' ? hu.heart * 0.8 : hu.heart);

    // Great vessels.
    const top = heartW + hr[2] * 0.6;
    const aorta = smoothPath(
      [P3(Ac * 0.05, -Bc * 0.15, top - 20), P3(-Ac * 0.02, -Bc * 0.25, top + 30), P3(Ac * 0.02, -Bc * 0.1, U(25, 40)), P3(Ac * 0.15, Bc * 0.3, U(20, 30)), P3(Ac * 0.17, Bc * 0.5, -20), P3(Ac * 0.12, Bc * 0.55, -300)],
      [14 * hab, 15 * hab, 14 * hab, 13 * hab, 12 * hab, 11 * hab],
      3,
    );
    for (const sh of pathShapes(aorta)) yield* paintSteps(cv, sh, hu.artery);
    const pab = P3(Ac * 0.08, -Bc * 0.02, U(-8, 2));
    const trunk = smoothPath([P3(Ac * 0.18, -Bc * 0.35, top - 25), P3(Ac * 0.18, -Bc * 0.2, top), pab], [13, 13, 12], 3);
    for (const sh of pathShapes(trunk)) yield* paintSteps(cv, sh, hu.artery);
    for (const side of [-1, 1] as const) {
      const h = hilum(side, 5, -8);
      for (const sh of pathShapes(smoothPath([pab, lerp3(pab, h, 0.5), h], [11, 10, 8], 3))) yield* paintSteps(cv, sh, hu.artery);
    }
    const svc = smoothPath([P3(-Ac * 0.22, -Bc * 0.12, 160), P3(-Ac * 0.2, -Bc * 0.12, top)], [10, 11], 3);
    for (const sh of pathShapes(svc)) yield* paintSteps(cv, sh, hu.vein);

    // Spine: vertebral bodies (cortex, marrow), discs, canal, posterior elements; ribs at every level.
    const levelH = U(24, 29) * hab;
    const levels: number[] = [];
    for (let w = apexW + 20; w > -420; w -= levelH) levels.push(w);
    const vrot = eulerRot(roll, 0, 0);
    for (let n = 0; n < levels.length; n++) {
      const w = levels[n]!;
      const half: Vec3 = [U(15, 19) * hab, U(12, 15) * hab, levelH / 2 - 3.5];
      const cyl = (ha: number, hb: number, hh: number): Profile =>
        extrude((ww) => (Math.abs(ww - w) > hh ? null : section(0, spineV(ww), ww, ha, hb, 0.25)));
      yield* paintSteps(cv, cyl(half[0], half[1], half[2] + 3.5), hu.disc);
      yield* paintSteps(cv, cyl(half[0], half[1], half[2]), hu.cortical);
      yield* paintSteps(cv, cyl(half[0] - 2, half[1] - 2, half[2] - 1.5), hu.cancellous);
      const arch = P3(0, spineV(w) + half[1] + 12, w);
      yield* paintSteps(cv, new Box(arch, [14, 11, half[2]], vrot, 2), hu.cortical * 0.8);
      yield* paintSteps(cv, new Box(P3(0, spineV(w) + half[1] + 35, w - 8), [4, 16, half[2] * 0.6], eulerRot(roll, 0, 0.4), 2), hu.cortical * 0.8);
      for (const s of [-1, 1]) yield* paintSteps(cv, new Box(P3(s * 26, spineV(w) + half[1] + 14, w), [14, 5, 6], eulerRot(roll + s * 0.3, 0, 0), 2), hu.cortical * 0.8);
      yield* paintSteps(cv, new Box(arch, [7, 6, half[2] + 4], vrot, 2), hu.csf);
      // Ribs: from the transverse process around the cavity wall, falling towards the front.
      if (n >= 12 || w < domeL - 80) continue;
      const drop = U(35, 70);
      for (const s of [-1, 1] as const) {
        const ctrl: Vec3[] = [];
        const rad: number[] = [];
        const steps = 9;
        const end = n < 7 ? 250 : U(190, 230);
        for (let q = 0; q <= steps; q++) {
          const phi = (80 - ((end - 20) * q) / steps) * DEG; // 80 deg (posterior) round to the front
          const shrink = n === 0 ? 0.6 : n === 1 ? 0.85 : 1;
          const u = s * (Ac * shrink + 8) * Math.cos(phi);
          const v = (Bc + 6) * Math.sin(phi) * (phi > 0 ? 0.95 : 1);
          ctrl.push(P3(q === 0 ? s * 28 : u, q === 0 ? spineV(w) + half[1] + 10 : v, w + 6 - drop * Math.pow(q / steps, 1.3)));
          rad.push(q < 2 ? 5 : 4.2);
        }
        const rib = smoothPath(ctrl, rad, 3);
        for (const sh of pathShapes(rib)) yield* paintSteps(cv, sh, hu.cortical);
        for (const sh of pathShapes({ pts: rib.pts, r: rib.r.map((r) => r - 1.8) })) yield* paintSteps(cv, sh, hu.cancellous);
        if (n >= 1 && n < 7) {
          const last = ctrl[ctrl.length - 1]!;
          const st = P3(s * 14, -(Bc + 4), w - drop - 10 - n * 4);
          for (const sh of pathShapes(smoothPath([last, st], [4, 4], 3))) yield* paintSteps(cv, sh, hu.cartilage);
        }
      }
    }
    // Sternum and scapulae.
    const sc = P3(0, -(Bc + 5), U(-50, -30));
    yield* paintSteps(cv, new Box(sc, [14, 6, 85], eulerRot(roll, 0, 0.15), 3), hu.cortical * 0.7);
    yield* paintSteps(cv, new Box(sc, [11, 3.5, 82], eulerRot(roll, 0, 0.15), 2), hu.cancellous);
    for (const s of [-1, 1]) {
      const su = s * Ac * 0.55, sv = (Bc + 6) * Math.sqrt(1 - 0.55 * 0.55) + Math.min(12, fatT + muscleT * 0.6);
      yield* paintSteps(cv, new Box(P3(su, sv - 4, U(0, 40)), [24, 3, 55], eulerRot(roll - s * 0.35, 0, 0), 2), hu.cortical * 0.7);
    }

    yield* placeNodules(cv);
    listHardNegatives(cv);
    return { findings, hardNegatives };
  };

  // --- Nodules: drawn last, positioned against what is already on the canvas. ---
  const findSpot = (cv: Canvas, location: FindingLocation, r: number): Vec3 | null => {
    const L = (a: number, b: number): number => lrng.uniform(a, b);
    let c: Vec3 | null = null;
    const zs = [cv.Z[0]!, cv.Z[cv.nz - 1]!];
    const wLo = Math.min(...zs) - tableZ + r + 3, wHi = Math.max(...zs) - tableZ - r - 3;
    for (let t = 0; t < 400 && !c; t++) {
      let p: Vec3;
      if (location === 'juxta-vascular') {
        const s = segments[lrng.int(0, segments.length - 1)]!;
        if (s.r < 0.8 || s.r > 3.5) continue;
        const axis = unit([s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]]);
        const perp = perpendicular(axis, L(0, 2 * Math.PI));
        const base = lerp3(s.a, s.b, L(0.2, 0.8));
        const off = s.r + r * L(0.4, 0.8);
        p = [base[0] + perp[0] * off, base[1] + perp[1] * off, base[2] + perp[2] * off];
      } else {
        const l = lungs[lrng.int(0, 1)]!;
        const lo = Math.max(l.dome - domeH, wLo), hi = Math.min(apexW, wHi);
        if (lo > hi) continue;
        p = P3(l.cu + L(-l.a, l.a), l.cv + L(-l.b, l.b), L(lo, hi));
      }
      if (!insideGrid(cv, p, r + 3)) continue;
      const sd = inLung(p);
      const centre = sample(cv, p);
      if (!(centre < -600)) continue;
      if (findings.some((f) => Math.hypot(f.centerLps[0] - p[0], f.centerLps[1] - p[1], f.centerLps[2] - p[2]) < f.diameterMm / 2 + r + 8)) continue;
      if (location === 'isolated') {
        if (sd > -(r + 4)) continue;
        if (probeValues(cv, p, r + 2).some((v) => !(v < -500))) continue;
        if (probeValues(cv, p, r * 0.6).some((v) => !(v < -500))) continue;
      } else if (location === 'juxta-pleural') {
        if (sd > -r * 0.2 || sd < -r * 0.6) continue;
        const probes = probeValues(cv, p, r * 1.3);
        if (!probes.some((v) => v > -200) || probes.some((v) => v > 150)) continue;
      } else {
        if (sd > -(r + 2)) continue;
      }
      c = p;
    }
    return c;
  };

  const placeNodules = function* (cv: Canvas): Generator<void, void, void> {
    const L = (a: number, b: number): number => lrng.uniform(a, b);
    for (let n = 0; n < o.lesions; n++) {
      let d = lrng.logUniform(3, 30);
      const type: FindingType = lrng.weighted([['solid', 0.55], ['part-solid', 0.2], ['ground-glass', 0.25]] as const);
      const wanted: FindingLocation = lrng.weighted([['isolated', 0.5], ['juxta-pleural', 0.3], ['juxta-vascular', 0.2]] as const);
      const irregular = lrng.chance(0.4);
      // If the lungs in view cannot hold it there, try the other locations, then a smaller size.
      const order: FindingLocation[] = [wanted, ...(['isolated', 'juxta-pleural', 'juxta-vascular'] as const).filter((x) => x !== wanted)];
      let c: Vec3 | null = null;
      let location: FindingLocation = wanted;
      for (let attempt = 0; attempt < 2 && !c; attempt++) {
        if (attempt > 0) d = Math.max(3, d * 0.6);
        for (const loc of order) {
          c = findSpot(cv, loc, d / 2);
          if (c) {
            location = loc;
            break;
          }
        }
      }
      const r = d / 2;
      if (!c) continue;
      const side = frame.inv(c)[0] > 0 ? 'left lung' : 'right lung';
      const solidHu = L(-10, 60), ggHu = L(-720, -430);
      const mainHu = type === 'solid' ? solidHu : ggHu;
      const edge = type === 'solid' ? 1 : 2;
      const parts: Shape[] = [];
      if (irregular) {
        parts.push(new Sphere(c, r * 0.85));
        const lobes = lrng.int(4, 7);
        for (let q = 0; q < lobes; q++) {
          const dir = lrng.direction();
          const dist = r * L(0.3, 0.5);
          parts.push(new Sphere([c[0] + dir[0] * dist, c[1] + dir[1] * dist, c[2] + dir[2] * dist], r * L(0.35, 0.5)));
        }
        if (type === 'solid') {
          const spic = lrng.int(3, 8);
          for (let q = 0; q < spic; q++) {
            const dir = lrng.direction();
            const len = r * L(1.2, 1.9);
            parts.push(new Capsule([c[0] + dir[0] * r * 0.6, c[1] + dir[1] * r * 0.6, c[2] + dir[2] * r * 0.6], [c[0] + dir[0] * len, c[1] + dir[1] * len, c[2] + dir[2] * len], L(0.5, 0.9), 0.25));
          }
        }
      } else {
        parts.push(new Sphere(c, r));
      }
      // A lesion only raises density: where it meets chest wall, bone or an enhanced vessel, those stay.
      for (const s of parts) yield* paintSteps(cv, s, mainHu, { edge, maskMax: mainHu });
      if (type === 'part-solid') yield* paintSteps(cv, new Sphere(c, r * L(0.3, 0.6)), solidHu, { maskMax: solidHu });
      findings.push({ kind: 'nodule', centerLps: c, diameterMm: round2(d), type, location, shape: irregular ? 'irregular' : 'round', hu: Math.round(mainHu), site: side });
    }
  };

  // Vessel forks and vessels running along z look like nodules in single slices.
  const listHardNegatives = (cv: Canvas): void => {
    const forks = segments.filter((s) => s.fork && s.r >= 1.5 && insideGrid(cv, s.b, s.r + 2));
    const endOn = segments.filter((s) => s.r >= 2 && Math.abs(unit([s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]])[2]) > 0.9 && insideGrid(cv, s.b, s.r + 2));
    for (let q = 0; q < Math.min(8, forks.length); q++) {
      const s = forks[Math.floor((q * forks.length) / Math.min(8, forks.length))]!;
      hardNegatives.push({ kind: 'vessel-junction', centerLps: s.b, sizeMm: round2(2 * s.r), site: `${s.side} lung` });
    }
    for (let q = 0; q < Math.min(6, endOn.length); q++) {
      const s = endOn[Math.floor((q * endOn.length) / Math.min(6, endOn.length))]!;
      hardNegatives.push({ kind: 'end-on-vessel', centerLps: lerp3(s.a, s.b, 0.5), sizeMm: round2(2 * s.r), site: `${s.side} lung` });
    }
  };

  return {
    centre,
    bodyPart: 'CHEST',
    description: `Synthetic chest phantom (${phase === 'none' ? 'non-contrast' : phase})`,
    window: rng.chance(0.5) ? { center: -600, width: 1500 } : { center: 40, width: 400 },
    draw,
  };
};

function smooth(a: number, b: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - a) / (b - a)));
  return t * t * (3 - 2 * t);
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
