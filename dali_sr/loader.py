"""The loader: a DALI pipeline behind `DALIGenericIterator`, yielding BasicSR-style dicts."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Union

from nvidia.dali import Pipeline, pipeline_def
from nvidia.dali.plugin.pytorch import DALIGenericIterator, LastBatchPolicy

from .config import Config, load_config
from .decode_probe import undecodable
from .device import resolve_device
from .epoch_plan import EpochPlan, make_plan
from .errors import ConfigError, DaliSRError, DatasetError

log = logging.getLogger(__name__)
_SAMPLE_RE = re.compile(r"sample #(\d+)")


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


def _dali_reason(error: Exception) -> str:
    """The informative line of a DALI error (the one after 'encountered:')."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for k, line in enumerate(lines[:-1]):
        if line == "encountered:":
            return lines[k + 1]
    return lines[0] if lines else type(error).__name__


def dali_pipeline(spec: Any, cfg: Config, index: Any, source: Any, on_gpu: bool) -> Pipeline:
    """The (not yet built) DALI pipeline of `spec`'s graph fed by `source`, on GPU `cfg.device_id` if `on_gpu`."""

    @pipeline_def(enable_conditionals=True)
    def graph():
        return spec.define(cfg, index, source, on_gpu)

    return graph(batch_size=source.rows_per_batch, num_threads=cfg.num_threads,
                 device_id=cfg.device_id if on_gpu else None, prefetch_queue_depth=cfg.prefetch_queue_depth,
                 seed=cfg.seed)


class Loader:
    """Iterable of batches for one dataset config; see `build_loader`."""

    def __init__(self, cfg: Config, rank: Optional[int] = None, world_size: Optional[int] = None):
        from pipelines.registry import get_pipeline

        self.cfg = cfg
        self.rank, self.world_size = _dist_rank_world(rank, world_size)
        self.spec = get_pipeline(cfg.type)
        self.on_gpu = resolve_device(cfg.device)
        self.index = self.spec.build_index(cfg)
        self._source = None
        self._iterator: Optional[DALIGenericIterator] = None
        self._live: Optional[tuple[int, int]] = None  # (epoch, batch) the live iterator delivers next
        self._epoch, self._batch = 0, 0
        self._plans: dict[int, EpochPlan] = {}
        if cfg.drop_last and len(self.plan(0)) == 0:
            raise DatasetError(
                f"{cfg.name}: {len(self.index)} sample(s) x dataset_enlarge_ratio {cfg.dataset_enlarge_ratio} "
                f"make no full batch of {cfg.batch_size} on each of {self.world_size} rank(s); lower "
                f"batch_size_per_gpu, raise dataset_enlarge_ratio or set drop_last: false")

    # -- epochs and positions -------------------------------------------------------------
    def plan(self, epoch: int) -> EpochPlan:
        """This rank's samples and random draws for `epoch` (cached for the current one)."""
        if epoch not in self._plans:
            c = self.cfg
            self._plans = {epoch: make_plan(
                len(self.index), epoch, seed=c.seed, shuffle=c.shuffle, enlarge=c.dataset_enlarge_ratio,
                rank=self.rank, world_size=self.world_size, batch_size=c.batch_size, drop_last=c.drop_last,
                pad_to_equal=c.is_train)}
        return self._plans[epoch]

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        return len(self.plan(self._epoch))

    @property
    def epoch(self) -> int:
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Start `epoch` (deterministic order and crops from `seed` and `epoch`) at the next iteration.

        An epoch the loader is part-way through keeps its position, so a loop that calls
        `set_epoch` after `load_state_dict` resumes mid-epoch instead of replaying the epoch.
        """
        if int(epoch) != self._epoch or self._batch >= len(self.plan(self._epoch)):
            self._epoch, self._batch = int(epoch), 0

    def state_dict(self) -> dict[str, Any]:
        """Position to resume from: the next batch delivered after `load_state_dict` is the same."""
        epoch, batch = self._epoch, self._batch
        if batch >= len(self.plan(epoch)):
            epoch, batch = epoch + 1, 0
        return {"epoch": epoch, "batch": batch, "seed": self.cfg.seed, "rank": self.rank,
                "world_size": self.world_size, "num_samples": len(self.index)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume at the position saved by `state_dict` (same config, seed and sharding)."""
        mine = {"seed": self.cfg.seed, "world_size": self.world_size, "num_samples": len(self.index)}
        for key, value in mine.items():
            if key in state and state[key] != value:
                raise ConfigError(f"state_dict was saved with {key}={state[key]}, this loader has {key}={value}; "
                                  f"resume with the same config")
        self._epoch, self._batch = int(state["epoch"]), int(state["batch"])

    # -- the DALI side ---------------------------------------------------------------------
    def _build(self, plan: EpochPlan, batch: int) -> None:
        self._close_pipeline()
        cfg = self.cfg
        self._source = source = self.spec.make_source(cfg, self.index)
        source.start(plan, batch)
        pipe = dali_pipeline(self.spec, cfg, self.index, source, self.on_gpu)
        self._iterator = DALIGenericIterator(pipe, list(self.spec.outputs), auto_reset=False,
                                             last_batch_policy=LastBatchPolicy.PARTIAL,
                                             prepare_first_batch=False)

    def _ensure_live(self) -> None:
        """Make the live pipeline deliver (epoch, batch) next: keep it, re-arm it, or rebuild it."""
        want = (self._epoch, self._batch)
        if self._iterator is not None and self._live == want:
            return
        plan = self.plan(self._epoch)
        # every epoch has len(plan) batches: a pipeline that delivered them all can be re-armed
        finished = self._live is not None and self._live[1] >= len(plan)
        if self._iterator is not None and finished and self._batch == 0 and self._drained():
            self._source.start(plan, 0)
            self._iterator.reset()
        else:
            self._build(plan, self._batch)
        self._live = want

    def _drained(self) -> bool:
        try:
            next(self._iterator)
        except StopIteration:
            return True
        return False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._batch >= len(self.plan(self._epoch)):
            self._epoch, self._batch = self._epoch + 1, 0
        self._ensure_live()
        plan = self.plan(self._epoch)
        while self._batch < len(plan):
            try:
                out = next(self._iterator)[0]
            except Exception as e:  # noqa: BLE001 - re-raised as a one-line DatasetError when possible
                raise self._failure(e).with_traceback(None) from None
            out = self._source.collate(out)
            self._batch += 1
            self._live = (self._epoch, self._batch)
            yield out

    def _failure(self, error: Exception) -> Exception:
        """Turn a DALI failure into one `DatasetError` naming the bad sample; drop the pipeline."""
        source = self._source
        self._close_pipeline()
        if isinstance(error, StopIteration):
            return DaliSRError(f"{self.cfg.name}: the pipeline ended before batch {self._batch}; please report this")
        if source is not None and source.error is not None:
            return source.error
        if isinstance(error, DaliSRError):
            return error
        if source is not None:
            match = _SAMPLE_RE.search(str(error))
            bad = undecodable(source.suspects(self._batch, int(match.group(1)) if match else None))
            if bad:
                return DatasetError(f"{self.cfg.name}: cannot decode {bad[0]}: corrupt or truncated image data; "
                                    f"re-create the file")
        return DatasetError(f"{self.cfg.name}: DALI failed on batch {self._batch}: {_dali_reason(error)}")

    def _close_pipeline(self) -> None:
        self._iterator = None
        self._source = None
        self._live = None

    def close(self) -> None:
        """Free the DALI pipeline and the dataset's LMDB environments."""
        self._close_pipeline()
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
