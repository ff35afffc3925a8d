"""`python -m benchmarks.matrix`: the grid of cells per group, the reference contenders, the files it writes."""
from __future__ import annotations

import json
import statistics
import sys

import cv2
import pytest

from benchmarks import matrix, matrix_report
from dali_sr.bench import synthetic_configs
from dali_sr.synthetic.images import make_paired_dataset


@pytest.fixture(scope="module")
def small_pairs(tmp_path_factory, request):
    """`dali-sr bench synthetic` pairs shrunk to 12 of 96x96 GT, so a matrix runs in seconds."""
    root = tmp_path_factory.mktemp("matrix-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("DALI_SR_CACHE", str(root))
    patch.setattr(synthetic_configs, "make_paired_dataset",
                  lambda folder, n, size: make_paired_dataset(folder, n=n, size=96, scale=4))
    request.addfinalizer(patch.undo)
    return root


@pytest.mark.slow
def test_matrix_measures_every_cell_against_one_baseline_per_group(small_pairs, tmp_path, capsys):
    rc = matrix.main(["--device", "cpu", "--codecs", "png,raw", "--gt-sizes", "32", "--no-clips", "--threads", "1,2",
                      "--prefetch", "2,3", "--hw-loads", "0.9", "--workers", "1", "--batch", "4", "--pairs", "12",
                      "--runs", "2", "--batches", "2", "--warmup", "1", "--out", str(tmp_path), "--name", "m"])
    assert rc == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["device"] == "cpu" and report["settings"]["threads"] == [1, 2]
    assert [g["name"] for g in report["groups"]] == ["pairs-gt32-png", "pairs-gt32-raw"]
    for g in report["groups"]:
        assert (g["gt_size"], g["batch_size"], g["samples"], g["unit"]) == (32, 4, 12, "pairs")
        assert g["decode_dali_settings"]["num_threads"] == 2  # the most threads of the grid
        for ref in ("baseline", "decode_only", "decode_dali"):  # alternating runs of 2 batches of 4; their median
            assert [r["pairs"] for r in g[ref]["runs"]] == [8, 8]
            assert g[ref]["pairs_per_s"] == pytest.approx(statistics.median(r["pairs_per_s"] for r in g[ref]["runs"]),
                                                          abs=0.01)
        # 2 threads x 2 prefetch depths; hw_decoder_load steers nothing on a CPU, so it is not varied
        assert [(c["num_threads"], c["prefetch_queue_depth"], c["hw_decoder_load"]) for c in g["cells"]] == [
            (1, 2, None), (1, 3, None), (2, 2, None), (2, 3, None)]
        for c in g["cells"]:
            assert c["x_baseline"] == pytest.approx(c["pairs_per_s"] / g["baseline"]["pairs_per_s"], rel=1e-2)
            assert c["x_decode_dali"] == pytest.approx(c["pairs_per_s"] / g["decode_dali"]["pairs_per_s"], rel=1e-2)
            assert c["gpu_memory_mib"] is None and [r["pairs"] for r in c["runs"]] == [8, 8]
        assert g["cells"][g["best"]]["pairs_per_s"] == max(c["pairs_per_s"] for c in g["cells"])
    text = (tmp_path / "m.md").read_text()
    assert "| PNG GT 32: best with ≤ 1 threads vs baseline (1 workers) |" in text
    assert "Lossless GT 32: best of jpeg2000/htj2k/raw (raw," in text
    assert text.count("| threads | hw load |") == 2
    assert f"wrote {tmp_path / 'm.json'}, {tmp_path / 'm.md'}" in capsys.readouterr().out


def _small_matrix(out, name: str, codecs: str, *extra: str) -> int:
    return matrix.main(["--device", "cpu", "--codecs", codecs, "--gt-sizes", "32", "--no-clips", "--threads", "1",
                        "--prefetch", "2", "--workers", "1", "--batch", "4", "--pairs", "12", "--runs", "1",
                        "--batches", "2", "--warmup", "1", "--out", str(out), "--name", name, *extra])

@pytest.mark.slow
def test_a_grid_split_over_runs_merges_into_one_report(small_pairs, tmp_path, capsys):
    assert _small_matrix(tmp_path, "a", "png") == 0
    assert _small_matrix(tmp_path, "b", "raw", "--threads", "2") == 0
    parts = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    assert matrix.main(["--merge", *parts, "--out", str(tmp_path), "--name", "ab"]) == 0
    a, b, ab = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("a", "b", "ab"))
    assert ab["groups"] == a["groups"] + b["groups"]
    assert ab["settings"]["threads"] == [1, 2] and [p["file"] for p in ab["parts"]] == ["a.json", "b.json"]
    text = (tmp_path / "ab.md").read_text()
    assert f"part b.json ({b['date']}): `{b['command']}`" in text and "partial" not in text
    # raw's best against the PNG baseline: a target only the merged report can judge
    assert "Lossless GT 32: best of jpeg2000/htj2k/raw (raw," in text
    assert "Lossless GT" not in (tmp_path / "b.md").read_text()
    capsys.readouterr()
    assert matrix.main(["--merge", parts[0], parts[0], "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "group pairs-gt32-png is in both" in err


def test_merge_refuses_runs_that_cannot_share_a_table(tmp_path, capsys):
    base = {"device": "NVIDIA H100 80GB HBM3", "cpus_usable": 16, "date": "d", "command": "c", "groups": [],
            "settings": {"workers": 16, "batch": 16, "pairs": 512, "clips": 8, "threads": [2], "hw_loads": [1.0],
                         "prefetch": [2], "gt_sizes": [128]}}
    (tmp_path / "a.json").write_text(json.dumps(base))
    (tmp_path / "b.json").write_text(json.dumps({**base, "settings": {**base["settings"], "workers": 8}}))
    (tmp_path / "c.json").write_text("not json")
    (tmp_path / "d.json").write_text(json.dumps({"groups": []}))
    for other, needle in (("b.json", "has workers 8"), ("c.json", "cannot read it as JSON"),
                          ("d.json", "not a benchmarks.matrix JSON file (no 'settings', 'device'")):
        assert matrix.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / other),
                         "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err


@pytest.mark.slow
def test_a_stopped_run_keeps_the_groups_it_finished(small_pairs, tmp_path, monkeypatch):
    measured = matrix.run_group

    def stop_at_raw(group, *args):
        if group.codec == "raw":
            raise KeyboardInterrupt  # as a timeout's signal would end the run
        return measured(group, *args)

    monkeypatch.setattr(matrix, "run_group", stop_at_raw)
    assert _small_matrix(tmp_path, "s", "png,raw") == 130
    report = json.loads((tmp_path / "s.json").read_text())
    assert [g["name"] for g in report["groups"]] == ["pairs-gt32-png"]
    assert "- partial: 1 of 2 groups measured; not measured: pairs-gt32-raw" in (tmp_path / "s.md").read_text()


def test_pairs_or_clips_can_be_left_out(monkeypatch):
    for word in ("synthetic", "synthetic-clips"):  # sections only: no dataset is built
        monkeypatch.setitem(synthetic_configs.SYNTHETIC, word, (lambda n, codec: {"codec": codec}, 1))
    parse = matrix.parser().parse_args
    assert [g.name for g in matrix._groups(parse(["--no-pairs", "--clip-codecs", "jpeg"]))] == ["clips-gt256-jpeg"]
    assert [g.name for g in matrix._groups(parse(["--codecs", "raw", "--gt-sizes", "128", "--no-clips"]))] == [
        "pairs-gt128-raw"]


def test_jpeg_on_a_gpu_varies_the_decoder_load():
    args = matrix.parser().parse_args(["--threads", "2,4", "--hw-loads", "0.65,1", "--prefetch", "2"])
    assert len(matrix._cells(args, "jpeg", on_gpu=True)) == 4
    assert matrix._cells(args, "png", on_gpu=True) == [{"num_threads": 2, "prefetch_queue_depth": 2},
                                                        {"num_threads": 4, "prefetch_queue_depth": 2}]
    assert len(matrix._cells(args, "jpeg", on_gpu=False)) == 2


def _group(codec: str, rate: float, baseline: float, dali_decode: float, threads: int = 4) -> dict:
    cell = {"num_threads": threads, "hw_decoder_load": None, "prefetch_queue_depth": 2, "pairs_per_s": rate,
            "x_baseline": rate / baseline, "x_decode_dali": rate / dali_decode}
    return {"kind": "pairs", "gt_size": 128, "codec": codec, "unit": "pairs", "cells": [cell], "best": 0,
            "baseline": {"pairs_per_s": baseline}, "decode_dali": {"pairs_per_s": dali_decode}}


def test_targets_are_judged_from_the_measured_cells():
    report = {"settings": {"workers": 16}, "groups": [
        _group("png", 300.0, 150.0, 320.0, threads=16), _group("jpeg", 2000.0, 600.0, 2600.0),
        _group("raw", 800.0, 500.0, 900.0), _group("jpeg2000", 1200.0, 100.0, 1300.0)]}
    got = {what.split(":")[0]: (value, met) for what, value, _, met in matrix_report._targets(report)}
    assert got["PNG GT 128"] == ("2.00×", True)
    assert got["Lossless GT 128"] == ("8.00×", True)  # jpeg2000's 1200 against the PNG baseline's 150
    jpeg = [(v, m) for w, v, _, m in matrix_report._targets(report) if w.startswith("JPEG")]
    assert jpeg == [("3.33×", True), ("0.77×", False)]


def test_missing_out_folder_is_one_line(capsys):
    assert matrix.main(["--out", "/nonexistent/folder"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out /nonexistent/folder" in err


@pytest.mark.parametrize("argv", [["--threads", "2,x"], ["--hw-loads", "1.5"], ["--codecs", "png,webp"]])
def test_bad_grid_values_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        matrix.parser().parse_args(argv)
    assert "python -m benchmarks.matrix: error: argument" in capsys.readouterr().err


def _plotted_report() -> dict:
    """A report of two codecs' pairs groups: dali_sr at 1, 2 and 4 threads, and each group's baseline."""
    groups = [{**_group(codec, rate, baseline, 1.0), "cells": [
        {"num_threads": t, "hw_decoder_load": None, "prefetch_queue_depth": 2, "pairs_per_s": rate * t}
        for t in (1, 2, 4)]} for codec, rate, baseline in (("png", 50.0, 60.0), ("raw", 120.0, 60.0))]
    return {"device": "cpu", "versions": {"dali": "2.4.0"}, "settings": {"workers": 2}, "groups": groups}


def test_the_plot_draws_every_group_when_matplotlib_is_there(tmp_path):
    pytest.importorskip("matplotlib", reason="the optional plot: pip install matplotlib")
    assert matrix_report.plot(_plotted_report(), tmp_path / "p.png") is True
    image = cv2.imread(str(tmp_path / "p.png"))
    assert image is not None and image.shape[:2] == (495, 605)  # one panel of 5.5 x 4.5 inches at 110 dpi


def test_without_matplotlib_the_json_and_markdown_are_written_and_the_plot_left_out(small_pairs, tmp_path,
                                                                                    monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails as if not installed
    assert _small_matrix(tmp_path, "n", "png") == 0
    assert [g["name"] for g in json.loads((tmp_path / "n.json").read_text())["groups"]] == ["pairs-gt32-png"]
    assert "### pairs-gt32-png" in (tmp_path / "n.md").read_text() and not (tmp_path / "n.png").exists()
    assert "(no plot: pip install matplotlib" in capsys.readouterr().out
