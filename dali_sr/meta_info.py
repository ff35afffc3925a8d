"""BasicSR meta files: `meta_info.txt` of LMDBs, disk `meta_info_file`s, old EDVR `meta_info.pkl`."""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import DatasetError
from .image_codecs import codec_of_tag
from .stored_arrays import ArraySide

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".jp2", ".ppm", ".pgm", ".PNG", ".JPG", ".JPEG")


@dataclass(frozen=True)
class LmdbMeta:
    """Keys of an LMDB, the codecs its meta_info.txt names (None for a line without a codec column),
    and for old EDVR LMDBs the (h, w, c) shape of every raw BGR value."""

    keys: list[str]
    raw_shape: Optional[tuple[int, int, int]] = None
    codecs: frozenset = frozenset()

    @property
    def arrays(self) -> Optional[ArraySide]:
        """How to read the values when they are pixels (EDVR arrays, or all `raw`); None for encoded images."""
        if self.raw_shape is not None:
            return ArraySide(self.raw_shape)
        return ArraySide() if self.codecs == {"raw"} else None


def strip_image_extension(name: str) -> str:
    for ext in IMAGE_EXTENSIONS:
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def _lines(path: Path, encoding: str = "utf-8") -> list[str]:
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not {encoding} text; LMDB keys must be ASCII (BasicSR's rule)") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Loads only plain containers and scalars: any class or function reference is refused."""

    def find_class(self, module: str, name: str):  # noqa: D102 - pickle hook
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _edvr_meta(root: Path) -> LmdbMeta:
    path = root / "meta_info.pkl"
    try:
        meta = _NoGlobalsUnpickler(io.BytesIO(path.read_bytes())).load()
    except Exception as e:  # noqa: BLE001 - any failure to load is a corrupt meta file
        raise DatasetError(f"{path}: not a plain EDVR meta_info.pkl ({e}); re-create the LMDB with BasicSR") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("keys"), list) or "resolution" not in meta:
        raise DatasetError(f"{path}: expected a dict with 'keys' and 'resolution' (EDVR format); re-create the LMDB")
    try:
        c, h, w = (int(x) for x in str(meta["resolution"]).split("_"))
    except ValueError:
        raise DatasetError(f"{path}: resolution {meta['resolution']!r} is not 'C_H_W'; re-create the LMDB") from None
    return LmdbMeta([str(k) for k in meta["keys"]], (h, w, c))


def read_lmdb_meta(root: str) -> LmdbMeta:
    """Keys of a BasicSR LMDB from `meta_info.txt` (or an old EDVR `meta_info.pkl`)."""
    folder = Path(root)
    txt = folder / "meta_info.txt"
    if txt.is_file():
        rows = [line.split() for line in _lines(txt, "ascii")]
        codecs = frozenset(codec_of_tag(r[-1]) if len(r) > 2 else None for r in rows)
        return LmdbMeta([strip_image_extension(r[0]) for r in rows], codecs=codecs)
    if (folder / "meta_info.pkl").is_file():
        return _edvr_meta(folder)
    raise DatasetError(f"LMDB {root} has no meta_info.txt (BasicSR's key list; missing too while the LMDB is still "
                       f"being written); finish or re-create it with BasicSR's make_lmdb_from_imgs")


def read_meta_info_file(path: str) -> list[list[str]]:
    """Entries of a disk `meta_info_file` in file order: `[gt_name]` per line, or `[gt, lq]` for `gt, lq` lines."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"meta_info_file {path} does not exist; fix the path or remove the key to scan the folder")
    rows = []
    for line in _lines(p):
        parts = line.split()
        if not parts[0].endswith(","):  # `name` or `name (h, w, c)`: a GT name (BasicSR)
            rows.append(parts[:1])
        elif len(parts) > 1:  # `gt, lq` (Real-ESRGAN)
            rows.append([parts[0][:-1], parts[1]])
        else:
            raise DatasetError(f"{path}: line {line!r} names a GT but no LQ after the comma; write 'gt, lq' or 'gt'")
    return rows
