"""`dali-sr doctor CONFIG`: does training wait for data, which stage of the loader bounds it, and what would help.

The loader's stages are timed one at a time, for a bounded time: the source alone (storage reads and
per-sample draws, on the training thread), then, on batches it read and kept in memory, DALI's decoder
alone, the graph without its degradation and the whole graph; then the loader end to end, alone and, given a
step time or a built-in network, beside a training step. The differences give each stage's time per
sample, the slowest stage is named, and the fixes are ranked by the rate they would give.

The command's parser lives here; the measuring code (DALI, torch) is imported only when it runs.
"""
from __future__ import annotations

import argparse

from ..cli_types import positive_int
from ..storage.formats import CODECS

DEFAULT_SECONDS = 20.0
MODELS = ("tinysr", "tinysr-wide")  # the built-in networks --model runs: dali_sr.models.TinySR, 32 or 64 features
CONFIG_HELP = ("YAML dataset section or option file (PairedImageDataset, RealESRGANDataset, FFHQDataset or a video "
               "clip type), or the word 'synthetic' (the pairs of dali-sr bench synthetic)")


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `doctor` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "doctor", help="say whether training waits for data, which loader stage bounds it and what would help",
        description="Run the config's loader for a bounded time: time its source (reads), DALI's decoder, the "
                    "graph without and with its degradation and the copy to the GPU one at a time, then the "
                    "loader end to end; report batches/s, samples/s, each stage's time, the stage that bounds "
                    "the rate (bound_by), the CPU cores busy, with --step-ms or --model the share of each "
                    "training step spent waiting for data, and the fixes that would help, ranked.")
    p.add_argument("config", help=CONFIG_HELP)
    p.add_argument("--phase", default=None, help="section of an option file (default train)")
    p.add_argument("--device", default=None, choices=("auto", "gpu", "cpu"), help="override the config's device")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (VALUE is YAML), e.g. --set num_threads=3; repeatable")
    p.add_argument("--seconds", type=positive_float, default=DEFAULT_SECONDS,
                   help=f"time to spend measuring, all stages together (default {DEFAULT_SECONDS:g}); a stage "
                        f"slower than its share still times a few batches")
    step = p.add_mutually_exclusive_group()
    step.add_argument("--step-ms", type=positive_float, default=None, metavar="MS",
                      help="a training step's time in ms: the loader is run beside a step that waits this long "
                           "(as a GPU step leaves the training thread idle)")
    step.add_argument("--model", choices=MODELS, default=None,
                      help="run a built-in super-resolution network (forward, L1 loss, backward, Adam) on each "
                           "batch, on the GPU when there is one")
    p.add_argument("--synthetic", type=positive_int, default=None, metavar="N",
                   help="with CONFIG 'synthetic': N pairs (default 512), as dali-sr bench builds them")
    p.add_argument("--codec", choices=CODECS, default="png",
                   help="with CONFIG 'synthetic': store the images in this codec (default png)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (for scripts) instead of text")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the diagnosis described by the parsed `args`; returns the exit code."""
    from .runner import doctor

    doctor(args)
    return 0
