"""`dali-sr` command line: demo, train-demo, bench, bench-matrix, show, and the dataset preparation and checking commands."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .errors import DaliSRError


def _show(args: argparse.Namespace) -> int:
    """Validate a config, index its dataset and print what a loader would do."""
    from .loader import build_loader

    with build_loader(args.config, phase=args.phase, device=args.device) as loader:
        cfg = loader.cfg
        print(f"{cfg.name}: {cfg.type}, phase {cfg.phase}, scale {cfg.scale}, {cfg.io_backend} backend")
        print(f"  samples {len(loader.index)}, batches/epoch {len(loader)} of {cfg.batch_size}, "
              f"device {'gpu:%d' % cfg.device_id if loader.on_gpu else 'cpu'}, {cfg.num_threads} DALI threads")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import bench, demo, train_demo
    from .bench import matrix, roi_probe, source_time
    from .prep import inspect_cmd, meta_cmd, pack, regroup, subimages, verify

    parser = argparse.ArgumentParser(prog="dali-sr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo.add_parser(sub)
    train_demo.add_parser(sub)
    bench.add_parser(sub)
    matrix.add_parser(sub)
    roi_probe.add_parser(sub)
    source_time.add_parser(sub)
    show = sub.add_parser("show", help="validate a config and index its dataset")
    show.add_argument("config", help="YAML dataset section or BasicSR option file")
    show.add_argument("--phase", default=None, help="section of an option file (train, val, ...)")
    show.add_argument("--device", default="auto", choices=("auto", "gpu", "cpu"))
    show.set_defaults(func=_show)
    pack.add_parser(sub)
    subimages.add_parser(sub)
    meta_cmd.add_parser(sub)
    regroup.add_parser(sub)
    verify.add_parser(sub)
    inspect_cmd.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DaliSRError as e:
        print(f"dali-sr {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dali-sr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
