"""Worker threads: the one default worker count, and an ordered thread-pool map with a bounded look-ahead.

OpenCV, zlib and file reads release the GIL, so threads are enough for the preparation commands.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, Optional, Sequence, TypeVar

from .errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")
MAX_DEFAULT_WORKERS = 8


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def default_workers() -> int:
    """Threads a command or a loader uses when not told: the usable CPUs, at most 8."""
    return max(1, min(usable_cpus(), MAX_DEFAULT_WORKERS))


def check_workers(workers: Optional[int]) -> int:
    """`workers`, or the default for None; a `ConfigError` for anything but a positive integer."""
    if workers is None:
        return default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    return workers


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int, ahead: Optional[int] = None) -> Iterator[R]:
    """`fn(x)` for every item, in order, on `workers` threads with at most `ahead` (default 4 x workers) in flight.

    The first exception (in item order) is raised; work still queued is cancelled, also when the
    caller stops iterating early.
    """
    if workers == 1:
        yield from map(fn, items)
        return
    ahead = ahead or 4 * workers
    it = iter(items)
    window: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dali_sr") as pool:
        try:
            for item in it:
                window.append(pool.submit(fn, item))
                if len(window) >= ahead:
                    break
            while window:
                result = window.popleft().result()
                for item in it:
                    window.append(pool.submit(fn, item))
                    break
                yield result
        finally:
            for future in window:
                future.cancel()


def run_pool(fn: Callable[[T], R], items: Sequence[T], workers: int, desc: str, unit: str,
             progress: bool = True) -> list[R]:
    """`[fn(x) for x in items]` on `workers` threads, reporting progress; the first exception is raised."""
    from .progress import tracked

    return list(tracked(ordered_map(fn, items, workers), len(items), desc, unit, progress))
