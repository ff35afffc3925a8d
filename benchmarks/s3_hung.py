"""How long a loader's storage takes to give up on an S3 endpoint that accepts connections and never answers.

    python -m benchmarks.s3_hung --json benchmarks/results/cpu-2core-s3-hung-DATE.json

Opens an `s3://` shard folder (as `build_loader` does first) against such an endpoint on 127.0.0.1, with the
default request limits of `io_backend` (or those given), and reports the seconds until the one-line error and
the error itself. Needs boto3 (the `s3` extra); uses the tests' hung endpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.s3_hung", description=__doc__.split("\n\n")[0])
    p.add_argument("--set", action="append", default=[], metavar="KEY=SECONDS",
                   help="an io_backend request limit (connect_timeout, read_timeout, max_attempts, deadline)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the figures to OUT")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    from s3_faults import hung_endpoint

    from dali_sr.bench.report import environment
    from dali_sr.config import IoOptions
    from dali_sr.errors import DatasetError
    from dali_sr.storage.shards import ShardStorage

    limits = {k: float(v) if k != "max_attempts" else int(v) for k, v in (s.split("=", 1) for s in args.set)}
    for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(key, value)
    with hung_endpoint() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        start = time.monotonic()
        try:
            ShardStorage("s3://datasets/hung", "webdataset", IoOptions(**limits))
            message = "opened (no error)"
        except DatasetError as e:
            message = str(e)
        seconds = time.monotonic() - start
    report = {**environment(), "command": "python -m benchmarks.s3_hung " + " ".join(argv or sys.argv[1:]),
              "limits": limits or "defaults", "seconds_to_error": round(seconds, 1), "error": message}
    print(f"{seconds:.1f} s: {message}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
