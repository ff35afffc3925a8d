"""What a new user runs into: bad command-line values, wrong paths and settings, `show` before training,
and what the commands print when stderr is a log file rather than a terminal."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from conftest import has_gpu, make_nn_pairs, paired_cfg
from dali_sr import ConfigError, DatasetError
from dali_sr.cli import main
from faults import iteration_error, one_line


def _cli(*args: str, cwd: Path = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dali_sr", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def _one_error_line(proc: subprocess.CompletedProcess, command: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"dali-sr {command}: error: ") or "error: argument" in lines[0]
    return lines[0]


# -- demo -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", ["0", "-3"])
def test_demo_refuses_steps_that_are_not_positive(steps, tmp_path):
    proc = _cli("demo", "--steps", steps, "--cache", str(tmp_path / "d"), "--device", "cpu")
    assert proc.returncode == 2 and "argument --steps: must be a positive integer" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "d").exists()


def test_demo_refuses_a_preview_in_a_missing_folder_before_any_work(tmp_path, capsys):
    assert main(["demo", "--steps", "2", "--device", "cpu", "--cache", str(tmp_path / "d"),
                 "--preview", "/no/such/dir/p.png"]) == 2
    err = one_line(capsys.readouterr().err.strip())
    assert err == "dali-sr demo: error: --preview /no/such/dir/p.png: the folder /no/such/dir does not exist; " \
                  "create it or choose another path"
    assert not (tmp_path / "d").exists()


def test_demo_refuses_an_unrelated_non_empty_cache_folder(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"mine")
    assert main(["demo", "--steps", "2", "--device", "cpu", "--cache", str(folder)]) == 2
    assert "holds other files (holiday.jpg); the demo writes its dataset there" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]


@pytest.mark.skipif(has_gpu(), reason="checks the machine without a GPU")
def test_demo_on_a_missing_gpu_fails_before_building_the_dataset(tmp_path, capsys):
    assert main(["demo", "--device", "gpu", "--cache", str(tmp_path / "d")]) == 2
    assert "device: gpu, but no CUDA GPU is visible to DALI" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_demo_refuses_a_cache_under_a_regular_file_before_any_work(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    cache = tmp_path / "notes.txt" / "demo"
    assert main(["demo", "--steps", "1", "--device", "cpu", "--cache", str(cache)]) == 2
    err = one_line(capsys.readouterr().err.strip())
    assert err == f"dali-sr demo: error: --cache {cache}: {tmp_path / 'notes.txt'} is a file, so no folder can be " \
                  f"made under it; give a folder path"
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _deny_under(monkeypatch, name: str, top: Path) -> None:
    """Make `os.<name>` refuse every path in or under `top`, as for a user without write (or read) permission."""
    real = getattr(os, name)

    def guarded(path, *args, **kwargs):
        if Path(path) == top or top in Path(path).parents:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, guarded)


def test_demo_names_a_cache_folder_it_cannot_write(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "demo"
    _deny_under(monkeypatch, "makedirs", cache)
    assert main(["demo", "--steps", "1", "--device", "cpu", "--cache", str(cache)]) == 2
    err = one_line(capsys.readouterr().err.strip())
    assert err == f"dali-sr demo: error: cannot write the demo dataset in {cache}: Permission denied " \
                  f"({cache / 'gt'}); give a writable folder with --cache or $DALI_SR_CACHE"


def test_demo_names_a_cache_folder_it_cannot_read(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "demo"
    cache.mkdir()
    _deny_under(monkeypatch, "listdir", cache)
    assert main(["demo", "--steps", "1", "--device", "cpu", "--cache", str(cache)]) == 2
    err = one_line(capsys.readouterr().err.strip())
    assert err == f"dali-sr demo: error: --cache {cache} cannot be read: Permission denied; give a folder you can " \
                  f"read and write"


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory) -> Path:
    """A whole demo dataset of 2 pairs, as `dali-sr demo --pairs 2` makes it (copy it before damaging it)."""
    from dali_sr.synthetic.images import make_paired_dataset

    root = tmp_path_factory.mktemp("demo_cache") / "demo"
    make_paired_dataset(str(root), n=2)
    return root


def _damaged_copy(demo_cache: Path, tmp_path: Path, damage: str) -> tuple[Path, str]:
    """A copy of the demo dataset damaged by `damage`; returns it and what the message must say is wrong."""
    root = tmp_path / "demo"
    shutil.copytree(demo_cache, root)
    data = root / "gt.lmdb" / "data.mdb"
    if damage == "data.mdb deleted":
        data.unlink()
        return root, f"{data} is missing"
    if damage == "data.mdb truncated":
        size = data.stat().st_size
        data.write_bytes(data.read_bytes()[:size // 4])
        return root, f"{data} is truncated: {size // 4} of its {size} bytes"
    (root / "lq.lmdb" / "meta_info.txt").write_text("")
    return root, f"demo_x4: paired lmdb sides must hold the same keys: key '0000_s001' is in GT {root / 'gt.lmdb'} " \
                 f"but not in LQ {root / 'lq.lmdb'} (2 differ)"


@pytest.mark.parametrize("damage", ["data.mdb deleted", pytest.param("data.mdb truncated", marks=pytest.mark.slow),
                                    pytest.param("meta_info.txt emptied", marks=pytest.mark.slow)])
def test_a_damaged_demo_dataset_is_named_with_the_advice_to_rebuild_it(demo_cache, tmp_path, damage):
    root, problem = _damaged_copy(demo_cache, tmp_path, damage)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    # a child process: reading a truncated LMDB's memory map would kill the process that tries
    proc = _cli("demo", "--steps", "1", "--pairs", "2", "--batch", "2", "--device", "cpu", "--cache", str(root))
    assert _one_error_line(proc, "demo") == f"dali-sr demo: error: the demo dataset in {root} is damaged ({problem}); " \
                                            f"delete the folder {root} and run the demo again to rebuild it"
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # nothing deleted or added


# -- show ---------------------------------------------------------------------------------------------
def _x4_pairs(tmp_path: Path) -> dict:
    return make_nn_pairs(tmp_path, 4, [(40, 40), (40, 40), (40, 40)])


def _damage(roots: dict, how: str) -> str:
    """Break pair img001 the way a new user's data is broken; returns the path the message must name."""
    gt = Path(roots["gt"], "img001.png")
    if how == "truncated":
        gt.write_bytes(gt.read_bytes()[:2000])
    elif how == "text":
        gt.write_text("this is a text file named .png")
    elif how == "16bit":
        cv2.imwrite(str(gt), cv2.imread(str(gt)).astype(np.uint16) * 257)
    elif how == "size-mismatch":
        cv2.imwrite(str(gt), cv2.imread(str(gt))[:150])
    return str(gt)


