"""Reading IDX files (MNIST's and Fashion-MNIST's images and labels), plain or gzip-compressed."""
from __future__ import annotations

import gzip

import numpy as np

from ..errors import DatasetError

# IDX type codes -> big-endian dtypes
_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str) -> np.ndarray:
    """The array stored in the IDX file `path` (gzip-compressed if it starts so), in native byte order;
    `DatasetError` naming the file for a bad header or a payload of the wrong size."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == _GZIP_MAGIC:
            data = gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path}: cannot read ({e}); replace it with the dataset's original file") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _TYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number); replace it with the dataset's original file")
    dtype, ndim = np.dtype(_TYPES[data[2]]), data[3]
    start = 4 + 4 * ndim
    if len(data) < start:
        raise DatasetError(f"{path}: IDX header is truncated; replace it with the dataset's original file")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", ndim, 4))
    want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - start != want:
        raise DatasetError(f"{path}: IDX payload has {len(data) - start} bytes, not the {want} of its shape {shape}; "
                           f"the file is truncated or corrupt, replace it")
    return np.frombuffer(data, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))
