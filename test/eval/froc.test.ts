import { describe, expect, it } from 'vitest';
import { froc, matchCase, sensitivityAt, TASK_EVAL, type EvalCase } from '../../src/eval/froc.js';
import { quantile } from '../../src/io/stats.js';
import { Rng } from '../../src/synth/rng.js';

// Two scans, four lesions; scores chosen so the curve can be followed by hand.
const cases: EvalCase[] = [
  {
    id: 'a',
    truths: [
      { centerLps: [0, 0, 0], diameterMm: 10, type: 'solid' },
      { centerLps: [100, 0, 0], diameterMm: 6, type: 'ground-glass' },
    ],
    findings: [
      { centerLps: [1, 1, 1], score: 0.9 }, // hits lesion 1
      { centerLps: [50, 0, 0], score: 0.8 }, // false positive
      { centerLps: [101, 0, 0], score: 0.7 }, // hits lesion 2
      { centerLps: [0, 2, 0], score: 0.6 }, // hits lesion 1 again: neither a hit nor a false positive
      { centerLps: [200, 0, 0], score: 0.5 }, // false positive
    ],
  },
  {
    id: 'b',
    truths: [
      { centerLps: [0, 0, 0], diameterMm: 4, type: 'solid' },
      { centerLps: [30, 0, 0], diameterMm: 20, type: 'solid' },
    ],
    findings: [
      { centerLps: [0, 0, 3], score: 0.95 }, // 3 mm from a 2 mm-radius lesion: false positive
      { centerLps: [35, 0, 0], score: 0.4 }, // hits lesion 4
    ],
  },
];

