"""`dali-sr demo`: a built-in paired dataset -> dali_sr loader -> a tiny SR network's training steps.

OpenCV, PyTorch and DALI are imported by the functions that run the command, not with the module, so
`dali-sr --help` stays fast.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lmdb
import numpy as np

from .cli_types import positive_int
from .device import resolve_device
from .errors import DaliSRError, DatasetError
from .progress import progress
from .storage.backends import short_data_file
from .synthetic import cache_dir

if TYPE_CHECKING:
    import torch

# What a demo folder holds (`make_paired_dataset`, with its completion marker, and the preview); any other entry
# means it is not one.
DEMO_ENTRIES = frozenset({"gt", "lq", "gt.lmdb", "lq.lmdb", "preview.png"})


def check_cache_folder(root: Path) -> None:
    """A `DaliSRError` unless `root` is missing (and can be made), empty, or a demo folder (the dataset is
    written there)."""
    from .synthetic.images import COMPLETE_MARKER

    if root.exists() and not root.is_dir():
        raise DaliSRError(f"--cache {root} is a file; give a folder for the demo dataset")
    above = next((p for p in root.absolute().parents if p.exists()), None)
    if not root.exists() and above is not None and not above.is_dir():
        raise DaliSRError(f"--cache {root}: {above} is a file, so no folder can be made under it; give a folder path")
    try:
        strangers = (sorted(p.name for p in root.iterdir() if p.name not in DEMO_ENTRIES | {COMPLETE_MARKER})
                     if root.is_dir() else [])
    except OSError as e:
        raise DaliSRError(f"--cache {root} cannot be read: {e.strerror}; give a folder you can read and write") \
            from None
    if strangers:
        raise DaliSRError(f"--cache {root} holds other files ({strangers[0]}{', ...' if len(strangers) > 1 else ''}); "
                          f"the demo writes its dataset there, so give an empty or new folder")


def check_preview_path(path: Path) -> None:
    """A `DaliSRError` if the preview PNG cannot be written at `path` (a folder, or in a folder that is missing)."""
    if path.is_dir():
        raise DaliSRError(f"--preview {path} is a folder; give a file name such as {path / 'preview.png'}")
    if not path.parent.is_dir():
        raise DaliSRError(f"--preview {path}: the folder {path.parent} does not exist; create it or choose another path")


def _damaged(root: Path, problem: str) -> DaliSRError:
    return DaliSRError(f"the demo dataset in {root} is damaged ({problem}); delete the folder {root} and run the "
                       f"demo again to rebuild it")


def _short_lmdb(db: Path) -> str:
    """Why the LMDB folder `db` cannot be read whole: a missing `data.mdb`, or one shorter than the pages its
    header says it holds (reading those would crash the process); "" if neither."""
    data = db / "data.mdb"
    if not data.is_file():
        return f"{data} is missing"
    try:
        env = lmdb.open(str(db), readonly=True, lock=False)
    except lmdb.Error as e:
        return f"{data} cannot be opened: {e}"
    try:
        return short_data_file(env, str(db)) or ""
    finally:
        env.close()


def demo_dataset(root: Path, pairs: int) -> dict[str, str]:
    """The demo's dataroots in `root`, made there unless already whole; a `DaliSRError` naming the folder if it
    cannot be written, or if the dataset already there is damaged."""
    from .synthetic.images import COMPLETE_MARKER, make_paired_dataset

    existed = (root / COMPLETE_MARKER).is_file()
    try:
        roots = make_paired_dataset(str(root), n=pairs)
    except OSError as e:
        if existed:
            raise _damaged(root, f"{e.filename}: {e.strerror}") from None
        raise DaliSRError(f"cannot write the demo dataset in {root}: {e.strerror} ({e.filename}); give a writable "
                          f"folder with --cache or $DALI_SR_CACHE") from None
    for side in ("gt_lmdb", "lq_lmdb"):
        problem = _short_lmdb(Path(roots[side]))
        if problem:
            raise _damaged(root, problem)
    return roots


def demo_config(roots: dict[str, str], device: str, batch: int) -> dict[str, Any]:
    """The demo's dataset section, as a BasicSR user would write it (DIV2K-style x4 LMDB)."""
    return {"name": "demo_x4", "type": "PairedImageDataset", "phase": "train", "scale": 4,
            "dataroot_gt": roots["gt_lmdb"], "dataroot_lq": roots["lq_lmdb"], "io_backend": {"type": "lmdb"},
            "gt_size": 128, "use_hflip": True, "use_rot": True, "batch_size_per_gpu": batch,
            "dataset_enlarge_ratio": 10, "device": device, "seed": 0}


