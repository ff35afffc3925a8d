"""The "did you mean" hint of every error about an unknown name."""
from __future__ import annotations

import difflib
from typing import Iterable


def closest(name: str, valid: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the valid name closest to `name`, or "" when none is close."""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""
