"""The GPU graphs of every pipeline, traced on the CPU: what CI can check of the GPU path without a GPU.

DALI validates operator arguments and conditionals while the graph is traced, before it needs
CUDA; building the GPU pipeline is left to the `gpu`-marked tests. Here each GPU graph (the
loader's own `dali_pipeline(..., on_gpu=True)`) is traced and checked: every operator runs on
a device DALI implements it for, encoded images are decoded by the `mixed` decoder (nvJPEG /
nvJPEG2000) without ROI decoding (nvImageCodec 0.9's H100 crash), stored arrays move
to the GPU undecoded, no CPU operator reads GPU data, and `lq`/`gt` leave the pipeline on the GPU.
Tracing uses DALI 2.4's `Pipeline._build_graph` and `_ops`; a DALI that renames them fails here.
"""
from __future__ import annotations

import pytest
from nvidia.dali.ops import _registry

import dali_sr
from dali_sr.loader import dali_pipeline
from dali_sr.prep.pack import pack
from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg

ROI_DECODERS = {"decoders__ImageSlice", "decoders__ImageCrop", "decoders__ImageRandomCrop"}
IMPLEMENTED = {"cpu": _registry.cpu_ops, "gpu": _registry.gpu_ops, "mixed": _registry.mixed_ops}
CLIPS = {"001": (6, 32, 36), "002": (5, 32, 36)}  # JPEG 2000 needs sides >= 32


def _pairs(tmp, codec: str = "png", phase: str = "train", **extra) -> dict:
    roots = make_nn_pairs(tmp, 2, [(32, 36), (34, 32), (40, 33)], lmdb=codec != "jpeg",
                          ext=".jpg" if codec == "jpeg" else ".png")
    if codec in ("raw", "jpeg2000", "htj2k"):
        for side in ("gt", "lq"):
            roots[f"{side}_lmdb"] = str(tmp / f"{side}_{codec}.lmdb")
            pack(roots[side], roots[f"{side}_lmdb"], codec=codec, progress=False)
    if phase == "train":
        extra.setdefault("batch_size_per_gpu", 3)  # one full batch of the 3 pairs
    return paired_cfg(roots, 2, lmdb=codec != "jpeg", phase=phase, **extra)


def _clips(tmp, kind: str, phase: str = "train", codec: str = "png", **extra) -> dict:
    roots = make_nn_clips(tmp, 2, CLIPS, lmdb=True)
    if codec != "png":
        for side in ("gt", "lq"):
            roots[f"{side}_lmdb"] = str(tmp / f"{side}_{codec}.lmdb")
            pack(roots[side], roots[f"{side}_lmdb"], codec=codec, preset="reds", progress=False)
    if kind.startswith("REDS"):
        extra["val_partition"] = "official"  # keeps clips 001 and 002 in training
    return clip_cfg(roots, 2, kind, lmdb=True, phase=phase, **extra)


def _without_lq(cfg: dict) -> dict:
    """The same config GT-only: LQ made from GT by bicubic in the graph."""
    return {k: v for k, v in cfg.items() if k != "dataroot_lq"}


EVERY_STEP = [
    {"type": "usm"}, {"type": "blur", "kernel_list": ["iso", "aniso", "plateau_iso"], "sinc_prob": 0.2, "prob": 0.9},
    {"type": "resize", "resize_prob": [0.3, 0.4, 0.3], "resize_range": [0.5, 1.5], "modes": ["area", "bilinear",
                                                                                             "bicubic", "nearest"]},
    {"type": "noise", "gaussian_noise_prob": 0.5, "gray_noise_prob": 0.5}, {"type": "gray", "prob": 0.3},
    {"type": "quantize", "prob": 0.3}, {"type": "brightness", "prob": 0.3},
    {"type": "one_of", "options": [[{"type": "jpeg"}, {"type": "resize", "to": "lq"}],
                                   [{"type": "resize", "to": "lq"}, {"type": "sinc", "prob": 0.5}]]},
]


def _realesrgan(tmp, **extra) -> dict:
    cfg = _without_lq(_pairs(tmp, gt_size=16, crop_pad_size=48, **extra))
    return {**cfg, "type": "RealESRGANDataset", "use_rot": False}


def _ffhq(tmp) -> dict:
    pairs = _pairs(tmp)
    return {"type": "FFHQDataset", "dataroot_gt": pairs["dataroot_gt"], "io_backend": {"type": "lmdb"},
            "use_hflip": True, "mean": [0.5] * 3, "std": [0.5] * 3, "batch_size_per_gpu": 3, "device": "cpu"}


def _y_patch_records(tmp) -> dict:
    import numpy as np
    import tfrecord

    writer = tfrecord.TFRecordWriter(str(tmp / "train-0.tfrecord"))
    for seed in range(3):
        writer.write({"gt": (np.random.default_rng(seed).integers(0, 256, 16 * 16, dtype=np.uint8).tobytes(), "byte")})
    writer.close()
    return {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": str(tmp), "color": "y", "gt_size": 16,
            "io_backend": {"type": "tfrecord", "feature": "gt", "patch_shape": [16, 16]}, "use_hflip": True,
            "batch_size_per_gpu": 3, "device": "cpu"}