describe('FROC (LUNA16 rules)', () => {
  it('follows the hand-computed curve and CPM', () => {
    const r = froc(cases, { ...TASK_EVAL.nodule, threshold: 0.6 });
    expect(r.scans).toBe(2);
    expect(r.truths).toBe(4);
    expect(r.curve.map((p) => [p.fpPerScan, p.sensitivity])).toEqual([
      [0, 0], [0.5, 0], [0.5, 0.25], [1, 0.25], [1, 0.5], [1.5, 0.5], [1.5, 0.75],
    ]);
    expect(r.sensitivities.map((s) => s.sensitivity)).toEqual([0, 0, 0.25, 0.5, 0.75, 0.75, 0.75]);
    expect(r.cpm).toBeCloseTo(3 / 7, 12);
    expect(r.maxSensitivity).toBe(0.75);
    expect(r.fpPerScanAtMax).toBe(1.5);
  });

  it('reports sensitivity, FP/scan, size bands and types at the operating threshold', () => {
    const r = froc(cases, { ...TASK_EVAL.nodule, threshold: 0.6 });
    expect(r.atThreshold.sensitivity).toBe(0.5);
    expect(r.atThreshold.fpPerScan).toBe(1); // 0.95 and 0.8 over two scans
    expect(r.atThreshold.bySize.map((g) => [g.name, g.truths, g.hits])).toEqual([
      ['3-6 mm', 1, 0], ['6-10 mm', 1, 1], ['10-20 mm', 1, 1], ['20-30 mm', 1, 0],
    ]);
    expect(r.atThreshold.byType.map((g) => [g.name, g.truths, g.hits])).toEqual([['ground-glass', 1, 1], ['solid', 3, 1]]);
  });

  it('interpolates linearly between curve points and holds the last value past the end', () => {
    const curve = [
      { threshold: Infinity, fpPerScan: 0, sensitivity: 0 },
      { threshold: 0.9, fpPerScan: 0.5, sensitivity: 0.5 },
      { threshold: 0.1, fpPerScan: 1.5, sensitivity: 1 },
    ];
    expect(sensitivityAt(curve, 0.25)).toBeCloseTo(0.25, 12);
    expect(sensitivityAt(curve, 1)).toBeCloseTo(0.75, 12);
    expect(sensitivityAt(curve, 8)).toBe(1);
  });

  it('uses at least 2 mm as the hit radius for aneurysms', () => {
    const c: EvalCase = { id: 'x', truths: [{ centerLps: [0, 0, 0], diameterMm: 2 }], findings: [{ centerLps: [1.8, 0, 0], score: 0.5 }] };
    expect(matchCase(c, 0)).toEqual({ best: [-Infinity], bestDiameter: [undefined], fpScores: [0.5] });
    expect(matchCase(c, TASK_EVAL.aneurysm.minRadiusMm)).toEqual({ best: [0.5], bestDiameter: [undefined], fpScores: [] });
  });

  it('scores the reported diameter of each lesion found at the threshold: its best-scoring hit, relative to the truth', () => {
    const c: EvalCase = {
      id: 's',
      truths: [
        { centerLps: [0, 0, 0], diameterMm: 10 },
        { centerLps: [50, 0, 0], diameterMm: 20 },
        { centerLps: [100, 0, 0], diameterMm: 8 },
      ],
      findings: [
        // Two hits on the first lesion: the higher score's diameter (12 mm, +20 %) counts, not the other's.
        { centerLps: [0, 0, 1], score: 0.9, diameterMm: 12 },
        { centerLps: [0, 1, 0], score: 0.7, diameterMm: 3 },
        { centerLps: [50, 0, 0], score: 0.8, diameterMm: 10 },
        // Below the threshold: not in the size figures.
        { centerLps: [100, 0, 0], score: 0.1, diameterMm: 80 },
      ],
    };
    const size = froc([c], { threshold: 0.5 }).atThreshold.size!;
    expect(size.lesions).toBe(2);
    expect(size.medianAbsError).toBeCloseTo((0.2 + 0.5) / 2, 12);
    expect(size.medianError).toBeCloseTo((0.2 - 0.5) / 2, 12);
    expect(size.within25).toBe(0.5);
    // Findings without a diameter give no size figures.
    expect(froc(cases).atThreshold.size).toBeNull();
  });

  it('gives CPM 1 to a perfect detector and 0 to one that finds nothing', () => {
    const perfect = cases.map((c) => ({ ...c, findings: c.truths.map((t) => ({ centerLps: t.centerLps, score: 0.99 })) }));
    expect(froc(perfect).cpm).toBe(1);
    const none = cases.map((c) => ({ ...c, findings: [] }));
    const r = froc(none);
    expect(r.cpm).toBe(0);
    expect(r.atThreshold.fpPerScan).toBe(0);
  });

  it('enters equal scores together', () => {
    const c: EvalCase = {
      id: 't',
      truths: [{ centerLps: [0, 0, 0], diameterMm: 10 }],
      findings: [{ centerLps: [0, 0, 0], score: 0.5 }, { centerLps: [90, 0, 0], score: 0.5 }],
    };
    expect(froc([c]).curve.map((p) => [p.fpPerScan, p.sensitivity])).toEqual([[0, 0], [1, 1]]);
  });

  it('refuses an empty scan list', () => {
    expect(() => froc([])).toThrow(/at least one scan/);
  });
});

