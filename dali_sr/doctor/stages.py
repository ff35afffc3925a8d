"""The loader's stages, each timed alone for a bounded time.

- the source alone: its batches read on this thread as the loader's training thread reads them (storage
  reads, headers, per-sample degradation draws, the draws timed apart); the first batches are kept, then
  read once more to see what a warm page cache gives;
- on the kept batches, served again from memory (no storage in the way), three DALI pipelines with the
  config's threads and device: the decoder alone (cutting the window where the decoder does it), the graph
  without its degradation (decode, flips, float output), and the type's own graph;
- the copy of a batch to the GPU, when there is one.

Differences between the pipelines give the time of the flips and outputs ("augment") and of the degradation.
"""
from __future__ import annotations

import copy
import itertools
import statistics
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Optional

import numpy as np

from .. import Config, Loader
from ..bench import proctree
from ..bench.contenders import Contender
from ..bench.measure import measure
from ..loader.dali_internals import shut_down
from ..loader.loader import dali_pipeline
from ..pipelines import ops
from ..storage.headers import SNIFF_BYTES, sniff_codec

KEEP_BATCHES = 16  # batches the read stage keeps for the pipelines to replay
KEEP_BYTES = 512 << 20  # at most this much of them
READ_AGAIN = 4  # kept batches read a second time
RUNS = 3  # alternating timed runs of the pipelines
MIN_BATCHES = 2  # timed batches per run, however little time is left
PIPELINES = {"decode": "DALI's decoder alone", "undegraded": "the graph without its degradation",
             "graph": "the whole graph"}  # what each timed pipeline is, by name


@dataclass(frozen=True)
class Timing:
    """A stage's timed batches: samples, wall and CPU seconds (this process and its children), and each batch's
    seconds."""

    batches: int
    samples: int
    seconds: float
    cpu_seconds: float
    each: tuple[float, ...]

    @property
    def per_sample(self) -> float:
        """Seconds per sample: the median batch's time over the mean batch size (a stall of the machine in one
        batch does not count)."""
        return statistics.median(self.each) * self.batches / max(self.samples, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "samples": self.samples, "seconds": round(self.seconds, 4),
                "samples_per_s": round(1.0 / self.per_sample, 2) if self.per_sample > 0 else None,
                "ms_per_sample": round(1000 * self.per_sample, 3),
                "cores_busy": round(self.cpu_seconds / self.seconds, 2) if self.seconds else None}


def timed(step: Callable[[], int], budget: float, warmup: int = 0, min_batches: int = 2) -> Timing:
    """Run `step` (one batch; returns its samples) `warmup` times untimed, then timed until `budget` seconds have
    passed since the call, and at least `min_batches` times."""
    end = time.perf_counter() + budget
    for _ in range(warmup):
        step()
    pids = proctree.tree()
    cpu0, t0 = proctree.cpu_seconds(pids), time.perf_counter()
    each: list[float] = []
    samples = 0
    while len(each) < min_batches or time.perf_counter() < end:
        t = time.perf_counter()
        samples += step()
        each.append(time.perf_counter() - t)
    seconds = time.perf_counter() - t0
    return Timing(len(each), samples, seconds, proctree.cpu_seconds(pids) - cpu0, tuple(each))


