"""TFRecord framing, tfrecord2idx index files and tf.train.Example records, checked against independent code:
the `tfrecord` package (TensorFlow's example.proto compiled for protobuf, CRC32C from `crc32c`), DALI's
`tfrecord2idx` script and DALI's own TFRecord reader."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dali_sr.errors import DatasetError
from dali_sr.storage.tfrecord import (RecordWriter, decode_example, encode_example, frame, masked_crc32c, parse_index,
                                      record_payload, scan_file, write_index)

example_pb2 = pytest.importorskip("tfrecord.example_pb2")
tfrecord_reader = pytest.importorskip("tfrecord.reader")
tfrecord_writer = pytest.importorskip("tfrecord.writer")

BIG = np.random.default_rng(0).integers(0, 256, 600_000, dtype=np.uint8).tobytes()
INT64_EDGES = [0, 1, 127, 128, 300, -1, -128, 2**31, -(2**31), 2**63 - 1, -(2**63)]
FLOATS = [0.0, 1.5, -2.25, 3.0e38, -1.0e-38, 0.1]


def _records() -> list[dict]:
    """Examples with every kind of feature, empty lists, negative ints and a 600 KB bytes value."""
    return [
        {"key": f"{i:08d}".encode(), "data": bytes(range(i, i + 40)), "shape": [3, 4 + i, -i], "f": [0.5 * i]}
        for i in range(5)
    ] + [
        {"big": BIG, "many": [b"", b"a", b"\x00\xff" * 100], "ints": INT64_EDGES, "floats": FLOATS,
         "no_ints": np.array([], np.int64), "no_floats": np.array([], np.float32), "no_bytes": [],
         "name \u00e9": np.array([[1, 2], [3, 4]], np.int32)},
    ]


def _plain(values: list) -> list:
    return [bytes(v) if isinstance(v, memoryview) else v for v in values]


def _proto_values(feature) -> tuple[str, list]:
    kind = feature.WhichOneof("kind")
    return kind, list(getattr(feature, kind).value) if kind else []


def _f32(values) -> list[float]:
    return np.asarray(values, np.float32).tolist()


def _expected(record: dict) -> dict[str, tuple[str, list]]:
    """(protobuf kind, values) that each feature of `record` must hold."""
    out = {}
    for name, value in record.items():
        if isinstance(value, bytes):
            out[name] = ("bytes_list", [value])
        elif isinstance(value, np.ndarray):
            out[name] = ("int64_list", value.ravel().tolist()) if value.dtype.kind == "i" else \
                ("float_list", value.tolist())
        elif not value or isinstance(value[0], bytes):
            out[name] = ("bytes_list", list(value))
        elif all(isinstance(v, int) for v in value):
            out[name] = ("int64_list", list(value))
        else:
            out[name] = ("float_list", _f32(value))
    return out


@pytest.mark.parametrize("record", _records(), ids=lambda r: ",".join(sorted(r))[:30])
def test_encode_example_is_what_protobuf_parses_and_serializes(record):
    encoded = encode_example(record)
    parsed = example_pb2.Example.FromString(encoded)
    got = {name: _proto_values(f) for name, f in parsed.features.feature.items()}
    assert got == _expected(record)
    assert encoded == parsed.SerializeToString(deterministic=True)  # sorted names: protobuf's deterministic bytes


@pytest.mark.parametrize("record", _records(), ids=lambda r: ",".join(sorted(r))[:30])
def test_decode_example_reads_what_protobuf_serializes(record):
    reference = example_pb2.Example.FromString(encode_example(record)).SerializeToString()
    got = decode_example(reference, "ref")
    assert {name: _plain(v) for name, v in got.items()} == {name: v for name, (_, v) in _expected(record).items()}


def test_decode_example_returns_bytes_as_views_without_copying():
    payload = encode_example({"data": BIG, "shape": [3, 200, 1000]})
    for buf in (payload, memoryview(payload), np.frombuffer(payload, np.uint8)):
        data = decode_example(buf, "x")["data"][0]
        assert isinstance(data, memoryview) and data.nbytes == len(BIG)
        assert np.shares_memory(np.frombuffer(data, np.uint8), np.frombuffer(buf, np.uint8))


def test_decode_example_accepts_unpacked_numbers_and_skips_unknown_fields():
    def fld(number: int, data: bytes) -> bytes:
        return bytes([number << 3 | 2, len(data)]) + data

    unpacked_ints = b"\x08\x05" + b"\x08" + b"\xff" * 9 + b"\x01"  # 5, -1 as separate varints
    unpacked_floats = b"\x0d" + struct.pack("<f", 1.5) + b"\x0d" + struct.pack("<f", -2.0)
    entries = (fld(1, fld(1, b"i") + fld(2, fld(3, unpacked_ints)))
               + fld(1, fld(1, b"f") + fld(2, fld(2, unpacked_floats)))
               + fld(1, fld(1, b"none") + fld(2, b"")))
    payload = fld(1, entries) + b"\x10\x07" + fld(9, b"ignored")  # unknown varint and bytes fields
    assert decode_example(payload, "x") == {"i": [5, -1], "f": [1.5, -2.0], "none": []}
    reference = example_pb2.Example.FromString(payload).features.feature
    assert list(reference["i"].int64_list.value) == [5, -1] and list(reference["f"].float_list.value) == [1.5, -2.0]


@pytest.mark.parametrize("payload", [
    encode_example({"data": b"abcdef"})[:-2],  # cut inside the bytes value
    b"\x0a\x05\x0a\x03",  # a length past the message end
    b"\x0b\x00",  # wire type 3 (groups)
    b"\x08\x01\x0a\x02\x0a\xff",  # varint cut off
    b"\x0a\x04\x0a\x02\xff\xfe",  # name is not UTF-8
])
def test_decode_example_rejects_malformed_protobuf_naming_the_record(payload):
    with pytest.raises(DatasetError, match=r"^shard\.tfrecord record 3: not a valid tf\.train\.Example"):
        decode_example(payload, "shard.tfrecord record 3")


def test_encode_example_rejects_mixed_values():
    with pytest.raises(TypeError, match="'x'"):
        encode_example({"x": [1, b"a"]})


def test_masked_crc32c_is_the_tfrecord_packages():
    for data in (b"", b"a", BIG[:1000], BIG):
        assert struct.pack("<I", masked_crc32c(data)) == tfrecord_writer.TFRecordWriter.masked_crc(data)
    assert masked_crc32c(memoryview(BIG)[5:900]) == masked_crc32c(BIG[5:900])


def _write_shard(path: Path, records: list[dict]) -> list[tuple[int, int]]:
    with open(path, "wb") as f:
        writer = RecordWriter(f)
        return [writer.write(encode_example(r)) for r in records]


def test_our_shards_read_by_the_tfrecord_package(tmp_path):
    shard = tmp_path / "ours.tfrecord"
    records = _records()[:5]
    _write_shard(shard, records)
    got = list(tfrecord_reader.tfrecord_loader(str(shard), None, {"key": "byte", "data": "byte", "shape": "int",
                                                                   "f": "float"}))
    assert [bytes(g["key"]) for g in got] == [r["key"] for r in records]
    assert [bytes(g["data"]) for g in got] == [r["data"] for r in records]
    assert [g["shape"].tolist() for g in got] == [r["shape"] for r in records]
    assert [g["f"].tolist() for g in got] == [r["f"] for r in records]


def test_shards_of_the_tfrecord_package_read_by_us(tmp_path):
    shard = tmp_path / "theirs.tfrecord"
    writer = tfrecord_writer.TFRecordWriter(str(shard))
    for i in range(3):
        writer.write({"data": (BIG[i:i + 1000 * (i + 1)], "byte"), "shape": ([1, i, -i], "int"),
                      "f": ([0.25 * i, 8.0], "float")})
    writer.close()
    buf = shard.read_bytes()
    for i, (offset, size) in enumerate(scan_file(shard)):
        features = decode_example(record_payload(buf, offset, size, str(shard)), str(shard))
        assert bytes(features["data"][0]) == BIG[i:i + 1000 * (i + 1)]
        assert features["shape"] == [1, i, -i] and features["f"] == [0.25 * i, 8.0]


def test_frame_is_what_the_writer_writes_and_what_the_tfrecord_package_frames(tmp_path):
    payload = encode_example({"data": b"xyz"})
    with open(tmp_path / "a", "wb") as f:
        assert RecordWriter(f).write(payload) == (0, len(payload) + 16)
    assert (tmp_path / "a").read_bytes() == frame(payload) == frame(memoryview(payload))
    length = struct.pack("<Q", len(payload))
    ref = tfrecord_writer.TFRecordWriter
    assert frame(payload) == length + ref.masked_crc(length) + payload + ref.masked_crc(payload)


@pytest.mark.skipif(shutil.which("tfrecord2idx") is None, reason="DALI's tfrecord2idx script is not on PATH")
def test_our_index_files_equal_tfrecord2idx(tmp_path):
    shard = tmp_path / "s.tfrecord"
    entries = _write_shard(shard, _records())
    subprocess.run(["tfrecord2idx", str(shard), str(tmp_path / "ref.idx")], check=True, capture_output=True)
    write_index(tmp_path / "ours.idx", entries)
    write_index(tmp_path / "scanned.idx", scan_file(shard))
    ref = (tmp_path / "ref.idx").read_text()
    assert (tmp_path / "ours.idx").read_text() == ref == (tmp_path / "scanned.idx").read_text()
    assert parse_index(ref, "ref.idx") == entries
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.idx", "ref.idx", "s.tfrecord", "scanned.idx"]


def test_record_payload_reads_whole_shards_and_ranged_reads(tmp_path):
    shard = tmp_path / "s.tfrecord"
    records = _records()
    entries = _write_shard(shard, records)
    buf = shard.read_bytes()
    for record, (offset, size) in zip(records, entries):
        whole = record_payload(np.frombuffer(buf, np.uint8), offset, size, str(shard))
        ranged = record_payload(buf[offset:offset + size], 0, size, str(shard), base=offset)
        assert bytes(whole) == bytes(ranged) == encode_example(record)


def test_corrupt_payload_is_detected_naming_shard_and_offset(tmp_path):
    shard = tmp_path / "s.tfrecord"
    entries = _write_shard(shard, _records())
    buf = bytearray(shard.read_bytes())
    offset, size = entries[2]
    buf[offset + 20] ^= 0x01
    data, name = bytes(buf), re.escape(str(shard))
    with pytest.raises(DatasetError, match=rf"^{name}: the record at byte {offset} is corrupt .*CRC.*re-create"):
        record_payload(data, offset, size, str(shard))
    with pytest.raises(DatasetError, match=rf"record at byte {offset} is corrupt"):
        record_payload(data[offset:offset + size], 0, size, str(shard), base=offset)
    assert bytes(record_payload(data, offset, size, str(shard), check_crc=False))[8] == buf[offset + 20]
    record_payload(data, *entries[3], str(shard))


def test_index_not_matching_its_shard_is_detected(tmp_path):
    shard = tmp_path / "s.tfrecord"
    entries = _write_shard(shard, _records())
    buf = shard.read_bytes()
    o1, s1 = entries[1]
    with pytest.raises(DatasetError, match=rf"no record starts at byte {o1 + 4} .*does not match its shard.*"
                                           r"tfrecord2idx"):
        record_payload(buf, o1 + 4, s1, str(shard))
    with pytest.raises(DatasetError, match=rf"record at byte {o1} holds {s1 - 16} payload bytes .* gives {s1 + 1}"):
        record_payload(buf, o1, s1 + 1, str(shard))
    with pytest.raises(DatasetError, match=r"cannot be a record"):
        record_payload(buf, o1, 10, str(shard))
    other = tmp_path / "other.tfrecord"
    _write_shard(other, _records()[::-1])
    with pytest.raises(DatasetError, match=r"does not match its shard|is truncated"):
        for offset, size in entries:
            record_payload(other.read_bytes(), offset, size, str(other))


def test_truncated_shard_is_detected_naming_shard_and_offset(tmp_path):
    shard = tmp_path / "s.tfrecord"
    entries = _write_shard(shard, _records())
    full = shard.read_bytes()
    last_offset, last_size = entries[-1]
    cut = last_offset + last_size // 2
    shard.write_bytes(full[:cut])
    name = re.escape(str(shard))
    with pytest.raises(DatasetError, match=rf"^{name}: truncated at byte {cut}: record 5 at byte {last_offset} "
                                           r"ends at byte \d+; re-create"):
        scan_file(shard)
    with pytest.raises(DatasetError, match=rf"^{name}: shard is truncated at byte {cut}: the record at byte "
                                           rf"{last_offset}"):
        record_payload(shard.read_bytes(), last_offset, last_size, str(shard))
    shard.write_bytes(full[:last_offset + 5])
    with pytest.raises(DatasetError, match=rf"truncated at byte {last_offset + 5}: record 5 at byte {last_offset} "
                                           r"lacks its 12-byte header"):
        scan_file(shard)
    shard.write_bytes(b"not a tfrecord file at all")
    with pytest.raises(DatasetError, match=rf"^{name}: is not a TFRecord file"):
        scan_file(shard)
    shard.write_bytes(b"")
    assert scan_file(shard) == []


def test_malformed_index_line_is_named_with_its_line_number():
    assert parse_index("0 20\n\n20 30\n", "a.idx") == [(0, 20), (20, 30)]
    for text, number in (("0 20\n20\n", 2), ("0 20 5\n", 1), ("x 20\n", 1), ("0 -20\n", 1)):
        with pytest.raises(DatasetError, match=rf"^a\.idx line {number}: .* is not '<offset> <size>'; re-create the "
                                               r"index"):
            parse_index(text, "a.idx")


def test_dalis_tfrecord_reader_reads_our_shard_and_index(tmp_path):
    dali = pytest.importorskip("nvidia.dali")
    tfrec = pytest.importorskip("nvidia.dali.tfrecord")
    from nvidia.dali import fn

    shard, index = tmp_path / "s.tfrecord", tmp_path / "s.idx"
    records = _records()[:4]
    write_index(index, _write_shard(shard, records))

    @dali.pipeline_def(batch_size=2, num_threads=1, device_id=None)
    def read():
        out = fn.readers.tfrecord(path=[str(shard)], index_path=[str(index)], random_shuffle=False, features={
            "key": tfrec.FixedLenFeature((), tfrec.string, ""), "data": tfrec.FixedLenFeature((), tfrec.string, ""),
            "shape": tfrec.FixedLenFeature([3], tfrec.int64, 0), "f": tfrec.VarLenFeature(tfrec.float32, 0.0)})
        return out["key"], out["data"], out["shape"], out["f"]

    pipe = read()
    pipe.build()
    got = []
    for _ in range(2):
        keys, data, shapes, floats = pipe.run()
        got += [(np.array(keys[j]).tobytes(), np.array(data[j]).tobytes(), np.array(shapes[j]).tolist(),
                 np.array(floats[j]).tolist()) for j in range(2)]
    assert got == [(r["key"], r["data"], r["shape"], r["f"]) for r in records]
