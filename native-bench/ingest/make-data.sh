#!/usr/bin/env bash
# Makes the benchmark series: a generated 300 x 512 x 512 int16 CT series at 0.703 x 0.703 x 1.25 mm
# (explicit VR little endian), plus copies in each compressed transfer syntax made with dcmtk and GDCM.
#   usage: native-bench/ingest/make-data.sh [DATA_DIR] [SLICES] [SYNTAX...]   (default bench/data, 300, every syntax)
# SYNTAX: jpeg-lossless, jpeg-ls, rle, j2k (the explicit VR LE series is always made); `bench --quick` asks for rle only.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
root=$nb_root
data=${1:-$root/bench/data}; slices=${2:-300}; shift $(( $# < 2 ? $# : 2 ))
wanted=" ${*:-jpeg-lossless jpeg-ls rle j2k} "
nb_install dcmtk libgdcm-tools
nb_build
mkdir -p "$data"
# The data is reused only when it was made with the asked slice count by this ctscope version's generator.
stamp="slices=$slices synth=$(node -p "require('$root/package.json').version")"
if [ "$(cat "$data/.made" 2>/dev/null)" != "$stamp" ]; then rm -rf "$data"/*/ && rm -f "$data/.made"; fi
if [ ! -f "$data/ele/.done" ]; then
  rm -rf "$data/ele"
  node "$root/dist/cli.js" synth chest --out "$data/ele" --seed 7 --slices "$slices" --rows 512 --cols 512 \
    --spacing 0.703,0.703,1.25 --bits 16 --pixels signed --no-truth >/dev/null
  touch "$data/ele/.done"
fi
convert() { # name, command prefix (file in, file out appended)
  local name=$1; shift
  [[ $wanted == *" $name "* ]] || return 0
  [ -f "$data/$name/.done" ] && return 0
  rm -rf "$data/$name"; mkdir -p "$data/$name"
  find "$data/ele" -name '*.dcm' -printf '%f\n' | xargs -P "$(nproc)" -I{} "$@" "$data/ele/{}" "$data/$name/{}"
  touch "$data/$name/.done"
}
convert jpeg-lossless dcmcjpeg +e1
convert jpeg-ls dcmcjpls
convert rle dcmcrle
convert j2k gdcmconv --j2k
echo "$stamp" > "$data/.made"
du -sh "$data"/*