def _preview(path: Path, lq: torch.Tensor, sr: torch.Tensor, gt: torch.Tensor, count: int = 4) -> None:
    """Rows of [LQ (nearest-upsampled) | network output | GT] as one PNG."""
    import cv2
    import torch

    scale = gt.shape[-1] // lq.shape[-1]
    rows = []
    for i in range(min(count, lq.shape[0])):
        tiles = [lq[i].repeat_interleave(scale, 1).repeat_interleave(scale, 2), sr[i].clamp(0, 1), gt[i]]
        rows.append(torch.cat([t.detach().float().cpu() for t in tiles], dim=2))
    grid = (torch.cat(rows, dim=1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    if not cv2.imwrite(str(path), grid[:, :, ::-1]):
        raise DaliSRError(f"could not write the preview {path}; check the folder is writable and the name ends in .png")


def run(args: argparse.Namespace) -> int:
    resolve_device(args.device)  # a missing GPU is reported before any work
    root = Path(args.cache) if args.cache else cache_dir() / "demo"
    preview = Path(args.preview) if args.preview else root / "preview.png"
    check_cache_folder(root)
    if args.preview:
        check_preview_path(preview)
    print(f"[1/3] built-in dataset: {root} ({args.pairs} pairs of 480x480 PNG GT, x4, as BasicSR LMDBs)")
    roots = demo_dataset(root, args.pairs)
    cfg = demo_config(roots, args.device, args.batch)
    try:
        return _train(args, cfg, preview)
    except DatasetError as e:  # its own advice is about a user's dataset, not about the demo's
        raise _damaged(root, str(e).split("; ")[0]) from None


def _train(args: argparse.Namespace, cfg: dict[str, Any], preview: Path) -> int:
    """The demo's loader over `cfg` feeding `args.steps` training steps; a summary and the preview at the end."""
    import torch
    from torch import nn

    from .loader import build_loader
    from .models import TinySR

    with build_loader(cfg) as loader:
        where = f"cuda:{loader.cfg.device_id}" if loader.on_gpu else "cpu"
        print(f"[2/3] {cfg['type']} pipeline on {where}: {len(loader)} batches/epoch of {args.batch}, "
              f"GT {cfg['gt_size']}, hflip+rot, {loader.cfg.num_threads} DALI threads")
        model = TinySR().to(where)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        steps, data_time, step_time, losses = 0, 0.0, 0.0, []
        bar = progress(args.steps, "[3/3] training", "step")
        t_data = time.perf_counter()
        while steps < args.steps:
            for batch in loader:
                t_step = time.perf_counter()
                data_time += t_step - t_data
                sr = model(batch["lq"])
                loss = nn.functional.l1_loss(sr, batch["gt"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                steps += 1
                bar.update(1)
                t_data = time.perf_counter()
                step_time += t_data - t_step
                if steps >= args.steps:
                    break
        bar.close()
        with torch.no_grad():
            _preview(preview, batch["lq"], model(batch["lq"]), batch["gt"])
    total = data_time + step_time
    pairs = steps * args.batch
    print(f"samples/s: {pairs / total:.1f} ({pairs} pairs in {total:.1f} s)")
    print(f"data time {data_time:.1f} s ({100 * data_time / total:.1f} %), step time {step_time:.1f} s "
          f"({100 * step_time / total:.1f} %)")
    print(f"L1 loss {np.mean(losses[:10]):.4f} (first 10 steps) -> {np.mean(losses[-10:]):.4f} (last 10)")
    print(f"preview (LQ | output | GT): {preview}")
    print(f"OK: {steps} batches of lq {tuple(batch['lq'].shape)} / gt {tuple(batch['gt'].shape)} flowed into "
          f"{steps} training steps")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train a tiny SR network on a built-in dataset through dali_sr",
                       description="Builds a small paired dataset on first use (in $DALI_SR_CACHE/demo, by "
                                   "default ~/.cache/dali_sr/demo), runs the PairedImageDataset pipeline on the GPU if "
                                   "there is one (else CPU) and trains a tiny x4 network on its batches.")
    p.add_argument("--steps", type=positive_int, default=300, help="training steps (default 300)")
    p.add_argument("--batch", type=positive_int, default=16, help="batch size (default 16)")
    p.add_argument("--pairs", type=positive_int, default=64, help="pairs in the built-in dataset (default 64)")
    p.add_argument("--device", default="auto", choices=("auto", "gpu", "cpu"))
    p.add_argument("--cache", default=None, help="dataset folder (default $DALI_SR_CACHE/demo)")
    p.add_argument("--preview", default=None, help="preview PNG path (default <dataset folder>/preview.png)")
    p.set_defaults(func=run)
