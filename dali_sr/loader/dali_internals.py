"""Where the loader relies on DALI 2.4 beyond its public API, each in one function: check these when DALI
changes."""
from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from typing import Iterator, Optional

from nvidia.dali import Pipeline

_SAMPLE_RE = re.compile(r"sample #(\d+)")


def shut_down(pipe: Optional[Pipeline]) -> None:
    """Stop a pipeline's threads (and source workers) now, not whenever it is garbage-collected: its prefetched
    batches may still read LMDB memory that the storages are about to unmap.

    DALI 2.4's `Pipeline` has no public way to do this: `__exit__` only pops it from the current-pipeline stack,
    and `__del__` calls the private `_shutdown`, which this calls too.
    """
    if pipe is not None:
        pipe._shutdown()  # noqa: SLF001 - see the docstring


def failed_row(error: Exception) -> Optional[int]:
    """The DALI row a decoder error names, if it names one.

    DALI 2.4 reports a sample that fails to decode only in the text of its error ("... sample #N ..."), not as
    a field of the exception, so the text is read here.
    """
    match = _SAMPLE_RE.search(str(error))
    return int(match.group(1)) if match else None


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Drop what native libraries print on file descriptor 2 while inside (the whole process's, for the time
    being).

    DALI 2.4's decoders (nvImageCodec with libpng and its own parsers) print `libpng error:` and parser lines
    straight to file descriptor 2 when an image is bad, with no setting to turn that off; while a known-bad
    image is decoded again to name it, the error message says it once, in one line.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
