"""`feed_data` of `RealESRGANModel` / `RealESRNetModel`: the two-stage degradation of a batch, on any torch device."""
from __future__ import annotations

import random
from typing import Optional, Sequence

import torch

from .diffjpeg import DiffJPEG
from .kernels import Rngs
from .ops import USMSharp, add_gaussian_noise_pt, add_poisson_noise_pt, filter2D, interpolate, round_to_levels
from .options import RealESRGANOptions

RESIZE_MODES = ("area", "bilinear", "bicubic")
UPDOWN = ("up", "down", "keep")


def _paired_random_crop(gt: torch.Tensor, lq: torch.Tensor, gt_size: int, scale: int,
                        rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
    """BasicSR's `paired_random_crop` of batches: one random LQ window for the batch, the GT window scale x it."""
    h_lq, w_lq = lq.shape[-2:]
    h_gt, w_gt = gt.shape[-2:]
    lq_size = gt_size // scale
    if h_gt != h_lq * scale or w_gt != w_lq * scale:
        raise ValueError(f"GT ({h_gt}, {w_gt}) is not {scale} x LQ ({h_lq}, {w_lq})")
    if h_lq < lq_size or w_lq < lq_size:
        raise ValueError(f"LQ ({h_lq}, {w_lq}) is smaller than the patch ({lq_size}, {lq_size})")
    top = rng.randint(0, h_lq - lq_size)
    left = rng.randint(0, w_lq - lq_size)
    top_gt, left_gt = int(top * scale), int(left * scale)
    return (gt[:, :, top_gt:top_gt + gt_size, left_gt:left_gt + gt_size],
            lq[:, :, top:top + lq_size, left:left + lq_size])


class BasicSRDegradation:
    """`feed_data` of `RealESRGANModel` (BasicSR) or `RealESRNetModel` (Real-ESRGAN) on `device`.

    Per batch: one resize direction, scale and mode per resize, one noise type per stage, one
    second-blur decision and one order of [resize back + sinc] / JPEG; per sample: noise sigma or
    scale, gray choice and JPEG quality. The training pair pool is off unless `use_queue`.
    """

    def __init__(self, opts: RealESRGANOptions, device: torch.device, model: str = "RealESRGANModel",
                 seed: int = 0, use_queue: bool = False):
        if model not in ("RealESRGANModel", "RealESRNetModel"):
            raise ValueError(f"model must be RealESRGANModel or RealESRNetModel, got {model!r}")
        self.opts, self.device, self.model, self.use_queue = opts, torch.device(device), model, use_queue
        self.rngs = Rngs.seeded(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.jpeger = DiffJPEG().to(self.device)
        self.usm_sharpener = USMSharp().to(self.device)
        self.queue_lr: Optional[torch.Tensor] = None
        self.queue_gt: Optional[torch.Tensor] = None
        self.queue_ptr = 0

    def _uniform(self, like: torch.Tensor, bounds: Sequence[float]) -> torch.Tensor:
        """(B,) uniform in bounds, as `torch.rand(B) * (hi - lo) + lo`."""
        r = torch.rand(like.size(0), dtype=like.dtype, device=like.device, generator=self.generator)
        return r * (bounds[1] - bounds[0]) + bounds[0]

    def _gray(self, like: torch.Tensor, prob: float) -> torch.Tensor:
        """(B,) 1.0 with probability `prob`, else 0.0."""
        r = torch.rand(like.size(0), dtype=like.dtype, device=like.device, generator=self.generator)
        return (r < prob).float()

    def _resize_scale(self, prob: Sequence[float], bounds: Sequence[float]) -> float:
        """Up in [1, hi], down in [lo, 1] or keep (1), chosen by `prob`."""
        kind = self.rngs.py.choices(UPDOWN, prob)[0]
        if kind == "up":
            return self.rngs.np.uniform(1, bounds[1])
        if kind == "down":
            return self.rngs.np.uniform(bounds[0], 1)
        return 1

    def _mode(self) -> str:
        """One of 'area', 'bilinear', 'bicubic', uniformly."""
        return self.rngs.py.choice(RESIZE_MODES)

    def _noise(self, out: torch.Tensor, gaussian_prob: float, sigma_range: Sequence[float],
               poisson_range: Sequence[float], gray_prob: float) -> torch.Tensor:
        """Gaussian noise with `gaussian_prob`, else Poisson, clipped to [0, 1] (BasicSR's random_add_*_pt)."""
        if self.rngs.np.uniform() < gaussian_prob:
            sigma = self._uniform(out, sigma_range)
            return add_gaussian_noise_pt(out, sigma, self._gray(out, gray_prob), generator=self.generator)
        scale = self._uniform(out, poisson_range)
        return add_poisson_noise_pt(out, scale, self._gray(out, gray_prob), generator=self.generator)

    def _jpeg(self, out: torch.Tensor, bounds: Sequence[float]) -> torch.Tensor:
        """DiffJPEG of `out` clamped to [0, 1], per-sample quality uniform in bounds."""
        quality = out.new_zeros(out.size(0)).uniform_(bounds[0], bounds[1], generator=self.generator)
        return self.jpeger(torch.clamp(out, 0, 1), quality)

    def _resize_back_sinc(self, out: torch.Tensor, size: tuple[int, int], sinc: torch.Tensor) -> torch.Tensor:
        """Resize to `size` with a random mode, then the final sinc filter."""
        return filter2D(interpolate(out, size=size, mode=self._mode()), sinc)

    def _degrade(self, src: torch.Tensor, kernel1: torch.Tensor, kernel2: torch.Tensor,
                 sinc: torch.Tensor) -> torch.Tensor:
        """The two degradation stages and the final [resize back + sinc] / JPEG in a random order."""
        o = self.opts
        ori_h, ori_w = src.shape[2:4]
        out = filter2D(src, kernel1)
        scale = self._resize_scale(o.resize_prob, o.resize_range)
        out = interpolate(out, scale_factor=scale, mode=self._mode())
        out = self._noise(out, o.gaussian_noise_prob, o.noise_range, o.poisson_scale_range, o.gray_noise_prob)
        out = self._jpeg(out, o.jpeg_range)
        if self.rngs.np.uniform() < o.second_blur_prob:
            out = filter2D(out, kernel2)
        scale = self._resize_scale(o.resize_prob2, o.resize_range2)
        size = (int(ori_h / o.scale * scale), int(ori_w / o.scale * scale))
        out = interpolate(out, size=size, mode=self._mode())
        out = self._noise(out, o.gaussian_noise_prob2, o.noise_range2, o.poisson_scale_range2, o.gray_noise_prob2)
        final = (ori_h // o.scale, ori_w // o.scale)
        if self.rngs.np.uniform() < 0.5:
            out = self._jpeg(self._resize_back_sinc(out, final, sinc), o.jpeg_range2)
        else:
            out = self._resize_back_sinc(self._jpeg(out, o.jpeg_range2), final, sinc)
        return round_to_levels(out)

    def _dequeue_and_enqueue(self, lq: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """BasicSR's training pair pool: fill it batch by batch; once full, shuffle it and swap a batch out."""
        b = lq.size(0)
        if self.queue_lr is None:
            if self.opts.queue_size % b != 0:
                raise ValueError(f"queue size {self.opts.queue_size} should be divisible by batch size {b}")
            self.queue_lr = torch.zeros(self.opts.queue_size, *lq.shape[1:], device=self.device)
            self.queue_gt = torch.zeros(self.opts.queue_size, *gt.shape[1:], device=self.device)
            self.queue_ptr = 0
        if self.queue_ptr == self.opts.queue_size:
            idx = torch.randperm(self.opts.queue_size, generator=self.generator, device=self.device)
            self.queue_lr, self.queue_gt = self.queue_lr[idx], self.queue_gt[idx]
            lq_out, gt_out = self.queue_lr[0:b].clone(), self.queue_gt[0:b].clone()
            self.queue_lr[0:b], self.queue_gt[0:b] = lq.clone(), gt.clone()
            return lq_out, gt_out
        self.queue_lr[self.queue_ptr:self.queue_ptr + b] = lq.clone()
        self.queue_gt[self.queue_ptr:self.queue_ptr + b] = gt.clone()
        self.queue_ptr += b
        return lq, gt

    @torch.no_grad()
    def __call__(self, batch: dict) -> dict[str, torch.Tensor]:
        """A dataset batch -> {"lq", "gt"} (+ "gt_usm" for RealESRGANModel), cropped to gt_size / gt_size // scale."""
        o = self.opts
        gt = batch["gt"].to(self.device)
        kernels = [batch[k].to(self.device) for k in ("kernel1", "kernel2", "sinc_kernel")]
        esrgan = self.model == "RealESRGANModel"
        if esrgan:
            lq = self._degrade(self.usm_sharpener(gt), *kernels)
        else:
            if o.gt_usm:
                gt = self.usm_sharpener(gt)
            lq = self._degrade(gt, *kernels)
        gt, lq = _paired_random_crop(gt, lq, o.gt_size, o.scale, self.rngs.py)
        if self.use_queue:
            lq, gt = self._dequeue_and_enqueue(lq, gt)
        out = {"lq": lq.contiguous(), "gt": gt}
        if esrgan:
            out["gt_usm"] = self.usm_sharpener(gt)
        return out
