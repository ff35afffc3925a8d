"""Progress of long-running commands: a live bar on a terminal, plain periodic lines in a log.

A bar redraws one line with carriage returns, which a log file keeps as one huge line; off a
terminal the same progress is printed as a short line every 10 % or 30 s, but not more often than
every 5 s, and once at the end.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator, Optional, TextIO, TypeVar

T = TypeVar("T")
LINE_SECONDS = 30.0
LINE_FRACTION = 0.1
LINE_MIN_SECONDS = 5.0


class _Lines:
    """The interface of the bar (`update`, `set_description`, `close`), as periodic plain lines."""

    def __init__(self, total: Optional[int], desc: str, unit: str, initial: int, stream: TextIO):
        self.total, self.desc, self.unit, self.n, self.stream = total, desc, unit, initial, stream
        self._start = self._last_time = time.monotonic()
        self._initial = self._last_n = initial
        self._closed = False

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        step = (self.total or 0) * LINE_FRACTION
        since = now - self._last_time
        if (step and self.n - self._last_n >= step and since >= LINE_MIN_SECONDS) or since >= LINE_SECONDS:
            self._print(now)

    def _print(self, now: float) -> None:
        elapsed = max(now - self._start, 1e-9)
        done = f"{self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f} %)" if self.total else \
            f"{self.n} {self.unit}"
        rate = (self.n - self._initial) / elapsed  # this run's rate: a resumed count is not work done now
        eta = f", ETA {(self.total - self.n) / rate:.0f} s" if self.total and rate > 0 and self.n < self.total else ""
        print(f"{self.desc}: {done}, {rate:.1f} {self.unit}/s{eta}", file=self.stream, flush=True)
        self._last_time, self._last_n = now, self.n

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.n != self._last_n:
                self._print(time.monotonic())

    def __enter__(self) -> "_Lines":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(total: Optional[int], desc: str, unit: str, enabled: bool = True, initial: int = 0,
             stream: Optional[TextIO] = None) -> Any:
    """A progress reporter on `stream` (default stderr): tqdm's bar on a terminal, `_Lines` otherwise.

    Use as a context manager; `update(n)`, `set_description(desc)`. Disabled: reports nothing.
    """
    from tqdm import tqdm

    stream = stream or sys.stderr
    if not enabled or stream.isatty():
        return tqdm(total=total, desc=desc, unit=unit, initial=initial, file=stream, disable=not enabled,
                    dynamic_ncols=True)
    return _Lines(total, desc, unit, initial, stream)


def tracked(items: Iterable[T], total: Optional[int], desc: str, unit: str, enabled: bool = True) -> Iterator[T]:
    """`items`, reporting progress as they are taken."""
    with progress(total, desc, unit, enabled) as bar:
        for item in items:
            yield item
            bar.update()
