"""Helpers the dataset preparation commands share: worker counts, image listing, a thread pool with progress."""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Optional, Sequence, TypeVar

from ..errors import ConfigError, DatasetError
from ..image_files import IMAGE_EXTENSIONS, image_names

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def check_workers(workers: Optional[int]) -> int:
    if workers is None:
        return default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    return workers


def list_images(folder: str) -> list[str]:
    """Image file names (not paths) directly in `folder`, sorted; DatasetError if it is no folder or holds none."""
    if not os.path.isdir(folder):
        raise DatasetError(f"{folder} is not a folder; give the folder that holds the images")
    names = image_names(folder)
    if not names:
        has_dirs = any(e.is_dir() for e in os.scandir(folder))
        hint = ("it holds folders: for clip folders use --clips reds|vimeo90k" if has_dirs
                else f"put images ({', '.join(sorted(IMAGE_EXTENSIONS))}) there")
        raise DatasetError(f"{folder} holds no images; {hint}")
    return names


def run_pool(fn: Callable[[T], R], items: Sequence[T], workers: int, desc: str, unit: str,
             progress: bool = True) -> list[R]:
    """`[fn(x) for x in items]` on `workers` threads (OpenCV releases the GIL) with a tqdm bar.

    The first exception stops the pool (queued items are cancelled) and is raised.
    """
    from tqdm import tqdm

    results: list = [None] * len(items)
    with tqdm(total=len(items), desc=desc, unit=unit, file=sys.stderr, disable=not progress,
              dynamic_ncols=True) as bar:
        if workers == 1:
            for i, item in enumerate(items):
                results[i] = fn(item)
                bar.update(1)
            return results
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return results
