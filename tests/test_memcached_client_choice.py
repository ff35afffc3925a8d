"""`io_backend: {type: memcached, client: pylibmc | pymemcache}`: by default the installed client (pylibmc first),
so a machine with pymemcache alone reads through memcached too (pylibmc's absence simulated); a named client that
is missing, or no client at all, is a one-line error."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr.errors import ConfigError
from dali_sr.storage.memcached import MemcachedStorage, PylibmcConnection, PymemcacheConnection, cache_key
from dali_sr.storage.opening import open_storage
from memcached_server import memcached_server

Client = pytest.importorskip("pymemcache.client.base", reason="pip install pymemcache (a memcached client of "
                                                               "io_backend memcached)").Client


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return make_nn_pairs(tmp_path_factory.mktemp("mc_clients"), 2, [(12 + i % 3, 16) for i in range(8)])


@pytest.fixture
def server(tmp_path):
    with memcached_server() as (host, port, _):
        servers = tmp_path / "servers.txt"
        servers.write_text(f"{host}:{port}\n")
        yield str(servers), (host, port)


@pytest.fixture
def without_pylibmc(monkeypatch):
    """A Python where `import pylibmc` fails, as on a machine without it."""
    monkeypatch.setitem(sys.modules, "pylibmc", None)
    with pytest.raises(ImportError):
        import pylibmc  # noqa: F401


def _cfg(roots, servers: str, **io) -> dict:
    """BasicSR's memcached io_backend keys as they are, plus dali_sr's `client` where given."""
    return {**paired_cfg(roots, 2, batch_size_per_gpu=2),
            "io_backend": {"type": "memcached", "server_list_cfg": servers,
                           "client_cfg": "/mnt/lustre/share/memcached_client/client.conf", **io}}


def _storage(cfg: dict) -> MemcachedStorage:
    c = dali_sr.load_config(cfg)
    return open_storage(c.dataroot_gt, c.io_backend, c.io_options)


def _epochs(cfg: dict, n: int = 2) -> list[tuple]:
    with dali_sr.build_loader(cfg) as loader:
        out = []
        for epoch in range(n):
            loader.set_epoch(epoch)
            out += [(b["lq"].numpy().copy(), b["gt"].numpy().copy(), list(b["gt_path"])) for b in loader]
        return out


def _server_stats(address) -> dict[str, int]:
    client = Client(address)
    try:
        raw = client.stats()
    finally:
        client.close()
    return {k: int(raw[k.encode()]) for k in ("get_hits", "get_misses", "curr_items")}


def test_with_pymemcache_alone_the_loader_reads_through_memcached(roots, server, without_pylibmc):
    servers, address = server
    cfg = _cfg(roots, servers)
    storage = _storage(cfg)
    assert storage.client == "pymemcache" and isinstance(storage._connection(), PymemcacheConnection)
    storage.close()
    got = _epochs(cfg)
    disk = _epochs({**cfg, "io_backend": {"type": "disk"}})
    assert len(got) == len(disk) == 8
    for (lq, gt, paths), (lq_d, gt_d, paths_d) in zip(got, disk):
        assert paths == paths_d and np.array_equal(lq, lq_d) and np.array_equal(gt, gt_d)
    # the first epoch stored every GT and LQ file, later reads (the second epoch, and what DALI prefetched of the
    # third) came from the cluster
    stats = _server_stats(address)
    assert (stats["get_misses"], stats["curr_items"]) == (16, 16) and stats["get_hits"] >= 16
    client = Client(address)
    for side in ("gt", "lq"):
        for name in ("img000.png", "img007.png"):
            path = f"{roots[side]}/{name}"
            assert client.get(cache_key(path).encode()) == open(path, "rb").read()
    client.close()
    assert sys.modules["pylibmc"] is None  # never imported behind the test's back


def test_the_default_is_pylibmc_when_installed_and_client_picks_one(roots, server):
    pytest.importorskip("pylibmc", reason="pip install pylibmc")
    servers, _ = server
    for io, client, conn in (({}, "pylibmc", PylibmcConnection), ({"client": None}, "pylibmc", PylibmcConnection),
                             ({"client": "pymemcache"}, "pymemcache", PymemcacheConnection),
                             ({"client": "pylibmc"}, "pylibmc", PylibmcConnection)):
        storage = _storage(_cfg(roots, servers, **io))
        assert storage.client == client and isinstance(storage._connection(), conn), io
        assert storage.get("img003.png").tobytes() == open(f"{roots['gt']}/img003.png", "rb").read()
        storage.close()


def test_a_named_client_that_is_missing_is_refused_naming_the_other(roots, server, without_pylibmc):
    servers, _ = server
    with pytest.raises(ConfigError, match=r"^memcached client pylibmc \(io_backend client\) is not installed; pip "
                                          r"install pylibmc, or set client: pymemcache, or leave client out"):
        dali_sr.build_loader(_cfg(roots, servers, client="pylibmc"))


def test_no_client_installed_is_refused(roots, server, without_pylibmc, monkeypatch):
    servers, _ = server
    monkeypatch.setitem(sys.modules, "pymemcache", None)
    with pytest.raises(ConfigError, match=r"needs a memcached client library, and neither pylibmc nor pymemcache is "
                                          r"installed; pip install 'dali_sr\[memcached\]' \(pylibmc\) or pip install "
                                          r"pymemcache"):
        dali_sr.build_loader(_cfg(roots, servers))


def test_an_unknown_client_is_refused_by_the_config(roots, server):
    servers, _ = server
    with pytest.raises(ConfigError, match=r"io_backend\.client.*pylibmc or pymemcache, or omitted"):
        dali_sr.load_config(_cfg(roots, servers, client="mc"))
    with pytest.raises(ConfigError, match=r"'io_backend\.client' is a key of io_backend type memcached, not disk"):
        dali_sr.load_config({**paired_cfg(roots, 2), "io_backend": {"type": "disk", "client": "pylibmc"}})
