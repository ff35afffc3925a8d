"""Bad-input cases shared by the image and clip error tests: a fault, and running a loader into it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

import dali_sr
from dali_sr import DatasetError
from dali_sr.storage.backends import SHARED_ENVS


def one_line(msg: str) -> str:
    """`msg`, after checking it is one non-empty line without a traceback."""
    assert msg, "empty error message"
    assert "\n" not in msg, f"error message spans several lines: {msg!r}"
    assert "Traceback" not in msg, f"error message carries a traceback: {msg!r}"
    return msg


def iteration_error(cfg: dict) -> str:
    """The one-line message of the `DatasetError` a new loader over `cfg` raises while iterating (closed after)."""
    loader = dali_sr.build_loader(cfg)
    try:
        with pytest.raises(DatasetError) as e:
            list(loader)
    finally:
        loader.close()
    return one_line(str(e.value))


@dataclass
class Fault:
    """One bad-input case: `make(tmp) -> (config dict, phase)`; the error contains `needles(tmp)`."""

    make: Callable[[Path], tuple[dict, str]]
    needles: Callable[[Path], list]
    at_build: bool  # the error comes from build_loader (before any batch), else from iterating
    absent: Callable[[Path], list[str]] = field(default=lambda tmp: [])
    error: type = DatasetError


def trigger(fault: Fault, tmp: Path) -> str:
    """Run the faulty dataset until it fails; return the error message. Checks the stage and exception type,
    that iterating again fails the same way (no hang, no skip) and that no LMDB environment is left open."""
    cfg, phase = fault.make(tmp)
    base = SHARED_ENVS.open_count()
    if fault.at_build:
        with pytest.raises(fault.error) as e:
            dali_sr.build_loader(cfg, phase=phase)
        assert type(e.value) is fault.error, f"{type(e.value).__name__}: {e.value}"
        assert SHARED_ENVS.open_count() == base, "a failed build_loader leaked an LMDB environment"
        return str(e.value)
    loader = dali_sr.build_loader(cfg, phase=phase)  # index problems only are found here
    try:
        with pytest.raises(fault.error) as e:
            for _ in loader:
                pass
        assert type(e.value) is fault.error, f"{type(e.value).__name__}: {e.value}"
        first = str(e.value)
        with pytest.raises(fault.error) as again:
            for _ in loader:
                pass
        assert str(again.value) == first
    finally:
        loader.close()
    assert SHARED_ENVS.open_count() == base
    return first
