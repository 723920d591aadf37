#!/usr/bin/env bash
# Side-by-side, in one run: ctscope vs dcm2niix vs pydicom+numpy loading the same generated series,
# uncompressed and in each compressed syntax, as whole processes timed by hyperfine (median of N runs).
# Prints each median and the ratio to dcm2niix (and to pydicom).   usage: native-bench/ingest/run.sh [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd); here=$root/native-bench/ingest
runs=${1:-5}; data=${DATA:-$root/bench/data}
need=()
command -v dcm2niix >/dev/null || need+=(dcm2niix)
command -v hyperfine >/dev/null || need+=(hyperfine)
/usr/bin/python3 -c 'import pydicom, numpy' 2>/dev/null || need+=(python3-pydicom python3-numpy)
if [ ${#need[@]} -gt 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
[ -f "$root/dist/cli.js" ] || (cd "$root" && npm run build >/dev/null)
"$here/make-data.sh" "$data" >/dev/null
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
results=$root/bench/native-ingest.json
echo "[]" > "$results"
for syntax in ele jpeg-lossless jpeg-ls rle j2k; do
  dir=$data/$syntax
  cmds=(-n "ctscope load" "node $root/dist/bench/load-once.js $dir"
        -n "ctscope convert" "node $root/dist/cli.js convert $dir --out $out/c.nii --quiet")
  # Debian's dcm2niix has no JPEG-LS decoder; pydicom without plugins decodes none of the compressed ones.
  [ "$syntax" != jpeg-ls ] && cmds+=(-n "dcm2niix" "dcm2niix -z n -f d -o $out $dir")
  [ "$syntax" = ele ] && cmds+=(-n "pydicom+numpy" "/usr/bin/python3 $here/pydicom_load.py $dir")
  echo "== $syntax"
  hyperfine -N --style basic --warmup 1 --runs "$runs" --export-json "$out/$syntax.json" "${cmds[@]}" >/dev/null
  /usr/bin/python3 - "$out/$syntax.json" "$syntax" "$results" <<'PY'
import json, statistics, sys
res = json.load(open(sys.argv[1]))['results']; syntax = sys.argv[2]
med = {r['command']: statistics.median(r['times']) for r in res}
ref = med.get('dcm2niix')
for name, m in med.items():
    extra = f"  {m / ref:.2f}x dcm2niix's time" if ref else ''
    print(f"  {name:16s} median {m:7.3f} s{extra}")
all_rows = json.load(open(sys.argv[3])); all_rows.append({'syntax': syntax, 'medianSeconds': med})
json.dump(all_rows, open(sys.argv[3], 'w'), indent=1)
PY
done
echo "written $results"
