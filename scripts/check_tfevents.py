#!/usr/bin/env python3
"""Checks TensorBoard event files written by meddiff (util/formats/tfevents.ts), and makes the
reference fixture that tests/tfevents_test.ts compares our writer against byte for byte.

    python3 scripts/check_tfevents.py FILE_OR_DIR ...        # decode, verify, compare
    python3 scripts/check_tfevents.py --make-fixture tests/fixtures/tfevents

Checking uses two readers and requires them to agree:
  1. a minimal decoder in this file (TFRecord framing, masked CRC-32C computed bit by bit, and
     the few protobuf messages involved), needing nothing but the standard library;
  2. TensorBoard's own reader (EventAccumulator, which also verifies the CRCs) when the
     `tensorboard` package can be imported (e.g. `pip install --target /tmp/tb tensorboard`
     and PYTHONPATH=/tmp/tb). Without it, only reader 1 runs, and the output says so.

--make-fixture needs TensorBoard: the events are built with its protobuf classes
(tensorboard.compat.proto) and framed by its RecordWriter, so the fixture is what the reference
implementation writes, independently of our TypeScript encoder. It writes reference.tfevents
and reference.json (the list of events, which the test replays through SummaryWriter).
"""
import argparse
import base64
import json
import math
import os
import struct
import sys
import zlib

# ---------------------------------------------------------------- CRC-32C, bit by bit

_POLY = 0x82F63B78


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------- TFRecord framing


