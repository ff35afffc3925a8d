"""The built-in dataset types (BasicSR's, traiNNer-redux's, DL-Art-School's and neosr's `type:` names), registered with
`dali_sr.register_dataset_type` as a user's own types are: each with its dataset kind and its graph function.
Imported by `dali_sr` itself."""
from __future__ import annotations

from dali_sr.config.types import register_dataset_type
from dali_sr.datasets.clips.lq_scenes import LQ_SCENE_CLIPS
from dali_sr.datasets.clips.scenes import SCENE_CLIPS
from dali_sr.datasets.clips.types import CLIP_TYPES
from dali_sr.datasets.dlas.chunk_kinds import MULTI_FRAME, SINGLE_IMAGE
from dali_sr.datasets.dlas.full_image import FULL_IMAGE
from dali_sr.datasets.dlas.image_folder import IMAGE_FOLDER
from dali_sr.datasets.dlas.multiscale import MULTI_SCALE
from dali_sr.datasets.dlas.stylegan2 import STYLEGAN2
from dali_sr.datasets.dlas.torch_dataset import TORCH_DATASET
from dali_sr.datasets.paired.kind import FFHQ, PAIRED, REALESRGAN
from dali_sr.datasets.paired.lists import IMAGE_LIST, PAIRED_LIST
from dali_sr.datasets.paired.neosr import NEOSR_OTF, NEOSR_PAIRED, NEOSR_SINGLE

from . import (dlas_chunks, dlas_images, dlas_multiscale, dlas_stylegan2, dlas_torch, lq_clips, neosr, paired_image,
               video_clips)

register_dataset_type("PairedImageDataset", PAIRED, paired_image.define)
register_dataset_type("RealESRGANDataset", REALESRGAN, paired_image.define)
register_dataset_type("FFHQDataset", FFHQ, paired_image.define)
# the same over lists of folders (traiNNer-redux's dataroots)
register_dataset_type("PairedImageListDataset", PAIRED_LIST, paired_image.define)
register_dataset_type("ImageListDataset", IMAGE_LIST, paired_image.define)
for _name, _kind in CLIP_TYPES.items():
    register_dataset_type(_name, _kind, video_clips.define)
register_dataset_type("SceneClipDataset", SCENE_CLIPS, video_clips.define)  # flat folders of SCENE_FRAME files
register_dataset_type("SceneLQClipDataset", LQ_SCENE_CLIPS, lq_clips.define)  # the same, LQ clips alone
# DL-Art-School's image datasets, by class name (its `mode:` names map onto them)
register_dataset_type("SingleImageDataset", SINGLE_IMAGE, dlas_chunks.define)
register_dataset_type("MultiFrameDataset", MULTI_FRAME, dlas_chunks.define)
register_dataset_type("ImageFolderDataset", IMAGE_FOLDER, dlas_images.define)
register_dataset_type("MultiScaleDataset", MULTI_SCALE, dlas_multiscale.define)
register_dataset_type("FullImageDataset", FULL_IMAGE, paired_image.define)
register_dataset_type("Stylegan2Dataset", STYLEGAN2, dlas_stylegan2.define)
register_dataset_type("TorchDataset", TORCH_DATASET, dlas_torch.define)
# neosr's types, by its names (its TOML option files name them)
register_dataset_type("paired", NEOSR_PAIRED, neosr.define)
register_dataset_type("otf", NEOSR_OTF, neosr.define)
register_dataset_type("single", NEOSR_SINGLE, neosr.define)
