"""dali_sr's index cache of chunk folders: plain JSON keyed by the folder listing, names relative to the root;
reused when the listing is the same (also after a move or copy), rebuilt when it differs or cannot be trusted."""
from __future__ import annotations

import json
import shutil

import pytest

from dali_sr import load_config
from dali_sr.datasets.dlas import chunk_cache
from dali_sr.datasets.dlas.chunk_cache import CACHE_NAME
from dali_sr.datasets.dlas.tile_index import build_tile_index
from test_dlas_chunks import chunk_cfg, write_chunks


def tiles_of(root) -> list[str]:
    """The tile paths an index over `root` reads, in order."""
    index = build_tile_index(load_config(chunk_cfg(str(root), 1, need_ref=True, strict=True)))
    return index.paths(range(len(index)))


def test_the_cache_is_plain_json_with_relative_names(tmp_path):
    write_chunks(tmp_path, 16)
    first = tiles_of(tmp_path)
    text = (tmp_path / CACHE_NAME).read_text()
    data = json.loads(text)
    assert str(tmp_path) not in text
    assert [f["name"] for f in data["folders"]] == ["baboon", "comic"]
    assert data["folders"][1]["tiles"] == [f"{i:08d}.jpg" for i in range(4, 8)]
    assert data["folders"][0]["centers"][0] == [0, 4, 4, 8]  # tile 0: centre (4, 4), side 8
    assert first == [str(tmp_path / n / f"{i:08d}.jpg") for n, ids in (("baboon", range(4)), ("comic", range(4, 8)))
                     for i in ids]


def test_a_second_start_reads_the_cache(tmp_path, monkeypatch):
    write_chunks(tmp_path, 16)
    first = tiles_of(tmp_path)
    monkeypatch.setattr(chunk_cache, "read_folder", lambda root, name: pytest.fail(f"{name} read again"))
    assert tiles_of(tmp_path) == first


def test_a_copy_reuses_the_cache_with_its_own_paths(tmp_path, monkeypatch):
    write_chunks(tmp_path / "here", 16)
    tiles_of(tmp_path / "here")
    shutil.copytree(tmp_path / "here", tmp_path / "there")
    shutil.move(tmp_path / "here", tmp_path / "moved")
    monkeypatch.setattr(chunk_cache, "read_folder", lambda root, name: pytest.fail(f"{name} read again"))
    for root in ("there", "moved"):
        assert all(p.startswith(str(tmp_path / root) + "/") for p in tiles_of(tmp_path / root))


def test_an_added_folder_rebuilds_the_cache(tmp_path):
    write_chunks(tmp_path / "a", 16)
    tiles_of(tmp_path / "a")
    write_chunks(tmp_path / "b", 16, first_id=8)
    shutil.move(tmp_path / "b" / "comic", tmp_path / "a" / "more")
    tiles = tiles_of(tmp_path / "a")
    assert [p.split("/")[-2] for p in tiles] == ["baboon"] * 4 + ["comic"] * 4 + ["more"] * 4
    assert [f["name"] for f in json.loads((tmp_path / "a" / CACHE_NAME).read_text())["folders"]] == [
        "baboon", "comic", "more"]


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": 1}', "{}"])
def test_a_damaged_cache_is_rebuilt(tmp_path, content):
    write_chunks(tmp_path, 16)
    first = tiles_of(tmp_path)
    (tmp_path / CACHE_NAME).write_text(content)
    assert tiles_of(tmp_path) == first
    assert json.loads((tmp_path / CACHE_NAME).read_text())["folders"][0]["name"] == "baboon"


def test_a_cache_naming_files_outside_its_folders_is_not_trusted(tmp_path):
    write_chunks(tmp_path, 16)
    first = tiles_of(tmp_path)
    data = json.loads((tmp_path / CACHE_NAME).read_text())
    data["folders"][0]["tiles"][0] = "../../etc/passwd"
    (tmp_path / CACHE_NAME).write_text(json.dumps(data))
    assert tiles_of(tmp_path) == first


def test_a_changed_tile_file_rebuilds_the_cache(tmp_path):
    write_chunks(tmp_path, 16)
    tiles_of(tmp_path)
    with open(tmp_path / "comic" / "00000005.jpg", "ab") as f:
        f.write(b"\0")  # another size: another listing
    fingerprint = json.loads((tmp_path / CACHE_NAME).read_text())["fingerprint"]
    tiles_of(tmp_path)
    assert json.loads((tmp_path / CACHE_NAME).read_text())["fingerprint"] != fingerprint

