/**
 * Usage of `ctscope bench` / `npm run bench`. Kept free of imports so `ctscope --help` loads no benchmark code
 * (nor tinybench); test/bench checks that it names every stage of the STAGES table (add a new stage to both).
 */
export const BENCH_STAGE_NAMES = ['read', 'parse', 'decode', 'ingest', 'resample', 'preprocess', 'infer', 'postprocess', 'report', 'detect', 'memory'] as const;

export const BENCH_USAGE = `bench [--stage NAME]... [--quick] [--json] [--ep PROVIDER] [--device N] [--data DIR] [--out FILE]
             [--check FILE | --update FILE] [--tolerance X]

  --stage NAME       run this stage (repeatable, or comma-separated; default all, in this order):
                     ${BENCH_STAGE_NAMES.join(', ')}
  --quick            the CI subset: 100-slice series, small phantoms, fewer rows
  --json             print the result as JSON on stdout (rows with median, spread, throughput, peak RSS, ratios)
  --ep PROVIDER      execution provider of infer, postprocess, report and detect: cpu (default), auto, cuda,
                     tensorrt, dml, webgpu, coreml; one that cannot load here fails at once with E_EP_UNAVAILABLE
                     (whichever stages were asked for)
  --device N         GPU index for cuda/tensorrt/dml (default 0)
  --data DIR         generated inputs (default ./bench/data, or ./bench/data-quick with --quick), made on first use
  --out FILE         where the result is written (default ./bench/results.json)
  --check FILE       compare each row's ratio to the in-run scalar loop with FILE's; exit 1 past its tolerance,
                     and exit 1 when no row of the run has a baseline there (nothing was checked)
  --update FILE      write this run's ratios into the baselines FILE (rows of other stages in it are kept)
  --tolerance X      tolerance factor for --check / --update (default: FILE's, or 2)`;
