"""MemcachedStorage against real memcached servers: misses fill the cache, hits skip the disk, too-large files,
a server going away and coming back, several servers, spawned and forked processes, threads; server lists."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from memcached_server import memcached_server, start_memcached

pytest.importorskip("pylibmc", reason="pip install pylibmc (a memcached client of io_backend memcached)")
Client = pytest.importorskip("pymemcache.client.base", reason="pip install pymemcache (a memcached client of "
                                                               "io_backend memcached)").Client

from dali_sr.errors import ConfigError, DatasetError  # noqa: E402
from dali_sr.storage.memcached import (  # noqa: E402
    CLIENTS, HASHED_KEY_PREFIX, MAX_KEY_BYTES, MemcachedStorage, MemcachedWarning, cache_key, read_server_list)

RETRY_S = 1.0


@pytest.fixture
def server():
    with memcached_server() as s:
        yield s


def stats(host: str, port: int) -> dict[str, int]:
    """The server's get_hits, get_misses and curr_items."""
    client = Client((host, port))
    try:
        raw = client.stats()
    finally:
        client.close()
    return {k: int(raw[k.encode()]) for k in ("get_hits", "get_misses", "curr_items")}


def write_files(root: Path, count: int, size: int = 20_000, seed: int = 0) -> dict[str, bytes]:
    """`count` files of random bytes under `root` (`img000.png`, ...); key -> bytes."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    files = {}
    for i in range(count):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        (root / f"img{i:03d}.png").write_bytes(data)
        files[f"img{i:03d}.png"] = data
    return files


def memcached_warnings(caught: list) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, MemcachedWarning)]


@pytest.mark.parametrize("client", CLIENTS)
def test_miss_stores_the_file_then_hits_read_the_cache(tmp_path, server, client):
    host, port, _ = server
    files = write_files(tmp_path / "gt", 2)
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)], client=client)
    assert storage.get("img000.png").tobytes() == files["img000.png"]
    assert stats(host, port) == {"get_hits": 0, "get_misses": 1, "curr_items": 1}
    (tmp_path / "gt" / "img000.png").unlink()
    assert storage.get("img000.png").tobytes() == files["img000.png"]  # the cache, not the (deleted) file
    assert stats(host, port)["get_hits"] == 1
    storage.close()
    assert storage.get("img000.png").tobytes() == files["img000.png"]  # reconnects after close


def test_cache_keys():
    assert cache_key("/data/gt/0001.png") == "/data/gt/0001.png"
    short = "/" + "a" * (MAX_KEY_BYTES - 1)
    assert cache_key(short) == short
    for path in ("/" + "a" * MAX_KEY_BYTES, "/d/" + "é" * 124, "/d/a b.png", "/d/a\tb.png", "/d/\udcff.png",
                 HASHED_KEY_PREFIX + "0" * 64):
        key = cache_key(path)
        assert key.startswith(HASHED_KEY_PREFIX) and len(key.encode()) <= MAX_KEY_BYTES, path
    assert cache_key("/d/x.png ") != cache_key("/d/x.png  ")


def test_deep_paths_are_stored_under_hashed_keys(tmp_path, server):
    host, port, _ = server
    deep = tmp_path.joinpath(*["a_rather_long_folder_name"] * 12)
    files = write_files(deep, 1)
    storage = MemcachedStorage(str(deep), [(host, port)])
    path = os.path.join(str(deep), "img000.png")
    assert len(path.encode()) > MAX_KEY_BYTES
    key = cache_key(path)
    assert key.startswith(HASHED_KEY_PREFIX)
    assert storage.get("img000.png").tobytes() == files["img000.png"]
    assert Client((host, port)).get(key.encode()) == files["img000.png"]
    assert storage.describe("img000.png") == f"{path} (read through memcached {host}:{port}, key '{key}')"


def test_files_above_the_item_size_limit_are_read_from_disk_with_one_warning(tmp_path, server):
    host, port, _ = server  # -I 1m
    root = tmp_path / "gt"
    root.mkdir()
    big, fits = root / "big.png", root / "fits.png"
    big.write_bytes(b"a" * 1_500_000)
    fits.write_bytes(b"f" * 1_000_000)
    storage = MemcachedStorage(str(root), [(host, port)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert storage.get("big.png").tobytes() == b"a" * 1_500_000
        big.write_bytes(b"b" * 1_500_000)
        assert storage.get("big.png").tobytes() == b"b" * 1_500_000  # read from disk again
        assert storage.get("fits.png").tobytes() == b"f" * 1_000_000
        assert storage.get("fits.png").tobytes() == b"f" * 1_000_000
    [message] = memcached_warnings(caught)
    assert str(big) in message and "item_size_max 1048576 bytes (1 MiB)" in message and "memcached -I 2m" in message
    assert stats(host, port) == {"get_hits": 1, "get_misses": 3, "curr_items": 1}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_server_going_away_falls_back_to_disk_and_is_retried(tmp_path, client):
    files = write_files(tmp_path / "gt", 4)
    host, port, stop = start_memcached()
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)], client=client, retry_s=RETRY_S)
    try:
        for key in files:
            storage.get(key)
        stop()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                for key, data in files.items():
                    assert storage.get(key).tobytes() == data
        [message] = memcached_warnings(caught)
        assert f"memcached {host}:{port} failed" in message and f"retrying the server every {RETRY_S:g} s" in message
        host, port, stop = start_memcached(port=port)
        deadline = time.monotonic() + 10 * RETRY_S
        while stats(host, port)["curr_items"] < len(files) and time.monotonic() < deadline:
            for key, data in files.items():
                assert storage.get(key).tobytes() == data
            time.sleep(0.1)
        assert stats(host, port)["curr_items"] == len(files)
        before = stats(host, port)["get_hits"]
        for key, data in files.items():
            assert storage.get(key).tobytes() == data
        assert stats(host, port)["get_hits"] == before + len(files)
    finally:
        storage.close()
        stop()


@pytest.mark.parametrize("client", CLIENTS)
def test_keys_spread_over_several_servers(tmp_path, client):
    files = write_files(tmp_path / "gt", 40, size=2000)
    with memcached_server() as (h1, p1, _), memcached_server() as (h2, p2, _):
        storage = MemcachedStorage(str(tmp_path / "gt"), [(h1, p1), (h2, p2)], client=client)
        for _ in range(2):
            for key, data in files.items():
                assert storage.get(key).tobytes() == data
        first, second = stats(h1, p1), stats(h2, p2)
        assert first["curr_items"] > 0 and second["curr_items"] > 0
        assert first["curr_items"] + second["curr_items"] == len(files)
        assert first["get_hits"] + second["get_hits"] == len(files)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_other_servers_keep_serving_when_one_fails(tmp_path, client):
    files = write_files(tmp_path / "gt", 40, size=2000)
    with memcached_server() as (h1, p1, _), memcached_server() as (h2, p2, stop2):
        storage = MemcachedStorage(str(tmp_path / "gt"), [(h1, p1), (h2, p2)], client=client)
        for key in files:
            storage.get(key)
        on_first = stats(h1, p1)["curr_items"]
        stop2()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for key, data in files.items():
                assert storage.get(key).tobytes() == data
        assert len(memcached_warnings(caught)) == 1
        assert stats(h1, p1)["get_hits"] >= on_first > 0


def test_a_pickled_storage_reads_in_a_spawned_process(tmp_path, server):
    host, port, _ = server
    files = write_files(tmp_path / "gt", 2)
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)], retry_s=3.0)
    storage.get("img000.png")
    copy = pickle.loads(pickle.dumps(storage))
    assert (copy.root, copy.servers, copy.client, copy.retry_s) == (storage.root, [(host, port)], "pylibmc", 3.0)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(storage.get, "img000.png").result().tobytes() == files["img000.png"]
        assert pool.submit(storage.get, "img001.png").result().tobytes() == files["img001.png"]
    assert stats(host, port) == {"get_hits": 1, "get_misses": 2, "curr_items": 2}
    assert storage.get("img001.png").tobytes() == files["img001.png"]


def _close_and_read(storage: MemcachedStorage, key: str, expected: bytes) -> None:
    storage.close()  # in a forked child: must not close the parent's connections
    os._exit(0 if storage.get(key).tobytes() == expected else 1)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_forked_child_leaves_the_parents_connection_alone(tmp_path, server, client):
    host, port, _ = server
    files = write_files(tmp_path / "gt", 1)
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)], client=client)
    storage.get("img000.png")
    child = multiprocessing.get_context("fork").Process(target=_close_and_read,
                                                         args=(storage, "img000.png", files["img000.png"]))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert storage.get("img000.png").tobytes() == files["img000.png"]
    assert memcached_warnings(caught) == []
    assert stats(host, port)["get_hits"] == 2


def test_threads_share_a_storage(tmp_path, server):
    host, port, _ = server
    files = write_files(tmp_path / "gt", 20)
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)])
    wrong: list[str] = []

    def reader(seed: int) -> None:
        keys = list(files) * 5
        np.random.default_rng(seed).shuffle(keys)
        wrong.extend(k for k in keys if storage.get(k).tobytes() != files[k])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert wrong == [] and memcached_warnings(caught) == []
    counts = stats(host, port)
    assert counts["curr_items"] == len(files) and counts["get_hits"] + counts["get_misses"] == 8 * 5 * len(files)
    assert counts["get_misses"] < 8 * len(files)
    storage.close()


def test_warm_stores_every_file_once(tmp_path, server):
    host, port, _ = server
    files = write_files(tmp_path / "gt", 6)
    (tmp_path / "gt" / "big.png").write_bytes(b"x" * 1_200_000)
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)])
    keys = [*files, "big.png"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = storage.warm(keys, progress=False, workers=3)
        second = storage.warm(keys, progress=False, workers=3)
    assert len(memcached_warnings(caught)) == 1
    assert (first.stored, first.too_large, first.already_cached) == (6, 1, 0)
    assert (second.stored, second.too_large, second.already_cached) == (0, 1, 6)
    assert stats(host, port)["curr_items"] == 6


def test_warm_without_a_server_names_the_fix(tmp_path):
    write_files(tmp_path / "gt", 1)
    host, port, stop = start_memcached()
    stop()
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)])
    with pytest.raises(DatasetError, match=rf"memcached {host}:{port} failed while storing .*img000.png .*check that "
                                           r"memcached runs there and warm again"):
        storage.warm(["img000.png"], progress=False)


def test_values_are_returned_as_stored_whatever_their_flags(tmp_path, server):
    host, port, _ = server
    (tmp_path / "gt").mkdir()
    storage = MemcachedStorage(str(tmp_path / "gt"), [(host, port)])
    pickled = pickle.dumps({"not": "an image"})
    Client((host, port), default_noreply=False).set(storage.key_of("x.png"), pickled, flags=1)
    assert storage.get("x.png").tobytes() == pickled


def test_server_lists(tmp_path):
    good = tmp_path / "servers.conf"
    good.write_text("# cluster\n10.0.0.1:11211\n\n  10.0.0.2:11212  # second\n[::1]:11213\n")
    assert read_server_list(str(good)) == [("10.0.0.1", 11211), ("10.0.0.2", 11212), ("::1", 11213)]
    for text, line in (("10.0.0.1:11211\n10.0.0.2\n", 2), ("h:0\n", 1), ("h:70000\n", 1), ("h:port\n", 1),
                       ("a b:11211\n", 1)):
        good.write_text(text)
        with pytest.raises(DatasetError, match=rf"^{good}:{line}: .* is not host:port; write one memcached server "
                                               r"per line as host:port"):
            read_server_list(str(good))
    good.write_text("h:1\nh:1\n")
    with pytest.raises(DatasetError, match=rf"^{good}:2: h:1 is listed again \(line 1\); remove one"):
        read_server_list(str(good))
    good.write_text("# nothing yet\n\n")
    with pytest.raises(DatasetError, match=rf"^memcached server list {good} names no server; add host:port"):
        read_server_list(str(good))
    with pytest.raises(DatasetError, match=r"does not exist; fix io_backend server_list_cfg"):
        read_server_list(str(tmp_path / "missing.conf"))


def test_constructor_errors(tmp_path):
    (tmp_path / "gt").mkdir()
    with pytest.raises(ConfigError, match="memcached client 'mc' is unknown; use one of pylibmc, pymemcache"):
        MemcachedStorage(str(tmp_path / "gt"), [("127.0.0.1", 11211)], client="mc")
    with pytest.raises(ConfigError, match="has no servers; give io_backend server_list_cfg"):
        MemcachedStorage(str(tmp_path / "gt"), [])
    with pytest.raises(DatasetError, match="does not exist; fix dataroot_gt"):
        MemcachedStorage(str(tmp_path / "nope"), [("127.0.0.1", 11211)])
