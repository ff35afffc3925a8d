"""Shards in object storage under faults: request limits (a hung endpoint fails within its deadline), transient
failures retried until every value arrives intact, objects replaced while read, missing buckets, and messages
that never show an endpoint's password."""
from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr.cli import main as cli_main
from dali_sr import load_config
from dali_sr.config import IoOptions
from dali_sr.errors import ConfigError, DatasetError, MissingFileError
from dali_sr.prep.pack import pack
from dali_sr.storage.s3 import S3Objects, redact
from dali_sr.storage.shards import ShardStorage
from faults import one_line
from s3_faults import faulty_proxy, hung_endpoint
from s3_server import CREDENTIALS, free_port, s3_client, s3_server, upload_folder
from test_shards import assert_same

FORMATS = {"tfrecord": "tfrecord", "wds": "webdataset"}
PAIRS = 24
QUICK = {"connect_timeout": 0.5, "read_timeout": 0.5}  # limits that make a failing request fail fast
FAULTS = {"500": 0.15, "503": 0.05, "reset": 0.05, "short": 0.05}  # 30 % of all requests


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("object_storage")
    roots = make_nn_pairs(root, 2, [(12 + i % 5, 14 + i % 3) for i in range(PAIRS)], lmdb=True)
    for fmt in FORMATS:
        for side in ("gt", "lq"):
            roots[f"{side}_{fmt}"] = str(root / f"{side}_{fmt}")
            pack(roots[side], roots[f"{side}_{fmt}"], fmt=fmt, shards=3, progress=False)
    return roots


@pytest.fixture(scope="module")
def server(packed):
    """(endpoint, {side_fmt: s3 URL}) of an S3-compatible server holding the packed shards."""
    with s3_server() as endpoint:
        urls = {key: upload_folder(endpoint, Path(packed[key]), "datasets", f"nn/{key}")
                for key in packed if key.endswith(tuple(FORMATS))}
        yield endpoint, urls


@pytest.fixture
def credentials(monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def shard_cfg(roots, fmt, **io):
    cfg = paired_cfg(roots, 2, lmdb=True)
    cfg.update(dataroot_gt=roots[f"gt_{fmt}"], dataroot_lq=roots[f"lq_{fmt}"], io_backend={"type": FORMATS[fmt], **io})
    return cfg


def tensors(cfg):
    """(lq, gt, names) of every batch of one epoch."""
    with dali_sr.build_loader(cfg) as loader:
        return [(b["lq"].numpy().copy(), b["gt"].numpy().copy(), list(b["gt_path"])) for b in loader]


def gt_only(url, **io):
    return {"type": "PairedImageDataset", "name": "s3", "scale": 2, "dataroot_gt": url,
            "io_backend": {"type": "webdataset", **io}, "gt_size": 8, "batch_size_per_gpu": 4, "device": "cpu",
            "num_threads": 1}


def build_error(cfg) -> str:
    with pytest.raises(DatasetError) as e:
        dali_sr.build_loader(cfg)
    return one_line(str(e.value))


# -- limits --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, expect", [
    ("connect_timeout", 0, "a positive number of seconds"), ("read_timeout", -1, "a positive number of seconds"),
    ("deadline", "30", "integer or number"), ("deadline", float("nan"), "a positive number of seconds"),
    ("read_timeout", float("inf"), "a positive number of seconds"), ("max_attempts", 0, "a positive integer"),
    ("max_attempts", 2.5, "integer"), ("max_attempts", True, "integer")])
def test_request_limits_must_be_positive_numbers(key, value, expect):
    with pytest.raises(ConfigError) as e:
        load_config(gt_only("s3://b/p", **{key: value}))
    assert one_line(str(e.value)) == f"config [s3]: 'io_backend.{key}' must be {expect}, got {value!r}"


def test_request_limits_reach_the_objects_and_travel_with_them_into_workers():
    cfg = load_config(gt_only("s3://b/p", connect_timeout=2, read_timeout=1.5, max_attempts=4, deadline=9))
    assert cfg.io_options == IoOptions(connect_timeout=2.0, read_timeout=1.5, max_attempts=4, deadline=9.0)
    with pytest.raises(ConfigError, match=r"'io_backend.deadline' is a key of io_backend type tfrecord, not lmdb"):
        load_config({**gt_only("s3://b/p"), "io_backend": {"type": "lmdb", "deadline": 5}})
    objects = S3Objects("s3://b/p", cfg.io_options)
    copy = pickle.loads(pickle.dumps(objects))
    assert (copy.url, copy.io) == ("s3://b/p", cfg.io_options)


