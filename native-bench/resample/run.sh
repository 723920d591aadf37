#!/usr/bin/env bash
# One run, side by side: ctscope (node, tinybench) and scipy + torch (python3) on the same synthetic
# 300x512x512 float32 volume, in ROUNDS interleaved rounds (load from other processes hits all alike),
# then one report with medians, ratios and a numerical cross-check of ctscope's output.
# Needs `npm run build` first and Debian's python3 with numpy, scipy and torch (CPU).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
rounds="${ROUNDS:-3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
for r in $(seq "$rounds"); do
  dump=()
  [ "$r" = 1 ] && dump=(--dump "$tmp/dump.f32")
  node --expose-gc "$root/dist/bench/resample.js" --json --rounds 1 "${dump[@]}" > "$tmp/ct$r.json"
  OMP_NUM_THREADS=2 "$py" "$here/bench.py" time "$tmp/py$r.json"
done
cts=("$tmp"/ct*.json)
pys=("$tmp"/py*.json)
OMP_NUM_THREADS=2 "$py" "$here/bench.py" report "$tmp/dump.f32" "${cts[@]}" :: "${pys[@]}"
