import type { Finding } from '../inference/findings.js';
import type { InferenceStats } from '../inference/infer.js';
import type { FilledRefineSpec } from '../inference/manifest.js';
import type { ModelPackage } from '../inference/model.js';
import type { LoadedSeries } from '../ingest/load.js';
import type { SourceContext } from './source.js';
import { DISCLAIMER, type FindingRecord, type FindingsDocument, type ModelInfo, type StageTiming } from './document.js';
import { version } from '../version.js';
import type { Geometry, Mat3, Vec3 } from '../volume/types.js';

/** One model's part of a run. */
export interface ModelRun {
  pkg: ModelPackage;
  /** Grid the model ran on. */
  grid: Geometry;
  findings: Finding[];
  stats: InferenceStats;
}

const r = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
const vec = (v: readonly number[], digits: number): Vec3 => [r(v[0]!, digits), r(v[1]!, digits), r(v[2]!, digits)];

/** Findings of every model, numbered 1.. in model order then by score (highest first). */
export function findingRecords(runs: readonly ModelRun[]): FindingRecord[] {
  const out: FindingRecord[] = [];
  for (const run of runs) {
    const sorted = [...run.findings].sort((a, b) => b.score - a.score);
    for (const f of sorted) {
      const rec: FindingRecord = {
        n: out.length + 1,
        model: run.pkg.manifest.id,
        kind: f.kind,
        label: f.label,
        score: r(f.score, 4),
        centerLps: vec(f.centerLps, 2),
        centerVoxel: vec(f.centerVoxel, 2),
        diameterMm: r(f.diameterMm, 2),
        volumeMm3: r(f.volumeMm3, 1),
        sizeMethod: f.sizeMethod,
        sliceIndex: f.sliceIndex,
        sopInstanceUid: f.sopInstanceUid,
        frameNumber: f.frameNumber,
      };
      if (f.instanceNumber !== undefined) rec.instanceNumber = f.instanceNumber;
      if (f.extentMm) rec.extentMm = vec(f.extentMm, 2);
      out.push(rec);
    }
  }
  return out;
}

/** The findings.json content: UIDs and geometry of the series, never patient attributes. */
export function buildFindingsDocument(
  volume: LoadedSeries,
  context: SourceContext,
  runs: readonly ModelRun[],
  extra: { timings: StageTiming[]; totalMs: number; warnings: string[] },
): FindingsDocument {
  const g = volume.geometry;
  return {
    schemaVersion: 1,
    generator: { name: 'ctscope', version },
    createdAt: new Date().toISOString(),
    series: {
      studyInstanceUid: volume.studyInstanceUid,
      seriesInstanceUid: volume.seriesInstanceUid,
      id: volume.series.id,
      frameOfReferenceUid: context.frameOfReferenceUid ?? null,
      modality: volume.series.modality,
      dims: [...g.dims] as Vec3,
      spacing: vec(g.spacing, 6),
      origin: vec(g.origin, 4),
      direction: g.direction.map((x) => r(x, 8)) as Mat3,
      tiltDeg: r(volume.tiltDeg, 3),
    },
    // The contract names one `model`; a run may use several, all listed in `models`.
    model: { id: runs[0]!.pkg.manifest.id, version: runs[0]!.pkg.manifest.version, sha256: runs[0]!.pkg.manifest.sha256 },
    models: runs.map((run) => ({
      id: run.pkg.manifest.id,
      version: run.pkg.manifest.version,
      sha256: run.pkg.manifest.sha256,
      task: run.pkg.manifest.task,
      labels: [...run.pkg.manifest.labels],
      description: run.pkg.manifest.description,
      licence: run.pkg.manifest.licence,
      trainingData: run.pkg.manifest.trainingData,
      provider: run.stats.provider,
      scoreThreshold: run.pkg.manifest.thresholds.score,
      maxFindings: run.pkg.manifest.thresholds.maxFindings,
      spacing: vec(run.grid.spacing, 6),
      dims: [...run.grid.dims] as Vec3,
      patches: run.stats.patches,
      ...(run.pkg.manifest.refine && run.stats.refine
        ? { refine: refineRecord(run.pkg.manifest.refine, run.stats.refine.candidates) }
        : {}),
      ...(run.stats.region ? { region: { organ: run.stats.region.organ, found: run.stats.region.found, volumeMl: run.stats.region.volumeMl, dropped: run.stats.region.dropped } } : {}),
    })),
    findings: findingRecords(runs),
    timings: { stages: extra.timings, totalMs: extra.totalMs },
    warnings: extra.warnings,
    files: [],
    disclaimer: DISCLAIMER,
  };
}

/** The second stage as findings.json records it: the first stage's weight only where the rule uses it. */
function refineRecord(spec: FilledRefineSpec, candidates: number): NonNullable<ModelInfo['refine']> {
  return { sha256: spec.sha256, candidates, combine: spec.combine, ...(spec.combine === 'mean' ? { firstWeight: spec.firstWeight } : {}) };
}
