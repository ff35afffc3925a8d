"""The on-disk formats TorchDataset reads: IDX files (MNIST) and pickles of plain data (CIFAR's batches)."""
from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from dali_sr.errors import DatasetError
from dali_sr.storage.idx_files import read_idx
from dali_sr.storage.plain_pickle import load_plain_pickle


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file as MNIST's are written: zero bytes, a type code, the rank, big-endian sizes and values."""
    big = array.astype(array.dtype.newbyteorder(">"))
    return struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_idx_reads_images_and_labels_plain_or_gzip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 7, 6), dtype=np.uint8)
    ints = np.array([-3, 70000, 5], np.int32)
    for name, array, code in (("images", images, 0x08), ("ints", ints, 0x0C)):
        data = idx_bytes(array, code)
        (tmp_path / name).write_bytes(gzip.compress(data) if compress else data)
        got = read_idx(str(tmp_path / name))
        assert got.dtype == array.dtype and np.array_equal(got, array)


@pytest.mark.parametrize("data, message", [
    (b"\x08\x03\x00\x00" + bytes(20), "not an IDX file"),
    (struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">I", 5), "header is truncated"),
    (struct.pack(">BBBBIII", 0, 0, 8, 3, 2, 4, 4) + bytes(31), "payload has 31 bytes, not the 32"),
])
def test_idx_refuses_bad_files_naming_them(tmp_path, data, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=message) as e:
        read_idx(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_plain_pickle_reads_cifar_like_batches_with_arrays(tmp_path, protocol):
    rng = np.random.default_rng(1)
    batch = {"batch_label": "training batch 1 of 5", "labels": [3, 1, 4], "filenames": [b"a.png", b"b.png", b"c.png"],
             "data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), "floats": np.arange(6, dtype=">f4").reshape(2, 3),
             "fortran": np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)), "pair": (1, 2.5, None, True)}
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    got = load_plain_pickle(str(path))
    assert set(got) == set(batch)
    for key, value in batch.items():
        if isinstance(value, np.ndarray):
            assert got[key].dtype == value.dtype and np.array_equal(got[key], value), key
        else:
            assert got[key] == value, key


def test_plain_pickle_reads_python2_strings_as_latin1(tmp_path):
    """CIFAR's files come from Python 2: str values (BINSTRING) hold the array bytes, decoded as latin-1."""
    raw = bytes(range(256))
    stream = (b"\x80\x02}q\x00(U\x04dataq\x01cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00"
              b"\x85q\x04U\x01b\x87q\x05Rq\x06(K\x01M\x00\x01\x85cnumpy\ndtype\nq\x07U\x02u1K\x00K\x01\x87Rq\x08(K\x03U"
              b"\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T\x00\x01\x00\x00" + raw + b"tbU\x06labelsq\t]q\n"
              b"(K\x01K\x02eu.")
    path = tmp_path / "test_batch"
    path.write_bytes(stream)
    got = load_plain_pickle(str(path))
    assert got["labels"] == [1, 2] and got["data"].dtype == np.uint8 and got["data"].tobytes() == raw


class Hostile:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("value, message", [
    ({"data": Hostile()}, "the global posix.system"),
    ({"data": np.array([None, 1], dtype=object)}, "non-numeric dtype"),
    ({"data": np.array(["ab"])}, "non-numeric dtype"),
    ({"data": pickle.loads(pickle.dumps(np.float64(2.0)))}, "the global numpy"),
])
def test_plain_pickle_refuses_anything_but_plain_data_naming_the_file(tmp_path, value, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(value, protocol=2))
    with pytest.raises(DatasetError, match=message) as e:
        load_plain_pickle(str(path))
    assert f"{path}: refused to unpickle" in str(e.value) and "\n" not in str(e.value)


def test_plain_pickle_refuses_a_class_made_as_an_array(tmp_path):
    """`_reconstruct` may only make an ndarray: a pickle naming another class for it is refused."""
    stream = pickle.dumps(np.arange(3, dtype=np.uint8), protocol=2).replace(b"cnumpy\nndarray\n", b"cnumpy\nmatrix\n")
    path = tmp_path / "batch"
    path.write_bytes(stream)
    with pytest.raises(DatasetError, match="the global numpy.matrix"):
        load_plain_pickle(str(path))


def test_plain_pickle_refuses_a_list_that_holds_itself(tmp_path):
    loop: list = []
    loop.append(loop)
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({"data": loop}, protocol=2))
    with pytest.raises(DatasetError, match="a container that holds itself"):
        load_plain_pickle(str(path))


def test_plain_pickle_names_a_file_that_is_not_a_pickle(tmp_path):
    path = tmp_path / "batches.meta"
    path.write_bytes(b"\x80\x02}q\x00(")
    with pytest.raises(DatasetError, match=f"{path}: not a readable pickle"):
        load_plain_pickle(str(path))
