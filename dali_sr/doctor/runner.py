"""The `dali-sr doctor` session: the config, the stages timed one by one within `--seconds`, the diagnosis."""
from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from typing import Any, Callable, Optional

import torch

from .. import Config, Loader, build_loader, load_config
from ..bench.runner import config_overrides
from ..bench.synthetic_configs import SYNTHETIC
from ..errors import ConfigError
from ..parallel import usable_cpus
from ..pipelines import paired_image, video_clips
from . import diagnosis, loop, stages
from .report import build_report, text

# Shares of --seconds: the source, the pipelines, the copy, the loader alone and beside the step.
SHARES = {"read": 0.15, "decode": 0.15, "undegraded": 0.15, "graph": 0.15, "copy": 0.05, "loader": 0.2,
          "training": 0.2}
# the graphs whose stages doctor can take apart: whether each stacks frames
STAGED_GRAPHS = {paired_image.define: False, video_clips.define: True}


def resolve_config(args: argparse.Namespace) -> Config:
    """The config `args.config` names (a path, a dataset section dict or 'synthetic'), with the overrides."""
    overrides = config_overrides(args.overrides, args.device)
    if isinstance(args.config, dict):
        source: Any = dict(args.config)
    elif args.config == "synthetic":
        make, default = SYNTHETIC["synthetic"]
        source = make(args.synthetic or default, args.codec)
    elif args.synthetic is not None or args.codec != "png":
        raise ConfigError(f"{'--synthetic N' if args.synthetic is not None else '--codec'} applies only to CONFIG "
                          f"'synthetic'")
    else:
        source = args.config
    phase = overrides.pop("phase", args.phase)
    return load_config(source, phase=phase, **overrides)


class Budget:
    """What is left of `--seconds`, shared out among the phases still to run."""

    def __init__(self, seconds: float, phases: list[str]):
        self.end = time.perf_counter() + seconds
        self.left = {p: SHARES[p] for p in phases}

    def take(self, *phases: str) -> float:
        """The seconds of `phases` (run together): their shares of what is left."""
        share = sum(self.left.pop(p) for p in phases)
        return max(self.end - time.perf_counter(), 0.0) * share / (share + sum(self.left.values()))


def _say(what: str) -> None:
    print(f"doctor: {what}", file=sys.stderr, flush=True)


def _patches_per_image(loader: Loader) -> Optional[int]:
    """The config's `patches_per_image` where its type can cut several training windows per image; else None."""
    if not (loader.spec.dataset.options.many_windows and loader.cfg.is_train):
        return None
    return loader.cfg.patches_per_image


def _step(args: argparse.Namespace, loader: Loader) -> tuple[Optional[loop.Step], Optional[str]]:
    """The training step the options ask for (None: none), and the device a built-in network runs on."""
    if args.model:
        return loop.model_step(args.model, loader)
    if args.step_ms is not None:
        return loop.sleep_step(args.step_ms), None
    return None, None


def _stages(loader: Loader, source: stages.SourceStage, timed: dict[str, stages.Timing],
            copy: Optional[stages.Timing], alone: loop.LoopRun, training: Optional[loop.LoopRun]) -> diagnosis.Stages:
    """Each stage's time per sample from the measurements: augment and degrade as differences of pipelines."""
    cfg = loader.cfg
    decode, graph = timed["decode"].per_sample, timed["graph"].per_sample
    undegraded = timed["undegraded"].per_sample if "undegraded" in timed else graph
    return diagnosis.Stages(
        read=source.read_per_sample, draws=source.draws_per_sample, decode=decode,
        augment=max(undegraded - decode, 0.0), degrade=max(graph - undegraded, 0.0),
        copy=copy.per_sample if copy is not None else 0.0,
        step=sum(training.steps) / training.samples if training is not None else 0.0,
        wait=sum(training.waits) / training.samples if training is not None else 0.0,
        source_workers=cfg.source_workers, num_threads=cfg.num_threads, cpus=usable_cpus(),
        cores_busy=alone.cpu_seconds / alone.seconds, on_gpu=loader.on_gpu, gpu=torch.cuda.is_available(),
        codecs=tuple(sorted(source.codecs)), cached_speedup=source.cached_speedup,
        patches_per_image=_patches_per_image(loader), source_decode=source.decode_per_sample)


def doctor_report(args: argparse.Namespace) -> dict[str, Any]:
    """Measure what `args` (the command's options; `config` may also be a dataset section dict) describe."""
    cfg = resolve_config(args)
    started = time.perf_counter()
    with build_loader(cfg) as ld:
        if ld.spec.graph not in STAGED_GRAPHS:
            raise ConfigError(f"dali-sr doctor takes apart the stages of the paired, Real-ESRGAN, FFHQ and video clip "
                              f"types' graph; {cfg.type} has its own graph")
        step, device = _step(args, ld)
        frames = STAGED_GRAPHS[ld.spec.graph]
        replay_of = ld.spec.dataset.make_source(cfg, ld.index, ld.sampling, (0, 0))
        graphs: dict[str, Optional[Callable]] = {"decode": partial(stages.decode_graph, frames=frames)}
        if replay_of.outputs.degradation is not None:
            graphs["undegraded"] = partial(stages.undegraded_graph, frames=frames)
        graphs["graph"] = None  # the type's own
        phases = ["read", *graphs, "loader"] + ["copy"] * torch.cuda.is_available() + ["training"] * bool(step)
        budget = Budget(args.seconds, phases)

        _say("reading batches from the source")
        source = stages.source_stage(ld, budget.take("read"))
        replay = stages.Replay(replay_of, source.kept)
        _say(", ".join(stages.PIPELINES[name] for name in graphs))
        timed = stages.pipeline_stages(ld, replay, graphs, budget.take(*graphs))
        _say("the loader end to end")
        ld.set_epoch(source.after[0] + 1)  # an order the source stage has not read from
        stream = loop.batches(ld)
        alone, batch = loop.loop_run(stream, budget.take("loader"), cfg.prefetch_queue_depth, None, min_batches=2)
        copy = stages.copy_stage(ld, replay, batch, budget.take("copy")) if "copy" in phases else None
        training = None
        if step is not None:
            _say(f"the loader beside a training step ({args.model or f'{args.step_ms:g} ms'})")
            training, _ = loop.loop_run(stream, budget.take("training"), 1, step)
        elapsed = time.perf_counter() - started
        st = _stages(ld, source, timed, copy, alone, training)
        return build_report(args, cfg, ld, st, source, timed, copy, alone, training, device, elapsed)


def doctor(args: argparse.Namespace) -> dict[str, Any]:
    """Run `dali-sr doctor`: measure, then print the text report or, with --json, the JSON one; the report."""
    report = doctor_report(args)
    print(json.dumps(report, indent=2) if args.json else text(report))
    return report