@pytest.mark.parametrize("how, needle", [
    ("truncated", "truncated PNG (its end is missing)"),
    ("text", "unsupported image format"),
    ("16bit", "16-bit PNG is not supported"),
    ("size-mismatch", "GT must be scale 4 x LQ"),
])
def test_show_reports_a_dataset_that_fails_at_its_first_batch(tmp_path, capsys, how, needle):
    roots = _x4_pairs(tmp_path)
    path = _damage(roots, how)
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"type: PairedImageDataset\nscale: 4\ngt_size: 64\ndataroot_gt: {roots['gt']}\n"
                   f"dataroot_lq: {roots['lq']}\nbatch_size_per_gpu: 2\ndevice: cpu\n")
    assert main(["show", str(cfg), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert "1 problem(s) would stop the loader (headers and sizes only):" in out and path in out and needle in out
    assert one_line(err.strip()).startswith("dali-sr show: error: ")


@pytest.mark.parametrize("change, needle", [
    ("gt_size: 256", "smaller than the LQ patch 64x64 (gt_size 256 / scale 4)"),
    ("gt_size: 32\nscale: 2", "GT must be scale 2 x LQ"),
])
def test_show_reports_settings_the_data_cannot_meet(tmp_path, capsys, change, needle):
    roots = _x4_pairs(tmp_path)
    cfg = tmp_path / "c.yml"
    base = {"type": "PairedImageDataset", "scale": "4", "gt_size": "64", "dataroot_gt": roots["gt"],
            "dataroot_lq": roots["lq"], "batch_size_per_gpu": "2", "device": "cpu"}
    for line in change.splitlines():
        key, value = line.split(": ")
        base[key] = value
    cfg.write_text("".join(f"{k}: {v}\n" for k, v in base.items()))
    assert main(["show", str(cfg), "--quiet"]) == 2
    out = capsys.readouterr().out
    assert "3 problem(s) would stop the loader" in out and needle in out


def test_show_on_good_data_says_what_it_did_not_check(tmp_path, capsys):
    roots = _x4_pairs(tmp_path)
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"type: PairedImageDataset\nscale: 4\ngt_size: 64\ndataroot_gt: {roots['gt']}\n"
                   f"dataroot_lq: {roots['lq']}\nbatch_size_per_gpu: 2\ndevice: cpu\n")
    assert main(["show", str(cfg), "--quiet"]) == 0
    assert "no problem found (dali-sr verify decodes every image)" in capsys.readouterr().out


def _yaml(path: Path, cfg: dict) -> Path:
    path.write_text("".join(f"{k}: {v}\n" for k, v in cfg.items()))
    return path


def _loader_refusal(cfg: Path) -> str:
    """The one-line message of the error `build_loader` (and a first pass over its batches) raises for `cfg`."""
    with pytest.raises(dali_sr.DaliSRError) as e:
        with dali_sr.build_loader(str(cfg)) as loader:
            list(loader)
    return one_line(str(e.value))


def _pairs_config(tmp_path: Path, case: str) -> Path:
    """A config over three good x4 pairs, made by `case` into one that `build_loader` refuses before any batch
    (`""`: left valid)."""
    roots = _x4_pairs(tmp_path)
    cfg = {"type": "PairedImageDataset", "scale": 4, "gt_size": 64, "dataroot_gt": roots["gt"],
           "dataroot_lq": roots["lq"], "batch_size_per_gpu": 2, "device": "cpu"}
    if case == "missing dataroot":
        cfg["dataroot_gt"] = str(tmp_path / "no_such_folder")
    elif case == "key mismatch":
        Path(roots["lq"], "img001.png").unlink()
    elif case == "too few samples for a batch":
        cfg["batch_size_per_gpu"] = 4
    elif case == "seed out of range":
        cfg["seed"] = 2 ** 63
    elif case == "device gpu without a GPU":
        cfg["device"] = "gpu"
    return _yaml(tmp_path / "c.yml", cfg)


@pytest.mark.parametrize("case", [
    "missing dataroot", "key mismatch", "too few samples for a batch", "seed out of range",
    pytest.param("device gpu without a GPU", marks=pytest.mark.skipif(has_gpu(), reason="needs a machine without GPU")),
])
def test_show_refuses_what_build_loader_refuses(tmp_path, capsys, case):
    cfg = _pairs_config(tmp_path, case)
    expected = _loader_refusal(cfg)
    assert main(["show", str(cfg), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"dali-sr show: error: {expected}"


@pytest.mark.skipif(has_gpu(), reason="needs a machine without GPU")
def test_show_device_flag_replaces_the_configs_device(tmp_path, capsys):
    cfg = _pairs_config(tmp_path, "device gpu without a GPU")
    assert main(["show", str(cfg), "--quiet", "--device", "cpu"]) == 0
    assert ", device cpu, " in capsys.readouterr().out


@pytest.mark.skipif(not has_gpu(), reason="needs a CUDA GPU")
def test_show_on_a_gpu_machine_keeps_a_cpu_config_on_the_cpu(tmp_path, capsys):
    cfg = _pairs_config(tmp_path, "")
    assert main(["show", str(cfg), "--quiet"]) == 0
    assert ", device cpu, " in capsys.readouterr().out


def _mixed_size_validation(tmp_path: Path, batch: int) -> Path:
    roots = make_nn_pairs(tmp_path, 2, [(16, 16), (16, 16), (12, 12), (12, 12)])
    return _yaml(tmp_path / f"val_{batch}.yml", {
        "type": "PairedImageDataset", "phase": "val", "scale": 2, "dataroot_gt": roots["gt"],
        "dataroot_lq": roots["lq"], "batch_size_per_gpu": batch, "device": "cpu"})


def test_show_reads_the_loaders_batches_not_only_single_samples(tmp_path, capsys):
    cfg = _mixed_size_validation(tmp_path / "a", 3)  # batch 0 holds a 16x16 and a 12x12 LQ image
    expected = _loader_refusal(cfg)
    assert "validation batch mixes image sizes" in expected
    assert main(["show", str(cfg), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert f"1 problem(s) would stop the loader (headers and sizes only):\n  {expected}\n" in out
    assert one_line(err.strip()) == f"dali-sr show: error: {expected.split(':')[0]}: 1 problem(s) would stop the " \
                                    f"loader, first: {expected}"
    assert main(["show", str(_mixed_size_validation(tmp_path / "b", 2)), "--quiet"]) == 0  # one size per batch


# -- paths and settings ---------------------------------------------------------------------------------
def test_a_missing_lmdb_says_it_does_not_exist(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)] * 2, lmdb=True)
    with pytest.raises(DatasetError) as e:
        dali_sr.build_loader(paired_cfg(roots, 2, lmdb=True, dataroot_gt=str(tmp_path / "nope.lmdb")))
    assert one_line(str(e.value)) == f"nn: LMDB folder {tmp_path / 'nope.lmdb'} does not exist; fix dataroot_gt / " \
                                     f"dataroot_lq"


def test_an_lmdb_read_as_a_folder_suggests_the_lmdb_backend(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)] * 2, lmdb=True)
    with pytest.raises(DatasetError, match=r"holds data.mdb\), read with io_backend disk; set io_backend: "
                                           r"\{type: lmdb\}"):
        dali_sr.build_loader(paired_cfg(roots, 2, dataroot_gt=roots["gt_lmdb"], dataroot_lq=roots["lq_lmdb"]))


def test_a_folder_given_as_the_config_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        dali_sr.load_config(tmp_path)
    assert one_line(str(e.value)) == f"config file {tmp_path} is a directory, not a YAML file; pass the path of a " \
                                     f"YAML file"


def test_an_unknown_io_backend_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown key 'io_backend.typ'; did you mean 'type'\?"):
        dali_sr.load_config({"type": "PairedImageDataset", "scale": 2, "gt_size": 8, "io_backend": {"typ": "disk"}})


@pytest.mark.parametrize("config", [42, None, ["type: PairedImageDataset"]])
def test_a_config_that_is_neither_a_path_nor_a_mapping(config):
    with pytest.raises(ConfigError) as e:
        dali_sr.build_loader(config)
    assert one_line(str(e.value)).startswith("a config is a YAML or TOML file path or a dict of dataset options, not ")


# -- native libraries, logs and commands ---------------------------------------------------------------------
def test_a_truncated_png_fails_without_native_library_lines(tmp_path, capfd):
    roots = make_nn_pairs(tmp_path, 2, [(40, 40)] * 2)
    path = Path(roots["gt"], "img001.png")
    path.write_bytes(path.read_bytes()[:300])
    message = iteration_error(paired_cfg(roots, 2, batch_size_per_gpu=2))
    assert f"{path}: truncated PNG" in message
    err = capfd.readouterr().err
    assert "libpng" not in err and "png_parser" not in err, err


def test_extract_subimages_warns_about_16_bit_inputs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), np.full((8, 8, 3), 1000, np.uint16))
    cv2.imwrite(str(src / "b.png"), np.zeros((8, 8, 3), np.uint8))
    proc = _cli("extract-subimages", str(src), str(tmp_path / "dst"), "--crop", "4", "--step", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "warning: 1 input(s) have 16 bits per channel (a.png)" in proc.stderr
    assert "the loader reads 8-bit images only" in proc.stderr


def test_progress_off_a_terminal_is_plain_lines(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for k in range(30):
        cv2.imwrite(str(src / f"{k:03d}.png"), np.full((8, 8, 3), k, np.uint8))
    proc = _cli("pack", str(src), str(tmp_path / "out.lmdb"), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("pack out.lmdb: ")]
    assert lines and lines[-1].startswith("pack out.lmdb: 30/30 img (100 %)"), proc.stderr
