"""SingleImageDataset (DL-Art-School's `single_image_extensible`): the dataset kind of its chunked tile folders."""
from __future__ import annotations

from ..kind import DatasetKind
from .single_image_options import CHUNK_OPTIONS
from .tile_index import build_tile_index
from .tile_source import TileSource

SINGLE_IMAGE = DatasetKind(CHUNK_OPTIONS, build_tile_index, TileSource)
