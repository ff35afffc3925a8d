"""`python -m benchmarks.storage_backends`: the same PNG pairs read by dali_sr from each io_backend, in one run.

The cached synthetic pairs of `dali-sr bench synthetic` are read from their LMDBs (the reference), from
TFRecord and WebDataset shards holding the very same value bytes, from their folders behind a memcached
cluster (warmed first), and from the TFRecord shards uploaded to an S3-compatible server. Every loader
runs the same config (x4, gt_size 128, hflip+rot, batch 16); timed runs alternate between them. Reported:
median pairs/s, the ratio to the LMDB, bytes/s of stored values, and optionally RSS after each of N epochs
per backend.
"""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional, Sequence

from dali_sr import build_loader
from dali_sr.bench import DEFAULT_SYNTHETIC
from dali_sr.bench.contenders import Contender, dali_contender
from dali_sr.bench.measure import measure, rss_epochs, summarize
from dali_sr.bench.report import check_json_path, environment, write_json
from dali_sr.bench.synthetic_configs import synthetic_pairs
from dali_sr.cli_types import non_negative_int, positive_int
from dali_sr.errors import ConfigError, MissingFileError
from dali_sr.prep.pack_shards import write_shards
from dali_sr.prep.pack_sources import PackItem
from dali_sr.prep.partial_lmdb import stored_shape
from dali_sr.storage.memcached import MemcachedStorage, read_server_list
from dali_sr.storage.meta_files import read_meta_info_txt
from dali_sr.storage.s3 import S3Objects

from .command import run_command

PROG = "python -m benchmarks.storage_backends"

BACKENDS = ("lmdb", "tfrecord", "webdataset", "memcached", "s3")
SHARDS = 4


def _shards_of(folder: str, dst: Path, fmt: str) -> str:
    """The PNG files of `folder` as shards at `dst`, value bytes unchanged (built once)."""
    if (dst / "meta_info.txt").is_file():
        return str(dst)
    names = sorted(os.listdir(folder))
    items = [PackItem(os.path.splitext(n)[0], os.path.join(folder, n)) for n in names]

    def unchanged(run):
        for item in run:
            value = Path(item.path).read_bytes()
            yield value, stored_shape(value, item.path)

    tag = read_meta_info_txt(os.path.join(folder + ".lmdb", "meta_info.txt"))[0][0].tag  # the LMDB's PNG level
    write_shards(items, dst, fmt, SHARDS, "png", tag, unchanged, resume=False, progress=lambda n: None)
    return str(dst)


def _upload(folder: str, url: str) -> str:
    """Upload a shard folder under `url`, unless the same folder is there already (its meta_info.txt is
    written last, so a half-done upload is redone)."""
    target = f"{url.rstrip('/')}/{Path(folder).name}"
    objects = S3Objects(target)
    try:
        there = all(objects.read(name) == Path(folder, name).read_bytes() for name in ("meta_info.txt", "shards.txt"))
    except MissingFileError:
        there = False
    if not there:
        for name in sorted(os.listdir(folder), key=lambda name: name == "meta_info.txt"):
            objects.upload(os.path.join(folder, name), name)
    return target


def backend_configs(n: int, backends: list[str], memcached_servers: Optional[str],
                    s3_url: Optional[str]) -> dict[str, dict[str, Any]]:
    """One config per backend over the same `n` cached synthetic pairs."""
    base = synthetic_pairs(n, "png")
    root = Path(base["dataroot_gt"]).parent
    folders = {side: str(root / side) for side in ("gt", "lq")}
    configs: dict[str, dict[str, Any]] = {}
    for backend in backends:
        if backend == "lmdb":
            configs[backend] = base
        elif backend in ("tfrecord", "webdataset", "s3"):
            fmt = "wds" if backend == "webdataset" else "tfrecord"
            roots = {side: _shards_of(folders[side], root / f"{side}_{fmt}_{SHARDS}", fmt) for side in folders}
            if backend == "s3":
                roots = {side: _upload(roots[side], s3_url) for side in roots}
            configs[backend] = {**base, "io_backend": {"type": "webdataset" if fmt == "wds" else "tfrecord"},
                                "dataroot_gt": roots["gt"], "dataroot_lq": roots["lq"]}
        else:
            configs[backend] = {**base, "io_backend": {"type": "memcached", "server_list_cfg": memcached_servers},
                                "dataroot_gt": folders["gt"], "dataroot_lq": folders["lq"]}
        configs[backend]["name"] = f"{base['name']}-{backend}"
    return configs


def _value_bytes_per_pair(loader) -> float:
    index = loader.index
    keys = range(len(index))
    total = sum(len(index.gt.get(index.gt_keys[i])) + len(index.lq.get(index.lq_keys[i])) for i in keys)
    return total / len(index)


