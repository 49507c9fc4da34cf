"""Reference data for tests/nifti_test.ts and tests/dicom_test.ts.

Writes small synthetic NIfTI files with nibabel and DICOM files with pydicom into
tests/fixtures/medical/, and tests/fixtures/medical.json with what those libraries read back
from them (and from the real sample files in ../shared/data when present).

    sudo apt-get install -y python3-nibabel python3-pydicom   # nibabel 5.0, pydicom 2.3
    /usr/bin/python3 scripts/make_medical_fixtures.py

Python is only used here, to make the references; the readers are plain TypeScript.
"""

import gzip
import json
import os
import sys

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.encoders.native import _encode_frame as rle_encode
from pydicom.pixel_data_handlers.util import apply_modality_lut
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "medical")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
rng = np.random.default_rng(20240505)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


# ---------------------------------------------------------------- NIfTI

def nifti_case(name, data, affine, *, cls=nib.Nifti1Image, endian="<", slope=None, inter=None,
               qform=None, sform_code=2, qform_code=0, descrip="meddiff fixture", units=("mm", "sec"),
               pixdim4=None):
    hdr = (nib.Nifti2Header if cls is nib.Nifti2Image else nib.Nifti1Header)(endianness=endian)
    img = cls(data, None, hdr)
    img.set_data_dtype(data.dtype)
    h = img.header
    h.set_xyzt_units(*units)
    h["descrip"] = descrip
    if affine is not None:
        h.set_sform(affine, code=sform_code)
    else:
        h["sform_code"] = 0
    if qform is not None:
        h.set_qform(qform, code=qform_code)
    else:
        h["qform_code"] = qform_code
    if pixdim4 is not None:
        h["pixdim"][4] = pixdim4
    if slope is not None:
        h["scl_slope"] = slope
        h["scl_inter"] = inter if inter is not None else 0.0
    path = os.path.join(OUT_DIR, name)
    img.to_filename(path)
    if slope is not None:
        # nibabel manages scl_* itself for integer data: patch the header bytes to what we want
        raw = gzip.decompress(open(path, "rb").read()) if name.endswith(".gz") else open(path, "rb").read()
        buf = bytearray(raw)
        if cls is nib.Nifti2Image:
            buf[176:192] = np.array([slope, inter or 0.0], dtype=endian + "f8").tobytes()
        else:
            buf[112:120] = np.array([slope, inter or 0.0], dtype=endian + "f4").tobytes()
        out = gzip.compress(bytes(buf), mtime=0) if name.endswith(".gz") else bytes(buf)
        open(path, "wb").write(out)
    back = nib.load(path)
    hb = back.header
    assert hb.endianness == endian, (name, hb.endianness)
    values = back.get_fdata(dtype=np.float64) if data.dtype.names is None else None
    entry = {
        "file": name,
        "version": 2 if cls is nib.Nifti2Image else 1,
        "littleEndian": endian == "<",
        "dims": [int(v) for v in back.shape],
        "datatype": int(hb["datatype"]),
        "affine": [[float(v) for v in row] for row in back.affine],
        "qformCode": int(hb["qform_code"]),
        "sformCode": int(hb["sform_code"]),
        "pixdim": [float(v) for v in hb["pixdim"]],
        "description": descrip,
    }
    if values is not None:
        # x fastest (Fortran order) is how the file stores it and how the reader returns it
        entry["data"] = flat(np.asarray(values).ravel(order="F"))
    else:
        arr = np.asarray(back.dataobj)
        rgb = np.stack([arr["R"], arr["G"], arr["B"]], axis=-1)  # (x, y, z, 3)
        # reader layout: [z, y, x, 3] row-major == x fastest with channels interleaved
        entry["data"] = flat(np.transpose(rgb, (2, 1, 0, 3)).ravel(order="C"))
    if qform is not None:
        entry["qform"] = [[float(v) for v in row] for row in hb.get_qform()]
    return entry