def read_records(path: str):
    """Yields the data of each record, checking both CRCs; raises ValueError naming the offset."""
    with open(path, "rb") as f:
        buf = f.read()
    off = 0
    while off < len(buf):
        if off + 12 > len(buf):
            raise ValueError(f"{path}: truncated record header at byte {off}")
        header = buf[off : off + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", buf[off + 8 : off + 12])
        if hcrc != masked_crc32c(header):
            raise ValueError(f"{path}: bad length CRC at byte {off}")
        end = off + 12 + length
        if end + 4 > len(buf):
            raise ValueError(f"{path}: truncated record data at byte {off}")
        data = buf[off + 12 : end]
        (dcrc,) = struct.unpack("<I", buf[end : end + 4])
        if dcrc != masked_crc32c(data):
            raise ValueError(f"{path}: bad data CRC in the record at byte {off}")
        yield data
        off = end + 4


# ---------------------------------------------------------------- protobuf


def _varint(buf: bytes, i: int):
    shift = 0
    result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def fields(buf: bytes):
    """Yields (field number, wire type, value): ints for varints, bytes for the others."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v = buf[i : i + 8]
            i += 8
        elif wire == 2:
            n, i = _varint(buf, i)
            v = buf[i : i + n]
            i += n
        elif wire == 5:
            v = buf[i : i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire} for field {field}")
        if i > len(buf):
            raise ValueError(f"field {field} runs past the end of its message")
        yield field, wire, v


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _f64(b: bytes) -> float:
    return struct.unpack("<d", b)[0]


def _f32(b: bytes) -> float:
    return struct.unpack("<f", b)[0]


def _packed_doubles(v) -> list:
    if isinstance(v, bytes):
        return [x[0] for x in struct.iter_unpack("<d", v)]
    return [_f64(v)]


def decode_value(buf: bytes) -> dict:
    out = {}
    plugin = None
    tensor = None
    for f, w, v in fields(buf):
        if f == 1:
            out["tag"] = v.decode("utf-8")
        elif f == 2 and w == 5:
            out["simple_value"] = _f32(v)
        elif f == 4:
            img = {}
            for g, _, u in fields(v):
                if g == 1:
                    img["height"] = u
                elif g == 2:
                    img["width"] = u
                elif g == 3:
                    img["colorspace"] = u
                elif g == 4:
                    img["encoded"] = base64.b64encode(u).decode("ascii")
            out["image"] = img
        elif f == 5:
            h = {"min": 0.0, "max": 0.0, "num": 0.0, "sum": 0.0, "sum_squares": 0.0, "bucket_limit": [], "bucket": []}
            names = {1: "min", 2: "max", 3: "num", 4: "sum", 5: "sum_squares"}
            for g, _, u in fields(v):
                if g in names:
                    h[names[g]] = _f64(u)
                elif g == 6:
                    h["bucket_limit"] += _packed_doubles(u)
                elif g == 7:
                    h["bucket"] += _packed_doubles(u)
            out["histo"] = h
        elif f == 8:
            tensor = {"dtype": 0, "shape": [], "string_val": []}
            for g, _, u in fields(v):
                if g == 1:
                    tensor["dtype"] = u
                elif g == 2:
                    for d, _, dim in fields(u):
                        if d == 2:
                            size = 0
                            for s, _, sv in fields(dim):
                                if s == 1:
                                    size = _int64(sv)
                            tensor["shape"].append(size)
                elif g == 8:
                    tensor["string_val"].append(u.decode("utf-8"))
        elif f == 9:
            for g, _, u in fields(v):
                if g == 1:
                    for p, _, pv in fields(u):
                        if p == 1:
                            plugin = pv.decode("utf-8")
    if tensor is not None:
        if plugin == "text" and tensor["dtype"] == 7:
            out["text"] = tensor["string_val"][0] if len(tensor["string_val"]) == 1 else tensor["string_val"]
        else:
            out["tensor"] = tensor
    if plugin is not None:
        out["plugin"] = plugin
    return out


def decode_event(buf: bytes) -> dict:
    ev = {"wall_time": 0.0, "step": 0}
    for f, _, v in fields(buf):
        if f == 1:
            ev["wall_time"] = _f64(v)
        elif f == 2:
            ev["step"] = _int64(v)
        elif f == 3:
            ev["file_version"] = v.decode("utf-8")
        elif f == 5:
            ev["values"] = [decode_value(u) for g, _, u in fields(v) if g == 1]
    return ev


def decode_file(path: str) -> list:
    return [decode_event(r) for r in read_records(path)]


# ---------------------------------------------------------------- TensorBoard's reader


def _load_tensorboard():
    try:
        import tensorboard  # noqa: F401
        from tensorboard.backend.event_processing import event_accumulator
    except Exception:
        return None
    return event_accumulator


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def compare_with_tensorboard(path: str, events: list, ea_mod) -> list:
    """Reads `path` with TensorBoard's EventAccumulator; returns a list of disagreements."""
    acc = ea_mod.EventAccumulator(
        path,
        size_guidance={ea_mod.SCALARS: 0, ea_mod.IMAGES: 0, ea_mod.HISTOGRAMS: 0, ea_mod.TENSORS: 0},
        purge_orphaned_data=False,
    )
    acc.Reload()
    tags = acc.Tags()
    problems = []
    mine = {"scalars": {}, "images": {}, "histograms": {}, "tensors": {}}
    for ev in events:
        for v in ev.get("values", []):
            item = (ev["step"], ev["wall_time"], v)
            if "simple_value" in v:
                mine["scalars"].setdefault(v["tag"], []).append(item)
            elif "image" in v:
                mine["images"].setdefault(v["tag"], []).append(item)
            elif "histo" in v:
                mine["histograms"].setdefault(v["tag"], []).append(item)
            elif "text" in v or "tensor" in v:
                mine["tensors"].setdefault(v["tag"], []).append(item)
    for kind in mine:
        if sorted(tags.get(kind, [])) != sorted(mine[kind]):
            problems.append(f"{kind} tags: tensorboard {sorted(tags.get(kind, []))}, ours {sorted(mine[kind])}")
    for tag, items in mine["scalars"].items():
        tb = acc.Scalars(tag)
        if len(tb) != len(items):
            problems.append(f"scalar {tag}: tensorboard has {len(tb)} events, ours {len(items)}")
            continue
        for e, (step, wall, v) in zip(tb, items):
            if e.step != step or e.wall_time != wall or not _same_float(e.value, v["simple_value"]):
                problems.append(f"scalar {tag}: tensorboard {e}, ours step={step} wall={wall} {v['simple_value']}")
    for tag, items in mine["images"].items():
        for e, (step, wall, v) in zip(acc.Images(tag), items):
            img = v["image"]
            if (
                e.step != step
                or e.wall_time != wall
                or e.width != img["width"]
                or e.height != img["height"]
                or base64.b64encode(e.encoded_image_string).decode("ascii") != img["encoded"]
            ):
                problems.append(f"image {tag} step {step}: tensorboard and ours differ")
    for tag, items in mine["histograms"].items():
        for e, (step, wall, v) in zip(acc.Histograms(tag), items):
            h, tbh = v["histo"], e.histogram_value
            ok = (
                e.step == step
                and tbh.min == h["min"]
                and tbh.max == h["max"]
                and tbh.num == h["num"]
                and tbh.sum == h["sum"]
                and tbh.sum_squares == h["sum_squares"]
                and list(tbh.bucket_limit) == h["bucket_limit"]
                and list(tbh.bucket) == h["bucket"]
            )
            if not ok:
                problems.append(f"histogram {tag} step {step}: tensorboard {tbh}, ours {h}")
    for tag, items in mine["tensors"].items():
        for e, (step, wall, v) in zip(acc.Tensors(tag), items):
            got = [s.decode("utf-8") for s in e.tensor_proto.string_val]
            want = [v["text"]] if isinstance(v.get("text"), str) else v.get("text")
            if e.step != step or got != want:
                problems.append(f"text {tag} step {step}: tensorboard {got}, ours {want}")
    return problems


# ---------------------------------------------------------------- reference fixture


def _tiny_png() -> bytes:
    """A valid 3x2 RGB PNG, built here with zlib (not with sharp, which our writer uses)."""
    w, h = 3, 2
    pixels = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0), (128, 128, 128), (255, 255, 255)]
    raw = b""
    for y in range(h):
        raw += b"\x00" + b"".join(bytes(p) for p in pixels[y * w : (y + 1) * w])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def fixture_spec() -> dict:
    png = base64.b64encode(_tiny_png()).decode("ascii")
    return {
        "file_version_wall_time": 1700000000.5,
        "events": [
            {"kind": "scalar", "tag": "train/loss", "value": 0.1, "step": 0, "wall_time": 1700000001.25},
            {"kind": "scalar", "tag": "train/loss", "value": -2.5, "step": 1, "wall_time": 1700000002.125},
            {"kind": "scalar", "tag": "train/lr", "value": 1e-8, "step": 2**40, "wall_time": 1700000003.0},
            {"kind": "scalar", "tag": "eval/acc", "value": 0.0, "step": 7, "wall_time": 1700000004.0},
            {"kind": "scalar", "tag": "weird/negative_step", "value": 3.0, "step": -3, "wall_time": 1700000005.0},
            {"kind": "scalar", "tag": "unicode/µ-ü", "value": 123456.789, "step": 300, "wall_time": 1700000006.0},
            {
                "kind": "image",
                "tag": "samples/grid",
                "png_base64": png,
                "height": 2,
                "width": 3,
                "colorspace": 3,
                "step": 10,
                "wall_time": 1700000007.0,
            },
            {
                "kind": "histogram",
                "tag": "weights/conv1",
                "min": -1.5,
                "max": 2.0,
                "num": 10.0,
                "sum": 3.25,
                "sum_squares": 12.5,
                "bucket_limit": [-0.5, 0.5, 2.0],
                "bucket": [3.0, 4.0, 3.0],
                "step": 10,
                "wall_time": 1700000008.0,
            },
            {"kind": "text", "tag": "config/text_summary", "text": "lr: 0.0001\nepochs: 3", "step": 0, "wall_time": 1700000009.0},
        ],
    }


