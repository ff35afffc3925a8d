"""`python -m benchmarks.memcached_clients`: which memcached client reads a cached file faster.

The hit path of `MemcachedStorage.get`, for each client of `CLIENTS` (through the same `Connection`
the storage uses, one per thread): `values` stored values of `value_bytes` random bytes are read
again and again, each pass reading every value once and keeping them all until the pass ends, as a
loader keeps a batch's values until they are decoded. Passes of the clients and thread counts take
turns (the order reversed every repeat) so that drifting background load hits them alike; the
figures are medians over `repeats` passes. The servers are given; the command starts none.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import socket
import sys
import statistics
import threading
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from dali_sr.cli_types import positive_int, positive_int_list
from dali_sr.errors import DaliSRError
from dali_sr.storage.memcached import CLIENTS, Connection, address, connect, parse_server, read_server_list

from .command import run_command

PROG = "python -m benchmarks.memcached_clients"
KEY_PREFIX = "dali_sr-bench-memcached-clients"


def _pass(conns: Sequence[Connection], keys: Sequence[bytes]) -> float:
    """Seconds for every connection, each on its own thread, to get every key once, keeping the values."""
    start = threading.Barrier(len(conns) + 1)
    missing = []

    def reader(conn: Connection, offset: int) -> None:
        start.wait()
        values = [conn.get(keys[(offset + i) % len(keys)]) for i in range(len(keys))]
        missing.extend(v for v in values if v is None)

    threads = [threading.Thread(target=reader, args=(c, i * len(keys) // len(conns))) for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if missing:
        raise DaliSRError(f"{len(missing)} benchmark value(s) went missing from memcached during the run; give the "
                          f"servers more memory (memcached -m) or pass fewer --values")
    return seconds


def measure(servers: Sequence[tuple[str, int]], value_bytes: int = 500_000, values: int = 64, repeats: int = 15,
            threads: Sequence[int] = (1, 4), clients: Sequence[str] = CLIENTS) -> dict[str, Any]:
    """Median get time of a stored value per client and thread count; the values are deleted afterwards."""
    rng = np.random.default_rng(0)
    keys = [f"{KEY_PREFIX}:{value_bytes}:{i}".encode() for i in range(values)]
    data = [rng.integers(0, 256, value_bytes, dtype=np.uint8).tobytes() for _ in keys]
    conns = {c: [connect(c, servers) for _ in range(max(threads))] for c in clients}
    first = conns[clients[0]][0]
    try:
        for key, value in zip(keys, data):
            if not first.set(key, value):
                raise DaliSRError(f"memcached {address(servers)} refused a {value_bytes}-byte value as too large; "
                                  f"start it with a larger item size (memcached -I 2m) or pass a smaller --value-kib")
        for c in clients:
            if conns[c][0].get(keys[0]) != data[0]:
                raise DaliSRError(f"{c} read back other bytes than were stored; check the servers")
        cases = [(c, n) for n in threads for c in clients]
        seconds: dict[tuple[str, int], list[float]] = {case: [] for case in cases}
        for r in range(repeats):
            for c, n in (cases if r % 2 == 0 else cases[::-1]):
                seconds[(c, n)].append(_pass(conns[c][:n], keys))
    finally:
        for key in keys:
            first.delete(key)
        for c in clients:
            for conn in conns[c]:
                conn.close()
    results = []
    for (c, n), times in seconds.items():
        per_get = statistics.median(times) / (n * values)
        results.append({"client": c, "threads": n, "median_us_per_get": round(1e6 * per_get, 1),
                        "gets_per_s": round(1 / per_get), "mb_per_s": round(value_bytes / per_get / 1e6, 1),
                        "pass_ms": [round(1000 * t, 2) for t in times]})
    fastest = {n: min((r for r in results if r["threads"] == n), key=lambda r: r["median_us_per_get"])["client"]
               for n in threads}
    return {"servers": address(servers), "value_bytes": value_bytes, "values": values, "repeats": repeats,
            "results": results, "fastest": {str(n): c for n, c in fastest.items()}}


def _servers(args: argparse.Namespace) -> list[tuple[str, int]]:
    if args.server_list:
        return read_server_list(args.server_list)
    return args.servers


def _server_list_arg(text: str) -> list[tuple[str, int]]:
    try:
        return [parse_server(part) for part in text.split(",")]
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    """Measure, print the table, write the JSON; the exit code."""
    report = measure(_servers(args), value_bytes=1024 * args.value_kib, values=args.values, repeats=args.repeats,
                     threads=args.threads)
    print(f"{PROG}: {report['values']} values of {args.value_kib} KiB on "
          f"{report['servers']}, get hits, median over {report['repeats']} interleaved passes")
    print(f"{'client':<11} {'threads':>7} {'us/get':>8} {'gets/s':>8} {'MB/s':>8}")
    for r in report["results"]:
        print(f"{r['client']:<11} {r['threads']:>7} {r['median_us_per_get']:>8.1f} {r['gets_per_s']:>8} "
              f"{r['mb_per_s']:>8.1f}")
    print("fastest: " + ", ".join(f"{c} with {n} thread(s)" for n, c in report["fastest"].items()))
    if args.out:
        environment = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "command": shlex.join(PROG.split() + sys.argv[1:]), "hostname": socket.gethostname(),
                       "cpus_usable": len(os.sched_getaffinity(0)),
                       "python": platform.python_version(), "versions": {c: version(c) for c in CLIENTS}}
        try:
            Path(args.out).write_text(json.dumps({**environment, **report}, indent=2) + "\n")
        except OSError as e:
            raise DaliSRError(f"cannot write --out {args.out}: {e.strerror}; choose a writable path") from None
    return 0


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Store values in running memcached servers and time reading them back through each client the "
                    "memcached io_backend can use (pylibmc, pymemcache), with 1 and 4 threads: median us per get "
                    "over interleaved passes. Starts no server.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--servers", type=_server_list_arg, help="host:port[,host:port...] of running servers")
    where.add_argument("--server-list", metavar="FILE", help="a server list file (host:port lines, as BasicSR's "
                                                             "server_list_cfg)")
    p.add_argument("--value-kib", type=positive_int, default=500, help="size of a value in KiB (default 500)")
    p.add_argument("--values", type=positive_int, default=64, help="distinct values read per pass (default 64)")
    p.add_argument("--repeats", type=positive_int, default=15, help="passes per client and thread count "
                                                                   "(default 15)")
    p.add_argument("--threads", type=positive_int_list, default=[1, 4], help="thread counts (default 1,4)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="also write the figures as JSON")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
