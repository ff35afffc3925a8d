"""`dali-sr warm` on an LMDB, local shards and a folder: every byte of the storage read once."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from conftest import make_nn_pairs, paired_cfg
from dali_sr.cli import main
from dali_sr.prep.pack import pack
from dali_sr.prep.warm import warm


def test_warm_reads_lmdbs_shards_and_folders_once(tmp_path, capsys):
    roots = make_nn_pairs(tmp_path, 2, [(12, 16)] * 6, lmdb=True)
    for side in ("gt", "lq"):
        pack(roots[side], str(tmp_path / f"{side}_wds"), fmt="wds", shards=2, progress=False)
    lmdb, disk = paired_cfg(roots, 2, lmdb=True), paired_cfg(roots, 2)
    wds = {**lmdb, "dataroot_gt": str(tmp_path / "gt_wds"), "dataroot_lq": str(tmp_path / "lq_wds"),
           "io_backend": {"type": "webdataset"}}
    for cfg, sizes in ((lmdb, [os.path.getsize(Path(r) / "data.mdb") for r in (roots["gt_lmdb"], roots["lq_lmdb"])]),
                       (wds, [sum(p.stat().st_size for p in (tmp_path / f"{s}_wds").glob("*.tar")) for s in ("gt", "lq")]),
                       (disk, [sum(p.stat().st_size for p in Path(roots[s]).iterdir()) for s in ("gt", "lq")])):
        assert [w.bytes for w in warm(cfg, progress=False)] == sizes
    config = tmp_path / "wds.yml"
    config.write_text(yaml.safe_dump(wds))
    assert main(["warm", str(config), "--quiet"]) == 0
    assert f"{tmp_path / 'gt_wds'}: read 2 file(s)" in capsys.readouterr().out
