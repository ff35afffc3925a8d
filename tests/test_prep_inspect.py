"""`dali-sr inspect`: per-codec counts and bytes, size histogram, unreadable headers, from headers only."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import pytest

from dali_sr.errors import DatasetError
from dali_sr.storage.codecs import encode
from dali_sr.prep import inspect_cmd
from dali_sr.prep.inspect_cmd import inspect
from test_prep_verify import image, one_line, write_lmdb

IMAGES = {  # key: (h, w, c, codec)
    "a": (32, 40, 3, "png"), "b": (32, 40, 3, "png"), "c": (48, 32, 1, "png"),
    "d": (32, 40, 3, "jpeg"), "e": (64, 64, 3, "jpeg"),
    "f": (32, 40, 3, "jpeg2000"), "g": (32, 40, 3, "raw"), "h": (33, 35, 1, "raw"), "i": (32, 40, 3, "htj2k"),
}


def cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    inspect_cmd.add_parser(sub)
    args = p.parse_args(["inspect", *argv])
    return args.func(args)


def values() -> dict[str, bytes]:
    return {k: encode(image(h, w, c, seed=n), codec, k) for n, (k, (h, w, c, codec)) in enumerate(IMAGES.items())}


def test_lmdb_stats(tmp_path, capsys):
    vals = values()
    root = write_lmdb(tmp_path / "mixed.lmdb", vals, [])
    report = inspect(root)
    assert (report.kind, report.images, report.unreadable) == ("lmdb", 9, [])
    assert report.total_bytes == sum(len(v) for v in vals.values())
    assert report.data_mdb_bytes == os.path.getsize(Path(root) / "data.mdb")
    for codec in ("png", "jpeg", "jpeg2000", "htj2k", "raw"):
        keys = [k for k, spec in IMAGES.items() if spec[3] == codec]
        stats = report.codecs[codec]
        assert stats.count == len(keys)
        assert stats.mean_bytes == pytest.approx(sum(len(vals[k]) for k in keys) / len(keys))
        pixels = sum(IMAGES[k][0] * IMAGES[k][1] for k in keys)
        assert stats.bytes_per_pixel == pytest.approx(sum(len(vals[k]) for k in keys) / pixels)
    assert list(report.codecs) == ["htj2k", "jpeg", "jpeg2000", "png", "raw"]
    assert report.common_sizes() == [((32, 40, 3), 6), ((33, 35, 1), 1), ((48, 32, 1), 1), ((64, 64, 3), 1)]
    assert cli(root) == 0
    out = capsys.readouterr().out
    assert f"{root} (lmdb): 9 images, {report.total_bytes} bytes of values" in out and "32 x 40 x 3: 6" in out


def test_unreadable_header_and_json(tmp_path, capsys):
    vals = values()
    vals["x"] = cv2.imencode(".bmp", image(8, 8))[1].tobytes()
    vals["y"] = b"\x89PNG\r\n\x1a\n" + bytes(10)
    root = write_lmdb(tmp_path / "bad.lmdb", vals, None)
    report = inspect(root)
    assert report.images == 11 and sum(s.count for s in report.codecs.values()) == 9
    assert report.total_bytes == sum(len(v) for v in vals.values())
    assert len(report.unreadable) == 2
    assert one_line(report.unreadable[0]).startswith(f"LMDB {root} key x: unsupported image format (BMP)")
    assert report.unreadable[1].startswith(f"LMDB {root} key y: truncated or corrupt PNG header")
    out = tmp_path / "inspect.json"
    assert cli(root, "--json", str(out)) == 1
    assert "2 unreadable headers:" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data == report.to_json()
    assert data["codecs"]["png"]["count"] == 3 and data["unreadable"] == report.unreadable
    assert data["sizes"][0] == {"shape": [32, 40, 3], "count": 6}
    assert cli(root, "--json", "-") == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == data and "unreadable" in captured.err


def test_folder_and_jpeg_frame_after_large_segment(tmp_path):
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    assert cv2.imwrite(str(tmp_path / "imgs" / "p.png"), image(20, 30))
    jpeg = cv2.imencode(".jpg", image(24, 16))[1].tobytes()
    app = b"\xff\xe1" + (20000).to_bytes(2, "big") + bytes(19998)  # an EXIF-sized APP1 segment before the frame
    (tmp_path / "imgs" / "sub" / "q.jpg").write_bytes(jpeg[:2] + app + app + jpeg[2:])
    report = inspect(str(tmp_path / "imgs"))
    assert (report.kind, report.images, report.unreadable, report.data_mdb_bytes) == ("folder", 2, [], None)
    assert dict(report.sizes) == {(20, 30, 3): 1, (24, 16, 3): 1}
    assert report.codecs["jpeg"].bytes == len(jpeg) + 2 * len(app)


def test_missing_path(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        inspect(str(tmp_path / "nope"))
