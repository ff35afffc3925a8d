"""Reading pickles that hold plain data only: dicts, lists, tuples, sets, strings, bytes, numbers and NumPy arrays
of numbers (as CIFAR's python batches store them).

No class or function named by a pickle is ever imported or called. The names NumPy's array pickles use
(`_reconstruct`, `ndarray`, `dtype`, `_frombuffer`, and `_codecs.encode` for bytes in protocol 2) resolve to
stand-ins here that rebuild an array from its shape, a numeric dtype and its raw bytes; protocols before 4 name
`builtins.set` / `frozenset` (`__builtin__` before 3) for a set, rebuilt here from its plain items. Any other
name, a non-numeric dtype or a malformed array state is refused in one line naming the file.
"""
from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from ..errors import DatasetError

_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
_BYTE_ORDERS = "<>|="


class _Refused(Exception):
    """What in the pickle is not plain data."""


class _ArrayClass:
    """Stands for `numpy.ndarray`, which a pickle names only as the class `_reconstruct` makes."""


class _Dtype:
    """A numeric dtype as a pickle spells it (`numpy.dtype('u1', False, True)` then its state)."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = False):
        if not isinstance(spec, str):
            raise _Refused(f"a dtype spelled {spec!r}")
        try:
            self.dtype = np.dtype(spec)
        except TypeError:
            raise _Refused(f"the dtype {spec!r}") from None
        if self.dtype.kind not in _NUMERIC_KINDS:
            raise _Refused(f"the non-numeric dtype {spec!r}")

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) >= 5 and state[1] in _BYTE_ORDERS
                and state[2:5] == (None, None, None)):
            raise _Refused(f"a dtype state {state!r:.80}")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


class _Array:
    """An array being rebuilt: `_reconstruct` makes it, its state (shape, dtype, raw bytes) fills it."""

    array: Any = None

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _Dtype)):
            raise _Refused(f"an array state {state!r:.80}")
        _, shape, dtype, fortran, raw = state
        self.array = _from_bytes(raw, dtype, shape, "F" if fortran else "C")


def _from_bytes(raw: Any, dtype: _Dtype, shape: Any, order: str) -> np.ndarray:
    """A writable array of `shape` from its raw bytes (a latin-1 str in Python 2 pickles)."""
    if isinstance(raw, str):
        raw = raw.encode("latin1")
    if not (isinstance(raw, (bytes, bytearray)) and isinstance(dtype, _Dtype) and isinstance(shape, tuple)
            and all(isinstance(n, int) and n >= 0 for n in shape) and order in ("C", "F")):
        raise _Refused("an array with a malformed shape, dtype or payload")
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * dtype.dtype.itemsize:
        raise _Refused(f"an array of shape {shape} with {len(raw)} bytes")
    return np.frombuffer(raw, dtype.dtype).reshape(shape, order=order).copy()


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _Array:
    if cls is not _ArrayClass:
        raise _Refused(f"an array of class {cls!r:.60}")
    return _Array()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    return _from_bytes(bytes(buf) if isinstance(buf, bytearray) else buf, dtype, shape, order)


def _encode(text: Any, encoding: Any = "latin1") -> bytes:
    if not (isinstance(text, str) and encoding == "latin1"):
        raise _Refused("a bytes value not spelled as protocol 2 writes bytes")
    return text.encode("latin1")


def _set(items: Any = (), kind: type = set) -> Any:
    """A set as protocols 0-3 spell it (`set([...])`): of plain hashable items only."""
    if not isinstance(items, (list, tuple)):
        raise _Refused(f"a set made from {type(items).__name__}")
    if not all(isinstance(v, (str, bytes, int, float)) for v in items):
        raise _Refused("a set of items that are not plain values")
    return kind(items)


_NAMES = {
    **{(module, "_reconstruct"): _reconstruct for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): _ArrayClass,
    ("numpy", "dtype"): _Dtype,
    ("_codecs", "encode"): _encode,
    **{(module, "set"): _set for module in ("builtins", "__builtin__")},  # protocols 0-2 name `__builtin__`
    **{(module, "frozenset"): lambda items=(): _set(items, frozenset) for module in ("builtins", "__builtin__")},
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _NAMES[(module, name)]
        except KeyError:
            raise _Refused(f"the global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


def _resolved(value: Any) -> Any:
    """`value` with every rebuilt array in place of its stand-in."""
    if isinstance(value, _Array):
        if value.array is None:
            raise _Refused("an array without its data")
        return value.array
    if isinstance(value, _Dtype):
        return value.dtype
    if isinstance(value, dict):
        return {_resolved(k): _resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolved(v) for v in value)
    return value


def load_plain_pickle(path: str, encoding: str = "latin1") -> Any:
    """The plain data pickled in the file `path` (Python 2 strings decoded with `encoding`, as torchvision reads
    CIFAR); `DatasetError` naming the file for anything else or for a file that is not a readable pickle."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror}); check the file") from None
    try:
        return _resolved(_PlainUnpickler(io.BytesIO(data), encoding=encoding).load())
    except RecursionError:
        raise DatasetError(f"{path}: refused to unpickle: the file holds a container that holds itself, not plain "
                           f"data; replace it with the dataset's original file") from None
    except _Refused as e:
        raise DatasetError(f"{path}: refused to unpickle: the file holds {e}, not plain data; replace it with the "
                           f"dataset's original file") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError,
            UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: not a readable pickle ({type(e).__name__}: {e}); replace it with the dataset's "
                           f"original file") from None
