#!/usr/bin/env bash
# Side-by-side, in one run: ctscope vs dcm2niix, pydicom+numpy and plastimatch loading the same generated
# series (uncompressed and in each compressed syntax), and ctscope vs plastimatch converting it to a 1 mm
# NIfTI; each command a whole process timed by hyperfine (median of RUNS interleaved runs, see lib.sh).
#   usage: native-bench/ingest/run.sh [RUNS] [RESULTS_JSON]   (default 5, bench/native-ingest.json)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
here=$nb_bench/ingest
runs=${1:-5}; results=${2:-$nb_root/bench/native-ingest.json}; data=${DATA:-$nb_root/bench/data}
nb_install dcm2niix plastimatch python3-pydicom python3-numpy hyperfine
nb_build
"$here/make-data.sh" "$data" >/dev/null
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
rm -f "$results"
ctscope="node $nb_root/dist/cli.js"
for syntax in ele jpeg-lossless jpeg-ls rle j2k; do
  dir=$data/$syntax
  cmds=(-n "ctscope load" "node $nb_root/dist/bench/load-once.js $dir"
        -n "ctscope convert" "$ctscope convert $dir --out $out/c.nii --force --quiet")
  # Debian's dcm2niix has no JPEG-LS decoder; pydicom without plugins and plastimatch 1.9 decode none of
  # the compressed ones.
  [ "$syntax" != jpeg-ls ] && cmds+=(-n "dcm2niix" "dcm2niix -z n -w 1 -f d -o $out $dir")
  if [ "$syntax" = ele ]; then
    cmds+=(-n "pydicom+numpy" "$nb_py $here/pydicom_load.py $dir"
           -n "plastimatch" "plastimatch convert --input $dir --output-img $out/p.nii --output-type short")
  fi
  echo "== ingest $syntax"
  nb_time "$syntax" "$runs" "$results" "${cmds[@]}"
  [ "$syntax" = ele ] && "$nb_py" "$here/nifti.py" compare "$out/c.nii" "$out/p.nii" 0
done

# DICOM -> 1 mm isotropic NIfTI (trilinear, int16 HU). plastimatch is given ctscope's output grid explicitly.
dir=$data/ele
$ctscope convert "$dir" --out "$out/c1.nii" --spacing 1 --interp linear --force --quiet
mapfile -t grid < <("$nb_py" "$here/nifti.py" grid "$out/c1.nii")
echo "== ingest ele + resample to 1 mm (grid ${grid[1]} at ${grid[0]} mm)"
nb_time "ele to 1 mm" "$runs" "$results" \
  -n "ctscope convert --spacing 1" "$ctscope convert $dir --out $out/c1.nii --spacing 1 --interp linear --force --quiet" \
  -n "plastimatch convert --spacing 1" "plastimatch convert --input $dir --output-img $out/p1.nii --output-type short --interpolation linear --spacing '${grid[0]}' --dim '${grid[1]}' --origin '${grid[2]}'"
# Both interpolate linearly at the same points; plastimatch truncates to int16 where ctscope rounds (<= 1 HU).
"$nb_py" "$here/nifti.py" compare "$out/c1.nii" "$out/p1.nii" 1
[ -n "${NB_NO_SUMMARY:-}" ] || "$nb_py" "$nb_bench/summary.py" --ingest "$results"
echo "written $results"
