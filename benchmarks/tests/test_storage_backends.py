"""`python -m benchmarks.storage_backends`: the same synthetic PNG pairs through LMDB, TFRecord, WebDataset,
memcached and S3, one report; shards hold the LMDB's value bytes unchanged."""
from __future__ import annotations

import json

import pytest

from benchmarks import storage_backends
from dali_sr.errors import ConfigError
from dali_sr.storage.backends import LmdbStorage
from dali_sr.storage.shards import ShardStorage
from memcached_server import memcached_server
from s3_server import CREDENTIALS, s3_client, s3_server


@pytest.mark.slow
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
        args = storage_backends.parser().parse_args([
            "--synthetic", "16", "--backends", "lmdb,tfrecord,webdataset,memcached,s3",
            "--memcached-servers", str(servers), "--s3-url", "s3://bench/syn", "--runs", "1", "--batches", "1",
            "--warmup", "1", "--rss-epochs", "2", "--json", str(out)])
        assert storage_backends.run(args) == 0
    report = json.loads(out.read_text())
    results = report["results"]
    assert list(results) == ["lmdb", "tfrecord", "webdataset", "memcached", "s3"]
    assert report["ratios"] == pytest.approx({f"{b}/lmdb": results[b]["pairs_per_s"] / results["lmdb"]["pairs_per_s"]
                                              for b in list(results)[1:]}, rel=1e-2)
    root = next((tmp_path / "cache").glob("bench-16*"))
    lmdb = {side: LmdbStorage(str(root / f"{side}.lmdb")) for side in ("gt", "lq")}
    shards = ShardStorage(str(next(root.glob("gt_tfrecord_*"))), "tfrecord")
    try:
        assert all(bytes(shards.get(k)) == bytes(lmdb["gt"].get(k)) for k in shards.meta.keys)
        stored = sum(len(store.get(k)) for store in lmdb.values() for k in shards.meta.keys)
    finally:
        for store in (*lmdb.values(), shards):
            store.close()
    for r in results.values():  # every backend reads the LMDBs' very value bytes
        assert r["value_bytes_per_pair"] == round(stored / 16)
        assert r["value_mib_per_s"] == pytest.approx(r["pairs_per_s"] * stored / 16 / 2**20, rel=1e-2)
        assert len(r["rss_epochs"]["rss_mib"]) == 2
    assert "memcached/lmdb" in capsys.readouterr().out


def test_backends_that_need_a_server_say_which_option():
    for backend, option in (("memcached", "--memcached-servers"), ("s3", "--s3-url")):
        args = storage_backends.parser().parse_args(["--backends", f"lmdb,{backend}"])
        with pytest.raises(ConfigError, match=option):
            storage_backends.run(args)
