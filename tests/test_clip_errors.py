"""Bad input of the clip pipelines fails with one-line `DatasetError`s / `ConfigError`s; nothing hangs.

Every case builds a tiny good clip dataset with `make_nn_clips` (LQ 8x10 frames, scale 2),
injects one fault, and expects the error either at `build_loader` (index and config problems)
or while iterating (frame problems found when reading). The message is one line, names the
dataset and the culprit (clip, frame file, LMDB key or option). After each error a new loader
over good data must still run a full epoch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import cv2
import numpy as np
import pytest

import dali_sr
import faults
from conftest import clip_cfg, frame_tag, make_nn_clips, nearest_upsample
from dali_sr import ConfigError, DatasetError
from dali_sr.storage.lmdb_writer import write_lmdb
from dali_sr.storage.backends import SHARED_ENVS
from faults import iteration_error, one_line, trigger
from test_errors import put_lmdb, to_uint8, truncate

NAME = "faulty_clips_x2"
SCALE = 2
H, W = 8, 10  # LQ frame size; GT 16x20; gt_size 8 -> LQ patch 4x4
CLIPS = {"001": (6, H, W), "002": (6, H, W)}  # REDS4 (000, 011, 015, 020) keeps both in training

# A needle is a string that must be in the message, or a tuple of strings of which one must be.
Needle = Union[str, tuple]


def cfg_for(roots: dict, kind: str = "REDSDataset", lmdb_: bool = False, **extra) -> dict:
    """A clip section over `roots`; batches of 2 also outside training (clip_cfg drops the key there)."""
    bs = extra.pop("batch_size_per_gpu", 2)
    cfg = clip_cfg(roots, SCALE, kind=kind, lmdb=lmdb_, name=NAME, **extra)
    cfg["batch_size_per_gpu"] = bs
    return cfg


def png(h: int, w: int, seed: int = 7) -> bytes:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()


def drop_lmdb_key(root: str, key: str) -> None:
    """Remove `key` from an LMDB entirely: from data.mdb and from meta_info.txt (a consistent LMDB)."""
    put_lmdb(root, key, None)
    meta = Path(root) / "meta_info.txt"
    meta.write_text("".join(line + "\n" for line in meta.read_text().splitlines()
                            if line.split()[0] != f"{key}.png"))


def assert_full_epoch(tmp: Path, kind: str = "REDSDataset", lmdb_: bool = False) -> None:
    """A fresh loader over good clips yields every batch of an epoch, windows and GT aligned."""
    roots = make_nn_clips(tmp, SCALE, CLIPS, seed=5, lmdb=lmdb_)
    base = SHARED_ENVS.open_count()
    with dali_sr.build_loader(cfg_for(roots, kind, lmdb_)) as loader:
        assert len(loader) == 6  # 12 key frames, batches of 2
        n = 0
        for batch in loader:
            lq, gt = to_uint8(batch["lq"]), to_uint8(batch["gt"])
            assert lq.shape == (2, 3, 4, 4, 3)
            for j, key in enumerate(batch["key"]):
                clip, frame = key.split("/")
                c, f = list(CLIPS).index(clip), int(frame)
                # the R channel tags the frame: a window of 3 consecutive frames (forward or centred)
                tags = [int(lq[j, k, 0, 0, 0]) for k in range(3)]
                first = f if kind == "REDSRecurrentDataset" else f - 1
                assert tags == [frame_tag(c, first + k) for k in range(3)], (key, tags)
                if kind == "REDSRecurrentDataset":
                    assert gt.shape[1:] == (3, 8, 8, 3)
                    for k in range(3):
                        np.testing.assert_array_equal(gt[j, k], nearest_upsample(lq[j, k], SCALE))
                else:
                    assert gt.shape[1:] == (8, 8, 3)
                    np.testing.assert_array_equal(gt[j], nearest_upsample(lq[j, 1], SCALE))
            n += 1
        assert n == 6
    assert SHARED_ENVS.open_count() == base


@dataclass
class Fault(faults.Fault):
    """A clip fault: `needles(tmp)` are `Needle`s; a good-data epoch of `kind` (from LMDB if `lmdb`) runs after it."""

    kind: str = "REDSDataset"
    lmdb: bool = False


def _roots(tmp: Path, clips: dict = CLIPS, **kw) -> dict:
    return make_nn_clips(tmp / "data", SCALE, clips, **kw)


def _f(tmp: Path, side: str, clip: str, frame: int, ext: str = ".png") -> str:
    """Path of a frame file."""
    return str(tmp / "data" / side / clip / f"{frame:08d}{ext}")


def _c(tmp: Path, side: str, clip: str) -> str:
    """Path of a clip folder."""
    return str(tmp / "data" / side / clip)


def _db(tmp: Path, side: str) -> str:
    return str(tmp / "data" / f"{side}.lmdb")


def _meta(tmp: Path) -> str:
    return str(tmp / "data" / "meta_info.txt")


def _key(tmp: Path, side: str, key: str) -> str:
    """How errors name an LMDB value (`LmdbStorage.describe`)."""
    return f"key '{key}' of {_db(tmp, side)}"


# -- index faults (found by build_loader) ------------------------------------------------------------------
def _frame_removed(tmp, side: str, clip: str, frame: int, lm: bool = False):
    """A good dataset with one frame of `side` gone (file deleted, or key dropped from LMDB and meta)."""
    r = _roots(tmp, lmdb=lm)
    if lm:
        drop_lmdb_key(r[f"{side}_lmdb"], f"{clip}/{frame:08d}")
    else:
        os.remove(_f(tmp, side, clip, frame))
    return cfg_for(r, lmdb_=lm), "train"


def _lq_frame_missing(tmp, lm=False):
    return _frame_removed(tmp, "lq", "001", 3, lm)


def _gt_partner_missing(tmp, lm=False):
    return _frame_removed(tmp, "gt", "002", 4, lm)


def _meta_lists_absent_clip(tmp, lm=False):
    r = _roots(tmp, lmdb=lm)
    with open(r["meta"], "a") as f:
        f.write(f"003 6 ({H * SCALE},{W * SCALE},3)\n")
    return cfg_for(r, lmdb_=lm, meta_info_file=r["meta"]), "train"


def _meta_count_differs(tmp, lm=False):
    r = _roots(tmp, lmdb=lm)
    Path(r["meta"]).write_text(f"001 6 ({H * SCALE},{W * SCALE},3)\n002 7 ({H * SCALE},{W * SCALE},3)\n")
    return cfg_for(r, lmdb_=lm, meta_info_file=r["meta"]), "train"


def _meta_bad_line(tmp):
    r = _roots(tmp)
    Path(r["meta"]).write_text(f"001 6 ({H * SCALE},{W * SCALE},3)\n002 ({H * SCALE},{W * SCALE},3)\n")
    return cfg_for(r, meta_info_file=r["meta"]), "train"


def _meta_absent(tmp):
    r = _roots(tmp)
    return cfg_for(r, meta_info_file=str(tmp / "no_such_meta.txt")), "train"


def _clip_shorter_than_window(tmp, lm=False):
    r = _roots(tmp, {"001": (12, H, W), "002": (6, H, W)}, lmdb=lm)
    return cfg_for(r, lmdb_=lm, num_frame=5, interval_list=[1, 2]), "train"


def _test_clip_too_short_for_reflection(tmp):
    r = _roots(tmp, {"001": (6, H, W), "002": (2, H, W)})
    return cfg_for(r, "VideoTestDataset", num_frame=5, padding="reflection", batch_size_per_gpu=1), "test"


def _partition_removes_all(tmp, lm=False):
    r = _roots(tmp, {"000": (6, H, W), "011": (6, H, W)}, lmdb=lm)
    return cfg_for(r, lmdb_=lm, val_partition="REDS4"), "train"


def _two_files_one_frame(tmp):
    r = _roots(tmp)
    (Path(_c(tmp, "lq", "001")) / "00000001.jpg").write_bytes(cv2.imencode(".jpg", np.zeros((H, W, 3), np.uint8))[1]
                                                              .tobytes())
    return cfg_for(r), "train"


def _lmdb_key_without_clip(tmp):
    r = _roots(tmp)
    for side, (h, w) in (("lq", (H, W)), ("gt", (H * SCALE, W * SCALE))):
        items = [(f"{i:08d}", png(h, w, i), (h, w, 3)) for i in range(6)]
        write_lmdb(_db(tmp, side), items)
    r["gt_lmdb"], r["lq_lmdb"] = _db(tmp, "gt"), _db(tmp, "lq")
    return cfg_for(r, lmdb_=True), "train"


def _lmdb_key_in_meta_not_in_data(tmp):
    r = _roots(tmp, lmdb=True)
    put_lmdb(r["gt_lmdb"], "002/00000003", None)
    return cfg_for(r, lmdb_=True), "train"


def _vimeo_roots(tmp: Path, **kw) -> dict:
    clips = {"00001/0001": (7, H, W), "00001/0002": (7, H, W)}
    return make_nn_clips(tmp / "data", SCALE, clips, stem=lambda i: f"im{i + 1}", **kw)


def _vimeo_lq_frame_missing(tmp):
    r = _vimeo_roots(tmp)
    os.remove(Path(_c(tmp, "lq", "00001/0002")) / "im3.png")
    return cfg_for(r, "Vimeo90KDataset"), "train"


def _meta_line_escapes_root(tmp):
    r = _roots(tmp)
    Path(r["meta"]).write_text(f"001 6 ({H * SCALE},{W * SCALE},3)\n../002 6 ({H * SCALE},{W * SCALE},3)\n")
    return cfg_for(r, meta_info_file=r["meta"]), "train"


def _lmdb_without_meta_info(tmp):
    r = _roots(tmp, lmdb=True)
    os.remove(Path(r["gt_lmdb"]) / "meta_info.txt")
    return cfg_for(r, lmdb_=True), "train"


def _nonexistent_dataroot(tmp):
    r = _roots(tmp)
    r["lq"] = str(tmp / "data" / "no_such_lq")
    return cfg_for(r), "train"


def _empty_clip_folder(tmp):
    r = _roots(tmp)
    os.mkdir(_c(tmp, "lq", "003"))
    os.mkdir(_c(tmp, "gt", "003"))
    return cfg_for(r), "train"


def _gt_clip_folder_absent(tmp):
    r = _roots(tmp)
    for name in os.listdir(_c(tmp, "gt", "002")):
        os.remove(Path(_c(tmp, "gt", "002")) / name)
    os.rmdir(_c(tmp, "gt", "002"))
    return cfg_for(r), "train"


def _frame_tmpl_matches_nothing(tmp):
    r = _roots(tmp)
    return cfg_for(r, "VideoClipDataset", frame_tmpl="frame{:04d}.png"), "train"


# -- frame faults (found while reading) -------------------------------------------------------------------
def _replace_frame(tmp: Path, roots: dict, lm: bool, side: str, clip: str, frame: int, data: bytes) -> None:
    """Overwrite one stored frame: its file, or its LMDB value when `lm`."""
    if lm:
        put_lmdb(roots[f"{side}_lmdb"], f"{clip}/{frame:08d}", data)
    else:
        Path(_f(tmp, side, clip, frame)).write_bytes(data)


def _lq_sizes_differ(tmp, lm=False):
    r = _roots(tmp, lmdb=lm)
    _replace_frame(tmp, r, lm, "lq", "001", 3, png(H + 2, W))
    return cfg_for(r, lmdb_=lm), "train"


def _gt_not_scale(tmp, lm=False):
    r = _roots(tmp, lmdb=lm)
    _replace_frame(tmp, r, lm, "gt", "002", 2, png(H * SCALE + 2, W * SCALE))
    return cfg_for(r, lmdb_=lm), "train"


def _lq_smaller_than_patch(tmp, lm=False):
    r = _roots(tmp, {"001": (6, H, W), "002": (6, 3, W)}, lmdb=lm)
    return cfg_for(r, lmdb_=lm), "train"


def _truncated(kind: str, side: str, lm: bool):
    def make(tmp):
        r = _roots(tmp, lmdb=lm)
        data = Path(_f(tmp, side, "001", 2)).read_bytes()
        _replace_frame(tmp, r, lm, side, "001", 2, data[: int(len(data) * 0.6)])
        return cfg_for(r, kind, lmdb_=lm), "train"
    return make


def _garbage_frame(tmp):
    r = _roots(tmp)
    Path(_f(tmp, "lq", "001", 2)).write_bytes(b"not an image at all")
    return cfg_for(r), "train"


def _empty_frame_file(tmp):
    r = _roots(tmp)
    Path(_f(tmp, "gt", "002", 3)).write_bytes(b"")
    return cfg_for(r), "train"


def _truncated_lq_video_test(tmp):
    r = _roots(tmp)
    truncate(Path(_f(tmp, "lq", "001", 2)))
    return cfg_for(r, "VideoTestDataset", num_frame=3, batch_size_per_gpu=1), "val"


def _truncated_gt_recurrent_val(tmp):
    r = _roots(tmp, {"000": (6, H, W), "011": (6, H, W)})
    truncate(Path(_f(tmp, "gt", "011", 2)))
    return cfg_for(r, "REDSRecurrentDataset", batch_size_per_gpu=1), "val"


def _val_recurrent_mixed_lengths(tmp):
    r = _roots(tmp, {"000": (3, H, W), "011": (4, H, W)})
    return cfg_for(r, "REDSRecurrentDataset", batch_size_per_gpu=2, shuffle=False), "val"


def _val_mixed_sizes(tmp):
    r = _roots(tmp, {"001": (3, H, W), "002": (3, W, H)})
    return cfg_for(r, "VideoTestDataset", num_frame=3, batch_size_per_gpu=2, shuffle=False), "val"


def _val_recurrent_mixed_sizes(tmp):
    r = _roots(tmp, {"000": (3, H, W), "011": (3, W, H)})
    return cfg_for(r, "REDSRecurrentDataset", batch_size_per_gpu=2, shuffle=False), "val"


# -- config faults (ConfigError at build_loader) ----------------------------------------------------------
def _config(kind: str = "REDSDataset", phase: str = "train", drop: tuple = (), **extra):
    def make(tmp):
        cfg = cfg_for(_roots(tmp), kind, **extra)
        for key in drop:
            del cfg[key]
        return cfg, phase
    return make


FAULTS: dict[str, Fault] = {
    # index: disk
    "lq-frame-missing-mid-clip": Fault(_lq_frame_missing, lambda t: ["clip 001", "00000003", _c(t, "lq", "001")], True),
    "gt-partner-missing": Fault(_gt_partner_missing, lambda t: ["clip 002", "00000004", _c(t, "gt", "002")], True),
    "meta-lists-absent-clip": Fault(_meta_lists_absent_clip, lambda t: ["003", _c(t, "lq", "003")], True),
    "meta-count-differs": Fault(_meta_count_differs, lambda t: ["clip 002", "6 frame", "says 7", _meta(t)], True),
    "meta-line-malformed": Fault(_meta_bad_line, lambda t: [_meta(t), "002 (16,20,3)"], True),
    "meta-file-absent": Fault(_meta_absent, lambda t: [str(t / "no_such_meta.txt")], True),
    "clip-shorter-than-window": Fault(_clip_shorter_than_window, lambda t: ["clip 002", "6 frame", "9"], True),
    "test-clip-too-short-for-reflection": Fault(_test_clip_too_short_for_reflection,
                                                lambda t: ["clip 002", "reflection"], True),
    "val-partition-removes-all": Fault(_partition_removes_all, lambda t: ["no clips", "val_partition"], True),
    "two-files-one-frame": Fault(_two_files_one_frame, lambda t: [_c(t, "lq", "001"), "00000001.png",
                                                                  "00000001.jpg"], True),
    "vimeo-lq-frame-missing": Fault(_vimeo_lq_frame_missing, lambda t: ["im3", _c(t, "lq", "00001/0002")], True),
    "meta-line-escapes-root": Fault(_meta_line_escapes_root, lambda t: ["'../002'", _meta(t)], True),
    "nonexistent-dataroot": Fault(_nonexistent_dataroot, lambda t: [str(t / "data" / "no_such_lq")], True),
    "empty-clip-folder": Fault(_empty_clip_folder, lambda t: ["clip 003", _c(t, "lq", "003")], True),
    "gt-clip-folder-absent": Fault(_gt_clip_folder_absent, lambda t: ["clip 002", _c(t, "gt", "002")], True),
    "frame-tmpl-matches-no-file": Fault(_frame_tmpl_matches_nothing, lambda t: ["clip 001", "frame_tmpl"], True),
    # index: LMDB
    "lmdb-without-meta-info": Fault(_lmdb_without_meta_info, lambda t: [_db(t, "gt"), "meta_info.txt"], True,
                                    lmdb=True),
    "lmdb-lq-frame-missing-mid-clip": Fault(lambda t: _lq_frame_missing(t, True),
                                            lambda t: ["clip 001", "00000003", _db(t, "lq")], True, lmdb=True),
    "lmdb-gt-partner-missing": Fault(lambda t: _gt_partner_missing(t, True),
                                     lambda t: ["clip 002", "00000004", _db(t, "gt")], True, lmdb=True),
    "lmdb-meta-lists-absent-clip": Fault(lambda t: _meta_lists_absent_clip(t, True),
                                         lambda t: ["clip 003", _db(t, "lq")], True, lmdb=True),
    "lmdb-meta-count-differs": Fault(lambda t: _meta_count_differs(t, True),
                                     lambda t: ["clip 002", "6 frame", "says 7", _meta(t)], True, lmdb=True),
    "lmdb-clip-shorter-than-window": Fault(lambda t: _clip_shorter_than_window(t, True),
                                           lambda t: ["clip 002", "6 frame", "9"], True, lmdb=True),
    "lmdb-val-partition-removes-all": Fault(lambda t: _partition_removes_all(t, True),
                                            lambda t: ["no clips", "val_partition"], True, lmdb=True),
    "lmdb-key-without-clip": Fault(_lmdb_key_without_clip, lambda t: ["'00000000'", "no clip part",
                                                                      (_db(t, "lq"), _db(t, "gt"))], True, lmdb=True),
    "lmdb-key-in-meta-not-in-data": Fault(_lmdb_key_in_meta_not_in_data,
                                          lambda t: ["002/00000003", _db(t, "gt"), "data.mdb"], True, lmdb=True),
    # frames: disk
    "lq-frame-sizes-differ": Fault(_lq_sizes_differ, lambda t: [_f(t, "lq", "001", 3), "10x10", "8x10"], False),
    "gt-not-scale-x-lq": Fault(_gt_not_scale, lambda t: [_f(t, "gt", "002", 2), "18x20", "8x10"], False),
    "lq-smaller-than-patch": Fault(_lq_smaller_than_patch, lambda t: ["clip 002", "3x10", "4x4"], False),
    "truncated-lq-reds": Fault(_truncated("REDSDataset", "lq", False), lambda t: [_f(t, "lq", "001", 2)], False,
                               lambda t: [_f(t, "gt", "001", 2)]),
    "truncated-gt-reds": Fault(_truncated("REDSDataset", "gt", False), lambda t: [_f(t, "gt", "001", 2)], False,
                               lambda t: [_f(t, "lq", "001", 2)]),
    "truncated-lq-recurrent": Fault(_truncated("REDSRecurrentDataset", "lq", False),
                                    lambda t: [_f(t, "lq", "001", 2)], False, lambda t: [_f(t, "gt", "001", 2)],
                                    kind="REDSRecurrentDataset"),
    "truncated-gt-recurrent": Fault(_truncated("REDSRecurrentDataset", "gt", False),
                                    lambda t: [_f(t, "gt", "001", 2)], False, lambda t: [_f(t, "lq", "001", 2)],
                                    kind="REDSRecurrentDataset"),
    "garbage-frame": Fault(_garbage_frame, lambda t: [_f(t, "lq", "001", 2)], False),
    "empty-frame-file": Fault(_empty_frame_file, lambda t: [_f(t, "gt", "002", 3)], False),
    "truncated-lq-video-test-val": Fault(_truncated_lq_video_test, lambda t: [_f(t, "lq", "001", 2)], False,
                                         lambda t: [_f(t, "gt", "001", 2)]),
    "truncated-gt-recurrent-val": Fault(_truncated_gt_recurrent_val, lambda t: [_f(t, "gt", "011", 2)], False,
                                        lambda t: [_f(t, "lq", "011", 2)], kind="REDSRecurrentDataset"),
    "val-recurrent-batch-mixes-clip-lengths": Fault(_val_recurrent_mixed_lengths, lambda t: ["011"], False,
                                                    kind="REDSRecurrentDataset"),
    "val-batch-mixes-sizes": Fault(_val_mixed_sizes, lambda t: [(_c(t, "lq", "001"), "clip 001"),
                                                                (_c(t, "lq", "002"), "clip 002")], False),
    "val-recurrent-batch-mixes-sizes": Fault(_val_recurrent_mixed_sizes,
                                             lambda t: [(_c(t, "lq", "000"), "clip 000"),
                                                        (_c(t, "lq", "011"), "clip 011")], False,
                                             kind="REDSRecurrentDataset"),
    # frames: LMDB
    "lmdb-lq-frame-sizes-differ": Fault(lambda t: _lq_sizes_differ(t, True),
                                        lambda t: [_key(t, "lq", "001/00000003"), "10x10", "8x10"], False, lmdb=True),
    "lmdb-gt-not-scale-x-lq": Fault(lambda t: _gt_not_scale(t, True),
                                    lambda t: [_key(t, "gt", "002/00000002"), "18x20", "8x10"], False, lmdb=True),
    "lmdb-lq-smaller-than-patch": Fault(lambda t: _lq_smaller_than_patch(t, True),
                                        lambda t: ["clip 002", "3x10", "4x4"], False, lmdb=True),
    "lmdb-truncated-lq-reds": Fault(_truncated("REDSDataset", "lq", True), lambda t: [_key(t, "lq", "001/00000002")],
                                    False, lambda t: [_key(t, "gt", "001/00000002")], lmdb=True),
    "lmdb-truncated-gt-reds": Fault(_truncated("REDSDataset", "gt", True), lambda t: [_key(t, "gt", "001/00000002")],
                                    False, lambda t: [_key(t, "lq", "001/00000002")], lmdb=True),
    "lmdb-truncated-lq-recurrent": Fault(_truncated("REDSRecurrentDataset", "lq", True),
                                         lambda t: [_key(t, "lq", "001/00000002")], False,
                                         lambda t: [_key(t, "gt", "001/00000002")], kind="REDSRecurrentDataset",
                                         lmdb=True),
    "lmdb-truncated-gt-recurrent": Fault(_truncated("REDSRecurrentDataset", "gt", True),
                                         lambda t: [_key(t, "gt", "001/00000002")], False,
                                         lambda t: [_key(t, "lq", "001/00000002")], kind="REDSRecurrentDataset",
                                         lmdb=True),
    # config (ConfigError before any data is read)
    "config-num-frame-missing": Fault(_config(drop=("num_frame",)), lambda t: ["'num_frame'", "REDSDataset"], True,
                                      error=ConfigError),
    "config-num-frame-even": Fault(_config(num_frame=4), lambda t: ["'num_frame'", "odd", "4"], True,
                                   error=ConfigError),
    "config-interval-list-zero": Fault(_config(interval_list=[0]), lambda t: ["'interval_list'", "[0]"], True,
                                       error=ConfigError),
    "config-unknown-padding": Fault(_config("VideoTestDataset", "test", num_frame=5, padding="mirror"),
                                    lambda t: ["'padding'", "'mirror'", "replicate"], True, error=ConfigError),
    "config-unknown-val-partition": Fault(_config(val_partition="REDS5"),
                                          lambda t: ["'val_partition'", "'REDS5'", "REDS4"], True, error=ConfigError),
    "config-dataroot-flow": Fault(_config(dataroot_flow="/data/REDS/flow"),
                                  lambda t: ["'dataroot_flow'", "/data/REDS/flow"], True, error=ConfigError),
    "config-video-test-in-training": Fault(_config("VideoTestDataset", "train", num_frame=5),
                                           lambda t: ["VideoTestDataset", "val", "test"], True, error=ConfigError),
    "config-misspelled-num-frame": Fault(_config(drop=("num_frame",), num_frames=3),
                                         lambda t: ["'num_frames'", "did you mean 'num_frame'"], True,
                                         error=ConfigError),
    "config-frame-tmpl-without-field": Fault(_config("VideoClipDataset", frame_tmpl="frame.png"),
                                             lambda t: ["'frame_tmpl'", "'frame.png'", "{}"], True,
                                             error=ConfigError),
    "config-frame-tmpl-two-fields": Fault(_config("VideoClipDataset", frame_tmpl="{}_{}.png"),
                                          lambda t: ["'frame_tmpl'", "'{}_{}.png'"], True, error=ConfigError),
    "config-num-frame-zero": Fault(_config(num_frame=0), lambda t: ["'num_frame'", "0"], True, error=ConfigError),
}


@pytest.mark.parametrize("case", list(FAULTS))
def test_bad_clip_input_fails_with_one_line_naming_dataset_and_culprit(case, tmp_path):
    fault = FAULTS[case]
    msg = one_line(trigger(fault, tmp_path))
    assert NAME in msg, f"dataset name {NAME!r} not in {msg!r}"
    for needle in fault.needles(tmp_path):
        options = needle if isinstance(needle, tuple) else (needle,)
        assert any(n in msg for n in options), f"none of {options!r} in {msg!r}"
    for wrong in fault.absent(tmp_path):
        assert wrong not in msg, f"error blames the good partner {wrong!r}: {msg!r}"
    # after the error, a new loader over good data runs a whole epoch
    assert_full_epoch(tmp_path / "good", kind=fault.kind, lmdb_=fault.lmdb)


@pytest.mark.parametrize("kind", ["REDSDataset", "REDSRecurrentDataset"])
def test_error_then_new_loaders_run_full_epochs(kind, tmp_path):
    """A failed read in one loader leaves no state behind: good loaders, disk and LMDB, run afterwards."""
    bad = make_nn_clips(tmp_path / "bad", SCALE, CLIPS, lmdb=True)
    truncate(Path(bad["lq"]) / "002" / "00000003.png")
    data = (Path(bad["gt"]) / "001" / "00000001.png").read_bytes()
    put_lmdb(bad["gt_lmdb"], "001/00000001", data[:20] + b"\x00" * (len(data) - 20))
    for lmdb_, culprit in ((False, str(Path(bad["lq"]) / "002" / "00000003.png")),
                           (True, f"key '001/00000001' of {bad['gt_lmdb']}")):
        assert culprit in iteration_error(cfg_for(bad, kind, lmdb_))
        assert_full_epoch(tmp_path / f"good_{kind}_{lmdb_}", kind=kind, lmdb_=lmdb_)


def test_batches_before_the_bad_frame_are_delivered(tmp_path):
    """Nothing is skipped silently: without shuffle the batches before the one reading the bad frame come out."""
    roots = make_nn_clips(tmp_path, SCALE, CLIPS)
    bad = Path(roots["gt"]) / "002" / "00000003.png"
    truncate(bad)
    delivered = []
    with dali_sr.build_loader(cfg_for(roots, shuffle=False)) as loader:
        with pytest.raises(DatasetError) as e:
            for batch in loader:
                delivered.append(batch["key"])
    # samples in order 001/0..5, 002/0..5, two a batch: GT 002/3 is read by sample 9 (batch 4), or earlier by
    # the redrawn centre of 002/0 (batch 3); clip 001's batches always come out
    assert len(delivered) in (3, 4), delivered
    assert all(k.startswith("001/") for b in delivered[:3] for k in b[:1])
    assert str(bad) in one_line(str(e.value)) and NAME in str(e.value)


def test_vimeo_missing_frame_does_not_shift_the_window(tmp_path):
    roots = _vimeo_roots(tmp_path)
    os.remove(Path(roots["lq"]) / "00001" / "0001" / "im1.png")
    cfg = cfg_for(roots, "Vimeo90KDataset", num_frame=5, batch_size_per_gpu=1, shuffle=False, use_hflip=False,
                  use_rot=False)
    try:
        with dali_sr.build_loader(cfg) as loader:
            batch = next(iter(loader))
    except DatasetError as e:  # refusing the clip is fine if the message names the missing frame
        assert "im1" in one_line(str(e))
        return
    assert batch["key"] == ["00001/0001"]
    lq, gt = to_uint8(batch["lq"]), to_uint8(batch["gt"])
    assert [int(lq[0, k, 0, 0, 0]) for k in range(5)] == [frame_tag(0, i) for i in range(1, 6)]  # im2..im6
    assert int(gt[0, 0, 0, 0]) == frame_tag(0, 3)  # im4


def test_frame_missing_from_both_sides_is_named_from_the_numbering(tmp_path):
    roots = make_nn_clips(tmp_path, SCALE, CLIPS)
    for side in ("lq", "gt"):
        os.remove(Path(roots[side]) / "001" / "00000003.png")
    with pytest.raises(DatasetError) as e:
        dali_sr.build_loader(cfg_for(roots))
    msg = one_line(str(e.value))
    assert "clip 001" in msg and "00000003" in msg and NAME in msg
