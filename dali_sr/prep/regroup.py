"""`dali-sr regroup-reds VAL_DIR TRAIN_DIR`: BasicSR's regroup of REDS (scripts/data_preparation/regroup_reds_dataset.py).

REDS has 240 training clips (000-239) and 30 validation clips (000-029). BasicSR trains on
one folder of 270 clips and holds out clips by name (`val_partition: official` = 240-269),
so validation clip NNN becomes training clip NNN + 240. Clips are moved (default) or copied
(`copy=True`); a copy goes to a hidden temporary folder first and is renamed when complete.
Nothing is moved or copied when any target clip already exists or a source name is not a
REDS validation clip.
"""
from __future__ import annotations

import argparse
import os
import shutil

from ..errors import DatasetError
from ..progress import tracked

VAL_CLIPS = 30
OFFSET = 240


def _plan(val_dir: str, train_dir: str) -> list[tuple[str, str]]:
    for name, folder in (("VAL_DIR", val_dir), ("TRAIN_DIR", train_dir)):
        if not os.path.isdir(folder):
            raise DatasetError(f"{name} {folder} is not a folder; give the REDS {name[:-4].lower()} folder "
                               f"(e.g. datasets/REDS/{'val' if name == 'VAL_DIR' else 'train'}_sharp)")
    if os.path.realpath(val_dir) == os.path.realpath(train_dir):
        raise DatasetError(f"VAL_DIR and TRAIN_DIR are the same folder ({val_dir}); give the validation and the "
                           f"training folder")
    clips = sorted(e.name for e in os.scandir(val_dir) if e.is_dir() and not e.name.startswith("."))
    if not clips:
        raise DatasetError(f"VAL_DIR {val_dir} holds no clip folders; give the REDS validation folder "
                           f"(val_sharp, val_sharp_bicubic/X4, ...) that holds 000 ... 029")
    bad = [c for c in clips if not (c.isdigit() and int(c) < VAL_CLIPS)]
    if bad:
        raise DatasetError(f"{os.path.join(val_dir, bad[0])} is not a REDS validation clip (000-0{VAL_CLIPS - 1}); "
                           f"move it out of VAL_DIR or check that VAL_DIR is a REDS validation folder")
    pairs, targets = [], {}
    for clip in clips:
        target = f"{int(clip) + OFFSET:03d}"
        if target in targets:
            raise DatasetError(f"{os.path.join(val_dir, targets[target])} and {os.path.join(val_dir, clip)} both "
                               f"map to clip {target}; keep one of them")
        targets[target] = clip
        pairs.append((os.path.join(val_dir, clip), os.path.join(train_dir, target)))
    existing = [dst for _, dst in pairs if os.path.lexists(dst)]
    if existing:
        shown = ", ".join(os.path.basename(d) for d in existing[:5]) + \
            (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise DatasetError(f"TRAIN_DIR {train_dir} already holds clip(s) {shown}; the regroup was done already, or "
                           f"remove those folders first (nothing was moved)")
    return pairs


def regroup_reds(val_dir: str, train_dir: str, copy: bool = False, progress: bool = True) -> list[tuple[str, str]]:
    """Move (or copy) REDS validation clips 000-029 of `val_dir` into `train_dir` as 240-269; returns (src, dst) pairs."""
    pairs = _plan(val_dir, train_dir)
    done: list[str] = []
    for src, dst in tracked(pairs, len(pairs), "regroup-reds", "clip", progress):
        try:
            if copy:
                tmp = os.path.join(train_dir, f".{os.path.basename(dst)}.partial")
                if os.path.lexists(tmp):
                    shutil.rmtree(tmp)
                shutil.copytree(src, tmp)
                os.rename(tmp, dst)
            else:
                shutil.move(src, dst)
        except OSError as e:
            if copy:
                fix = (f"remove the {len(done)} clip(s) copied so far ({', '.join(done)}) from TRAIN_DIR and run again"
                       if done else "then run again")
            else:
                fix = "then run again (clips moved so far have left VAL_DIR and are not moved twice)"
            raise DatasetError(f"cannot {'copy' if copy else 'move'} {src} to {dst} ({e.strerror or e}); "
                               f"check free space and permissions, {fix}") from None
        done.append(os.path.basename(dst))
    return pairs


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `regroup-reds` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "regroup-reds", help="move REDS validation clips 000-029 into the training folder as 240-269",
        description="BasicSR's REDS regroup: the 30 validation clips 000-029 in VAL_DIR become clips 240-269 in "
                    "TRAIN_DIR, next to training clips 000-239 (REDSDataset val_partition 'official' holds them "
                    "out again). Run it once per pair of folders (train_sharp / val_sharp, and "
                    "train_sharp_bicubic/X4 / val_sharp_bicubic/X4). Refuses if a target clip exists.")
    p.add_argument("val_dir", metavar="VAL_DIR", help="REDS validation folder holding clips 000 ... 029")
    p.add_argument("train_dir", metavar="TRAIN_DIR", help="REDS training folder (clips 000 ... 239)")
    p.add_argument("--copy", action="store_true", help="copy the clips instead of moving them (BasicSR copies)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    pairs = regroup_reds(args.val_dir, args.train_dir, copy=args.copy, progress=not args.quiet)
    first, last = os.path.basename(pairs[0][1]), os.path.basename(pairs[-1][1])
    print(f"{'copied' if args.copy else 'moved'} {len(pairs)} clips from {args.val_dir} to {args.train_dir} "
          f"as {first}-{last}")
    return 0
