"""Kill trials: every dataset-writing command and a training loop, killed (SIGKILL) at random moments, then resumed.

    python -m benchmarks.kill_trials --trials 10 --json benchmarks/results/cpu-2core-kill-trials-DATE.json

For each writing command (pack to an LMDB, TFRecord and WebDataset shards; extract-subimages; downscale to
a folder and an LMDB; extract-tfrecords to PNG folders and LMDBs) on a small synthetic dataset:
one uninterrupted run gives the reference and its duration T; each trial starts the command again, kills
it after a uniform random delay in [0, T), checks that DST does not exist (nothing that loads as a
dataset is left), resumes it with `--resume` (killed again at random, up to three times, then let
finish) and compares the output with the reference: every file byte for byte, LMDBs key by key and value
by value.

The training loop (GT-only x4 with a noise step, whose DALI random streams a resume must continue) logs a
digest of every batch and saves `state_dict` after each batch; it is killed at random and restarted from
its last saved state until it has run 3 epochs; every batch's digest must equal the uninterrupted run's.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import cv2
import lmdb
import numpy as np

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Command:
    """One writing command: `argv(src, trial folder)` (after `python -m dali_sr`), the source it needs, and the
    datasets it makes (paths relative to the trial folder)."""

    name: str
    source: str  # "folder" (PNG images) or "tfrecords" (FFHQ-style records)
    argv: Callable[[Path, Path], list[str]]
    datasets: tuple[str, ...] = ("out",)


COMMANDS = [
    Command("pack lmdb", "folder", lambda s, d: ["pack", str(s), str(d / "out.lmdb"), "--workers", "2"], ("out.lmdb",)),
    Command("pack tfrecord", "folder",
            lambda s, d: ["pack", str(s), str(d / "out"), "--format", "tfrecord", "--shards", "6", "--workers", "2"]),
    Command("pack wds", "folder",
            lambda s, d: ["pack", str(s), str(d / "out"), "--format", "wds", "--shards", "6", "--workers", "2"]),
    Command("extract-subimages", "folder",
            lambda s, d: ["extract-subimages", str(s), str(d / "out"), "--crop", "160", "--step", "80", "--workers",
                          "2"]),
    Command("downscale folder", "folder",
            lambda s, d: ["downscale", str(s), str(d / "out"), "--scale", "4", "--workers", "2"]),
    Command("downscale lmdb", "folder",
            lambda s, d: ["downscale", str(s), str(d / "out.lmdb"), "--scale", "4", "--workers", "2"], ("out.lmdb",)),
    Command("extract-tfrecords folder", "tfrecords",
            lambda s, d: ["extract-tfrecords", str(s), str(d / "out"), "--workers", "2"],
            ("out/ffhq_64", "out/ffhq_128")),
    Command("extract-tfrecords lmdb", "tfrecords",
            lambda s, d: ["extract-tfrecords", str(s), str(d / "out"), "--lmdb", "--workers", "2"],
            ("out/ffhq_64.lmdb", "out/ffhq_128.lmdb")),
]


def make_sources(root: Path, images: int, side: int) -> dict[str, Path]:
    """A folder of smooth random PNGs and a folder of two FFHQ-style TFRecord files."""
    from dali_sr.storage.tfrecord import RecordWriter, encode_example

    rng = np.random.default_rng(0)
    folder, records = root / "images", root / "tfrecords"
    folder.mkdir()
    records.mkdir()
    for k in range(images):
        img = cv2.GaussianBlur(rng.integers(0, 256, (side, side + 8 * (k % 3), 3), dtype=np.uint8), (0, 0), 1.5)
        cv2.imwrite(str(folder / f"{k:04d}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    for stem, count, res in (("ffhq-r07", images, 128), ("ffhq-r06", images // 2, 64)):
        with open(records / f"{stem}.tfrecords", "wb") as f:
            writer = RecordWriter(f)
            for _ in range(count):
                chw = rng.integers(0, 256, (3, res, res), dtype=np.uint8)
                writer.write(encode_example({"shape": list(chw.shape), "data": chw.tobytes()}))
    return {"folder": folder, "tfrecords": records}


def snapshot(dataset: Path) -> Optional[dict[str, bytes]]:
    """A dataset's content, None if it does not exist: an LMDB's keys and values and its meta_info.txt, or every
    file of a folder, byte for byte."""
    if not dataset.exists():
        return None
    if (dataset / "data.mdb").is_file():
        env = lmdb.open(str(dataset), readonly=True, lock=False)
        with env.begin() as txn:
            out = {key.decode(): bytes(value) for key, value in txn.cursor()}
        env.close()
        return {**out, "meta_info.txt": (dataset / "meta_info.txt").read_bytes()}
    return {p.relative_to(dataset).as_posix(): p.read_bytes() for p in sorted(dataset.rglob("*")) if p.is_file()}


def datasets(cmd: Command, trial: Path) -> dict[str, Optional[dict[str, bytes]]]:
    return {name: snapshot(trial / name) for name in cmd.datasets}


def run_killed(argv: list[str], kill_after: Optional[float], what: str) -> int:
    """Run `argv`; SIGKILL it after `kill_after` seconds (never if None). The exit status: 0, or -9 if killed; a
    `RuntimeError` naming `what` if it failed."""
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        return -9
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {err.strip()[-800:]}")
    return 0


def _dali_sr(argv: list[str], kill_after: Optional[float]) -> int:
    """`python -m dali_sr ARGV --quiet`, killed after `kill_after` seconds: `run_killed`."""
    return run_killed([sys.executable, "-m", "dali_sr", *argv, "--quiet"], kill_after, f"dali-sr {' '.join(argv)}")


def command_trials(cmd: Command, sources: dict[str, Path], work: Path, trials: int, rng: random.Random) -> dict:
    """Reference run, then `trials` kill-and-resume trials of `cmd`; the figures of one command."""
    src = sources[cmd.source]
    ref_dir = work / "reference"
    ref_dir.mkdir()
    t0 = time.perf_counter()
    _dali_sr(cmd.argv(src, ref_dir), None)
    duration = time.perf_counter() - t0
    reference = datasets(cmd, ref_dir)
    t0 = time.perf_counter()
    _dali_sr([cmd.argv(src, ref_dir)[0], "--help"], None)
    startup = time.perf_counter() - t0  # kills land after start-up, while the command works
    landed = incomplete = identical = kills = 0
    for trial in range(trials):
        dst = work / f"trial{trial}"
        dst.mkdir()
        status = _dali_sr(cmd.argv(src, dst), rng.uniform(startup, duration))
        landed += status == -9
        resumes = 0
        while True:  # resumed, killed again at random up to three times, then run to its end
            kills += status == -9
            left = datasets(cmd, dst)  # after a kill: each dataset absent or complete, never a part of one
            incomplete += any(v is not None and v != reference[k] for k, v in left.items())
            if status == 0 or (not _partial_left(dst) and None not in left.values()):
                break
            resumes += 1  # a kill before anything was written leaves nothing to resume: run again
            again = cmd.argv(src, dst) + (["--resume"] if _partial_left(dst) else [])
            status = _dali_sr(again, rng.uniform(startup, duration) if resumes <= 3 else None)
        identical += datasets(cmd, dst) == reference
        shutil.rmtree(dst)
    shutil.rmtree(ref_dir)
    return {"command": "dali-sr " + " ".join(cmd.argv(Path("SRC"), Path("."))), "reference_seconds":
            round(duration, 2), "startup_seconds": round(startup, 2), "trials": trials, "first_kill_landed": landed, "kills": kills,
            "part_of_a_dataset_left_by_a_kill": incomplete, "identical_to_reference": identical}


def _partial_left(dst: Path) -> bool:
    return any(p.name.endswith(".partial") for p in dst.rglob("*"))


_LOOP = textwrap.dedent("""
    import hashlib, os, sys, torch, dali_sr
    cfg, state_file, log_file, epochs = {cfg!r}, {state!r}, {log!r}, {epochs}
    loader = dali_sr.build_loader(cfg)
    start = 0
    if os.path.exists(state_file):
        state = torch.load(state_file, weights_only=False)
        loader.load_state_dict(state)
        start = state["epoch"]
    with open(log_file, "a") as log:
        for epoch in range(start, epochs):
            loader.set_epoch(epoch)
            for batch in loader:
                b = loader.state_dict()["batch"] - 1
                digest = hashlib.sha256(batch["lq"].numpy().tobytes() + batch["gt"].numpy().tobytes()).hexdigest()
                log.write(f"{{epoch}} {{b}} {{digest}}\\n")
                log.flush()
                torch.save(loader.state_dict(), state_file + ".tmp")
                os.replace(state_file + ".tmp", state_file)