class _TimedDraws:
    """A source's degradation draws, with the time spent drawing them added up."""

    def __init__(self, draws: Any):
        self._draws, self.seconds = draws, 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._draws, name)

    def rows(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return self._draws.rows(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t


class _TimedStorage:
    """A storage whose reads are timed (thread-seconds: reads on worker threads add up) and whose values' codecs
    are counted."""

    def __init__(self, store: Any, raw: bool, codecs: dict[str, int]):
        self._store, self._raw, self.codecs, self.seconds = store, raw, codecs, 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def get(self, key: str) -> np.ndarray:
        t = time.perf_counter()
        try:
            value = self._store.get(key)
        finally:
            self.seconds += time.perf_counter() - t
        codec = "raw" if self._raw else sniff_codec(bytes(np.asarray(value)[:SNIFF_BYTES]))
        self.codecs[codec] = self.codecs.get(codec, 0) + 1
        return value


def _timed_index(index: Any, codecs: dict[str, int]) -> tuple[Any, list[_TimedStorage]]:
    """A shallow copy of a dataset index whose storages (`gt`, `lq`) are timed, and those storages."""
    index = copy.copy(index)
    timed_stores = []
    for side in ("gt", "lq"):
        store = getattr(index, side, None)
        if store is not None:
            timed_store = _TimedStorage(store, getattr(index, f"{side}_arrays", None) is not None, codecs)
            setattr(index, side, timed_store)
            timed_stores.append(timed_store)
    return index, timed_stores


@dataclass
class SourceStage:
    """What the read stage measured and kept."""

    timing: Timing  # whole batches from the source
    read_share: float  # the share of its time spent in storage reads
    draw_share: float  # ... drawing degradation settings
    decodes: bool  # the source decodes images itself (patches_per_image): the rest of its time is decoding
    first: float  # seconds the first READ_AGAIN kept batches took to read ...
    again: float  # ... and to read once more by a new source (the page cache holds them now)
    kept: list[tuple]  # the first batches' columns, in the source's column order
    codecs: dict[str, int]  # stored values read, by codec ("raw" for pixel arrays)
    after: tuple[int, int]  # the (epoch, batch) after the last batch read

    @property
    def per_sample(self) -> float:
        """Seconds per sample: the mean, as a source that decodes does so in bursts (a group's images at once)."""
        return self.timing.seconds / max(self.timing.samples, 1) if self.decodes else self.timing.per_sample

    @property
    def read_per_sample(self) -> float:
        """Seconds per sample spent reading: the storage reads, and the headers and windows unless the source
        decodes."""
        return self.per_sample * (self.read_share if self.decodes else 1.0 - self.draw_share)

    @property
    def draws_per_sample(self) -> float:
        return self.per_sample * self.draw_share

    @property
    def decode_per_sample(self) -> float:
        """Seconds per sample the source spends decoding (none unless it decodes)."""
        return self.per_sample * max(1.0 - self.read_share - self.draw_share, 0.0) if self.decodes else 0.0

    @property
    def cached_speedup(self) -> float:
        """How much faster the same batches came the second time."""
        return self.first / self.again if self.again > 0 else 1.0


def _nbytes(columns: tuple) -> int:
    return sum(sum(np.asarray(v).nbytes for v in c) if isinstance(c, list) else np.asarray(c).nbytes
               for c in columns)


def source_stage(loader: Loader, budget: float) -> SourceStage:
    """Read batches from the start of epoch 0 on this thread for `budget` seconds (at least two); keep the first
    ones, and read the first few of them again with a new source (nothing decoded kept)."""
    codecs: dict[str, int] = {}
    index, stores = _timed_index(loader.index, codecs)
    cfg = loader.cfg

    def new_source() -> Any:
        return loader.spec.dataset.make_source(cfg, index, loader.sampling, (0, 0))

    source = new_source()
    draws = getattr(source, "draws", None)
    if draws is not None:
        source.draws = draws = _TimedDraws(draws)  # this source only: the draws it makes are timed
    out = source.outputs
    idx = out.columns.index("idx")
    kept: list[tuple] = []
    seconds: list[float] = []
    held = [0]

    def read() -> int:
        t = time.perf_counter()
        epoch, batch = source.position(len(seconds))
        values = source.assemble(epoch, batch).columns
        seconds.append(time.perf_counter() - t)
        columns = tuple(values[name] for name in out.columns)
        if len(kept) < KEEP_BATCHES and held[0] < KEEP_BYTES:
            kept.append(columns)
            held[0] += _nbytes(columns)
        return len(columns[idx])

    def spent() -> tuple[float, float]:
        return sum(s.seconds for s in stores), draws.seconds if draws is not None else 0.0

    read()  # the first batch opens the storage: untimed
    read0, drawn0 = spent()
    timing = timed(read, budget - seconds[0], min_batches=2)
    read1, drawn1 = spent()
    draw_share = (drawn1 - drawn0) / timing.seconds
    read_share = min((read1 - read0) / timing.seconds, 1.0 - draw_share)
    again = range(1, min(len(kept), READ_AGAIN + 1))
    fresh = new_source()
    t = time.perf_counter()
    for i in again:
        fresh.read_batch(*fresh.position(i))
    again_seconds = time.perf_counter() - t
    return SourceStage(timing, read_share, draw_share, cfg.patches_per_image > 1, sum(seconds[i] for i in again),
                       again_seconds, kept, codecs, source.position(len(seconds)))


class Replay:
    """An external source that serves the kept batches again, in turn, from memory; it passes for the loader's
    source in the type's graph (outputs, sampling, start, rows per batch)."""

    def __init__(self, source: Any, batches: list[tuple]):
        self.outputs, self.sampling, self.start = source.outputs, source.sampling, source.start
        self.rows_per_batch = source.rows_per_batch
        self.batches = batches
        self.idx = source.outputs.columns.index("idx")

    def __call__(self, info: Any) -> tuple:
        return self.batches[info.iteration % len(self.batches)]

    def samples(self, iteration: int) -> int:
        return len(self.batches[iteration % len(self.batches)][self.idx])


@dataclass(frozen=True)
class _Graph:
    """What `dali_pipeline` needs of a dataset type: its graph function."""

    graph: Callable[[Config, Any, bool], tuple]


def decode_graph(cfg: Config, source: Any, on_gpu: bool, frames: bool) -> tuple:
    """Decode (and cut to the window, where the decoder does it) every stored image side; nothing else. `frames`:
    the type's graph stacks each row's frames (clip types)."""
    columns = ops.source_columns(source, 0)
    out = source.outputs
    return tuple(ops.side_images(columns, s, frames, on_gpu, cfg.hw_decoder_load) for s in (out.lq, out.gt)
                 if s.columns)


def undegraded_graph(cfg: Config, source: Any, on_gpu: bool, frames: bool) -> tuple:
    """The type's graph without its degradation: the stored sides decoded, flipped in sync, as float outputs."""
    columns = ops.source_columns(source, 0)
    out = source.outputs
    images = [ops.side_images(columns, s, frames, on_gpu, cfg.hw_decoder_load) for s in (out.lq, out.gt) if s.columns]
    images = ops.augment(images, columns, out, frames)
    return tuple(ops.to_output(x, cfg.mean, cfg.std, cfg.color == "y", frames, on_gpu, out.stored_y) for x in images)


def _pipeline_samples(pipe: Any, replay: Replay) -> Iterator[int]:
    """Endless batch sizes of a built pipeline fed by `replay`."""
    for i in itertools.count():
        pipe.run()
        yield replay.samples(i)


def _timing(c: Contender) -> Timing:
    runs = c.runs
    per_run = len(c.latencies) // len(runs)
    return Timing(per_run * len(runs), sum(r["samples"] for r in runs), sum(r["seconds"] for r in runs),
                  sum(r["cpu_seconds"] for r in runs), tuple(r["seconds"] / per_run for r in runs))


def pipeline_stages(loader: Loader, replay: Replay, graphs: dict[str, Optional[Callable]],
                    budget: float) -> dict[str, Timing]:
    """Time a DALI pipeline of each of `graphs` (None: the type's own graph) fed by `replay`, with the loader's
    threads, prefetching and device, in alternating runs (as `dali-sr bench` times its contenders, each run
    after the others' prefetching has stopped); building and warming them up count in `budget`."""
    cfg = replace(loader.cfg, source_workers=0)
    end = time.perf_counter() + budget
    depth = cfg.prefetch_queue_depth
    pipes: list[Any] = []
    try:
        contenders, per_batch = [], 0.0
        for name, graph in graphs.items():
            pipe = dali_pipeline(loader.spec if graph is None else _Graph(graph), cfg, replay, loader.on_gpu)
            pipes.append(pipe)
            with warnings.catch_warnings():  # the stage graphs leave some of the source's columns unused
                warnings.filterwarnings("ignore", "The external source node", Warning)
                pipe.build()
            stream = _pipeline_samples(pipe, replay)
            t = time.perf_counter()
            for _ in range(depth + 1):
                next(stream)
            per_batch += (time.perf_counter() - t) / (depth + 1)
            contenders.append(Contender(name, stream, depth))
        batches = max(MIN_BATCHES, int((end - time.perf_counter()) / (RUNS * per_batch)) - (depth + 1))
        measure(contenders, RUNS, batches, 0, cfg.device_id if loader.on_gpu else None, "samples")
        return {c.name: _timing(c) for c in contenders}
    finally:
        for pipe in pipes:
            shut_down(pipe)


def copy_stage(loader: Loader, replay: Replay, batch: dict[str, Any], budget: float) -> Optional[Timing]:
    """The move of one batch to the GPU per step, when there is a GPU: the loader's output tensors for a CPU
    pipeline (the training loop moves them), the stored values for a GPU pipeline (DALI moves them to decode
    there). None without a CUDA device."""
    import torch

    if not torch.cuda.is_available():
        return None
    device = torch.device("cuda", loader.cfg.device_id)
    if loader.on_gpu:
        tensors = [torch.from_numpy(np.ascontiguousarray(np.asarray(v)))
                   for column in replay.batches[0] if isinstance(column, list) for v in column]
    else:
        tensors = [v for v in batch.values() if torch.is_tensor(v)]
    samples = replay.samples(0)

    def copy() -> int:
        for t in tensors:
            t.to(device, non_blocking=False)
        torch.cuda.synchronize(device)
        return samples

    return timed(copy, budget, warmup=1)