CASES = {
    "ffhq-train": _ffhq,
    "tf-y-patch-records-train": _y_patch_records,
    "pairs-png-train": lambda t: _pairs(t),
    "pairs-png-val": lambda t: _pairs(t, phase="val"),
    "pairs-jpeg-train-disk": lambda t: _pairs(t, "jpeg"),
    "pairs-jpeg2000-train": lambda t: _pairs(t, "jpeg2000"),
    "pairs-htj2k-train": lambda t: _pairs(t, "htj2k"),
    "pairs-raw-train": lambda t: _pairs(t, "raw"),
    "pairs-raw-val": lambda t: _pairs(t, "raw", phase="val"),
    "pairs-y-mean-std-val": lambda t: _pairs(t, phase="val", color="y", mean=[0.5], std=[0.5]),
    "pairs-hflip-only": lambda t: _pairs(t, use_rot=False),
    "pairs-no-augment": lambda t: _pairs(t, use_hflip=False, use_rot=False),
    "pairs-gt-only-train": lambda t: _without_lq(_pairs(t, gt_size=16)),
    "pairs-gt-only-val": lambda t: _without_lq(_pairs(t, phase="val")),
    "pairs-gt-only-y-train": lambda t: _without_lq(_pairs(t, gt_size=16, color="y")),
    "pairs-patches-per-image-train": lambda t: _pairs(t, patches_per_image=4),
    "pairs-every-degradation-step": lambda t: _without_lq(_pairs(t, gt_size=16, degradation=EVERY_STEP)),
    "realesrgan-gan": lambda t: _realesrgan(t, l1_gt_usm=True),
    "realesrgan-net-sharpened-gt": lambda t: _realesrgan(t, gt_usm=True),
    "reds-gt-only-train": lambda t: _without_lq(_clips(t, "REDSDataset", gt_size=8)),
    "reds-recurrent-gt-only-train": lambda t: _without_lq(_clips(t, "REDSRecurrentDataset", gt_size=8)),
    "reds-recurrent-gt-only-y-train": lambda t: _without_lq(_clips(t, "REDSRecurrentDataset", gt_size=8, color="y")),
    "reds-train": lambda t: _clips(t, "REDSDataset"),
    "reds-recurrent-train": lambda t: _clips(t, "REDSRecurrentDataset"),
    "reds-raw-train": lambda t: _clips(t, "REDSDataset", codec="raw"),
    "reds-recurrent-jpeg2000-train": lambda t: _clips(t, "REDSRecurrentDataset", codec="jpeg2000"),
    "reds-htj2k-train": lambda t: _clips(t, "REDSDataset", codec="htj2k"),
    "video-test-val": lambda t: _clips(t, "VideoTestDataset", phase="val", num_frame=3),
    "video-recurrent-test-val": lambda t: _clips(t, "VideoRecurrentTestDataset", phase="val"),
    "video-test-raw-val": lambda t: _clips(t, "VideoTestDataset", phase="val", codec="raw", num_frame=3),
}


def _trace_gpu_graph(cfg: dict):
    """(loader, source, pipeline) with the GPU graph traced, not built (the loader itself runs on the CPU)."""
    loader = dali_sr.build_loader(cfg, device="cpu")
    source = loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling, (0, 0))
    pipe = dali_pipeline(loader.spec, loader.cfg, source, on_gpu=True)
    pipe._build_graph()
    return loader, source, pipe


def _schema(op) -> str:
    return getattr(op._op, "schema_name", type(op._op).__name__)


@pytest.mark.parametrize("case", list(CASES))
def test_gpu_graph_traces_with_implemented_operators(case, tmp_path):
    loader, source, pipe = _trace_gpu_graph(CASES[case](tmp_path))
    try:
        ops = [(op._op.device, _schema(op), op) for op in pipe._ops]
        assert ops, "the traced graph has no operators"
        for device, schema, _ in ops:
            if schema != "ExternalSource":
                assert schema in IMPLEMENTED[device](), f"DALI has no {device} implementation of {schema}"
        for device, schema, op in ops:
            if device == "cpu":
                gpu_inputs = [i.name for i in op.inputs if i.device != "cpu"]
                assert not gpu_inputs, f"CPU operator {schema} reads GPU data {gpu_inputs}"
        assert not {s for _, s, _ in ops} & ROI_DECODERS, "ROI decoding in a GPU graph (H100 nvImageCodec crash)"

        decoders = [(d, s) for d, s, _ in ops if s.startswith("decoders__")]
        assert all(d == "mixed" for d, _ in decoders), decoders
        encoded = [c for side in (source.outputs.lq, source.outputs.gt) if not side.pixels for c in side.columns]
        if source.outputs.degradation:
            assert {"Filter", "experimental__Filter"} & {s for _, s, _ in ops}, "no bicubic filter in the graph"
        assert len(decoders) == len(encoded), f"{len(decoders)} decoders for the encoded columns {encoded}"

        names = source.outputs.graph_outputs
        devices = {name: node.device for name, node in zip(names, pipe._graph_outputs)}
        assert devices == {name: "cpu" if name == "idx" else "gpu" for name in names}, devices
    finally:
        loader.close()
