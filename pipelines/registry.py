"""The built-in dataset types (BasicSR's `type:` names), registered with `dali_sr.register_dataset_type` as a
user's own types are: each with its dataset kind and its graph function. Imported by `dali_sr` itself."""
from __future__ import annotations

from dali_sr.config.types import register_dataset_type
from dali_sr.datasets.clips.types import CLIP_TYPES
from dali_sr.datasets.dlas.torch_dataset import TORCH_DATASET
from dali_sr.datasets.paired.kind import FFHQ, PAIRED, REALESRGAN

from . import dlas_torch, paired_image, video_clips

register_dataset_type("PairedImageDataset", PAIRED, paired_image.define)
register_dataset_type("RealESRGANDataset", REALESRGAN, paired_image.define)
register_dataset_type("FFHQDataset", FFHQ, paired_image.define)
for _name, _kind in CLIP_TYPES.items():
    register_dataset_type(_name, _kind, video_clips.define)
register_dataset_type("TorchDataset", TORCH_DATASET, dlas_torch.define)
