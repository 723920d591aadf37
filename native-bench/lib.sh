# Sourced by every native-bench script: the one way to install the contenders, build ctscope and time
# whole processes.   usage: . "$(dirname "$0")/../lib.sh"   (sets nb_root, nb_bench, nb_py)
nb_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nb_bench=$nb_root/native-bench
nb_py=/usr/bin/python3 # Debian's python, the one python3-pydicom/-scipy/-torch install into

# Every Debian package any native-bench script runs; nb_install installs the ones not yet installed.
# libopenjp2-7-dev and pkg-config: ctscope's native JPEG 2000 binding is built against them (without them JPEG 2000
# decodes in WebAssembly, slower than the published figures).
NB_PACKAGES=(dcm2niix dcmtk libgdcm-tools plastimatch python3-pydicom python3-numpy python3-scipy python3-torch hyperfine libopenjp2-7-dev pkg-config)

nb_install() { # [PACKAGE...] (default: all of NB_PACKAGES)
  local want=("$@") missing=() p
  [ ${#want[@]} -gt 0 ] || want=("${NB_PACKAGES[@]}")
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

nb_build() { # installs the npm packages where they are missing, then builds ctscope (tsc is incremental-cheap; a stale dist/ is not timed)
  [ -d "$nb_root/node_modules" ] || (cd "$nb_root" && npm ci >/dev/null)
  (cd "$nb_root" && npm run build >/dev/null)
}

# Times whole processes with hyperfine, interleaved: RUNS rounds, each running every command once in turn
# (1 warm-up of each before the first round, so the page cache is warm), so a change in the load of other
# jobs hits all commands alike. Appends one record {case, contenders: {name: {medianSeconds, times}}} to
# RESULTS_JSON and prints the medians.   usage: nb_time CASE RUNS RESULTS_JSON -n NAME CMD [-n NAME CMD...]
nb_time() {
  local case=$1 runs=$2 results=$3 r tmp; shift 3
  tmp=$(mktemp -d)
  for r in $(seq "$runs"); do
    hyperfine -N --style none --warmup $((r == 1 ? 1 : 0)) --runs 1 --export-json "$tmp/$r.json" "$@" >/dev/null
  done
  "$nb_py" - "$case" "$results" "$tmp"/*.json <<'PY'
import json, os, statistics, sys
case, results, rounds = sys.argv[1], sys.argv[2], sys.argv[3:]
times = {}
for f in rounds:
    for r in json.load(open(f))['results']:
        times.setdefault(r['command'], []).extend(r['times'])
rows = json.load(open(results)) if os.path.exists(results) else []
rows.append({'case': case, 'contenders': {k: {'medianSeconds': statistics.median(t), 'times': t} for k, t in times.items()}})
json.dump(rows, open(results, 'w'), indent=1)
for k, t in times.items():
    print(f"  {k:32s} median {statistics.median(t):7.3f} s  ({len(t)} runs, {min(t):.3f}..{max(t):.3f})")
PY
  rm -rf "$tmp"
}
