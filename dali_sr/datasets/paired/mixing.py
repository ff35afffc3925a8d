"""neosr's batch augmentations (`augmentation` / `aug_prob`: mixup, cutmix, resizemix, cutblur), the source's
side: what each sample does, with every value drawn per sample from (seed, epoch, the sample's slot).

neosr (`neosr/data/augmentations.py`, `apply_augment`) works on a batch of training patches: LQ is upscaled to
the GT size (bilinear or bicubic, one at random), then with probability 0.3 ("multi") 2 to n - 1 of the n listed
names are picked uniformly without replacement (all of them when n <= 2), else one name by the `aug_prob`
weights; the picked ones run in the order cutmix, mixup, resizemix, cutblur; LQ is then scaled back down
(bicubic). Mixup, cutmix and resizemix take their second image from a permutation of the batch, a new one for
each. Here every sample makes these choices itself (neosr makes them once per batch), and the three
permutations are drawn once per batch from a generator seeded by the batch's first slot.

The columns (per sample): `mix_up_bicubic` (LQ upscale: 1 bicubic, 0 bilinear); `mixup_keep` / `mixup_take`
(the weights of the sample and of its partner, 1 / 0 when mixup is not picked); `<name>_anchor` / `<name>_shape`
(the box (row, column) and (height, width) on the GT-sized patch, float32 for DALI's erase; an empty box when
not picked) for cutmix, resizemix and cutblur; `<name>_partner` (the batch row each sample mixes with) for
mixup, cutmix and resizemix.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from ...errors import ConfigError
from ...schema.values import number
from ...schema.suggest import closest

AUGMENTATIONS = ("none", "mixup", "cutmix", "resizemix", "cutblur")
MULTI_PROB = 0.3  # neosr's `multi_prob`: the chance that several augmentations run on one batch
PAIRED = ("cutmix", "mixup", "resizemix")  # the ones that mix with a partner, in neosr's order
BOXES = ("cutmix", "resizemix", "cutblur")
COLUMNS = (("mix_up_bicubic", "mixup_keep", "mixup_take")
           + tuple(f"{name}_{part}" for name in BOXES for part in ("anchor", "shape"))
           + tuple(f"{name}_partner" for name in PAIRED))
_SAMPLE_STREAM = 0xA06_51DE  # a sample's augmentation generator, apart from its other uses of the seed
_BATCH_STREAM = 0xA06_BA7C  # a batch's partner permutations


@dataclass(frozen=True)
class Mixing:
    """What a config's augmentations do: the listed `names` with their `weights` (`aug_prob`), the chance of
    several at once (`multi_prob`), the SR `scale` (LQ is upscaled by it) and the GT patch `side`."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    multi_prob: float
    scale: int
    side: int


def parse_mixing(augmentation: Any, aug_prob: Any, multi_prob: Any, where: str) -> tuple[tuple, tuple, float]:
    """`augmentation`, `aug_prob` and `aug_multi_prob` checked as neosr needs them: names from `AUGMENTATIONS`,
    as many weights (non-negative, not all 0; relative, as `random.choices` reads them) and a probability."""
    if not isinstance(augmentation, (list, tuple)) or not augmentation:
        raise ConfigError(f"{where}: 'augmentation' must be a non-empty list of names from "
                          f"{list(AUGMENTATIONS)}, got {augmentation!r}")
    for name in augmentation:
        if name not in AUGMENTATIONS:
            raise ConfigError(f"{where}: 'augmentation' has unknown '{name}'{closest(str(name), AUGMENTATIONS)} "
                              f"(valid: {', '.join(AUGMENTATIONS)})")
    if len(set(augmentation)) != len(augmentation):
        raise ConfigError(f"{where}: 'augmentation' {list(augmentation)} names one augmentation twice; list each once")
    if not isinstance(aug_prob, (list, tuple)) or len(aug_prob) != len(augmentation):
        raise ConfigError(f"{where}: 'aug_prob' must be a list of {len(augmentation)} weights, one per name in "
                          f"'augmentation', got {aug_prob!r}")
    weights = tuple(number(p, "aug_prob", where, 0.0, 1e6) for p in aug_prob)
    if sum(weights) <= 0:
        raise ConfigError(f"{where}: 'aug_prob' {list(aug_prob)} are all 0; give at least one a positive weight")
    multi = number(multi_prob, "aug_multi_prob", where, 0.0, 1.0)
    return tuple(augmentation), weights, multi