def make_nifti():
    cases = []
    shape = (4, 3, 2)
    aff = np.array([[-1.5, 0.1, 0, 10], [0.2, 2.0, 0, -20], [0, 0, 3.0, 5], [0, 0, 0, 1]])
    for dt, endian, cls, name in [
        ("u1", "<", nib.Nifti1Image, "n1_uint8.nii"),
        ("i1", "<", nib.Nifti1Image, "n1_int8.nii"),
        ("i2", ">", nib.Nifti1Image, "n1_int16_be.nii"),
        ("u2", "<", nib.Nifti1Image, "n1_uint16.nii"),
        ("i4", ">", nib.Nifti1Image, "n1_int32_be.nii"),
        ("u4", "<", nib.Nifti1Image, "n1_uint32.nii"),
        ("f4", ">", nib.Nifti1Image, "n1_float32_be.nii"),
        ("f8", "<", nib.Nifti1Image, "n1_float64.nii"),
        ("i2", "<", nib.Nifti2Image, "n2_int16.nii"),
        ("f8", ">", nib.Nifti2Image, "n2_float64_be.nii"),
    ]:
        info = np.iinfo(dt) if dt[0] in "iu" else None
        if info is not None:
            lo, hi = max(info.min, -40000), min(info.max, 70000)
            data = rng.integers(lo, hi, size=shape, endpoint=True).astype(dt)
            data.flat[0] = info.min if info.min > -2**31 else -2**31
            data.flat[1] = info.max if info.max < 2**32 else 2**32 - 1
        else:
            data = (rng.standard_normal(shape) * 1000).astype(dt)
        data = data.astype(endian + dt)
        cases.append(nifti_case(name, data, aff, cls=cls, endian=endian))
    # scaling: slope/intercept applied; slope 0 means "no scaling" even with an intercept
    data = rng.integers(-300, 300, size=shape).astype("<i2")
    cases.append(nifti_case("n1_int16_scaled.nii", data, aff, slope=0.5, inter=-10.0))
    cases.append(nifti_case("n1_int16_slope0.nii", data, aff, slope=0.0, inter=7.0))
    data8 = rng.integers(0, 255, size=shape).astype(">u1")
    cases.append(nifti_case("n2_uint8_scaled_be.nii", data8, aff, cls=nib.Nifti2Image, endian=">", slope=-2.0,
                            inter=1.5))
    # 4D, gzipped, with a TR
    data4 = (rng.standard_normal((3, 2, 2, 5)) * 10).astype("<f4")
    cases.append(nifti_case("n1_4d.nii.gz", data4, aff, pixdim4=2.5))
    # qform only: a rotation plus qfac = -1 (sform_code 0)
    axis = np.array([1.0, -2.0, 3.0]) / np.sqrt(14.0)
    angle = 0.7
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)  # Rodrigues
    qaff = np.eye(4)
    qaff[:3, :3] = rot @ np.diag([1.2, 0.8, -2.5])
    qaff[:3, 3] = [-7, 3.5, 11]
    data = rng.integers(0, 100, size=shape).astype("<i2")
    cases.append(nifti_case("n1_qform.nii", data, None, qform=qaff, qform_code=1))
    # both codes set: the sform wins
    cases.append(nifti_case("n1_sform_and_qform.nii", data, aff, qform=qaff, qform_code=1, sform_code=4))
    # RGB24
    rgb = np.zeros(shape, dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    for c in "RGB":
        rgb[c] = rng.integers(0, 256, size=shape)
    cases.append(nifti_case("n1_rgb24.nii", rgb, aff))
    return cases


def real_nifti():
    out = {}
    for rel in ["nifti/nibabel/anatomical.nii", "nifti/nibabel/functional.nii", "nifti/mricron/ch2.nii.gz",
                "nifti/mricron/ch2bet.nii.gz"]:
        path = os.path.join(SHARED, rel)
        if not os.path.exists(path):
            print(f"skip {rel}: not found", file=sys.stderr)
            continue
        img = nib.load(path)
        d = img.get_fdata(dtype=np.float64)
        flatf = d.ravel(order="F")
        n = flatf.size
        idx = sorted(set([0, n - 1] + [int(i) for i in rng.integers(0, n, size=40)]))
        out[rel] = {
            "dims": [int(v) for v in img.shape],
            "affine": [[float(v) for v in row] for row in img.affine],
            "sum": float(flatf.sum()),
            "weightedSum": float((flatf * ((np.arange(n) % 1009) + 1)).sum()),
            "min": float(flatf.min()),
            "max": float(flatf.max()),
            "samples": [[i, float(flatf[i])] for i in idx],
        }
    return out


# ---------------------------------------------------------------- DICOM

def base_dataset(ts, rows, cols, frames, spp, bits_alloc, bits_stored, signed, photometric="MONOCHROME2"):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str((ts, rows, cols, frames, bits_alloc))])
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = ts != ExplicitVRBigEndian
    ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Fixture^Synthetic"
    ds.PatientID = "FIXTURE-0001"
    ds.Modality = "OT"
    ds.Rows = rows
    ds.Columns = cols
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = photometric
    if spp > 1:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelSpacing = [0.5, 0.75]
    ds.SliceThickness = 2.0
    return ds


