"""Loads a DICOM series to an int16/float32 HU volume with pydicom + numpy, the way most Python
pipelines do: read every file, order by ImagePositionPatient along the slice normal, apply rescale."""
import os
import sys

import numpy as np
import pydicom


def load(folder):
    ds = [pydicom.dcmread(os.path.join(folder, f)) for f in os.listdir(folder) if not f.startswith('.')]
    iop = np.array(ds[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))))
    vol = np.empty((len(ds), ds[0].Rows, ds[0].Columns), dtype=np.float32)
    for k, d in enumerate(ds):
        vol[k] = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
    return vol


if __name__ == '__main__':
    v = load(sys.argv[1])
    print(v.shape, float(v.min()), float(v.max()))