@pytest.mark.slow
def test_a_hung_endpoint_fails_within_the_deadline_naming_the_url(credentials, monkeypatch):
    def open_failure(**limits) -> tuple[str, float]:
        start = time.monotonic()
        with pytest.raises(DatasetError) as e:
            ShardStorage("s3://datasets/hung", "webdataset", IoOptions(**QUICK, **limits))
        return one_line(str(e.value)), time.monotonic() - start

    with hung_endpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        message, elapsed = open_failure(max_attempts=100, deadline=2)
        assert message.startswith(f"s3://datasets/hung/shards.txt: the S3 endpoint {endpoint} did not answer within "
                                  f"io_backend.read_timeout (0.5 s) (gave up after ")
        assert elapsed < 2 + 5, f"gave up after {elapsed:.1f} s, deadline 2 s"
        message, elapsed = open_failure(max_attempts=2, deadline=60)
        assert "(gave up after 2 attempts in " in message and elapsed < 2 * 0.5 + 5
        assert build_error(gt_only("s3://datasets/hung", **QUICK, max_attempts=1)).startswith(
            f"s3: s3://datasets/hung/shards.txt: the S3 endpoint {endpoint} did not answer")


@pytest.mark.slow
def test_an_endpoint_that_stops_answering_mid_epoch_fails_the_loader_within_twice_the_deadline(
        server, credentials, monkeypatch):
    endpoint, urls = server
    faults: dict[str, float] = {}
    with faulty_proxy(endpoint, faults) as (proxy, _):
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy)
        cfg = {**gt_only(urls["gt_tfrecord"], **QUICK, deadline=2), "prefetch_queue_depth": 1}
        cfg["io_backend"]["type"] = "tfrecord"
        with dali_sr.build_loader(cfg) as loader:
            batches = iter(loader)
            next(batches)
            faults["hang"] = 1.0
            start = time.monotonic()
            with pytest.raises(DatasetError) as e:
                list(batches)
            elapsed = time.monotonic() - start
    message = one_line(str(e.value))
    assert message.startswith(f"s3: {urls['gt_tfrecord']}/shard-0000") and "did not answer within" in message
    assert "earlier requests got no answer either" in message  # the batch read again tried once
    assert elapsed < 2 * 2 + 5, f"failed after {elapsed:.1f} s, deadline 2 s"


# -- transient failures --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, workers", [pytest.param("tfrecord", 0, marks=pytest.mark.slow), ("wds", 0),
                                          pytest.param("tfrecord", 2, marks=pytest.mark.slow)])
def test_transient_failures_are_retried_until_every_batch_equals_the_local_shards(packed, server, credentials,
                                                                                   monkeypatch, fmt, workers):
    endpoint, urls = server
    local = {**shard_cfg(packed, fmt), "source_workers": workers}
    remote = {**local, "dataroot_gt": urls[f"gt_{fmt}"], "dataroot_lq": urls[f"lq_{fmt}"]}
    with faulty_proxy(endpoint, FAULTS, seed=len(fmt) + workers) as (proxy, stats):
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy)
        got = tensors(remote)
    assert_same(got, tensors(local))
    assert all(stats.injected[kind] > 0 for kind in FAULTS), stats
    total = stats.forwarded + sum(stats.injected.values())
    assert 0.15 < sum(stats.injected.values()) / total < 0.45, stats


def test_real_errors_are_not_retried(server, credentials, monkeypatch):
    endpoint, urls = server
    with faulty_proxy(endpoint, {}) as (proxy, stats):
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy)
        objects = S3Objects(urls["gt_tfrecord"])
        size = len(objects.read("shards.txt"))
        for read, error in ((lambda: objects.read("none.idx"), MissingFileError),
                            (lambda: objects.read("shards.txt", size + 10, 4), DatasetError),
                            (lambda: S3Objects("s3://nobucket/x").read("shards.txt"), DatasetError)):
            before = stats.forwarded
            with pytest.raises(error):
                read()
            assert stats.forwarded == before + 1


def replace_object(endpoint: str, url: str, change) -> None:
    bucket, _, key = url[len("s3://"):].partition("/")
    client = s3_client(endpoint)
    data = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=change(data))


