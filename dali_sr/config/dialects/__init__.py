"""Option-file dialects, one module each: how a file (or dict) gives the section of one dataset. Adding a dialect
is adding its module and its place in `DIALECTS`."""
from __future__ import annotations

from . import basicsr, dlas, edvr, neosr, redux, section
from .dialect import Dialect, Options

# Tried in order: the first that detects a mapping reads it (old EDVR's `mode: REDS`, neosr's type names and
# traiNNer-redux's own keys before DL-Art-School's other `mode:` values and class names, all before BasicSR's
# `datasets:`; a bare dataset section takes what none other does).
DIALECTS: tuple[Dialect, ...] = (edvr.DIALECT, neosr.DIALECT, redux.DIALECT, dlas.DIALECT, basicsr.DIALECT,
                                 section.DIALECT)


def dialect_of(opts: Options) -> Dialect:
    """The dialect `opts` is written in."""
    return next(d for d in DIALECTS if d.detect(opts))
