"""`io_backend: {type: memcached}` through the loader, against a real memcached server: batches equal to the disk
backend's, the first epoch warms the cache (or `dali-sr warm` does), a server gone mid-epoch changes nothing, and
a cached value that is not an image is named."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr.cli import main
from dali_sr.errors import DatasetError
from dali_sr.storage.memcached import MemcachedStorage
from memcached_server import memcached_server

pytest.importorskip("pylibmc", reason="the memcached backend's client: pip install 'dali_sr[memcached]'")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return make_nn_pairs(tmp_path_factory.mktemp("mc"), 2, [(12 + i % 4, 16) for i in range(16)])


@pytest.fixture
def server(tmp_path):
    with memcached_server() as (host, port, stop):
        servers = tmp_path / "servers.txt"
        servers.write_text(f"# the cluster\n{host}:{port}\n")
        yield str(servers), (host, port), stop


def mc_cfg(roots, servers, **extra):
    cfg = paired_cfg(roots, 2, **extra)
    cfg["io_backend"] = {"type": "memcached", "server_list_cfg": servers, "client_cfg": "unused.conf",
                         "sys_path": "/unused"}
    return cfg


def epochs(cfg, n=2, between=None):
    out = []
    with dali_sr.build_loader(cfg) as loader:
        for epoch in range(n):
            loader.set_epoch(epoch)
            for k, b in enumerate(loader):
                out.append((b["lq"].numpy().copy(), b["gt"].numpy().copy(), list(b["gt_path"])))
                if between is not None and epoch == 0 and k == 1:
                    between()
    return out


def assert_same(a, b):
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert x[2] == y[2]
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])


def stats(address):
    from pymemcache.client.base import Client

    client = Client(address)
    try:
        return {k.decode(): int(v) for k, v in client.stats().items() if isinstance(v, int)}
    finally:
        client.close()


def test_batches_equal_the_disk_backends_and_the_first_epoch_warms_the_cache(roots, server):
    servers, address, _ = server
    assert_same(epochs(mc_cfg(roots, servers)), epochs(paired_cfg(roots, 2)))
    s = stats(address)
    assert s["curr_items"] == 32 and s["get_hits"] >= 32  # 32 files stored in epoch 0, read from the cache after


def test_warm_fills_the_cluster_so_every_read_hits(roots, server, tmp_path, capsys):
    servers, address, _ = server
    import yaml

    config = tmp_path / "train.yml"
    config.write_text(yaml.safe_dump(mc_cfg(roots, servers)))
    assert main(["warm", str(config), "--quiet"]) == 0
    assert "16 files in memcached (0 were cached already)" in capsys.readouterr().out
    before = stats(address)
    assert before["curr_items"] == 32
    epochs(mc_cfg(roots, servers), n=1)
    after = stats(address)
    assert after["get_misses"] == before["get_misses"] and after["get_hits"] - before["get_hits"] >= 32


def test_a_server_gone_mid_epoch_falls_back_to_disk_with_one_warning(roots, server):
    servers, _, stop = server
    ref = epochs(paired_cfg(roots, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = epochs(mc_cfg(roots, servers, num_threads=1), between=stop)
    assert_same(got, ref)
    gone = [w for w in caught if "memcached" in str(w.message)]
    assert len(gone) == 1, [str(w.message) for w in caught]


def test_a_cached_value_that_is_not_an_image_is_named(roots, server):
    servers, address, _ = server
    store = MemcachedStorage(roots["gt"], [address])
    from pymemcache.client.base import Client

    client = Client(address)
    client.set(store.key_of("img003.png"), b"this is not a PNG")
    client.close()
    store.close()
    with pytest.raises(DatasetError, match=r"img003.png \(read through memcached 127.0.0.1:\d+, key '.*img003.png'\)"):
        epochs(mc_cfg(roots, servers, shuffle=False), n=1)
    assert len(epochs(paired_cfg(roots, 2), n=1)) == 4  # the next loader works


def test_a_malformed_server_list_line_is_named(roots, tmp_path):
    servers = tmp_path / "servers.txt"
    servers.write_text("127.0.0.1:11211\nmemcache-2\n")
    with pytest.raises(DatasetError, match=rf"{servers}:2: 'memcache-2' is not host:port"):
        dali_sr.build_loader(mc_cfg(roots, str(servers)))
