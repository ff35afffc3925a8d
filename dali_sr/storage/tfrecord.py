"""TFRecord files and `tf.train.Example` records, without TensorFlow or protobuf.

A TFRecord file is a sequence of framed records: the payload length (uint64 LE), its masked
CRC32C (uint32 LE), the payload, and the payload's masked CRC32C. An index file (DALI's
`tfrecord2idx` format) has one line `{offset} {size}` per record, `size` being the whole framed
record. A payload here is a serialized `tf.train.Example`: a map from feature names to a list of
bytes, int64 or float32 values, read and written by a small protobuf wire-format codec.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Mapping, Sequence, Union

import google_crc32c
import numpy as np

from ..errors import DatasetError

HEADER_BYTES = 12  # length and its CRC
FRAMING_BYTES = 16  # header and the payload's CRC
INDEX_FIX = "re-create the index from the shard (tfrecord2idx SHARD INDEX)"
_MASK_DELTA = 0xA282EAD8
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")

Buffer = Union[bytes, bytearray, memoryview, np.ndarray]
FeatureValue = Union[bytes, Sequence[bytes], Sequence[int], Sequence[float], np.ndarray]
IndexEntry = tuple[int, int]


def masked_crc32c(data: Buffer) -> int:
    """TFRecord's masked CRC32C of `data` (google_crc32c takes only `bytes`: other buffers are copied)."""
    crc = google_crc32c.value(data if isinstance(data, bytes) else bytes(data))
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def _header(length: int) -> bytes:
    n = _LENGTH.pack(length)
    return n + _CRC.pack(masked_crc32c(n))


def frame(payload: Buffer) -> bytes:
    """`payload` framed as one TFRecord record."""
    data = payload if isinstance(payload, bytes) else bytes(payload)
    return _header(len(data)) + data + _CRC.pack(masked_crc32c(data))


def _bytes_view(buf: Buffer) -> memoryview:
    view = memoryview(buf)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def record_payload(buf: Buffer, offset: int, size: int, where: str, check_crc: bool = True,
                   base: int = 0) -> memoryview:
    """The payload of the framed record at `offset` of `buf` whose index entry gives `size` bytes, as a view of `buf`.

    `buf` is a whole shard or a ranged read of it starting at the shard's byte `base` (messages give shard offsets).
    `DatasetError` naming `where` and the byte when the record does not fit, does not match `size` or fails a CRC.
    """
    view = _bytes_view(buf)
    at = base + offset
    if offset < 0 or size < FRAMING_BYTES:
        raise DatasetError(f"{where}: index entry '{at} {size}' cannot be a record (a record has at least "
                           f"{FRAMING_BYTES} bytes); the index file does not match its shard, {INDEX_FIX}")
    if offset + size > len(view):
        raise DatasetError(f"{where}: shard is truncated at byte {base + len(view)}: the record at byte {at} ends at "
                           f"byte {at + size}; re-create the shard, or {INDEX_FIX} if the index is the stale one")
    length, = _LENGTH.unpack_from(view, offset)
    if check_crc and _CRC.unpack_from(view, offset + 8)[0] != masked_crc32c(view[offset:offset + 8]):
        raise DatasetError(f"{where}: no record starts at byte {at} (its length header fails the CRC check); the index "
                           f"file does not match its shard, {INDEX_FIX}")
    if length != size - FRAMING_BYTES:
        raise DatasetError(f"{where}: the record at byte {at} holds {length} payload bytes ({length + FRAMING_BYTES} "
                           f"framed) but the index gives {size}; the index file does not match its shard, {INDEX_FIX}")
    start = offset + HEADER_BYTES
    payload = view[start:start + length]
    if check_crc and _CRC.unpack_from(view, start + length)[0] != masked_crc32c(payload):
        raise DatasetError(f"{where}: the record at byte {at} is corrupt (its payload fails the CRC check); re-create "
                           f"the shard from its source")
    return payload


