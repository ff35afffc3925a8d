"""The dataset kinds of DL-Art-School's chunked tile folders: SingleImageDataset (`single_image_extensible`) and
MultiFrameDataset (`multi_frame_extensible`, consecutive frames of a video's chunk folders)."""
from __future__ import annotations

from ..kind import DatasetKind
from .chunk_options import CHUNK_OPTIONS, FRAME_OPTIONS
from .tile_index import build_tile_index
from .tile_source import TileSource

SINGLE_IMAGE = DatasetKind(CHUNK_OPTIONS, build_tile_index, TileSource)
MULTI_FRAME = DatasetKind(FRAME_OPTIONS, build_tile_index, TileSource)
