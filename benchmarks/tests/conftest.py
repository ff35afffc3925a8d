"""The harness's tests reuse the package tests' helpers (datasets, local memcached and S3 servers, BasicSR's
fixtures): the repository's tests/ folder goes on sys.path, so `conftest`, `memcached_server`, ... are found
also when these tests run alone (`pytest benchmarks/tests`)."""
from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[2] / "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from conftest import basicsr_fixtures  # noqa: E402,F401 - the fixture, for the tests here
