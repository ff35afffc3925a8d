"""`dali-sr` command line: demo, train-demo, the benchmarks (bench, bench-matrix, bench-source, bench-storage,
bench-memcached-clients, roi-probe, degrade-fidelity, gpu-suite), show, and the dataset preparation and checking
commands (pack, warm, downscale, extract-subimages, extract-tfrecords, meta-info, regroup-reds, verify, inspect). Each command module adds its own parser; this module only gathers them."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .errors import DaliSRError


def build_parser() -> argparse.ArgumentParser:
    from . import bench, demo, show
    from .bench import (fidelity, gpu_suite, matrix, memcached_clients, roi_probe, source_time, storage_backends,
                        train_demo)
    from .prep import downscale, extract_tfrecords, inspect_cmd, meta_cmd, pack, regroup, subimages, verify, warm

    parser = argparse.ArgumentParser(prog="dali-sr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (demo, train_demo, bench, matrix, source_time, storage_backends, memcached_clients, roi_probe,
                   fidelity, gpu_suite, show, pack, warm, downscale, subimages, extract_tfrecords, meta_cmd, regroup,
                   verify, inspect_cmd):
        module.add_parser(sub)
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
