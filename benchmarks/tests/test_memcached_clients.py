"""`python -m benchmarks.memcached_clients`: get hits through each memcached client, against running servers."""
from __future__ import annotations

import json
import statistics

import pytest
from memcached_server import memcached_server

pytest.importorskip("pylibmc", reason="pip install pylibmc (a memcached client of io_backend memcached)")
Client = pytest.importorskip("pymemcache.client.base",
                             reason="pip install pymemcache (the other client measured)").Client

from benchmarks import memcached_clients  # noqa: E402
from dali_sr.storage.memcached import CLIENTS  # noqa: E402


def test_every_client_and_thread_count_is_timed_and_the_values_removed(tmp_path, capsys):
    out = tmp_path / "clients.json"
    with memcached_server() as (host, port, _):
        assert memcached_clients.main(["--servers", f"{host}:{port}", "--value-kib", "50", "--values", "4",
                                       "--repeats", "3", "--threads", "1,2", "--out", str(out)]) == 0
        client = Client((host, port))
        try:
            left = int(client.stats()[b"curr_items"])
        finally:
            client.close()
    assert left == 0  # the measured values were deleted
    report = json.loads(out.read_text())
    assert report["command"].startswith("python -m benchmarks.memcached_clients ")
    assert [(r["client"], r["threads"]) for r in report["results"]] == [(c, n) for n in (1, 2) for c in CLIENTS]
    for r in report["results"]:  # a get's time: the median pass over the gets of a pass (threads x values)
        assert len(r["pass_ms"]) == 3
        gets = r["threads"] * 4
        # pass_ms are rounded to 0.01 ms: up to 5 us per pass, 5 / gets per get, plus the 0.1 us rounding
        assert r["median_us_per_get"] == pytest.approx(1000 * statistics.median(r["pass_ms"]) / gets,
                                                       abs=5 / gets + 0.05)
    for n in (1, 2):
        rows = [r for r in report["results"] if r["threads"] == n]
        assert report["fastest"][str(n)] == min(rows, key=lambda r: r["median_us_per_get"])["client"]
    assert f"fastest: {report['fastest']['1']} with 1 thread(s)" in capsys.readouterr().out
