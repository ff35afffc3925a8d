"""`dali-sr bench CONFIG`: dali_sr vs a BasicSR-style DataLoader vs decode-only, on the same data.

PairedImageDataset configs are measured in pairs, REDSDataset (video clip) configs in clips.
RealESRGANDataset configs are measured against the decode-only contenders alone.

The command's parser lives here; the measuring code (DALI, torch, OpenCV) is imported only
when the command runs, so `dali-sr --help` stays fast.
"""
from __future__ import annotations

import argparse

from ..cli_types import non_negative_int, positive_int
from ..storage.formats import CODECS

DEFAULT_SYNTHETIC = 512  # pairs of `bench synthetic`
DEFAULT_SYNTHETIC_CLIPS = 8  # clips of `bench synthetic-clips`
SYNTHETIC_CLIP_FRAMES = 20  # frames per synthetic clip
CONFIG_HELP = ("YAML dataset section or BasicSR option file (PairedImageDataset, REDSDataset or RealESRGANDataset), "
               "or the word 'synthetic' or 'synthetic-clips'")
SYNTHETIC_HELP = (f"with CONFIG 'synthetic': N pairs of 480x480 PNG GT / 120x120 LQ in LMDBs, x4, gt_size 128, "
                  f"hflip+rot, batch 16 (default {DEFAULT_SYNTHETIC}); with 'synthetic-clips': N REDSDataset clips of "
                  f"{SYNTHETIC_CLIP_FRAMES} frames, 720x1280 PNG GT / 180x320 LQ in LMDBs, x4, num_frame 5, "
                  f"interval_list [1], gt_size 256, hflip+rot, batch 16 (default {DEFAULT_SYNTHETIC_CLIPS}); built "
                  f"once under $DALI_SR_CACHE or ~/.cache/dali_sr")


def add_arguments(p: argparse.ArgumentParser, config_help: str, synthetic_help: str) -> None:
    """The options of `dali-sr bench` on `p`; `config_help` and `synthetic_help` say what CONFIG and
    --synthetic N may be."""
    p.add_argument("config", help=config_help)
    p.add_argument("--phase", default=None, help="section of an option file (default train)")
    p.add_argument("--device", default=None, choices=("auto", "gpu", "cpu"), help="override the config's device")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (VALUE is YAML), e.g. --set num_threads=3; repeatable")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="DataLoader workers and decode-only threads (default: the config's num_threads)")
    p.add_argument("--runs", type=positive_int, default=5, help="timed runs per contender (default 5)")
    p.add_argument("--batches", type=positive_int, default=40, help="batches timed per run (default 40)")
    p.add_argument("--warmup", type=positive_int, default=5, help="untimed batches per contender first (default 5)")
    p.add_argument("--rss-epochs", type=non_negative_int, default=0,
                   help="then run dali_sr this many full epochs and report RSS after each (default 0: skip)")
    p.add_argument("--skip-baseline", action="store_true", help="leave out the BasicSR-style DataLoader")
    p.add_argument("--compare-gt-only", action="store_true",
                   help="also measure dali_sr on the same GT with its LQ made by bicubic (no dataroot_lq), in the "
                        "same alternating runs")
    p.add_argument("--synthetic", type=positive_int, default=None, metavar="N", help=synthetic_help)
    p.add_argument("--codec", choices=CODECS, default="png",
                   help="with a synthetic CONFIG: store the images in this codec (dali-sr pack --codec; jpeg at "
                        "quality 95) instead of PNG; packed once from the PNG images")
    p.add_argument("--json", default=None, metavar="PATH", help="write every figure and the environment to PATH")


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `bench` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "bench", help="measure dali_sr on your config against a BasicSR-style DataLoader and a decode-only bound",
        description="Alternate dali_sr, a BasicSR PairedImageDataset (or REDSDataset) + DataLoader baseline, plain "
                    "cv2.imdecode threads and the DALI decoder alone on one dataset; report median samples/s "
                    "(pairs/s, or clips/s for REDSDataset), CPU s per 1000 samples (process tree, workers included), "
                    "peak RSS and optional RSS over epochs. A RealESRGANDataset config is measured against the "
                    "decode-only contenders.")
    add_arguments(p, CONFIG_HELP, SYNTHETIC_HELP)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by the parsed `args`; returns the exit code."""
    from .runner import bench

    bench(args)
    return 0