def stored_values(bits_stored, signed, shape):
    if signed:
        lo, hi = -(2 ** (bits_stored - 1)), 2 ** (bits_stored - 1) - 1
    else:
        lo, hi = 0, 2 ** bits_stored - 1
    v = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    v.flat[0] = lo
    v.flat[-1] = hi
    return v


def to_bytes(values, bits_alloc, signed, big_endian):
    kind = ("i" if signed else "u") + str(bits_alloc // 8)
    dt = np.dtype((">" if big_endian else "<") + kind)
    return values.astype(np.int64).astype(dt).tobytes()


def save(ds, name, pixels_physical, note):
    path = os.path.join(OUT_DIR, name)
    ds.save_as(path, write_like_original=False)
    back = pydicom.dcmread(path)
    arr = back.pixel_array
    phys = apply_modality_lut(arr, back) if "RescaleSlope" in back else arr
    if pixels_physical is not None:
        assert np.array_equal(np.asarray(phys, dtype=np.float64), np.asarray(pixels_physical, dtype=np.float64)), name
    frames = int(getattr(back, "NumberOfFrames", 1) or 1)
    return {
        "file": name,
        "note": note,
        "transferSyntax": str(back.file_meta.TransferSyntaxUID),
        "rows": int(back.Rows),
        "columns": int(back.Columns),
        "frames": frames,
        "samplesPerPixel": int(back.SamplesPerPixel),
        # frames x rows x columns x samples, row-major (pydicom's pixel_array order)
        "pixels": flat(phys),
    }


def make_dicom():
    cases = []
    # 12-bit signed CT-like, rescale, explicit LE
    r, c = 5, 7
    v = stored_values(12, True, (r, c))
    ds = base_dataset(ExplicitVRLittleEndian, r, c, 1, 1, 16, 12, True)
    ds.Modality = "CT"
    ds.RescaleSlope = 2
    ds.RescaleIntercept = -1024
    ds.RescaleType = "HU"
    ds.WindowCenter = [40, 400]
    ds.WindowWidth = [400, 2000]
    ds.PixelData = to_bytes(v, 16, True, False)
    cases.append(save(ds, "ct_s12_rescale_le.dcm", v * 2 - 1024, "signed 12-in-16, rescale 2/-1024"))
    # same values with junk in the unused high bits (the reader must mask and sign-extend)
    ds2 = base_dataset(ExplicitVRLittleEndian, r, c, 1, 1, 16, 12, True)
    ds2.RescaleSlope = 1
    ds2.RescaleIntercept = 0
    junk = (v & 0xFFF) | (rng.integers(0, 16, size=v.shape) << 12)
    ds2.PixelData = junk.astype("<u2").tobytes()
    e = save(ds2, "s12_highbits_junk_le.dcm", None, "signed 12-in-16 with junk in bits 12-15")
    e["pixels"] = flat(v)  # what the standard says the stored values are
    cases.append(e)
    # unsigned 16, explicit big endian, 2 frames
    v = stored_values(16, False, (2, r, c))
    ds = base_dataset(ExplicitVRBigEndian, r, c, 2, 1, 16, 16, False)
    ds.Modality = "MR"
    ds.PixelData = to_bytes(v, 16, False, True)
    cases.append(save(ds, "u16_2frames_be.dcm", v, "unsigned 16, explicit VR big endian, 2 frames"))
    # unsigned 8, implicit LE, MONOCHROME1, odd length (padded)
    v = stored_values(8, False, (r, c))
    ds = base_dataset(ImplicitVRLittleEndian, r, c, 1, 1, 8, 8, False, "MONOCHROME1")
    ds.PixelData = to_bytes(v, 8, False, False) + b"\x00"
    cases.append(save(ds, "u8_mono1_implicit.dcm", v, "unsigned 8, implicit VR, MONOCHROME1, padded"))
    # signed 8
    v = stored_values(8, True, (r, c))
    ds = base_dataset(ExplicitVRLittleEndian, r, c, 1, 1, 8, 8, True)
    ds.PixelData = to_bytes(v, 8, True, False) + b"\x00"
    cases.append(save(ds, "s8_le.dcm", v, "signed 8"))
    # 32-bit signed big endian with fractional rescale
    v = stored_values(32, True, (r, c))
    ds = base_dataset(ExplicitVRBigEndian, r, c, 1, 1, 32, 32, True)
    ds.RescaleSlope = "0.25"
    ds.RescaleIntercept = "3.5"
    ds.PixelData = to_bytes(v, 32, True, True)
    cases.append(save(ds, "s32_rescale_be.dcm", v * 0.25 + 3.5, "signed 32, explicit VR big endian, rescale"))
    # 32-bit unsigned
    v = stored_values(32, False, (r, c))
    ds = base_dataset(ExplicitVRLittleEndian, r, c, 1, 1, 32, 32, False)
    ds.PixelData = to_bytes(v, 32, False, False)
    cases.append(save(ds, "u32_le.dcm", v, "unsigned 32"))
    # RGB planar configuration 1, 2 frames
    v = stored_values(8, False, (2, r, c, 3))
    ds = base_dataset(ExplicitVRLittleEndian, r, c, 2, 3, 8, 8, False, "RGB")
    ds.PlanarConfiguration = 1
    ds.PixelData = np.transpose(v, (0, 3, 1, 2)).astype("u1").tobytes()  # 210 bytes: even
    cases.append(save(ds, "rgb_planar1_2frames.dcm", v, "RGB, planar configuration 1, 2 frames"))
    # deflated explicit LE
    v = stored_values(16, True, (r, c))
    ds = base_dataset(DeflatedExplicitVRLittleEndian, r, c, 1, 1, 16, 16, True)
    ds.RescaleSlope = 1
    ds.RescaleIntercept = -100
    ds.PixelData = to_bytes(v, 16, True, False)
    cases.append(save(ds, "s16_deflated.dcm", v - 100, "deflated explicit VR little endian"))
    # 1-bit (segmentation-style), 2 frames, 5x7 -> 70 bits
    v = rng.integers(0, 2, size=(2, r, c))
    ds = base_dataset(ExplicitVRLittleEndian, r, c, 2, 1, 1, 1, False)
    bits = np.packbits(v.ravel(), bitorder="little")
    ds.PixelData = bits.tobytes() + (b"\x00" if len(bits) % 2 else b"")
    cases.append(save(ds, "bits1_2frames.dcm", v, "BitsAllocated 1, 2 frames"))
    # RLE: signed 16 with rescale; unsigned 8; RGB 16-bit 2 frames; unsigned 32
    for name, bits, stored, signed, spp, frames, slope, inter in [
        ("rle_s16.dcm", 16, 16, True, 1, 1, 1, -1024),
        ("rle_u8.dcm", 8, 8, False, 1, 1, None, None),
        ("rle_rgb16_2frames.dcm", 16, 16, False, 3, 2, None, None),
        ("rle_u32.dcm", 32, 32, False, 1, 1, None, None),
        ("rle_s12_2frames.dcm", 16, 12, True, 1, 2, None, None),
    ]:
        shape = (frames, r, c) + ((spp,) if spp > 1 else ())
        v = stored_values(stored, signed, shape)
        # long runs too, so the encoder emits replicate runs
        v.reshape(frames, -1)[:, 3:14] = v.reshape(frames, -1)[:, 3:4]
        if frames == 1:
            v = v[0]
        ds = base_dataset(ExplicitVRLittleEndian, r, c, frames, spp, bits, stored, signed,
                          "RGB" if spp == 3 else "MONOCHROME2")
        if slope is not None:
            ds.RescaleSlope = slope
            ds.RescaleIntercept = inter
        # pydicom's own RLE encoder (its `compress` profile table stops at 16 bits, the encoder does not)
        per_frame = v.reshape((frames,) + v.shape[-(2 if spp == 1 else 3):])
        dt = "<" + ("i" if signed else "u") + str(bits // 8)
        encoded = [rle_encode(f.astype(dt).tobytes(), rows=r, columns=c, samples_per_pixel=spp,
                              bits_allocated=bits) for f in per_frame]
        ds.file_meta.TransferSyntaxUID = RLELossless
        ds.PixelData = encapsulate(encoded, has_bot=frames > 1)
        ds["PixelData"].is_undefined_length = True
        ds["PixelData"].VR = "OB"
        phys = v * slope + inter if slope is not None else v
        cases.append(save(ds, name, phys, f"RLE, {bits}-bit, {spp} samples, {frames} frame(s)"))
    # JPEG baseline (not decodable here): encapsulated bytes are irrelevant
    ds = base_dataset(JPEGBaseline8Bit, r, c, 1, 1, 8, 8, False)
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xd9"])
    ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OB"
    ds.save_as(os.path.join(OUT_DIR, "jpeg_baseline_stub.dcm"), write_like_original=False)
    return cases


def real_dicom():
    out = {}
    base = os.path.join(SHARED, "dicom", "pydicom")
    for name in ["CT_small.dcm", "MR_small.dcm", "ExplVR_BigEnd.dcm"]:
        path = os.path.join(base, name)
        if not os.path.exists(path):
            print(f"skip {name}: not found", file=sys.stderr)
            continue
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
        phys = np.asarray(apply_modality_lut(arr, ds) if "RescaleSlope" in ds else arr, dtype=np.float64)
        f = phys.ravel()
        n = f.size
        idx = sorted(set([0, n - 1] + [int(i) for i in rng.integers(0, n, size=30)]))
        out[name] = {
            "shape": [int(s) for s in phys.shape],
            "sum": float(f.sum()),
            "weightedSum": float((f * ((np.arange(n) % 1009) + 1)).sum()),
            "min": float(f.min()),
            "max": float(f.max()),
            "percentile1": float(np.percentile(f, 1)),
            "samples": [[i, float(f[i])] for i in idx],
        }
    return out


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    result = {
        "generator": f"scripts/make_medical_fixtures.py (nibabel {nib.__version__}, pydicom {pydicom.__version__})",
        "nifti": make_nifti(),
        "niftiReal": real_nifti(),
        "dicom": make_dicom(),
        "dicomReal": real_dicom(),
    }
    with open(os.path.join(ROOT, "tests", "fixtures", "medical.json"), "w") as fh:
        json.dump(result, fh, separators=(",", ":"))
        fh.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print(f"wrote {len(os.listdir(OUT_DIR))} files ({total} bytes) and tests/fixtures/medical.json")


if __name__ == "__main__":
    main()
