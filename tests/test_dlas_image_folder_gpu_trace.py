"""The GPU graphs of DL-Art-School's folder types (ImageFolderDataset, Stylegan2Dataset, MultiScaleDataset,
FullImageDataset), traced on the CPU as `test_gpu_graph.py` traces the others: every operator runs on a device DALI
implements it for, images decode with the `mixed` decoder without ROI decoding, no CPU operator reads GPU data,
and the images leave the pipeline on the GPU."""
from __future__ import annotations

import pytest
from nvidia.dali.ops import _registry

import dali_sr
from dali_sr.loader import dali_pipeline
from test_dlas_image_folder import SIZES, make_folder

IMPLEMENTED = {"cpu": _registry.cpu_ops, "gpu": _registry.gpu_ops, "mixed": _registry.mixed_ops}

CASES = {
    "image-folder": lambda root: {"type": "ImageFolderDataset", "paths": root, "scale": 2, "target_size": 16,
                                  "normalize": "imagenet", "rgb_n1_to_1": True},
    "image-folder-alt": lambda root: {"type": "ImageFolderDataset", "paths": root, "scale": 2, "target_size": 16,
                                      "fetch_alt_image": True},
    "image-folder-skip-lq": lambda root: {"type": "ImageFolderDataset", "paths": root, "scale": 1, "skip_lq": True},
    "stylegan2": lambda root: {"type": "Stylegan2Dataset", "path": root, "target_size": 16, "aug_prob": 0.5},
    "multiscale": lambda root: {"type": "MultiScaleDataset", "paths": [root], "hq_tile_size": 4, "num_scales": 3,
                                "scale": 2},
    "full-image": lambda root: {"type": "FullImageDataset", "dataroot_GT": root, "scale": 2, "target_size": 16,
                                "use_flip": True, "use_rot": True},
}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c == "multiscale" else c for c in CASES])
def test_gpu_graph_traces_with_implemented_operators(case, tmp_path):
    root = str(make_folder(tmp_path / "imgs", SIZES))
    loader = dali_sr.build_loader({**CASES[case](root), "batch_size_per_gpu": 2}, device="cpu")
    try:
        source = loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling, (0, 0))
        pipe = dali_pipeline(loader.spec, loader.cfg, source, on_gpu=True)
        pipe._build_graph()
        ops = [(op._op.device, getattr(op._op, "schema_name", type(op._op).__name__), op) for op in pipe._ops]
        for device, schema, op in ops:
            if schema != "ExternalSource":
                assert schema in IMPLEMENTED[device](), f"DALI has no {device} implementation of {schema}"
            if device == "cpu":
                assert not [i.name for i in op.inputs if i.device != "cpu"], f"CPU operator {schema} reads GPU data"
        decoders = {(d, s) for d, s, _ in ops if s.startswith("decoders__")}
        assert decoders == {("mixed", "decoders__Image")}
        devices = dict(zip(source.outputs.graph_outputs, (node.device for node in pipe._graph_outputs)))
        assert devices == {name: "cpu" if name in ("idx", "has_alt") else "gpu" for name in devices}
    finally:
        loader.close()
