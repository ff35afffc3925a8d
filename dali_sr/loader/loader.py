"""The loader: a DALI pipeline behind `DALIGenericIterator`, yielding BasicSR-style dicts.

The pipeline never ends: its source maps DALI's running iteration count onto (epoch, batch), so
one pipeline serves epoch after epoch and prefetches across epoch boundaries. The loader only
counts: it knows which (epoch, batch) the live pipeline delivers next, keeps the pipeline when
that is the batch wanted, and builds a new one (at the wanted position) when it is not.

A graph that draws random fields (noise of a degradation chain) runs with DALI's checkpointing:
`state_dict` then also holds the live pipeline's checkpoint, so a resumed loader continues the very
random streams of the run it was saved from.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Union

import numpy as np
from nvidia.dali import Pipeline, pipeline_def
from nvidia.dali.plugin.pytorch import DALIGenericIterator, LastBatchPolicy

from ..config import Config, DatasetType, dataset_type, load_config
from ..datasets.plan import Sampling, check_epoch_size
from ..datasets.source import PlanSource
from ..device import resolve_device
from ..errors import ConfigError, DaliSRError, DatasetError, TransientReadWarning
from .dali_internals import failed_row, shut_down
from .failures import decode_failure
from .resume import checked_epoch, checked_position, checkpoint_start, identity, position_state

SOURCE_ATTEMPTS = 3  # reads of one batch by a pipeline before a failure that does not recur is reported


def _dist_rank_world(rank: Optional[int], world_size: Optional[int]) -> tuple[int, int]:
    if rank is None or world_size is None:
        try:
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                rank = dist.get_rank() if rank is None else rank
                world_size = dist.get_world_size() if world_size is None else world_size
        except ImportError:
            pass
    rank, world_size = rank or 0, world_size or 1
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"rank {rank} is not in [0, world_size={world_size})")
    return rank, world_size


def checkpointed(cfg: Config) -> bool:
    """Whether `cfg`'s graph draws random fields, so that resuming needs DALI's checkpoint of them."""
    return cfg.degradation is not None and cfg.degradation.uses_dali_random()


def pipeline_seed(seed: int, rank: int, start: tuple[int, int]) -> int:
    """DALI's seed for the pipeline of `rank` that starts at (epoch, batch) `start`: the streams of DALI's random
    operators (noise fields) differ between ranks and between pipelines started at different places, and stay
    the same for the same (seed, rank, start), on any thread count. (Crop windows, flips and every degradation
    setting are drawn per sample from `seed` and the sample's slot in the epoch, not from these streams.)"""
    return int(np.random.SeedSequence([seed, rank, *start]).generate_state(1, np.uint32)[0])


def dali_pipeline(spec: DatasetType, cfg: Config, source: PlanSource, on_gpu: bool,
                  checkpoint: Optional[bytes] = None) -> Pipeline:
    """The (not yet built) DALI pipeline of the graph of type `spec` fed by `source`, on GPU `cfg.device_id` if
    `on_gpu`, restored from `checkpoint` if given.

    With `source_workers`, the source runs in that many spawned worker processes (spawn, not fork:
    a training process has usually started CUDA before it builds its loader).
    """
    graph_of = spec.graph
    workers = dict(py_num_workers=cfg.source_workers, py_start_method="spawn") if cfg.source_workers else {}
    restore = dict(enable_checkpointing=True, checkpoint=checkpoint) if checkpointed(cfg) else {}

    @pipeline_def(enable_conditionals=True)
    def graph():
        return graph_of(cfg, source, on_gpu)

    return graph(batch_size=source.rows_per_batch, num_threads=cfg.num_threads,
                 device_id=cfg.device_id if on_gpu else None, prefetch_queue_depth=cfg.prefetch_queue_depth,
                 seed=pipeline_seed(cfg.seed, source.sampling.rank, source.start), **workers, **restore)


@dataclass
class _Live:
    """A built pipeline, its iterator and source, and the (epoch, batch) it delivers next."""

    pipe: Pipeline
    iterator: DALIGenericIterator
    source: PlanSource
    next: tuple[int, int]


class Loader:
    """Iterable of batches for one dataset config; see `build_loader`."""

    def __init__(self, cfg: Config, rank: Optional[int] = None, world_size: Optional[int] = None):
        self.cfg = cfg
        self.rank, self.world_size = _dist_rank_world(rank, world_size)
        self.spec = dataset_type(cfg.type)
        self.on_gpu = resolve_device(cfg.device)
        self.index = self.spec.dataset.build_index(cfg)
        try:
            check_epoch_size(len(self.index), cfg.dataset_enlarge_ratio, cfg.name, cfg.patches_per_image)
        except ConfigError:
            self.index.close()
            raise
        self.sampling = Sampling(len(self.index), cfg.seed, cfg.shuffle, cfg.dataset_enlarge_ratio, self.rank,
                                 self.world_size, cfg.batch_size, cfg.drop_last, pad_to_equal=cfg.is_train,
                                 per_image=cfg.patches_per_image)
        self._live: Optional[_Live] = None
        self._epoch, self._batch = 0, 0
        self._restored: Optional[int] = None  # the epoch load_state_dict restored, until the loop moves on
        self._ended = False  # the loop ran the epoch to its end (tells a read epoch of no batches from a new one)
        self._checkpoint: Optional[tuple[tuple[int, int], tuple[int, int], bytes]] = None  # (at, start, DALI's)
        self._closed = False
        if cfg.drop_last and self.sampling.batches() == 0:
            self.index.close()
            raise DatasetError(
                f"{cfg.name}: {len(self.index)} sample(s) x dataset_enlarge_ratio {cfg.dataset_enlarge_ratio} "
                f"make no full batch of {cfg.batch_size} on each of {self.world_size} rank(s); lower "
                f"batch_size_per_gpu, raise dataset_enlarge_ratio or set drop_last: false")

    # -- epochs and positions -------------------------------------------------------------
    def __len__(self) -> int:
        """Batches per epoch on this rank (an epoch resumed from a job of another world size may have fewer)."""
        return self.sampling.batches()

    def _batches(self) -> int:
        """Batches of the current epoch on this rank."""
        return self.sampling.batches(self._epoch)

    @property
    def epoch(self) -> int:
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Start `epoch` at its first batch (deterministic order and crops from `seed` and `epoch`).

        The one exception is resuming: right after `load_state_dict`, `set_epoch` of the restored
        epoch keeps the restored position, so the usual loop resumes mid-epoch.
        """
        epoch = checked_epoch(epoch)
        if epoch == self._restored:
            self._restored = None
            return
        self._restored, self._ended = None, False
        self._epoch, self._batch = epoch, 0
        redeal = self.sampling.redeal
        if redeal is not None and epoch <= redeal.epoch:  # a resumed epoch read again is read whole
            self.sampling = replace(self.sampling, redeal=None)

    def state_dict(self) -> dict[str, Any]:
        """Position to resume from: the next batch delivered after `load_state_dict` is the same; on another
        rank or world size, the epoch goes on from the same place in its order (see docs/loader.md)."""
        epoch, batch = self._epoch, self._batch
        state: dict[str, Any] = {}
        live = self._live
        if live is not None and checkpointed(self.cfg) and live.next == (epoch, batch) and \
                live.source.sampling == self.sampling:
            state = {"pipeline_start": list(live.source.start), "dali_checkpoint": live.iterator.checkpoints()[0]}
        if batch >= self._batches():
            epoch, batch = epoch + 1, 0
        return {**position_state(self.sampling, epoch, batch), **self._identity(), **state}

    def _identity(self) -> dict[str, Any]:
        return identity(self.cfg, len(self.index), self.index.fingerprint(), self.rank, self.world_size)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume at the position saved by `state_dict`; a `ConfigError` naming the first setting that differs
        (the batches would not be the same) or what is malformed, and the loader unchanged."""
        sampling, epoch, batch, exact = checked_position(state, self._identity(), self.sampling)
        checkpoint = None
        if exact and "dali_checkpoint" in state and checkpointed(self.cfg):
            checkpoint = ((epoch, batch), checkpoint_start(state), state["dali_checkpoint"])
        self.sampling = sampling
        self._epoch, self._batch, self._restored, self._checkpoint = epoch, batch, epoch, checkpoint
        self._ended = False

    # -- iterating --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._closed:
            raise DaliSRError(f"{self.cfg.name}: this loader was closed; build a new one with build_loader")
        if self._batch >= self._batches() and (self._batch > 0 or self._ended):
            self._epoch, self._batch = self._epoch + 1, 0
        self._restored, self._ended = None, False
        while self._batch < self._batches():
            yield self._next_batch()
        self._ended = True

    def _next_batch(self) -> dict[str, Any]:
        for _ in range(SOURCE_ATTEMPTS):
            live = self._pipeline_at(self._epoch, self._batch)
            try:
                out = next(live.iterator)[0]
            except Exception as e:
                named = self._named_decode_failure(live.source, e)
                self._drop_pipeline()
                if named is not None:
                    raise named from None
                raise  # not a data problem: DALI's or dali_sr's own error, with its traceback
            if int(out["idx"].min()) >= 0:
                self._batch += 1
                live.next = (self._epoch, self._batch)
                return live.source.collate(out)
            self._drop_pipeline()  # the source's placeholder: reading this batch failed
            self._raise_source_failure(live.source)
            warnings.warn(f"{self.cfg.name}: reading batch {self._batch} of epoch {self._epoch} failed in the source "
                          f"but not when read again (a transient storage error); the batch is read again",
                          TransientReadWarning, stacklevel=3)
        raise DatasetError(f"{self.cfg.name}: reading batch {self._batch} of epoch {self._epoch} failed in the source "
                           f"{SOURCE_ATTEMPTS} times in a row but not when read again on the training thread; the "
                           f"storage fails intermittently: check its server and network, or copy the data locally")

    def _pipeline_at(self, epoch: int, batch: int) -> _Live:
        """The live pipeline if it delivers (epoch, batch) next (it runs on from one epoch into the next), else a
        new one that starts there."""
        live = self._live
        ends_before = (epoch - 1, self.sampling.batches(epoch - 1))
        if live is not None and live.source.sampling == self.sampling and (
                live.next == (epoch, batch) or live.next == ends_before and batch == 0):
            return live
        self._drop_pipeline()
        start, checkpoint = (epoch, batch), None
        if self._checkpoint is not None and self._checkpoint[0] == (epoch, batch):
            _, start, checkpoint = self._checkpoint
        source = self.spec.dataset.make_source(self.cfg, self.index, self.sampling, start)
        pipe = dali_pipeline(self.spec, self.cfg, source, self.on_gpu, checkpoint)
        try:
            iterator = DALIGenericIterator(pipe, list(source.outputs.graph_outputs), auto_reset=False,
                                           last_batch_policy=LastBatchPolicy.PARTIAL, prepare_first_batch=False)
        except Exception as e:
            shut_down(pipe)
            if checkpoint is None:
                raise
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"{self.cfg.name}: the state_dict's DALI checkpoint does not restore this pipeline "
                              f"({reason}); resume from a state Loader.state_dict() saved with this config") from None
        self._checkpoint = None
        self._live = _Live(pipe, iterator, source, (epoch, batch))
        return self._live

    def _named_decode_failure(self, source: PlanSource, error: Exception) -> Optional[DatasetError]:
        """The bad image behind a DALI error while producing the current batch, if an image is to blame; or the
        storage's own error when its images cannot be read again (an LMDB being written, say)."""
        try:
            suspects = source.suspects(self._epoch, self._batch, failed_row(error))
        except DatasetError as e:
            return e.with_traceback(None)
        return decode_failure(self.cfg.name, suspects)

    def _raise_source_failure(self, source: PlanSource) -> None:
        """Raise the `DatasetError` the source met reading the current batch, read again here on the training
        thread; return if it reads fine now (the failure was transient)."""
        try:
            source.read_batch(self._epoch, self._batch)
        except DatasetError as e:
            raise e.with_traceback(None) from None

    # -- resources --------------------------------------------------------------------------
    def _drop_pipeline(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            shut_down(live.pipe)

    def close(self) -> None:
        """Free the DALI pipeline and the dataset's LMDB environments; the loader cannot be iterated again."""
        self._closed = True
        self._drop_pipeline()
        self.index.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown may have torn down modules
            pass

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def build_loader(config: Union[str, Path, Mapping[str, Any], Config], phase: Optional[str] = None,
                 rank: Optional[int] = None, world_size: Optional[int] = None, **overrides: Any) -> Loader:
    """A `Loader` for a dataset section / BasicSR option file (path or dict) or a `Config`.

    `phase` picks the section of an option file; `rank`/`world_size` default to
    `torch.distributed`'s when it is initialized; `overrides` replace config keys.
    """
    cfg = config if isinstance(config, Config) else load_config(config, phase=phase, **overrides)
    return Loader(cfg, rank=rank, world_size=world_size)
