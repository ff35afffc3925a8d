"""The loader end to end, as a training loop runs it: alone, and beside a training step.

A step is either a wait of `--step-ms` (a GPU step leaves the training thread idle while the GPU works, so
the wait sleeps) or a built-in network trained on each batch. What is measured per iteration is the time
`next(loader)` takes (the training thread waiting for data, and reading it when the source runs there) and
the step's own time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np

from .. import Loader
from ..bench import proctree
from ..errors import ConfigError

Step = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class LoopRun:
    """Timed iterations of the loader in a loop (with a step, or none)."""

    batches: int
    samples: int
    seconds: float
    cpu_seconds: float
    waits: list[float]  # seconds in next(loader), per iteration
    steps: list[float]  # seconds in the step, per iteration

    def as_dict(self) -> dict[str, Any]:
        wait, step = sum(self.waits), sum(self.steps)
        p50, p99 = (np.percentile(self.waits, [50, 99]) * 1000.0).tolist()
        out = {"batches": self.batches, "samples": self.samples, "seconds": round(self.seconds, 4),
               "batches_per_s": round(self.batches / self.seconds, 3),
               "samples_per_s": round(self.samples / self.seconds, 2),
               "cores_busy": round(self.cpu_seconds / self.seconds, 2),
               "wait_ms": {"mean": round(1000 * wait / self.batches, 3), "p50": round(p50, 3), "p99": round(p99, 3)}}
        if self.steps:
            out["step_ms"] = round(1000 * step / self.batches, 3)
            out["wait_fraction"] = round(wait / (wait + step), 4) if wait + step > 0 else 0.0
        return out


def batches(loader: Loader) -> Iterator[dict[str, Any]]:
    """The loader's batches, epoch after epoch."""
    while True:
        yield from loader


def loop_run(stream: Iterator[dict[str, Any]], budget: float, warmup: int, step: Optional[Step],
             min_batches: int = 3) -> tuple[LoopRun, dict[str, Any]]:
    """Take `warmup` batches untimed (a step after each), then iterate for what is left of `budget` seconds (at
    least `min_batches` iterations); the run and its last batch."""
    end = time.perf_counter() + budget
    batch: dict[str, Any] = {}
    for _ in range(warmup):
        batch = next(stream)
        if step is not None:
            step(batch)
    pids = proctree.tree()
    cpu0, t0 = proctree.cpu_seconds(pids), time.perf_counter()
    waits: list[float] = []
    steps: list[float] = []
    samples = 0
    while len(waits) < min_batches or time.perf_counter() < end:
        t = time.perf_counter()
        batch = next(stream)
        waits.append(time.perf_counter() - t)
        samples += len(batch["gt"])
        if step is not None:
            t = time.perf_counter()
            step(batch)
            steps.append(time.perf_counter() - t)
    seconds = time.perf_counter() - t0
    return LoopRun(len(waits), samples, seconds, proctree.cpu_seconds(pids) - cpu0, waits, steps), batch


def sleep_step(ms: float) -> Step:
    """A step that leaves the training thread idle for `ms` milliseconds."""
    def step(batch: dict[str, Any]) -> None:
        time.sleep(ms / 1000.0)

    return step


def model_step(name: str, loader: Loader) -> tuple[Step, str]:
    """A training step of the built-in network `name` on the GPU if there is one (else the CPU), and the device
    it runs on."""
    import torch

    from ..models import TinySR

    cfg = loader.cfg
    device = torch.device("cuda", cfg.device_id) if torch.cuda.is_available() else torch.device("cpu")
    features = 64 if name == "tinysr-wide" else 32
    net = TinySR(scale=cfg.scale, channels=cfg.out_channels, features=features).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step(batch: dict[str, Any]) -> None:
        if "lq" not in batch:
            raise ConfigError(f"--model trains on LQ/GT pairs and {cfg.name} yields GT alone; use --step-ms")
        lq, gt = batch["lq"].to(device, non_blocking=True), batch["gt"].to(device, non_blocking=True)
        if lq.dim() == 5:  # clips: the centre frame's network stands in for a video network
            lq = lq[:, lq.shape[1] // 2]
        loss = torch.nn.functional.l1_loss(net(lq), gt if gt.dim() == 4 else gt[:, gt.shape[1] // 2])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step, str(device)
