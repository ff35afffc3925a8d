"""Built-in datasets (natural-looking synthetic images and panning clips) for the demo, benchmarks and tests."""
import os
from pathlib import Path


def cache_dir() -> Path:
    """Where built-in datasets are kept: $DALI_SR_CACHE, or ~/.cache/dali_sr."""
    return Path(os.environ.get("DALI_SR_CACHE") or Path.home() / ".cache" / "dali_sr")
