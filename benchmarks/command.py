"""How every `python -m benchmarks.<name>` command runs: parse, run, and end on bad input with one line."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from dali_sr.errors import DaliSRError


def run_command(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int],
                argv: Optional[Sequence[str]] = None) -> int:
    """Parse `argv` (default: this process's arguments) and run; a `DaliSRError` is one line on stderr and exit
    code 2, an interruption exit code 130."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except DaliSRError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
