"""`dali-sr bench-storage`: the same synthetic PNG pairs through LMDB, TFRecord, WebDataset, memcached and S3, one
report; shards hold the LMDB's value bytes unchanged."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dali_sr import cli
from dali_sr.errors import ConfigError
from dali_sr.storage.backends import LmdbStorage
from dali_sr.storage.shards import ShardStorage
from memcached_server import memcached_server
from s3_server import CREDENTIALS, s3_client, s3_server


def test_every_backend_is_measured_on_the_same_values(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pylibmc", reason="the memcached backend's client: pip install 'dali_sr[memcached]'")
    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path / "cache"))
    with memcached_server(item_size_mb=2) as (host, port, _), s3_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        for key, value in CREDENTIALS.items():
            monkeypatch.setenv(key, value)
        s3_client(endpoint).create_bucket(Bucket="bench")
        servers = tmp_path / "servers.txt"
        servers.write_text(f"{host}:{port}\n")
        out = tmp_path / "storage.json"
        args = cli.build_parser().parse_args([
            "bench-storage", "--synthetic", "16", "--backends", "lmdb,tfrecord,webdataset,memcached,s3",
            "--memcached-servers", str(servers), "--s3-url", "s3://bench/syn", "--runs", "1", "--batches", "1",
            "--warmup", "1", "--rss-epochs", "2", "--json", str(out)])
        args.func(args)
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"lmdb", "tfrecord", "webdataset", "memcached", "s3"}
    assert set(report["ratios"]) == {f"{b}/lmdb" for b in ("tfrecord", "webdataset", "memcached", "s3")}
    sizes = {r["value_bytes_per_pair"] for r in report["results"].values()}
    assert len(sizes) == 1  # the same value bytes everywhere
    assert all(len(r["rss_epochs"]["rss_mib"]) == 2 for r in report["results"].values())
    assert "memcached/lmdb" in capsys.readouterr().out
    root = next((tmp_path / "cache").glob("bench-16*"))
    lmdb, shards = LmdbStorage(str(root / "gt.lmdb")), ShardStorage(str(next(root.glob("gt_tfrecord_*"))), "tfrecord")
    try:
        assert all(bytes(shards.get(k)) == bytes(lmdb.get(k)) for k in shards.meta.keys)
    finally:
        lmdb.close()
        shards.close()


def test_backends_that_need_a_server_say_which_option():
    for backend, option in (("memcached", "--memcached-servers"), ("s3", "--s3-url")):
        args = cli.build_parser().parse_args(["bench-storage", "--backends", f"lmdb,{backend}"])
        with pytest.raises(ConfigError, match=option):
            args.func(args)