@pytest.mark.parametrize("change", ["grown", "same size"])
def test_a_shard_replaced_under_a_running_loader_is_named_with_both_versions(packed, server, credentials,
                                                                              monkeypatch, tmp_path, change):
    endpoint, _ = server
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    url = upload_folder(endpoint, Path(packed["gt_tfrecord"]), "datasets", f"replaced/{change.replace(' ', '_')}")
    shards = (Path(packed["gt_tfrecord"]) / "shards.txt").read_text().split()
    edit = (lambda d: d + bytes(16)) if change == "grown" else (lambda d: d[:-1] + bytes([d[-1] ^ 0xFF]))
    loader = dali_sr.build_loader({**gt_only(url), "io_backend": {"type": "tfrecord"}, "prefetch_queue_depth": 1})
    try:
        batches = iter(loader)
        next(batches)
        for shard in shards:
            replace_object(endpoint, f"{url}/{shard}", edit)
        with pytest.raises(DatasetError) as e:
            list(batches)
    finally:
        loader.close()
    message = one_line(str(e.value))
    assert " changed while being read: it was " in message
    named = next(shard for shard in shards if f"{url}/{shard} changed" in message)
    size = (Path(packed["gt_tfrecord"]) / named).stat().st_size
    assert f"it was {size} bytes, ETag " in message
    assert f"is {size + 16 if change == 'grown' else size} bytes, ETag " in message


# -- missing buckets and credentials in URLs --------------------------------------------------------------------
@pytest.mark.parametrize("command", ["verify", "inspect"])
def test_commands_name_a_missing_bucket_and_a_prefix_without_shards(server, credentials, monkeypatch, capsys,
                                                                    command):
    endpoint, _ = server
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert cli_main([command, "s3://missing-bucket/x", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"bucket missing-bucket not found at {endpoint}; fix the URL or AWS_ENDPOINT_URL" in one_line(err.strip())
    assert cli_main([command, "s3://datasets/nothing/here", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "s3://datasets/nothing/here/shards.txt is missing; an s3:// prefix is read as a shard folder" in err


def test_a_bucket_the_credentials_may_not_look_at_is_not_called_missing(credentials, monkeypatch):
    import boto3
    from botocore.stub import Stubber

    client = boto3.session.Session().client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    stub = Stubber(client)
    for bucket in ("b", "gone"):
        stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
        stub.add_client_error("head_bucket", service_error_code="403" if bucket == "b" else "404",
                              http_status_code=403 if bucket == "b" else 404)
    monkeypatch.setattr(S3Objects, "_new_client", staticmethod(lambda session, connect, read: client))
    with stub:
        assert S3Objects("s3://b/p").exists("shards.txt") is False  # GetObject rights only: a missing object
        with pytest.raises(DatasetError, match=r"^s3://gone/p/shards.txt: bucket gone not found at http://127.0.0.1:9;"):
            S3Objects("s3://gone/p").exists("shards.txt")
        stub.assert_no_pending_responses()


def test_redact_hides_user_and_password_of_every_url():
    assert redact('x http://u:p@h:1/a "https://tok@h2/b" s3://b/k') == 'x http://***@h:1/a "https://***@h2/b" s3://b/k'


@pytest.mark.slow
def test_no_failure_shows_the_password_of_the_endpoint(server, credentials, monkeypatch):
    endpoint, urls = server

    def message(host_port: str, url: str, **io) -> str:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://user:secret@{host_port}")
        text = build_error(gt_only(url, **io))
        assert "secret" not in text and "user:" not in text, text
        return text

    up = endpoint[len("http://"):]
    assert "cannot reach the S3 endpoint http://***@127.0.0.1:" in message(f"127.0.0.1:{free_port()}", urls["gt_wds"],
                                                                           max_attempts=2)
    assert f"bucket nobucket not found at http://***@{up}" in message(up, "s3://nobucket/x")
    assert "s3://datasets/nn/none/shards.txt is missing" in message(up, "s3://datasets/nn/none")
    with hung_endpoint() as hung:
        assert "did not answer" in message(hung[len("http://"):], urls["gt_wds"], **QUICK, max_attempts=1)
    for fault, words in (("500", "kept failing (InternalError, HTTP 500)"), ("reset", "the connection to the S3 "
                                                                                       "endpoint http://***@")):
        with faulty_proxy(endpoint, {fault: 1.0}) as (proxy, _):
            assert words in message(proxy[len("http://"):], urls["gt_wds"], max_attempts=2)