def _box(rng: np.random.Generator, side: int, cut: int) -> tuple[int, int, int, int]:
    """neosr's `rand_bbox`: a centre uniform on the patch, `cut // 2` to each side, clipped to it:
    (first-axis start, second-axis start, first-axis end, second-axis end), the first axis from the first
    centre draw."""
    c1, c2 = int(rng.integers(side)), int(rng.integers(side))
    lo1, lo2 = np.clip(c1 - cut // 2, 0, side), np.clip(c2 - cut // 2, 0, side)
    hi1, hi2 = np.clip(c1 + cut // 2, 0, side), np.clip(c2 + cut // 2, 0, side)
    return int(lo1), int(lo2), int(hi1), int(hi2)


def _picked(m: Mixing, rng: np.random.Generator) -> set[str]:
    """The names one sample runs: several picked uniformly (neosr's multi path draws without weights), or one
    by the weights. Both are drawn every time, so one path never shifts the other's draws."""
    n = len(m.names)
    multi = rng.random() < m.multi_prob
    count = int(rng.integers(2, n)) if n > 2 else n
    order = rng.permutation(n)
    p = np.asarray(m.weights, np.float64)
    single = int(rng.choice(n, p=p / p.sum()))
    return {m.names[i] for i in order[:count]} if multi else {m.names[single]}


def draw_sample(m: Mixing, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One sample's columns (all but the partners). Every value is drawn whether or not it is used."""
    bicubic = int(rng.integers(2))  # neosr: random.choice(["bilinear", "bicubic"])
    picked = _picked(m, rng)
    s = m.side
    lam_mixup = float(rng.uniform(0.4, 0.6))
    lam_cutmix = float(rng.uniform(0.0, 0.9))
    cutmix = _box(rng, s, int(s * math.sqrt(1.0 - lam_cutmix)))
    tao = float(rng.uniform(0.2, 0.9))
    resizemix = _box(rng, s, int(s * tao))
    lam_cutblur = float(rng.uniform(0.2, 0.7))
    cutblur = _box(rng, s, int(s * lam_cutblur))
    on = "mixup" in picked
    out = {"mix_up_bicubic": np.array(bicubic if m.scale > 1 else 0, np.int32),
           # neosr: lam * x + (1 - lam) * partner, the weights rounded to float32 as torch's scalar product does
           "mixup_keep": np.array(lam_mixup if on else 1.0, np.float32),
           "mixup_take": np.array(1.0 - lam_mixup if on else 0.0, np.float32)}
    # cutmix and cutblur fill rows [x1, x2) and columns [y1, y2) of their box; resizemix rows [y1, y2) and
    # columns [x1, x2) (neosr indexes the two the other way round there)
    boxes = {"cutmix": cutmix, "cutblur": cutblur,
             "resizemix": (resizemix[1], resizemix[0], resizemix[3], resizemix[2])}
    for name, (r1, c1, r2, c2) in boxes.items():
        hw = (r2 - r1, c2 - c1) if name in picked else (0, 0)
        out[f"{name}_anchor"] = np.array((r1, c1), np.float32)
        out[f"{name}_shape"] = np.array(hw, np.float32)
    return out


def partners(seed: int, epoch: int, first_position: int, rows: int) -> dict[str, np.ndarray]:
    """The partner rows of a batch of `rows` samples: one permutation per mixing augmentation (cutmix, mixup,
    resizemix, as neosr draws a `randperm` in each), from the generator of the batch's first slot."""
    rng = np.random.default_rng([seed, epoch, first_position, _BATCH_STREAM])
    return {f"{name}_partner": rng.permutation(rows).astype(np.int32) for name in PAIRED}


def columns_of(m: Mixing) -> tuple[str, ...]:
    """The columns the graph reads for `m`: the upscale choice (scale > 1) and those of the listed names."""
    used = [name for name in COLUMNS if name.split("_")[0] in m.names]
    return (("mix_up_bicubic",) if m.scale > 1 else ()) + tuple(used)


def batch_columns(m: Mixing, seed: int, epoch: int, positions: Sequence[int]) -> dict[str, Any]:
    """The columns of the samples at `positions` (one batch, in row order); every sample draws every value,
    whichever names are listed (the source passes on `columns_of(m)`)."""
    per_row: dict[str, list] = {name: [] for name in COLUMNS}
    for position in positions:
        rng = np.random.default_rng([seed, epoch, int(position), _SAMPLE_STREAM])
        for name, value in draw_sample(m, rng).items():
            per_row[name].append(value)
    first = int(positions[0]) if len(positions) else 0
    for name, perm in partners(seed, epoch, first, len(positions)).items():
        per_row[name] = [np.array(v, np.int32) for v in perm]
    return per_row


def placeholder_columns() -> dict[str, Any]:
    """One row that changes nothing but the LQ round trip: no augmentation picked, the row its own partner."""
    row = {"mix_up_bicubic": np.array(0, np.int32), "mixup_keep": np.array(1.0, np.float32),
           "mixup_take": np.array(0.0, np.float32)}
    for name in BOXES:
        row[f"{name}_anchor"] = np.zeros(2, np.float32)
        row[f"{name}_shape"] = np.zeros(2, np.float32)
    for name in PAIRED:
        row[f"{name}_partner"] = np.array(0, np.int32)
    return {name: [value] for name, value in row.items()}


def mixing_of(options: Any, scale: int, gt_size: Optional[int], training: bool, always: bool) -> Optional[Mixing]:
    """The `Mixing` of a config's options (`augmentation`, `aug_prob`, `aug_multi_prob`), or None: outside
    training, without `augmentation`, or with `["none"]` alone unless `always` (neosr's otf model runs the
    LQ round trip even then; its image model skips it)."""
    names = getattr(options, "augmentation", None)
    if not training or names is None or gt_size is None or (tuple(names) == ("none",) and not always):
        return None
    names, weights, multi = parse_mixing(names, options.aug_prob, options.aug_multi_prob, "augmentation")
    return Mixing(names, weights, multi, scale, gt_size)
