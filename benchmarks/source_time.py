"""`python -m benchmarks.source_time`: the external source's own cost per batch, on the thread that runs it.

The source is the Python part of a loader: it reads the stored values of a batch (LMDB or files),
parses their headers, draws the crop windows and, for raw storage, cuts the windows out of the
stored pixels. DALI does everything else on its own threads. This command times the source alone
(no DALI graph), batch after batch of epoch 0, and reports per batch size and storage codec the
median wall time and CPU time per batch and the samples of source work one core does per second.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Callable, Optional, Sequence

from dali_sr import build_loader
from dali_sr.bench.report import environment, write_json
from dali_sr.bench.synthetic_configs import synthetic_pairs
from dali_sr.cli_types import choice_list, positive_int, positive_int_list
from dali_sr.storage.formats import CODECS

from .command import run_command

PROG = "python -m benchmarks.source_time"


def _batch_reader(loader: Any) -> Callable[[int], Any]:
    """A function that produces batch `b` of epoch 0 the way the loader's pipeline asks for it."""
    source = loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling, (0, 0))
    return lambda b: source.read_batch(0, b)


def time_source(cfg_dict: dict, batches: int) -> dict[str, Any]:
    """Median wall / CPU seconds per batch of the source of `cfg_dict` over its first `batches` batches."""
    with build_loader(cfg_dict) as loader:
        read = _batch_reader(loader)
        count = min(batches, len(loader))
        read(0)  # the first batch opens the LMDB environments: not part of the steady state
        wall, cpu = [], []
        for b in range(1, count):
            w0, c0 = time.perf_counter(), time.thread_time()
            read(b)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
        size = loader.cfg.batch_size
    wall_s, cpu_s = statistics.median(wall), statistics.median(cpu)
    return {"batch_size": size, "batches_timed": len(wall), "wall_ms_per_batch": round(1000 * wall_s, 3),
            "cpu_ms_per_batch": round(1000 * cpu_s, 3), "us_per_sample": round(1e6 * cpu_s / size, 1),
            "samples_per_s_per_core": round(size / cpu_s, 0)}


def run(args: argparse.Namespace) -> int:
    """Time the source per codec and batch size; print the table (and write the JSON)."""
    results = []
    for codec in args.codecs:
        for size in args.batch_sizes:
            cfg = dict(synthetic_pairs(args.synthetic, codec), batch_size_per_gpu=size, device="cpu",
                       dataset_enlarge_ratio=8)  # enough batches of 64 in epoch 0
            results.append({"codec": codec, **time_source(cfg, args.batches)})
    print(f"{PROG}: {args.synthetic} synthetic pairs (480x480 GT, x4, gt_size 128, hflip+rot), "
          f"LMDB; median over {args.batches - 1} batches of epoch 0 (enlarge ratio 8)")
    print(f"{'codec':<6} {'batch':>5} {'wall ms/batch':>14} {'CPU ms/batch':>13} {'us/sample':>10} "
          f"{'samples/s/core':>15}")
    for r in results:
        print(f"{r['codec']:<6} {r['batch_size']:>5} {r['wall_ms_per_batch']:>14.2f} {r['cpu_ms_per_batch']:>13.2f} "
              f"{r['us_per_sample']:>10.1f} {r['samples_per_s_per_core']:>15.0f}")
    write_json(args.json, {**environment(launcher=PROG), "results": results})
    return 0


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Time the Python external source of the synthetic paired dataset (the part of a loader that "
                    "reads values and headers and draws windows, without the DALI graph) for each storage codec "
                    "and batch size: median wall and CPU ms per batch, and samples/s of source work per core.")
    p.add_argument("--codecs", type=choice_list(CODECS), default=["png", "raw"],
                   help="storage codecs of the synthetic LMDBs, comma-separated (default png,raw)")
    p.add_argument("--batch-sizes", type=positive_int_list, default=[16, 64], help="default 16,64")
    p.add_argument("--batches", type=positive_int, default=31, help="batches read per setting (default 31; the "
                                                                     "first is not timed)")
    p.add_argument("--synthetic", type=positive_int, default=512, help="synthetic pairs (default 512)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
