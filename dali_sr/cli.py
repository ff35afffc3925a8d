"""`dali-sr`: prepare, check and measure super-resolution training data for dali_sr's DALI loaders.

Each command module adds its own parser (its `add_parser`); this module gathers them, in the
order the help lists them. The parsers import neither DALI, PyTorch nor OpenCV: a command imports
what it needs when it runs, so `--help` answers at once.
"""
from __future__ import annotations

import argparse
import sys
from types import ModuleType
from typing import Optional, Sequence

from . import __version__, bench, demo, doctor, schema_cmd, show
from .errors import DaliSRError
from .prep import (downscale, extract_chunks, extract_tfrecords, inspect_cmd, meta_cmd, pack, regroup, subimages,
                   verify, warm)

DESCRIPTION = """\
Prepare, check and measure super-resolution training data for dali_sr's DALI loaders.

Prepare a dataset: pack images into LMDBs or shards, cut large images into sub-images or into
DL-Art-School's chunked format, make LQ images by MATLAB's bicubic downscaling, turn FFHQ's
TFRecords into folders or LMDBs, write meta_info files, regroup the REDS validation clips. Check
it: verify decodes every image, inspect counts images, codecs and sizes from the headers, warm
pre-loads it into the page cache or memcached, show reads a config's samples as the loader would.
Measure: bench times dali_sr on your config against a BasicSR-style DataLoader; doctor says
whether training waits for data, which loader stage bounds it and what would help; demo trains a
tiny network on a built-in dataset."""
EPILOG = "Run 'dali-sr COMMAND --help' for a command's options."


# The command modules, in the order the help lists their commands: preparing, checking, measuring.
COMMANDS: tuple[ModuleType, ...] = (pack, subimages, extract_chunks, downscale, extract_tfrecords, meta_cmd, regroup,
                                    verify, inspect_cmd, warm, show, schema_cmd, bench, doctor, demo)


def build_parser() -> argparse.ArgumentParser:
    """The `dali-sr` parser with every command's subparser."""
    parser = argparse.ArgumentParser(prog="dali-sr", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dali-sr {__version__}")
    sub = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `dali-sr` with `argv` (default: this process's arguments); the exit code."""
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
