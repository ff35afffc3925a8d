"""The index start-up benchmark indexes every tile it wrote, on a first start and from the cache."""
from __future__ import annotations

import json

from benchmarks import dlas_index


def test_every_tile_is_indexed_on_first_and_cached_starts(tmp_path, capsys):
    out = tmp_path / "index.json"
    assert dlas_index.main(["--tiles", "250", "--per-folder", "40", "--runs", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["samples"] == [250]  # the same samples from the listing and from the cache
    assert len(report["first_start_s"]) == len(report["cached_start_s"]) == 2
    assert report["command"] == "python -m benchmarks.dlas_index --tiles 250 --per-folder 40 --runs 2 --json " + str(out)
    assert "250 tiles: first start" in capsys.readouterr().out
