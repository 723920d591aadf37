"""One table from one run: each contender's median next to the matching ctscope stage's median, and the
ratio ctscope / contender (below 1: ctscope takes less time). Writes the table and the machine to a JSON.

usage: summary.py [--ingest native-ingest.json] [--resample native-resample.json] [--out native.json]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess

# Contender -> the ctscope stages it is set against. The first does the same work (same input, same
# output grid and type); ctscope load next to dcm2niix is ctscope without its CLI start-up and NIfTI write.
PAIRS = {
    'dcm2niix': ['ctscope convert', 'ctscope load'],
    'plastimatch': ['ctscope convert'],
    'pydicom+numpy': ['ctscope load'],
    'plastimatch convert --spacing 1': ['ctscope convert --spacing 1'],
    'scipy.ndimage.zoom order=1': ['ctscope trilinear, 2 workers'],
    'torch interpolate trilinear (2 threads)': ['ctscope trilinear, 2 workers'],
}
TASKS = {
    'ele': 'DICOM -> volume, uncompressed',
    'jpeg-lossless': 'DICOM -> volume, JPEG lossless',
    'jpeg-ls': 'DICOM -> volume, JPEG-LS',
    'rle': 'DICOM -> volume, RLE',
    'j2k': 'DICOM -> volume, JPEG 2000',
    'ele to 1 mm': 'DICOM -> 1 mm NIfTI (trilinear)',
    'resample': 'resample to 1 mm, in process',
}


def rows_of(case, contenders, how):
    rows = []
    for name, r in contenders.items():
        for ct in PAIRS.get(name, []):
            if ct not in contenders:
                continue
            c = contenders[ct]['medianSeconds']
            rows.append({'task': TASKS.get(case, case), 'case': case, 'timing': how, 'contender': name,
                         'medianSeconds': r['medianSeconds'], 'samples': len(r['times']), 'ctscopeStage': ct,
                         'ctscopeMedianSeconds': c, 'ratio': c / r['medianSeconds']})
    if not rows:  # nothing to compare with (JPEG-LS): still show ctscope's own times
        for name, r in contenders.items():
            rows.append({'task': TASKS.get(case, case), 'case': case, 'timing': how, 'contender': None,
                         'medianSeconds': None, 'samples': len(r['times']), 'ctscopeStage': name,
                         'ctscopeMedianSeconds': r['medianSeconds'], 'ratio': None})
    return rows


def speed(ratio):
    return f'{1 / ratio:.1f}x faster' if ratio <= 1 else f'{ratio:.1f}x slower'


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def machine():
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    mem = int(next(l.split()[1] for l in open('/proc/meminfo') if l.startswith('MemTotal'))) / 2 ** 20
    return {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        'cpu': cpu, 'cores': os.cpu_count(), 'memGiB': round(mem), 'kernel': platform.release(),
        'loadAverageAtStart': os.environ.get('NB_LOAD_START'),
        'loadAverageAtEnd': ' '.join(open('/proc/loadavg').read().split()[0:3]),
        'versions': {
            'node': version(['node', '--version']),
            'dcm2niix': version(['dcm2niix', '--version']),
            'plastimatch': version(['plastimatch', '--version']),
            'hyperfine': version(['hyperfine', '--version']),
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ingest')
    ap.add_argument('--resample')
    ap.add_argument('--out')
    a = ap.parse_args()
    rows = []
    if a.ingest:
        for rec in json.load(open(a.ingest)):
            rows += rows_of(rec['case'], rec['contenders'], 'whole process (hyperfine)')
    extra = {}
    if a.resample:
        rs = json.load(open(a.resample))
        rows += rows_of('resample', rs['contenders'], 'in process')
        extra = {'resampleGrid': rs['grid'], 'pythonVersions': rs['versions'],
                 'resampleMaxAbsVsIndependentTrilinear': rs['maxAbsVsIndependentTrilinear']}
    print(f"{'task':32s} {'contender':40s} {'median s':>8s}  {'ctscope stage':28s} {'median s':>8s} {'ctscope/contender':>17s}")
    for r in rows:
        med = f"{r['medianSeconds']:8.3f}" if r['medianSeconds'] is not None else f"{'-':>8s}"
        ratio = f"{r['ratio']:.2f} ({speed(r['ratio'])})" if r['ratio'] else '-'
        print(f"{r['task']:32s} {r['contender'] or '(no contender reads it)':40s} {med}  {r['ctscopeStage']:28s} {r['ctscopeMedianSeconds']:8.3f} {ratio:>17s}")
    print("ctscope/contender = ctscope's median time / the contender's median time, both from this run (below 1: ctscope faster)")
    if a.out:
        json.dump({'machine': machine(), **extra, 'rows': rows}, open(a.out, 'w'), indent=1)
        print(f'written {a.out}')


if __name__ == '__main__':
    main()