""")


def _loop(cfg: dict, folder: Path, epochs: int, kill_after: Optional[float]) -> int:
    script = _LOOP.format(cfg=cfg, state=str(folder / "state.pt"), log=str(folder / "log.txt"), epochs=epochs)
    return run_killed([sys.executable, "-c", script], kill_after, "the training loop")


def _digests(log: Path) -> dict[tuple[int, int], set[str]]:
    out: dict[tuple[int, int], set[str]] = {}
    for line in log.read_text().splitlines():
        epoch, batch, digest = line.split()
        out.setdefault((int(epoch), int(batch)), set()).add(digest)
    return out


def loop_trials(gt_folder: Path, work: Path, trials: int, rng: random.Random, epochs: int = 3) -> dict:
    """The training loop killed at random and restarted from its last state, against an uninterrupted run."""
    cfg = {"type": "PairedImageDataset", "scale": 4, "dataroot_gt": str(gt_folder), "gt_size": 64,
           "degradation": [{"type": "blur", "prob": 0.5}, {"type": "noise", "noise_range": [5, 20]},
                           {"type": "resize", "to": "lq", "modes": ["bilinear", "area"]}],
           "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 4, "device": "cpu", "num_threads": 2,
           "seed": 3}
    ref = work / "loop-reference"
    ref.mkdir()
    t0 = time.perf_counter()
    _loop(cfg, ref, epochs, None)
    duration = time.perf_counter() - t0
    reference = {k: v.pop() for k, v in _digests(ref / "log.txt").items()}
    empty = work / "loop-startup"
    empty.mkdir()
    t0 = time.perf_counter()
    _loop(cfg, empty, 0, None)  # builds the loader, runs no epoch
    startup = time.perf_counter() - t0
    kills = identical = restarts = 0
    for trial in range(trials):
        folder = work / f"loop{trial}"
        folder.mkdir()
        for attempt in range(4):
            status = _loop(cfg, folder, epochs, rng.uniform(startup, duration) if attempt < 3 else None)
            kills += status == -9
            restarts += 1
            if status == 0:
                break
        got = _digests(folder / "log.txt")
        identical += got.keys() == reference.keys() and all(v == {reference[k]} for k, v in got.items())
        shutil.rmtree(folder)
    return {"loop": "GT-only x4, blur + noise + resize steps, batch 4, 3 epochs; state_dict saved after every batch",
            "reference_seconds": round(duration, 2), "startup_seconds": round(startup, 2), "batches": len(reference), "trials": trials, "kills": kills,
            "runs": restarts, "every_batch_identical": identical}


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.kill_trials", description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=10, help="kill trials per command (default 10)")
    p.add_argument("--images", type=int, default=48, help="source images (default 48)")
    p.add_argument("--side", type=int, default=480, help="their side in pixels (default 480)")
    p.add_argument("--only", default=None, help="comma-separated command names (default: all), or 'loop'")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the figures to OUT")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    from dali_sr.bench.report import environment

    rng = random.Random(args.seed)
    chosen = set(args.only.split(",")) if args.only else None
    report = {**environment(), "command": "python -m benchmarks.kill_trials " + " ".join(argv or sys.argv[1:]),
              "commands": [], "loop": None}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = make_sources(root, args.images, args.side)
        for cmd in COMMANDS:
            if chosen is not None and cmd.name not in chosen:
                continue
            work = root / cmd.name.replace(" ", "-")
            work.mkdir()
            row = command_trials(cmd, sources, work, args.trials, rng)
            report["commands"].append(row)
            print(json.dumps(row), flush=True)
        if chosen is None or "loop" in chosen:
            work = root / "loop"
            work.mkdir()
            report["loop"] = loop_trials(sources["folder"], work, args.trials, rng)
            print(json.dumps(report["loop"]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
