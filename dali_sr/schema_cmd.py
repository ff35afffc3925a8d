"""`dali-sr schema`: print the JSON Schema of every config key, for editors (completion and checks as you type).

    dali-sr schema > dali-sr-config.schema.json
    # then, first line of a YAML config:  # yaml-language-server: $schema=dali-sr-config.schema.json
"""
from __future__ import annotations

import argparse
import json
import sys


def run(args: argparse.Namespace) -> int:
    import dali_sr  # noqa: F401 - registers the built-in dataset types, whose keys the schema lists
    from dali_sr.config.json_schema import config_schema

    text = json.dumps(config_schema(), indent=None if args.compact else 2, sort_keys=False)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of every config key (for editors)",
                       description="Print a JSON Schema (draft-07) of every key a config may hold: a dataset "
                                   "section, or an option file (BasicSR, Real-ESRGAN, traiNNer-redux, "
                                   "DL-Art-School) and its datasets: sections. Built from the loader's own checks. "
                                   "Point an editor at it (yaml-language-server: a '# yaml-language-server: "
                                   "$schema=FILE' first line) for completion and checks as you type.")
    p.add_argument("--output", "-o", default=None, help="write to this file instead of stdout")
    p.add_argument("--compact", action="store_true", help="one line instead of indented JSON")
    p.set_defaults(func=run)