def scan_records(read_at: Callable[[int, int], bytes], total_size: int, where: str) -> list[IndexEntry]:
    """Index entries `(offset, size)` of every record, reading only the 12-byte headers with `read_at(offset, n)`.

    `DatasetError` naming `where`, the record and its byte for a corrupt header or a truncated last record.
    """
    entries: list[IndexEntry] = []
    offset = 0
    while offset < total_size:
        n = len(entries)
        head = read_at(offset, HEADER_BYTES)
        if len(head) < HEADER_BYTES:
            raise DatasetError(f"{where}: truncated at byte {offset + len(head)}: record {n} at byte {offset} lacks "
                               f"its {HEADER_BYTES}-byte header; re-create (or download again) the file")
        length, = _LENGTH.unpack_from(head)
        if _CRC.unpack_from(head, 8)[0] != masked_crc32c(head[:8]):
            what = "is not a TFRecord file" if n == 0 else f"record {n} at byte {offset} has a corrupt header"
            raise DatasetError(f"{where}: {what} (its length fails the CRC check); re-create (or download again) "
                               f"the file")
        end = offset + length + FRAMING_BYTES
        if end > total_size:
            raise DatasetError(f"{where}: truncated at byte {total_size}: record {n} at byte {offset} ends at byte "
                               f"{end}; re-create (or download again) the file")
        entries.append((offset, end - offset))
        offset = end
    return entries


def scan_file(path: Union[str, Path]) -> list[IndexEntry]:
    """Index entries of the TFRecord file at `path` (see `scan_records`)."""
    with open(path, "rb") as f:
        fd = f.fileno()
        return scan_records(lambda offset, n: os.pread(fd, n, offset), os.fstat(fd).st_size, str(path))


def write_index(path: Union[str, Path], entries: Iterable[IndexEntry]) -> None:
    """Write a `tfrecord2idx` index file, whole or not at all (a temporary file renamed)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text("".join(f"{offset} {size}\n" for offset, size in entries))
    os.replace(tmp, p)


def parse_index(text: str, where: str) -> list[IndexEntry]:
    """The `(offset, size)` entries of an index file's text; `DatasetError` naming `where` and the line if malformed."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        cols = line.split()
        if not cols:
            continue
        if len(cols) != 2 or not all(c.isdigit() for c in cols):
            raise DatasetError(f"{where} line {number}: {line.strip()[:60]!r} is not '<offset> <size>'; {INDEX_FIX}")
        entries.append((int(cols[0]), int(cols[1])))
    return entries


class RecordWriter:
    """Appends framed records to a binary file open for writing; `write` returns each record's index entry."""

    def __init__(self, file: BinaryIO):
        self.file = file
        self.offset = file.tell()

    def write(self, payload: Buffer) -> IndexEntry:
        data = payload if isinstance(payload, bytes) else bytes(payload)
        self.file.write(_header(len(data)))
        self.file.write(data)
        self.file.write(_CRC.pack(masked_crc32c(data)))
        entry = (self.offset, len(data) + FRAMING_BYTES)
        self.offset += entry[1]
        return entry