describe('FROC bootstrap intervals', () => {
  // Ten scans of varied difficulty: scan i has lesion(s) scored by i and false positives that grow with i.
  const many: EvalCase[] = Array.from({ length: 10 }, (_, i) => ({
    id: `s${i}`,
    truths: [{ centerLps: [0, 0, 0], diameterMm: 8 }, ...(i % 3 === 0 ? [{ centerLps: [40, 0, 0] as [number, number, number], diameterMm: 5 }] : [])],
    findings: [
      { centerLps: [1, 0, 0], score: 0.3 + 0.07 * i },
      ...(i % 2 ? [{ centerLps: [40, 1, 0] as [number, number, number], score: 0.95 - 0.05 * i }] : []),
      ...Array.from({ length: i }, (_, k) => ({ centerLps: [100 + 10 * k, 0, 0] as [number, number, number], score: 0.2 + 0.08 * k })),
    ],
  }));

  it('equals the FROC of each resample of the scans taken explicitly, at the 2.5th and 97.5th percentiles', () => {
    const r = froc(many, { bootstrap: 200 });
    // The same draws as the implementation (seed 16, scan by scan), resampled by copying the cases.
    const rng = new Rng(16);
    const cpms: number[] = [];
    const at1: number[] = [];
    for (let b = 0; b < 200; b++) {
      const sample = many.map(() => many[rng.int(0, many.length - 1)]!);
      const f = froc(sample, { bootstrap: 0 });
      cpms.push(f.cpm);
      at1.push(f.sensitivities[3]!.sensitivity);
    }
    expect(r.interval!.resamples).toBe(200);
    expect(r.interval!.cpm[0]).toBeCloseTo(quantile(cpms, 0.025), 12);
    expect(r.interval!.cpm[1]).toBeCloseTo(quantile(cpms, 0.975), 12);
    expect(r.interval!.sensitivities[3]![0]).toBeCloseTo(quantile(at1, 0.025), 12);
    expect(r.interval!.sensitivities[3]![1]).toBeCloseTo(quantile(at1, 0.975), 12);
    expect(r.interval!.cpm[0]).toBeLessThan(r.cpm);
    expect(r.interval!.cpm[1]).toBeGreaterThan(r.cpm);
    // Reproducible: the same cases give the same intervals.
    expect(froc(many, { bootstrap: 200 }).interval).toEqual(r.interval);
  });

  it('collapses to the point estimate when every scan is alike, and is absent for one scan or bootstrap 0', () => {
    const alike = Array.from({ length: 6 }, (_, i) => ({ ...cases[0]!, id: `a${i}` }));
    const r = froc(alike);
    expect(r.interval!.resamples).toBe(1000);
    expect(r.interval!.cpm[0]).toBeCloseTo(r.cpm, 12);
    expect(r.interval!.cpm[1]).toBeCloseTo(r.cpm, 12);
    expect(froc([cases[0]!]).interval).toBeNull();
    expect(froc(cases, { bootstrap: 0 }).interval).toBeNull();
    expect(() => froc(cases, { bootstrap: 2.5 })).toThrow(/whole number/);
  });
});

describe('evaluation seeds', () => {
  it('the reported evaluation and the validation seeds lie outside every training range; overlaps are named', async () => {
    const { EVAL_COUNT, EVAL_SEED, trainingOverlap, validationOverlap, VALIDATION_SEEDS } = await import('../../src/eval/detect-folder.js');
    expect(trainingOverlap(EVAL_SEED, EVAL_COUNT)).toEqual([]);
    expect(validationOverlap(EVAL_SEED, EVAL_COUNT)).toEqual([]);
    // One more would reach the validation seeds 5100-5119.
    expect(validationOverlap(EVAL_SEED, EVAL_COUNT + 1)).toEqual([[5100, 5119]]);
    for (const [lo, hi] of VALIDATION_SEEDS) expect(trainingOverlap(lo, hi - lo + 1)).toEqual([]);
    expect(validationOverlap(5000, 20)).toEqual([[5000, 5019]]);
    expect(validationOverlap(5090, 20)).toEqual([[5100, 5119]]);
    // The aneurysm 0.5.0 networks' phantoms.
    expect(trainingOverlap(21590, 20)).toEqual([[20000, 21599]]);
    expect(trainingOverlap(9005, 1)).toEqual([]);
    // What npm run eval -- --seed N warns about.
    expect(trainingOverlap(10500, 20)).toEqual([[10000, 11599]]);
    expect(trainingOverlap(990, 20)).toEqual([[1000, 1359]]);
    expect(trainingOverlap(1500, 20)).toEqual([]);
    expect(trainingOverlap(2240, 20)).toEqual([]);
    expect(trainingOverlap(1300, 9000)).toEqual([[1000, 1359], [2000, 2239], [10000, 11599]]);
    expect(trainingOverlap(1300, 30000)).toEqual([[1000, 1359], [2000, 2239], [10000, 11599], [20000, 21599], [22000, 22119]]);
    // The fine-tuning of aneurysm 0.6.0's second stage.
    expect(trainingOverlap(22119, 5)).toEqual([[22000, 22119]]);
    expect(trainingOverlap(22120, 5)).toEqual([]);
    expect(trainingOverlap(10000, 0)).toEqual([]);
  });
});