def make_fixture(outdir: str) -> None:
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter
    except Exception as e:  # pragma: no cover
        sys.exit(f"--make-fixture needs the tensorboard package ({e})")
    spec = fixture_spec()
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, "reference.tfevents")
    with open(path, "wb") as f:
        rw = RecordWriter(f)
        rw.write(event_pb2.Event(wall_time=spec["file_version_wall_time"], file_version="brain.Event:2").SerializeToString())
        for e in spec["events"]:
            if e["kind"] == "scalar":
                value = summary_pb2.Summary.Value(tag=e["tag"], simple_value=e["value"])
            elif e["kind"] == "image":
                img = summary_pb2.Summary.Image(
                    height=e["height"],
                    width=e["width"],
                    colorspace=e["colorspace"],
                    encoded_image_string=base64.b64decode(e["png_base64"]),
                )
                value = summary_pb2.Summary.Value(tag=e["tag"], image=img)
            elif e["kind"] == "histogram":
                from tensorboard.compat.proto import summary_pb2 as s

                h = s.HistogramProto(
                    min=e["min"],
                    max=e["max"],
                    num=e["num"],
                    sum=e["sum"],
                    sum_squares=e["sum_squares"],
                    bucket_limit=e["bucket_limit"],
                    bucket=e["bucket"],
                )
                value = summary_pb2.Summary.Value(tag=e["tag"], histo=h)
            elif e["kind"] == "text":
                meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
                tensor = tensor_pb2.TensorProto(
                    dtype=7,
                    tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]),
                    string_val=[e["text"].encode("utf-8")],
                )
                value = summary_pb2.Summary.Value(tag=e["tag"], metadata=meta, tensor=tensor)
            else:
                raise ValueError(e["kind"])
            ev = event_pb2.Event(wall_time=e["wall_time"], step=e["step"], summary=summary_pb2.Summary(value=[value]))
            rw.write(ev.SerializeToString())
        rw.flush()
    with open(os.path.join(outdir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # The fixture must also pass the checks below.
    problems = check(path, verbose=False)
    if problems:
        sys.exit("the fixture fails its own check:\n  " + "\n  ".join(problems))
    print(f"wrote {path} and reference.json ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------- main


def check(path: str, verbose: bool = True) -> list:
    try:
        events = decode_file(path)
    except ValueError as e:
        return [str(e)]
    problems = []
    if not events or events[0].get("file_version") != "brain.Event:2":
        problems.append(f"{path}: the first record is not an Event with file_version brain.Event:2")
    ea = _load_tensorboard()
    if ea is not None:
        problems += [f"{path}: {p}" for p in compare_with_tensorboard(path, events, ea)]
    if verbose:
        import importlib

        reader = (
            f"tensorboard {importlib.import_module('tensorboard').__version__} EventAccumulator + the built-in decoder"
            if ea is not None
            else "the built-in decoder only (tensorboard is not importable)"
        )
        counts = {}
        for ev in events:
            for v in ev.get("values", []):
                kind = next((k for k in ("simple_value", "image", "histo", "text", "tensor") if k in v), "other")
                counts[kind] = counts.get(kind, 0) + 1
        print(f"{path}: {len(events)} records, {counts}; read with {reader}")
        for ev in events:
            print("  " + json.dumps(ev, ensure_ascii=False)[:300])
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", help="event files, or folders searched for events.out.tfevents.*")
    ap.add_argument("--make-fixture", metavar="DIR", help="write reference.tfevents and reference.json to DIR")
    ap.add_argument("--quiet", action="store_true", help="print only problems")
    args = ap.parse_args()
    if args.make_fixture:
        make_fixture(args.make_fixture)
    files = []
    for p in args.paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, n) for n in sorted(names) if n.startswith("events.out.tfevents.")]
        else:
            files.append(p)
    if not files and not args.make_fixture:
        ap.error("no event files given")
    problems = []
    for f in files:
        problems += check(f, verbose=not args.quiet)
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)
    if files:
        print(f"OK: {len(files)} file(s)")


if __name__ == "__main__":
    main()
