"""The CONFIG words of `dali-sr bench` that build a synthetic dataset once (in $DALI_SR_CACHE, by default
~/.cache/dali_sr) and measure the reference setting on it: `synthetic` (DIV2K-like pairs) and
`synthetic-clips` (REDS-like clips)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import DaliSRError
from ..parallel import usable_cpus
from ..prep.pack import pack
from ..synthetic import cache_dir
from ..synthetic.clips import make_clip_dataset
from ..synthetic.images import make_paired_dataset
from . import DEFAULT_SYNTHETIC, DEFAULT_SYNTHETIC_CLIPS, SYNTHETIC_CLIP_FRAMES
from .baseline import PAIRED_TYPE
from .clip_baseline import CLIP_TYPE

# (N, codec) -> the dataset section over N cached synthetic samples stored in that codec
MakeSection = Callable[[int, str], dict[str, Any]]


def build_once(root: Path, what: str, make: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Run `make` (which builds a synthetic dataset in `root` once); a one-line error if it cannot write."""
    print(f"synthetic dataset: {what} in {root}", file=sys.stderr)
    try:
        return make()
    except OSError as e:
        raise DaliSRError(f"cannot build the synthetic dataset in {root}: {e.strerror or e}; "
                          f"set DALI_SR_CACHE to a writable folder") from None


def _stored_as(roots: dict[str, str], root: Path, codec: str, preset: Optional[str]) -> dict[str, str]:
    """`roots` with `gt_lmdb`/`lq_lmdb` holding the PNG folders' images in `codec` (packed once, cached)."""
    if codec == "png":
        return roots
    out = dict(roots)
    for side in ("gt", "lq"):
        db = root / f"{side}_{codec}.lmdb"
        if not (db / "meta_info.txt").is_file():
            print(f"packing {side} as {codec} into {db}", file=sys.stderr)
            pack(roots[side], str(db), codec=codec, lossy=True, preset=preset, force=True, resume=True,
                 workers=usable_cpus(), progress=False)
        out[f"{side}_lmdb"] = str(db)
    return out


def synthetic_pairs(n: int, codec: str, side: int = 480) -> dict[str, Any]:
    """The reference setting on `n` cached synthetic pairs (`side`x`side` GT, 480 by default, x4, LMDB of `codec`)."""
    root = cache_dir() / (f"bench-{n}" if side == 480 else f"bench-{n}-{side}px")
    roots = build_once(root, f"{n} pairs", lambda: _stored_as(make_paired_dataset(str(root), n=n, size=side), root,
                                                              codec, None))
    return {"type": PAIRED_TYPE, "name": f"synthetic-{n}-{codec}", "io_backend": {"type": "lmdb"},
            "dataroot_gt": roots["gt_lmdb"], "dataroot_lq": roots["lq_lmdb"], "scale": 4, "gt_size": 128,
            "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 16}


def synthetic_clips(n: int, codec: str, frames: int = SYNTHETIC_CLIP_FRAMES,
                    gt_hw: tuple[int, int] = (720, 1280)) -> dict[str, Any]:
    """An EDVR-style REDS training setting on `n` cached synthetic clips (720x1280 GT by default, x4, LMDB of
    `codec`)."""
    default = frames == SYNTHETIC_CLIP_FRAMES and gt_hw == (720, 1280)
    root = cache_dir() / (f"bench-clips-{n}" if default else f"bench-clips-{n}x{frames}-{gt_hw[0]}x{gt_hw[1]}")
    roots = build_once(root, f"{n} clips of {frames} frames",
                       lambda: _stored_as(make_clip_dataset(str(root), clips=n, frames=frames, gt_hw=gt_hw), root,
                                          codec, "reds"))
    return {"type": CLIP_TYPE, "name": f"synthetic-clips-{n}-{codec}", "io_backend": {"type": "lmdb"},
            "dataroot_gt": roots["gt_lmdb"], "dataroot_lq": roots["lq_lmdb"],
            "meta_info_file": roots["meta_info_file"], "scale": 4, "gt_size": 256, "num_frame": 5,
            "interval_list": [1], "random_reverse": False, "val_partition": "REDS4", "use_hflip": True,
            "use_rot": True, "batch_size_per_gpu": 16}


# CONFIG words that build a synthetic dataset: (its section, the default --synthetic N)
SYNTHETIC: dict[str, tuple[MakeSection, int]] = {
    "synthetic": (synthetic_pairs, DEFAULT_SYNTHETIC), "synthetic-clips": (synthetic_clips, DEFAULT_SYNTHETIC_CLIPS)}
