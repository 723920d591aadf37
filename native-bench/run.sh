#!/usr/bin/env bash
# ctscope side by side with the tools it replaces, in ONE run on the same generated data:
#   ingest    ctscope load / convert  vs dcm2niix, pydicom+numpy, plastimatch   (whole processes, hyperfine)
#   ingest + resample to 1 mm NIfTI   ctscope convert --spacing 1 vs plastimatch convert --spacing 1
#   resample  ctscope trilinear (2 workers) vs scipy.ndimage.zoom(order=1), torch interpolate (in process)
# then one table (median, ratio ctscope/contender) and bench/native.json (samples: bench/native-{ingest,resample}.json).
#   usage: native-bench/run.sh [RUNS]   (hyperfine runs per command, default 5; ROUNDS=3 resample rounds)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
runs=${1:-5}
export NB_LOAD_START; NB_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
nb_install # every contender's Debian package, where missing
nb_build
data=${DATA:-$nb_root/bench/data}
echo "== data: $data"
"$nb_bench/ingest/make-data.sh" "$data"
raw=$nb_root/bench # the samples of both parts stay next to the summary: summary.py can be re-run on them
NB_NO_SUMMARY=1 DATA=$data "$nb_bench/ingest/run.sh" "$runs" "$raw/native-ingest.json"
echo "== resample in process (ROUNDS=${ROUNDS:-3})"
"$nb_bench/resample/run.sh" "$raw/native-resample.json"
echo
echo "== summary ($(date -u '+%Y-%m-%d %H:%M UTC'), load average at start $NB_LOAD_START, now $(cut -d' ' -f1-3 /proc/loadavg))"
"$nb_py" "$nb_bench/summary.py" --ingest "$raw/native-ingest.json" --resample "$raw/native-resample.json" --out "$nb_root/bench/native.json"
