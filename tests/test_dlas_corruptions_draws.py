"""The per-sample draws of DL-Art-School's corruptions against `ImageCorruptor`'s distributions: cosine-biased
values, k names drawn with replacement then the fixed ones, JPEG skipped after noise, the resampling factors,
modes and undo sizes; the chains `corruption_chain` builds; unknown names refused."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from dali_sr import ConfigError
from dali_sr.degrade.chain import RESIZE_MODES, Corrupt, Resize, parse_chain
from dali_sr.degrade.dlas import corruption_chain
from dali_sr.degrade.dlas_names import NAMES, OPS
from dali_sr.degrade.draws import draw_sample

N = 3000


def sample_draws(step: dict, n: int = N, size: tuple[int, int] = (32, 32)) -> list[dict]:
    chain = parse_chain([{"type": "dlas", **step}], 1, "test")
    return [draw_sample(chain, np.random.default_rng([9, i]), size)[0] for i in range(n)]


def ops(d: dict, slots: int) -> list[str]:
    return [OPS[int(d[f"d0_c{s}_op"])] for s in range(slots)]


def test_values_are_cosine_biased_towards_zero():
    r = np.array([float(d["d0_c0_r"]) for d in sample_draws({"fixed_corruptions": ["saturation"]})])
    # r = 1 - cos(u pi / 2) for uniform u: P(r <= x) = 2 / pi * acos(1 - x)
    assert stats.kstest(r, lambda x: 2 / math.pi * np.arccos(1 - np.clip(x, 0, 1))).pvalue > 1e-3
    assert stats.kstest(r, "uniform").pvalue < 1e-6


def test_without_cosine_bias_values_are_uniform():
    r = [float(d["d0_c0_r"]) for d in sample_draws({"fixed_corruptions": ["saturation"], "cosine_bias": False})]
    assert stats.kstest(r, "uniform").pvalue > 1e-3


def test_k_random_names_with_replacement_then_the_fixed_ones():
    step = {"random_corruptions": ["saturation", "greyscale", "color_quantization"], "num_corrupts_per_image": 2,
            "fixed_corruptions": ["gaussian_blur"]}
    pairs = Counter(tuple(ops(d, 3)) for d in sample_draws(step))
    assert all(p[2] == "filter" for p in pairs)
    assert len(pairs) == 9  # every ordered pair, repeats included
    assert stats.chisquare(list(pairs.values())).pvalue > 1e-3  # uniform: 1/9 each


def test_each_slot_draws_its_own_value():
    draws = sample_draws({"fixed_corruptions": ["saturation", "saturation"]}, 200)
    r = np.array([[float(d[f"d0_c{s}_r"]) for s in (0, 1)] for d in draws])
    assert abs(np.corrcoef(r.T)[0, 1]) < 0.2 and (r[:, 0] != r[:, 1]).all()


def test_jpeg_is_skipped_exactly_when_noise_is_among_the_samples_names():
    step = {"random_corruptions": ["noise", "noise-5", "none"], "num_corrupts_per_image": 1,
            "fixed_corruptions": ["jpeg-normal"]}
    draws = sample_draws(step, 600)
    noisy = [ops(d, 2)[0] == "noise" for d in draws]
    jpeg = [ops(d, 2)[1] == "jpeg" for d in draws]
    assert all(n != j for n, j in zip(noisy, jpeg)) and 300 < sum(noisy) < 500  # 2 in 3 draw a noise


@pytest.mark.parametrize("name, low, span", [("jpeg", 10, 20), ("jpeg-low", 15, 10), ("jpeg-medium", 23, 25),
                                             ("jpeg-broad", 15, 60), ("jpeg-normal", 47, 35)])
def test_jpeg_qualities_span_their_ranges(name, low, span):
    draws = sample_draws({"fixed_corruptions": [name]}, 1000)
    quality = np.array([int(d["d0_c0_quality"]) for d in draws])
    assert quality.min() == low and quality.max() in (low + span - 1, low + span)
    assert np.array_equal(quality, [int((1 - float(d["d0_c0_r"])) * span) + low for d in draws])
    assert np.median(quality) > low + span / 2  # cosine bias: mostly light compression


def test_resampling_factor_by_r_and_mode_as_dl_art_school_draws_them():
    draws = sample_draws({"fixed_corruptions": ["lq_resampling"]}, 4000, (64, 64))
    modes = Counter()
    for d in draws:
        r = float(d["d0_c0_r"])
        factor = 1 if r < 0.3 else 2 if r < 0.7 else 4
        if factor == 1:
            assert ops(d, 1) == ["none"]
            continue
        assert ops(d, 1) == ["resample"] and list(d["d0_c0_size"]) == [64 // factor] * 2
        assert list(d["d0_c0_back"]) == [64, 64]
        modes[RESIZE_MODES[int(d["d0_c0_mode"])]] += 1
    # randint(0, 4) % 4 as an OpenCV flag: nearest twice as likely as linear, cubic and area
    assert stats.chisquare([modes["nearest"], modes["bilinear"], modes["bicubic"], modes["area"]],
                           np.array([2, 1, 1, 1]) / 5 * sum(modes.values())).pvalue > 1e-3


def test_undo_sizes_multiply_back_in_order_and_end_at_the_start_size():
    draws = sample_draws({"fixed_corruptions": ["lq_resampling4x", "lq_resampling4x"]}, 3, (40, 36))
    for d in draws:
        assert list(d["d0_c0_size"]) == [10, 9] and list(d["d0_c1_size"]) == [2, 2]
        assert list(d["d0_c0_back"]) == [8, 8]  # (40 // 4 // 4) * 4, as DL-Art-School's first undo
        assert list(d["d0_c1_back"]) == [40, 36]  # the last one ends where the step started


def test_blur_sizes_follow_the_blur_scale():
    draws = sample_draws({"fixed_corruptions": ["gaussian_blur", "motion_blur"], "corruption_blur_scale": 2}, 300)
    for d in draws:
        sigma = 2 * float(d["d0_c0_r"]) * 1.5
        assert d["d0_c0_kernel"].shape == (max(int(np.rint(sigma * 8 + 1)) | 1, 1), 1)  # a separable column
        assert d["d0_c1_kernel"].shape == (int(2 * float(d["d0_c1_r"]) * 3 + 1),) * 2
        assert abs(d["d0_c1_kernel"].sum() - 1) < 1e-5


def test_color_jitter_is_off_below_one_level_and_its_factors_follow_r():
    draws = sample_draws({"fixed_corruptions": ["color_jitter"]}, 2000)
    for d in draws:
        s = float(d["d0_c0_r"]) * 0.2
        assert (ops(d, 1) == ["jitter"]) == (s * 255 > 1)
        assert sorted(d["d0_c0_order"]) == [0, 1, 2, 3]
    factors = np.array([d["d0_c0_jitter"] / (float(d["d0_c0_r"]) * 0.2) for d in draws if ops(d, 1) == ["jitter"]])
    assert stats.kstest((factors[:, 3] + 1) / 2, "uniform").pvalue > 1e-3  # hue: uniform on [-s, s]


def test_no_op_names_have_no_columns():
    chain = parse_chain([{"type": "dlas", "fixed_corruptions": ["none", "interlacing"]}], 1, "t")
    draw, _ = draw_sample(chain, np.random.default_rng(0), (8, 8))
    assert sorted(draw) == ["d0_c0_angle", "d0_c0_r", "d0_c1_angle", "d0_c1_r"]


def test_corruption_chain_places_the_step_after_or_before_the_downscale():
    names = {"fixed_corruptions": ["jpeg"], "random_corruptions": ["noise"], "num_corrupts_per_image": 1}
    after = corruption_chain(names, 4, "t")
    assert [type(s) for s in after.steps] == [Resize, Corrupt] and after.steps[0].to == "lq"
    assert after.steps[1].fixed == ("jpeg",) and after.steps[1].random == ("noise",) and after.uses_dali_random()
    before = corruption_chain({**names, "corrupt_before_downsize": True}, 4, "t")
    assert [type(s) for s in before.steps] == [Corrupt, Resize]
    factor = corruption_chain({**names, "corrupt_before_downsize": True, "corrupt_before_downsize_factor": 2}, 4, "t")
    first, step, last = factor.steps
    assert first.to == "gt" and first.scales == (0.5,) and first.modes == ("area",) and isinstance(step, Corrupt)
    assert last.to == "lq" and last.modes == ("area",)
    draw, end = draw_sample(factor, np.random.default_rng(0), (64, 64))
    assert list(draw["d0_size"]) == [32, 32] and end == (16, 16)
    unused = corruption_chain({"random_corruptions": ["noise"], "num_corrupts_per_image": 0}, 2, "t")
    assert [type(s) for s in unused.steps] == [Resize] and not unused.uses_dali_random()  # nothing to corrupt
    fixed_only = corruption_chain({"random_corruptions": ["noise"], "fixed_corruptions": ["none"]}, 2, "t")
    assert fixed_only.steps[1].random == () and not fixed_only.uses_dali_random()  # unread with no random slots


@pytest.mark.parametrize("values, message", [
    ({"fixed_corruptions": ["jpg"]}, "t: unknown corruption 'jpg' in 'fixed_corruptions'; did you mean 'jpeg'?"),
    ({"random_corruptions": ["gaussian-blur"], "num_corrupts_per_image": 1},
     "unknown corruption 'gaussian-blur' in 'random_corruptions'; did you mean 'gaussian_blur'?"),
    ({"fixed_corruptions": ["jpeg-broad2"]}, "unknown corruption 'jpeg-broad2'"),
    ({"random_corruptions": ["blur"]}, "unknown corruption 'blur' in 'random_corruptions'"),
    ({"num_corrupts_per_image": 2}, "'num_corrupts_per_image' 2 needs 'random_corruptions'"),
    ({"cosine_bias": "yes"}, "'cosine_bias' must be true or false"),
    ({"fixed_corruptions": ["jpeg"], "corrupt_before_downsize": True, "corrupt_before_downsize_factor": 3},
     "'corrupt_before_downsize_factor' 3 must divide 'scale' 4"),
])
def test_bad_corruption_settings_are_refused_in_one_line(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("?", r"\?")) as e:
        corruption_chain(values, 4, "t")
    assert "\n" not in str(e.value)


def test_every_dl_art_school_name_is_accepted():
    assert set(NAMES) == {"jpeg", "jpeg-low", "jpeg-medium", "jpeg-broad", "jpeg-normal", "gaussian_blur",
                          "motion_blur", "color_jitter", "color_quantization", "lq_resampling", "lq_resampling4x",
                          "noise", "noise-5", "saturation", "greyscale", "none", "block_noise", "color_shift",
                          "interlacing", "chromatic_aberration"}
    chain = corruption_chain({"random_corruptions": list(NAMES), "num_corrupts_per_image": 3,
                              "fixed_corruptions": list(NAMES)}, 2, "t")
    assert chain.steps[1].slots == 3 + len(NAMES)
