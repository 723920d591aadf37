import type { DetectStage, StageTiming } from '../outputs/document.js';

/** Wall time per stage (and model); a stage ends when the next one starts or `stop` is called. */
export class StageClock {
  readonly timings: StageTiming[] = [];
  #open: { stage: DetectStage; model: string | undefined; t: number } | undefined;

  enter(stage: DetectStage, model?: string): void {
    if (this.#open && this.#open.stage === stage && this.#open.model === model) return;
    this.stop();
    this.#open = { stage, model, t: performance.now() };
  }

  stop(): void {
    const o = this.#open;
    if (!o) return;
    const t: StageTiming = { stage: o.stage, ms: round(performance.now() - o.t) };
    if (o.model !== undefined) t.model = o.model;
    this.timings.push(t);
    this.#open = undefined;
  }
}

export const round = (ms: number): number => Math.round(ms * 10) / 10;
