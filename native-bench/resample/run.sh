#!/usr/bin/env bash
# One run, side by side: ctscope (node, tinybench) and scipy + torch (python3) on the same synthetic
# 300x512x512 float32 volume, in ROUNDS interleaved rounds (load from other processes hits all alike),
# then one report with medians, ratios and a numerical cross-check of ctscope's output.
#   usage: native-bench/resample/run.sh [RESULTS_JSON]   (ROUNDS=3 by default; RESULTS_JSON gets the samples)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
here=$nb_bench/resample
rounds="${ROUNDS:-3}"
nb_install python3-numpy python3-scipy python3-torch
nb_build
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  dump=()
  [ "$r" = 1 ] && dump=(--dump "$tmp/dump.f32")
  node --expose-gc "$nb_root/dist/bench/resample.js" --json --rounds 1 "${dump[@]}" > "$tmp/ct$r.json"
  OMP_NUM_THREADS=2 "$nb_py" "$here/bench.py" time "$tmp/py$r.json"
done
cts=("$tmp"/ct*.json)
pys=("$tmp"/py*.json)
OMP_NUM_THREADS=2 SUMMARY_JSON="${1:-}" "$nb_py" "$here/bench.py" report "$tmp/dump.f32" "${cts[@]}" :: "${pys[@]}"
