"""The keys of SingleImageDataset and MultiFrameDataset (DL-Art-School's `single_image_extensible` and
`multi_frame_extensible`): the shared DL-Art-School keys plus how their chunk folders are read (and
`num_frames`), and the `Config` they finish (LQ made by the corruption chain, or the HQ itself with `eval`)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from ...config import Config, TypeOptions
from ...degrade.dlas import corruption_chain
from ...errors import ConfigError
from ...schema.fields import Field, integer
from .keys import SHARED_KEYS, check_target_size
from .roots import weighted_roots

CHUNK_KEYS: dict[str, Field] = {
    **SHARED_KEYS,
    "need_ref": Field((bool,), False),  # yield ref.jpg with the tile's square marked (else zeros)
    "strict": Field((bool,), False),  # the tile's centre from centers.pt (else DL-Art-School's fixed (128, 128), 256)
    "needs_metadata": Field((bool,), False),  # the same as strict
    "ignore_first": integer(0, 1 << 30, 0),  # skip this many tiles at the start of every folder
}


@dataclass(frozen=True)
class ChunkOptions:
    """The checked values of `CHUNK_KEYS`."""

    paths: object
    weights: Optional[list]
    target_size: Optional[int]
    force_multiple: int
    eval: bool
    fixed_corruptions: list
    random_corruptions: list
    num_corrupts_per_image: int
    corruption_blur_scale: float
    corrupt_before_downsize: bool
    corrupt_before_downsize_factor: Optional[int]
    cosine_bias: bool
    need_ref: bool
    strict: bool
    needs_metadata: bool
    ignore_first: int
    num_frames: int = 0  # MultiFrameDataset: frames per sample (0: single images)

    @property
    def centers_needed(self) -> bool:
        """Tile centres come from centers.pt (DL-Art-School's `strict` or `needs_metadata`, with `need_ref`)."""
        return self.need_ref and (self.strict or self.needs_metadata)


def finish_chunks(cfg: Config, where: str) -> Config:
    """`eval`: LQ is the HQ image (DL-Art-School's scale 1, no corruption); else LQ is the corruption chain's.
    `target_size / scale` must be a multiple of `force_multiple`; `weights` must match `paths`."""
    o: ChunkOptions = cfg.options
    weighted_roots(o.paths, o.weights, where)
    scale = 1 if o.eval else cfg.scale
    check_target_size(o.target_size, scale, o.force_multiple, where)
    chain = None if o.eval else corruption_chain(vars(o), scale, where)
    return replace(cfg, scale=scale, degradation=chain)


def finish_frames(cfg: Config, where: str) -> Config:
    """MultiFrameDataset: as `finish_chunks`, and `num_frames` is required."""
    if cfg.options.num_frames is None:
        raise ConfigError(f"{where}: MultiFrameDataset needs 'num_frames' (consecutive frames per sample)")
    return finish_chunks(cfg, where)


CHUNK_OPTIONS = TypeOptions(CHUNK_KEYS, ChunkOptions, needs_gt_size=False, makes_lq=False, finish=finish_chunks)
FRAME_OPTIONS = TypeOptions({**CHUNK_KEYS, "num_frames": integer(1, 1024)}, ChunkOptions, needs_gt_size=False,
                            makes_lq=False, finish=finish_frames)
