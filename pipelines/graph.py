"""The graph every type shares: source -> images cut to their windows -> one set of flips -> LQ (read, or made
from GT) -> float CHW outputs."""
from __future__ import annotations

from typing import Any, Optional

from dali_sr.datasets.source import PlanSource

from . import degrade, ops


def restoration_graph(cfg: Any, source: PlanSource, on_gpu: bool, frames: bool,
                      columns: Optional[dict[str, Any]] = None) -> tuple:
    """The graph's outputs, named by `source.outputs.graph_outputs`: ([lq,] gt[, gt_usm], idx), float CHW (FCHW
    with `frames`). `columns`: the source's columns when the caller made them (`ops.source_columns`) to read
    columns of its own after this graph.

    With a degradation, LQ is made after the flips from the GT images (or from the GT values the LQ
    columns hold), so it is exactly the degradation of the GT the loader yields. With `degradation: bicubic`
    and `color: y`, LQ is the bicubic of the GT's float Y plane, not rounded to levels.
    """
    out = source.outputs
    columns = columns if columns is not None else ops.source_columns(source, cfg.source_workers)
    gt = ops.side_images(columns, out.gt, frames, on_gpu, cfg.hw_decoder_load)
    extra: tuple = ()
    if out.degradation is not None and not out.degradation.is_bicubic:
        gt = ops.augment([gt], columns, out, frames)[0]
        lq, gt, gt_usm = degrade.degraded_pair(gt, out, columns, cfg, on_gpu)
        if gt_usm is not None:
            extra = (ops.float_output(gt_usm, cfg.mean, cfg.std, on_gpu),)
    elif not out.yields_lq:
        gt = ops.augment([gt], columns, out, frames)[0]
        return (ops.to_output(gt, cfg.mean, cfg.std, cfg.color == "y", frames, on_gpu, out.stored_y), columns["idx"])
    elif out.degradation is not None:
        images = [gt] + ([ops.side_images(columns, out.lq, frames, on_gpu, cfg.hw_decoder_load)]
                         if out.lq.columns else [])
        images = ops.augment(images, columns, out, frames)
        gt = images[0]
        if cfg.color == "y":  # the bicubic of the float Y plane, not rounded, as the TensorFlow SR loader makes it
            y = ops.y_plane(images[-1], frames, on_gpu, out.stored_y)
            lq = ops.bicubic_float(y, cfg.scale, frames, on_gpu)
            return (ops.float_output(lq, cfg.mean, cfg.std, on_gpu, frames),
                    ops.to_output(gt, cfg.mean, cfg.std, True, frames, on_gpu, out.stored_y), columns["idx"])
        lq = ops.bicubic_downscale(images[-1], cfg.scale, frames, on_gpu)
    else:
        lq = ops.side_images(columns, out.lq, frames, on_gpu, cfg.hw_decoder_load)
        lq, gt = ops.augment([lq, gt], columns, out, frames)
    y = cfg.color == "y"
    gt_out = (ops.float_output(gt, cfg.mean, cfg.std, on_gpu) if out.sharpen_gt
              else ops.to_output(gt, cfg.mean, cfg.std, y, frames, on_gpu, out.stored_y))
    return (ops.to_output(lq, cfg.mean, cfg.std, y, frames, on_gpu, out.stored_y), gt_out) + extra + (columns["idx"],)