def _varint(value: int) -> bytes:
    """Protobuf base-128 varint; a negative int64 as its 64-bit two's complement (10 bytes)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _packed(kind: int, data: bytes) -> bytes:
    """A Feature of kind 2 (float) or 3 (int64) holding the packed values `data` (none: an empty list message)."""
    return _field(kind, _field(1, data) if data else b"")


def _feature(name: str, value: FeatureValue) -> bytes:
    """The `Feature` message of one value (see `encode_example` for how its kind is chosen)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = [value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "iub":
        return _packed(3, b"".join(_varint(int(v)) for v in value.ravel()))
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return _packed(2, value.astype("<f4").tobytes())
    items = list(value)
    if all(isinstance(v, (bytes, bytearray, memoryview)) for v in items):
        return _field(1, b"".join(_field(1, bytes(v)) for v in items))
    if all(isinstance(v, (int, np.integer)) for v in items):
        return _packed(3, b"".join(_varint(int(v)) for v in items))
    if all(isinstance(v, (int, float, np.integer, np.floating)) for v in items):
        return _packed(2, np.asarray(items, "<f4").tobytes())
    raise TypeError(f"feature {name!r}: values must be all bytes, all ints or all numbers, got "
                       f"{sorted({type(v).__name__ for v in items})}; convert them")


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """A serialized `tf.train.Example` of `features`, in sorted name order (deterministic bytes).

    A bytes-like value is a one-item bytes_list; a list of bytes a bytes_list, of ints an int64_list,
    of other numbers a float_list (float32); a numpy array is typed by its dtype (also when empty);
    an empty list is an empty bytes_list.
    """
    entries = b"".join(_field(1, _field(1, name.encode("utf-8")) + _field(2, _feature(name, features[name])))
                       for name in sorted(features))
    return _field(1, entries)


class _Malformed(Exception):
    """Raised inside the decoder; turned into a `DatasetError` naming the record."""


def _read_varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`."""
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Malformed(f"bad varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _next_field(buf: memoryview, pos: int, end: int) -> tuple[int, int, int, int, int]:
    """(field number, wire type, a, b, position after it) of the field at `pos`: (a, b) is the (start, stop) of its
    bytes, or (value, 0) for a varint. One-byte tags and lengths, the common case, are read inline."""
    key = buf[pos]
    if key < 0x80:
        pos += 1
    else:
        key, pos = _read_varint(buf, pos, end)
    wire = key & 7
    if wire == 2:
        n = buf[pos] if pos < end else 0x80
        if n < 0x80:
            pos += 1
        else:
            n, pos = _read_varint(buf, pos, end)
    elif wire == 0:
        value, pos = _read_varint(buf, pos, end)
        return key >> 3, 0, value, 0, pos
    elif wire == 5 or wire == 1:
        n = 4 if wire == 5 else 8
    else:
        raise _Malformed(f"unsupported wire type {wire} at byte {pos}")
    stop = pos + n
    if stop > end:
        raise _Malformed(f"field {key >> 3} at byte {pos} runs past its message end (byte {end})")
    return key >> 3, wire, pos, stop, stop


def _signed(value: int) -> int:
    """An int64 from its varint (protobuf keeps the low 64 bits)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _values(buf: memoryview, kind: int, pos: int, end: int) -> list:
    """The list of a BytesList (kind 1), FloatList (2) or Int64List (3) message; packed or not."""
    out: list = []
    while pos < end:
        number, wire, a, b, pos = _next_field(buf, pos, end)
        if number != 1:
            continue
        if kind == 1 and wire == 2:
            out.append(buf[a:b])
        elif kind == 3 and wire == 2:
            while a < b:
                v = buf[a]
                if v < 0x80:
                    a += 1
                else:
                    v, a = _read_varint(buf, a, b)
                out.append(_signed(v))
        elif kind == 3 and wire == 0:
            out.append(_signed(a))
        elif kind == 2 and wire == 2:
            if (b - a) % 4:
                raise _Malformed(f"packed floats at byte {a} are {b - a} bytes, not 4 each")
            out.extend(struct.unpack_from(f"<{(b - a) // 4}f", buf, a))
        elif kind == 2 and wire == 5:
            out.append(struct.unpack_from("<f", buf, a)[0])
        else:
            raise _Malformed(f"wire type {wire} for a value of list kind {kind} at byte {a}")
    return out


def _feature_values(buf: memoryview, pos: int, end: int) -> list:
    """The values of a `Feature` message: its last kind field wins, as in protobuf; none set is an empty list."""
    values: list = []
    while pos < end:
        number, wire, a, b, pos = _next_field(buf, pos, end)
        if 1 <= number <= 3:
            if wire != 2:
                raise _Malformed(f"Feature field {number} has wire type {wire}")
            values = _values(buf, number, a, b)
    return values


def _features(buf: memoryview, pos: int, end: int, into: dict[str, list]) -> None:
    """Add the map entries of a `Features` message to `into`."""
    while pos < end:
        number, wire, a, b, pos = _next_field(buf, pos, end)
        if number != 1:
            continue
        if wire != 2:
            raise _Malformed(f"feature map entry has wire type {wire}")
        name, values = "", []
        while a < b:
            number, wire, c, d, a = _next_field(buf, a, b)
            if wire != 2:
                raise _Malformed(f"feature map field {number} has wire type {wire}")
            if number == 1:
                name = str(buf[c:d], "utf-8")
            elif number == 2:
                values = _feature_values(buf, c, d)
        into[name] = values


def decode_example(payload: Buffer, where: str) -> dict[str, list]:
    """Feature name -> values of a serialized `tf.train.Example`: bytes as memoryviews of `payload` (no copy),
    int64 as ints, float as floats. `DatasetError` naming `where` when it is not a valid Example."""
    buf = _bytes_view(payload)
    features: dict[str, list] = {}
    pos, end = 0, len(buf)
    try:
        while pos < end:
            number, wire, a, b, pos = _next_field(buf, pos, end)
            if number == 1:
                if wire != 2:
                    raise _Malformed(f"Example field 1 has wire type {wire}")
                _features(buf, a, b, features)
    except (_Malformed, UnicodeDecodeError) as e:
        raise DatasetError(f"{where}: not a valid tf.train.Example ({e}); re-create the record, or check the file "
                           f"holds tf.train.Example records") from None
    return features
