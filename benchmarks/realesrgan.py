"""`python -m benchmarks.realesrgan CONFIG`: dali_sr's RealESRGANDataset against BasicSR's, with the options of
`dali-sr bench`.

The baseline is BasicSR's RealESRGANDataset in DataLoader workers plus its model's `feed_data`
degradation in PyTorch on the same device (`realesrgan_baseline.py`); the decode-only contenders are
those of `dali-sr bench`. The report adds how many distinct settings of BasicSR's per-batch draws a
dali_sr batch holds (BasicSR's: one). CONFIG is a RealESRGANDataset config, or the word
'synthetic-realesrgan': Real-ESRGAN x4plus training (RealESRGANModel, gt_size 256, batch 12) on the
GT of `dali-sr bench synthetic`'s pairs.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Optional, Sequence

from dali_sr.bench import DEFAULT_SYNTHETIC, add_arguments
from dali_sr.bench.contenders import Baseline
from dali_sr.bench.runner import REALESRGAN_TYPE, Comparison, bench
from dali_sr.bench.synthetic_configs import synthetic_pairs

from .command import run_command
from .realesrgan_baseline import realesrgan_baseline_batches, settings_per_batch

PROG = "python -m benchmarks.realesrgan"


def synthetic_realesrgan(n: int, codec: str, side: int = 480) -> dict[str, Any]:
    """Real-ESRGAN x4plus training (RealESRGANModel, batch 12, GT 256 from 400 x 400 windows) on the GT of the
    `n` cached synthetic pairs (`side` x `side`)."""
    pairs = synthetic_pairs(n, codec, side)
    return {"type": REALESRGAN_TYPE, "name": f"synthetic-realesrgan-{n}-{codec}", "io_backend": {"type": "lmdb"},
            "dataroot_gt": pairs["dataroot_gt"], "scale": 4, "gt_size": 256, "use_hflip": True, "use_rot": False,
            "batch_size_per_gpu": 12, "model_type": "RealESRGANModel"}


COMPARISON = Comparison(
    title=PROG, launcher=PROG,
    baselines={REALESRGAN_TYPE: Baseline(realesrgan_baseline_batches, makes_lq=True)},
    synthetic={"synthetic-realesrgan": (synthetic_realesrgan, DEFAULT_SYNTHETIC)},
    extra=lambda loader: {"degradation_settings_per_batch": settings_per_batch(loader)})


def settings_line(report: dict[str, Any]) -> str:
    """How many distinct settings of BasicSR's per-batch draws a batch held, for each loader."""
    s = report["degradation_settings_per_batch"]
    return (f"distinct settings of BasicSR's per-batch draws (resize direction and mode, noise kind, second blur, "
            f"final order) per batch of {s['batch_size']}: dali_sr {s['dali_sr']:.1f}, baseline {s['baseline']:.0f}")


def run(args: argparse.Namespace) -> int:
    """Measure, print the table, write the JSON; the exit code."""
    report = bench(args, COMPARISON)
    print(settings_line(report))
    return 0


def parser() -> argparse.ArgumentParser:
    """The options of `dali-sr bench`, for RealESRGANDataset configs."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0].replace("\n", " "))
    add_arguments(p, "YAML dataset section or BasicSR option file of a RealESRGANDataset, or the word "
                     "'synthetic-realesrgan'",
                  f"with CONFIG 'synthetic-realesrgan': Real-ESRGAN x4plus training (RealESRGANModel, gt_size 256, "
                  f"batch 12) on the GT of N synthetic pairs of 480x480 PNG (default {DEFAULT_SYNTHETIC}); built once "
                  f"under $DALI_SR_CACHE or ~/.cache/dali_sr")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
