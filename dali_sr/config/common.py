"""The keys every dataset section accepts: BasicSR's dataset options, then dali_sr's own, each a typed field with
its default and range, and the bounds of those ranges."""
from __future__ import annotations

from typing import Any, Callable

from ..schema.fields import NONE, Field, choice, flag, integer, text

PHASES = ("train", "val", "test")
DEVICES = ("auto", "gpu", "cpu")

# Upper bounds that no training needs but that keep DALI and memory safe: a larger value is a typo.
MAX_SCALE = 16
MAX_PATCH_SIDE = 32768  # the largest image side the loader reads (storage.headers.MAX_SIDE)
MAX_BATCH_SIZE = 65536
MAX_BATCH_PIXELS = 2 ** 32  # GT pixels of one training batch: batch_size x window side^2 (48 GiB as float32 RGB)
MAX_THREADS = 256  # DALI CPU threads (num_threads, num_worker_per_gpu)
MAX_SOURCE_WORKERS = 64  # processes
MAX_PREFETCH = 32  # batches
MAX_ENLARGE_RATIO = 10 ** 6
MAX_PATCHES_PER_IMAGE = 10 ** 4
MAX_DEVICE_ID = 1023
MAX_SEED = 2 ** 63 - 1  # DALI takes a signed 64-bit seed
MEAN_RANGE = (-1000.0, 1000.0)  # with STD_RANGE, (x - mean) / std of x in [0, 1] stays within about 1e6
STD_RANGE = (0.001, 1000.0)


def _finite_numbers_in(low: float, high: float) -> Callable[[Any], bool]:
    """A check of 1 or 3 finite numbers, each in [low, high] (NaN and infinities are outside every range)."""
    def check(v: Any) -> bool:
        return len(v) in (1, 3) and all(isinstance(x, (int, float)) and not isinstance(x, bool) and low <= x <= high
                                        for x in v)
    return check


def _channel_values(low: float, high: float) -> Field:
    """`mean` / `std`: a list of 1 or 3 finite numbers in [low, high], or null."""
    return Field((list, tuple, NONE), None, _finite_numbers_in(low, high),
                 f"a list of 1 or 3 finite numbers in [{low:g}, {high:g}]")


COMMON_KEYS: dict[str, Field] = {
    # BasicSR's dataset options
    "type": Field((str,)),
    "name": text(),
    "phase": choice(PHASES),
    "scale": integer(1, MAX_SCALE),
    "dataroot_gt": text(),
    "dataroot_lq": text(),
    "meta_info_file": text(),
    "filename_tmpl": Field((str,), "{}", lambda v: "{}" in v, "a template containing '{}'"),
    "io_backend": Field((dict,), None),  # read by dali_sr.storage.io_options
    "gt_size": integer(1, MAX_PATCH_SIDE, nullable=True),
    "use_hflip": flag(False),
    "use_flip": flag(None),  # BasicSR's old name of use_hflip
    "use_rot": flag(False),
    "use_vflip": flag(False),  # dali_sr's: vertical flips (p=0.5) of their own, without use_rot's transpose
    "mean": _channel_values(*MEAN_RANGE),
    "std": _channel_values(*STD_RANGE),
    "color": choice((None, "y", "rgb"), expect="'y' or omitted", nullable=True),
    "batch_size_per_gpu": integer(1, MAX_BATCH_SIZE),
    "num_worker_per_gpu": integer(0, MAX_THREADS),  # a hint for DALI threads: 0 = the default
    "dataset_enlarge_ratio": integer(1, MAX_ENLARGE_RATIO, 1),
    "prefetch_mode": choice((None, "cpu", "cuda"), expect="cpu, cuda or omitted", nullable=True),
    "num_prefetch_queue": integer(1, MAX_PREFETCH),
    "pin_memory": flag(False),
    "persistent_workers": flag(False),  # accepted; DALI's pipeline persists anyway
    "use_shuffle": flag(None),  # BasicSR's name of shuffle
    # dali_sr's own keys
    "degradation": Field((str, list, NONE)),  # LQ made from GT: 'bicubic' or a list of steps (dali_sr.degrade)
    "crop_pad_size": integer(1, MAX_PATCH_SIDE, nullable=True),
    "patches_per_image": integer(1, MAX_PATCHES_PER_IMAGE, 1),  # training windows per decoded image
    "device": choice(DEVICES, "auto"),
    "device_id": integer(0, MAX_DEVICE_ID, nullable=True),
    "seed": integer(0, MAX_SEED, 0, high_words="2**63 - 1"),
    "num_threads": integer(1, MAX_THREADS, nullable=True),
    "prefetch_queue_depth": integer(1, MAX_PREFETCH, 2),
    "hw_decoder_load": Field((int, float), 0.65, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]"),
    "source_workers": integer(0, MAX_SOURCE_WORKERS, 0),
    "shuffle": flag(None),
    "drop_last": flag(None),
}
