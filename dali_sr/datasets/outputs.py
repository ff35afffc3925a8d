"""The declared shape of a source's batches: which columns it hands the DALI graph, and what each side holds.

A source builds its `SourceOutputs` once from the config and the index; the graph reads the same
object to know what to decode, crop and flip. Neither infers anything from which columns exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional

from ..degrade.chain import Chain


class Window(Enum):
    """How the graph cuts one side's decoded images."""

    NONE = "none"  # use the image as it arrives (whole images, or pixels the source already cut)
    CROP = "crop"  # training: `<side>_anchor` (x, y) and `<side>_shape` (w, h) columns, in pixels
    CUT = "cut"  # validation GT: `<side>_shape` (LQ size x scale) from the top-left corner


@dataclass(frozen=True)
class ImageSide:
    """One side (LQ or GT) of a batch.

    `columns`: its image columns, one per frame position of a stacked sample (`lq_0` .. `lq_4`) or
    one (`lq`); `pixels`: the values are HWC RGB uint8 windows the source cut from stored pixels
    (raw storage), not encoded bytes; `window`: what the graph still has to cut.
    """

    name: str
    columns: tuple[str, ...]
    pixels: bool
    window: Window

    @property
    def anchor(self) -> str:
        return f"{self.name}_anchor"

    @property
    def shape(self) -> str:
        return f"{self.name}_shape"

    def window_columns(self) -> tuple[str, ...]:
        return {Window.NONE: (), Window.CROP: (self.anchor, self.shape), Window.CUT: (self.shape,)}[self.window]


@dataclass(frozen=True)
class SourceOutputs:
    """Every column of a source's batches, in `columns` order, ending with `idx` (sample identities).

    With a `degradation` the graph makes LQ from GT: from the LQ columns when there are some (GT values
    at the LQ frames of a stacked clip, cut with GT-sized windows), else from the GT images themselves.
    A chain of steps also reads its per-sample `draws` columns and, when it degrades windows larger than the
    patch (`final_crop`), a `crop_anchor` (x, y) of the LQ patch and a `pad` column (rows, columns to
    mirror in at the bottom and right, and where the mirrored strips start). `sharpen_gt`: the GT window
    is sharpened (unsharp masking) before anything else and yielded so; `gt_usm`: the graph also yields
    the sharpened GT patch.
    """

    lq: ImageSide
    gt: ImageSide
    flips: tuple[str, ...]  # per-row augment flags the graph applies: of hflip, vflip, transpose (BasicSR's order)
    training: bool
    stacked: bool  # a row holds several LQ frames to stack into one FHWC sequence (clip types)
    degradation: Optional[Chain] = None  # LQ made from GT in the graph
    draws: tuple[str, ...] = ()
    final_crop: bool = False
    sharpen_gt: bool = False
    gt_usm: bool = False
    yields_lq: bool = True  # False: GT alone (no stored LQ and none made), as BasicSR's FFHQDataset
    stored_y: bool = False  # the stored values are Y (one-channel patches): output them, not Y of them

    @property
    def columns(self) -> tuple[str, ...]:
        images = self.lq.columns + self.gt.columns
        crop = ("crop_anchor", "pad") if self.final_crop else ()
        return (images + self.lq.window_columns() + self.gt.window_columns() + self.flips + self.draws + crop
                + ("idx",))

    @property
    def graph_outputs(self) -> tuple[str, ...]:
        """What the graph returns, in order: `lq` (unless GT alone), `gt`, `gt_usm` when asked, `idx`."""
        return ("lq",) * self.yields_lq + ("gt",) + (("gt_usm",) if self.gt_usm else ()) + ("idx",)


def side(name: str, columns: tuple[str, ...], pixels: bool, training: bool) -> ImageSide:
    """A side as every source declares it: pixel sides arrive cut; encoded ones are cropped in training and,
    for GT, cut to LQ x scale outside it."""
    if pixels:
        window = Window.NONE
    elif training:
        window = Window.CROP
    else:
        window = Window.CUT if name == "gt" else Window.NONE
    return ImageSide(name, columns, pixels, window)


def derived(name: str) -> ImageSide:
    """A side with no column of its own: the graph makes it (LQ from the GT images)."""
    return ImageSide(name, (), False, Window.NONE)


def flips(training: bool, use_hflip: bool, use_rot: bool, use_vflip: bool = False) -> tuple[str, ...]:
    """The flag columns of a config: hflip with use_hflip or use_rot (BasicSR flips under either), vflip with
    use_rot or use_vflip, transpose with use_rot; none outside training."""
    if not training:
        return ()
    return ((("hflip",) if use_hflip or use_rot or use_vflip else ()) + (("vflip",) if use_rot or use_vflip else ())
            + (("transpose",) if use_rot else ()))
