"""`PairedImageDataset`: BasicSR's paired images, with only the common keys."""
from __future__ import annotations

from ...config import TypeOptions
from ..kind import DatasetKind
from .index import build_paired_index
from .source import PairedSource

PAIRED = DatasetKind(TypeOptions(), build_paired_index, PairedSource)