def bench_storage(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every backend of `args.backends` (see the module doc); the report as a dict."""
    backends = args.backends
    if "memcached" in backends and not args.memcached_servers:
        raise ConfigError("--backends memcached needs --memcached-servers FILE (host:port lines)")
    if "s3" in backends and not args.s3_url:
        raise ConfigError("--backends s3 needs --s3-url s3://bucket/prefix (endpoint from AWS_ENDPOINT_URL)")
    configs = backend_configs(args.synthetic, backends, args.memcached_servers, args.s3_url)
    if "memcached" in configs:
        servers = read_server_list(args.memcached_servers)
        for side in ("dataroot_gt", "dataroot_lq"):
            store = MemcachedStorage(configs["memcached"][side], servers)
            try:
                store.warm(sorted(os.listdir(store.root)), progress=False)
            finally:
                store.close()
    with ExitStack() as stack:
        threads = {"num_threads": args.threads} if args.threads else {}
        loaders = {b: stack.enter_context(build_loader(cfg, **threads)) for b, cfg in configs.items()}
        contenders: list[Contender] = [dali_contender(loader, b) for b, loader in loaders.items()]
        try:
            measure(contenders, args.runs, args.batches, args.warmup, None, "pairs")
        finally:
            for c in contenders:
                c.stream.close()
        results = {c.name: summarize(c, "pairs") for c in contenders}
        for b, loader in loaders.items():
            per_pair = _value_bytes_per_pair(loader)
            results[b]["value_bytes_per_pair"] = round(per_pair)
            results[b]["value_mib_per_s"] = round(results[b]["pairs_per_s"] * per_pair / 2**20, 2)
            results[b]["rss_epochs"] = rss_epochs(loader, args.rss_epochs, None, None)
        reference = results[backends[0]]["pairs_per_s"]
        cfg = loaders[backends[0]].cfg
    return {**environment(launcher=PROG), "pairs": args.synthetic, "backends": backends, "reference": backends[0],
            "config": {"scale": cfg.scale, "gt_size": cfg.gt_size, "batch_size": cfg.batch_size,
                       "num_threads": cfg.num_threads, "use_hflip": cfg.use_hflip, "use_rot": cfg.use_rot},
            "settings": {"runs": args.runs, "batches": args.batches, "warmup": args.warmup, "shards": SHARDS},
            "results": results,
            "ratios": {f"{b}/{backends[0]}": round(results[b]["pairs_per_s"] / reference, 3) for b in backends[1:]}}


def table(report: dict[str, Any]) -> str:
    c, s = report["config"], report["settings"]
    lines = [f"{PROG}: {report['pairs']} synthetic PNG pairs, x{c['scale']}, gt_size {c['gt_size']}, "
             f"batch {c['batch_size']}, {c['num_threads']} threads; median of {s['runs']} runs x {s['batches']} "
             f"batches", "",
             f"{'backend':<11} {'pairs/s':>8}  {'MiB/s':>7}  {'cores':>5}  {'p99 ms':>7}  RSS over epochs (MiB)"]
    for name, r in report["results"].items():
        rss = r["rss_epochs"]
        memory = f"{rss['rss_mib'][0]:.0f} -> {rss['rss_mib'][-1]:.0f} ({rss['growth_mib']:+.0f})" if rss else "-"
        lines.append(f"{name:<11} {r['pairs_per_s']:>8.1f}  {r['value_mib_per_s']:>7.1f}  {r['cores_busy']:>5.2f}  "
                     f"{r['latency_ms']['p99']:>7.1f}  {memory}")
    lines += ["", "   ".join(f"{k}: {v:.2f}x" for k, v in report["ratios"].items())]
    return "\n".join(lines)


def _backend_list(text: str) -> list[str]:
    names = [b.strip() for b in text.split(",") if b.strip()]
    bad = [b for b in names if b not in BACKENDS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of {', '.join(BACKENDS)}, got {text!r}")
    return names


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Read the cached synthetic PNG pairs of `dali-sr bench synthetic` from each io_backend with "
                    "the same config, in alternating timed runs: the LMDBs, TFRecord and WebDataset shards of the "
                    "same value bytes, the folders behind a memcached cluster (warmed first) and the TFRecord "
                    "shards in S3-compatible storage. Reports median pairs/s, the ratio to the first backend, MiB/s "
                    "of stored values and RSS over epochs.")
    p.add_argument("--backends", type=_backend_list, default=["lmdb", "tfrecord", "webdataset"],
                   help=f"comma-separated, the first is the reference: {', '.join(BACKENDS)} (default "
                        f"lmdb,tfrecord,webdataset)")
    p.add_argument("--synthetic", type=positive_int, default=DEFAULT_SYNTHETIC, metavar="N",
                   help=f"pairs (default {DEFAULT_SYNTHETIC}; 480x480 GT, 120x120 LQ)")
    p.add_argument("--memcached-servers", default=None, metavar="FILE", help="server list (host:port lines)")
    p.add_argument("--s3-url", default=None, metavar="URL",
                   help="s3://bucket/prefix to upload the shards to (once) and read them from")
    p.add_argument("--threads", type=positive_int, default=None, help="DALI threads (default: the config's)")
    p.add_argument("--runs", type=positive_int, default=5, help="timed runs per backend (default 5)")
    p.add_argument("--batches", type=positive_int, default=20, help="batches per timed run (default 20)")
    p.add_argument("--warmup", type=positive_int, default=3, help="untimed batches per backend first (default 3)")
    p.add_argument("--rss-epochs", type=non_negative_int, default=0,
                   help="then run each backend this many full epochs and report RSS after each (default 0)")
    p.add_argument("--json", default=None, metavar="PATH", help="write every figure and the environment to PATH")
    return p


def run(args: argparse.Namespace) -> int:
    """Measure, print the table, write the JSON; the exit code."""
    check_json_path(args.json)
    report = bench_storage(args)
    print(table(report))
    write_json(args.json, report)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
