"""Degradation chains: validation of `degradation:` lists and Real-ESRGAN's keys, and the per-sample draws'
distributions against their configured ranges and probabilities (fixed seeds, many samples)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import special, stats

from dali_sr import ConfigError
from dali_sr.degrade import kernels
from dali_sr.degrade.chain import Blur, OneOf, Resize, parse_chain
from dali_sr.degrade.draws import blur_draw, chain_columns, draw_sample
from dali_sr.degrade.realesrgan import realesrgan_chain

N = 4000


def within(count: int, n: int, p: float) -> bool:
    """`count` of `n` draws is within 4.5 binomial standard deviations of n p."""
    return abs(count - n * p) <= 4.5 * math.sqrt(n * p * (1 - p)) + 1


def realesrgan_draws(n: int = N, window: int = 400) -> list[dict]:
    chain = realesrgan_chain({}, 4, True, "test")
    return [draw_sample(chain, np.random.default_rng([0, 0, i]), (window, window))[0] for i in range(n)]


@pytest.fixture(scope="module")
def draws() -> list[dict]:
    return realesrgan_draws()


# -- validation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    ([{"type": "blurr"}], "unknown degradation step 'blurr'; did you mean 'blur'?"),
    ([{"type": "blur", "blur_sigmaa": [1, 2]}], "unknown key 'blur_sigmaa'; did you mean 'blur_sigma'?"),
    ([{"type": "blur", "blur_sigma": [3, 0.2]}], "'blur_sigma' [3, 0.2] has its low end above its high end"),
    ([{"type": "blur", "kernel_list": ["iso", "aniso"], "kernel_prob": [0.5, 0.4]}],
     "'kernel_prob' [0.5, 0.4] sums to 0.9; its probabilities must sum to 1"),
    ([{"type": "blur", "kernel_list": ["iso", "anisso"]}], "'kernel_list' has unknown 'anisso'; did you mean 'aniso'?"),
    ([{"type": "resize", "resize_prob": [0.2, 0.7, 0.2], "resize_range": [0.5, 1.5]}], "'resize_prob'"),
    ([{"type": "resize", "resize_prob": [0.5, 0.5, 0], "resize_range": [0.5, 1.5]}],
     "ends at another size than the LQ"),
    ([{"type": "resize", "resize_prob": [1, 0, 0], "resize_range": [0.2, 0.9]}], "'resize_range' [0.2, 0.9] must hold 1"),
    ([{"type": "jpeg", "jpeg_range": [30, 195]}], "'jpeg_range' must be in [1, 100]"),
    ([{"type": "noise", "gray_noise_prob": 1.5}], "'gray_noise_prob' must be in [0, 1]"),
    ([{"type": "one_of", "prob": [0.3, 0.3], "options": [[], [{"type": "jpeg"}]]}], "sums to 0.6"),
    ([{"type": "one_of", "options": [[{"type": "resize", "to": "lq"}], []]}], "end at different sizes"),
    ([{"type": "blur", "kernel_size": [6, 21]}], "'kernel_size' [6, 21] must be odd sizes"),
    ("bicubc", "did you mean 'bicubic'"),
    ([], "non-empty list of steps"),
])
def test_bad_chains_are_refused_naming_the_key(value, message):
    with pytest.raises(ConfigError, match=f"degradation.*{_escape(message)}|{_escape(message)}"):
        parse_chain(value, 4, "cfg")


def _escape(text: str) -> str:
    return re.escape(text)


def test_a_chain_without_resize_ends_with_matlabs_bicubic():
    chain = parse_chain([{"type": "blur", "blur_sigma": [0.5, 1.0]}, {"type": "noise"}], 4, "cfg")
    assert isinstance(chain.steps[-1], Resize) and chain.steps[-1].modes == ("matlab",)
    assert parse_chain("bicubic", 4, "cfg").is_bicubic and not chain.is_bicubic


@pytest.mark.parametrize("key, value, message", [
    ("kernel_prob2", [0.5, 0.5, 0, 0, 0, 0.1], "'kernel_prob2' [0.5, 0.5, 0, 0, 0, 0.1] sums to 1.1"),
    ("resize_range2", [1.2, 0.3], "'resize_range2' [1.2, 0.3] has its low end above its high end"),
    ("jpeg_range", [95, 30], "'jpeg_range' [95, 30] has its low end above its high end"),
    ("second_blur_prob", 1.8, "'second_blur_prob' must be in [0, 1]"),
    ("betap_range", [1.5, 2], "'betap_range' [1.5, 2] must hold 1"),
    ("kernel_list", ["iso", "sinc"], "'kernel_list' has unknown 'sinc'"),
])
def test_bad_realesrgan_keys_are_named(key, value, message):
    with pytest.raises(ConfigError, match=_escape(message)):
        realesrgan_chain({key: value}, 4, True, "cfg")


# -- draws --------------------------------------------------------------------------------------------------
def test_columns_are_the_draws_of_every_step(draws):
    chain = realesrgan_chain({}, 4, True, "test")
    assert set(draws[0]) == set(chain_columns(chain))
    assert len({tuple(d["d1_kernel"].shape) for d in draws}) == 8  # kernel sizes 7, 9, ..., 21


def test_kernel_types_sinc_sizes_and_parameters_follow_their_settings():
    step = Blur("b", 1.0, kernel_list=("iso", "aniso", "generalized_iso", "plateau_aniso"),
                kernel_prob=(0.4, 0.3, 0.2, 0.1), sigma=(0.2, 3.0), betag=(0.5, 4.0), betap=(1.0, 2.0), sinc_prob=0.25)
    rng = np.random.default_rng(1)
    found = [blur_draw(step, rng) for _ in range(N)]
    kinds = [d.kind for d in found]
    assert within(kinds.count("sinc"), N, 0.25)
    for kind, p in zip(step.kernel_list, step.kernel_prob):
        assert within(kinds.count(kind), N, 0.75 * p), (kind, kinds.count(kind))
    assert stats.chisquare(np.bincount([d.size for d in found])[7::2]).pvalue > 1e-4  # sizes 7..21, uniform
    sigmas = np.array([d.sig_x for d in found if d.kind != "sinc"] + [d.sig_y for d in found if d.kind == "aniso"])
    assert stats.kstest((sigmas - 0.2) / 2.8, "uniform").pvalue > 1e-4
    assert all(d.sig_y == d.sig_x and d.theta == 0 for d in found if d.kind == "iso")
    theta = np.array([d.theta for d in found if d.kind == "aniso"])
    assert stats.kstest((theta + math.pi) / (2 * math.pi), "uniform").pvalue > 1e-4
    betag = np.array([d.beta for d in found if d.kind == "generalized_iso"])
    assert within(int((betag < 1).sum()), len(betag), 0.5) and betag.min() >= 0.5 and betag.max() <= 4
    small = np.array([d.cutoff for d in found if d.kind == "sinc" and d.size < 13])
    large = np.array([d.cutoff for d in found if d.kind == "sinc" and d.size >= 13])
    assert small.min() >= math.pi / 3 and large.min() >= math.pi / 5 and large.min() < math.pi / 3
    for d in found[:50]:
        k = d.kernel()
        assert k.shape == (d.size, d.size) and abs(float(k.sum()) - 1) < 1e-5


def test_realesrgan_resize_noise_jpeg_and_choices_follow_the_option_file(draws):
    n = len(draws)
    up = sum(float(d["d2_size"][0]) > 400 for d in draws)
    down = sum(float(d["d2_size"][0]) < 400 for d in draws)
    assert within(up, n, 0.2) and within(down, n, 0.7)  # resize_prob [0.2, 0.7, 0.1]
    scale = np.array([float(d["d2_size"][0]) / 400 for d in draws])
    assert scale.min() >= 0.15 - 1 / 400 and scale.max() <= 1.5
    assert np.bincount([int(d["d2_mode"]) for d in draws]).max() < n / 3 + 4.5 * math.sqrt(n * 2 / 9)
    gaussian = np.array([bool(d["d3_gaussian"]) for d in draws])
    assert within(gaussian.sum(), n, 0.5) and within(sum(bool(d["d3_gray"]) for d in draws), n, 0.4)
    sigma = np.array([float(d["d3_sigma"]) for d in draws])
    assert stats.kstest((sigma - 1) / 29, "uniform").pvalue > 1e-4  # noise_range [1, 30]
    poisson = np.array([float(d["d3_scale"]) for d in draws])
    assert stats.kstest((poisson - 0.05) / 2.95, "uniform").pvalue > 1e-4  # poisson_scale_range [0.05, 3]
    quality = np.array([int(d["d4_quality"]) for d in draws])
    assert quality.min() == 30 and quality.max() == 95  # jpeg_range [30, 95], whole qualities
    assert within(sum(bool(d["d5_on"]) for d in draws), n, 0.8)  # second_blur_prob
    assert within(sum(int(d["d8_option"]) == 0 for d in draws), n, 0.5)  # the final order
    sinc = sum((d["d8o0s1_on"] if int(d["d8_option"]) == 0 else d["d8o1s2_on"]) for d in draws)
    assert within(int(sinc), n, 0.8)  # final_sinc_prob
    size2 = np.array([d["d6_size"] for d in draws])
    assert (size2[:, 0] >= int(100 * 0.3)).all() and (size2[:, 0] <= int(100 * 1.2)).all()


def test_sizes_follow_torchs_interpolate(draws):
    for d in draws[:200]:
        out, roi = d["d2_size"], d["d2_roi"]
        factor = float(out[0]) / float(roi[0])
        assert float(out[0]) == math.floor(400 * factor) or abs(float(out[0]) - 400 * factor) < 1
        np.testing.assert_allclose(d["d8o0s0_size"], [100, 100])  # resize back to gt / scale
        np.testing.assert_allclose(d["d8o1s1_roi"], d["d6_size"])  # from the second-order size


def test_draws_are_a_function_of_the_generator_seed():
    a, b, c = (draw_sample(realesrgan_chain({}, 4, True, "t"), np.random.default_rng(s), (400, 400))[0]
               for s in ([1, 2, 3], [1, 2, 3], [1, 2, 4]))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_kernels_are_their_formulas():
    k = kernels.gaussian(21, 2.0, 2.0, 0.0).astype(np.float64)
    g = np.exp(-(np.arange(21) - 10.0) ** 2 / 8.0)
    np.testing.assert_allclose(k, np.outer(g, g) / np.outer(g, g).sum(), rtol=1e-6)
    s = kernels.sinc(21, 1.0).astype(np.float64)
    r = np.hypot(*np.meshgrid(np.arange(21) - 10.0, np.arange(21) - 10.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = special.j1(r) / (2 * np.pi * r)
    ref[10, 10] = 1 / (4 * np.pi)
    np.testing.assert_allclose(s, ref / ref.sum(), rtol=1e-5, atol=1e-8)
    a = kernels.gaussian(15, 3.0, 1.0, math.pi / 2).astype(np.float64)
    np.testing.assert_allclose(a, kernels.gaussian(15, 1.0, 3.0, 0.0).astype(np.float64), atol=1e-7)  # a quarter turn
    assert np.allclose(kernels.plateau(9, 1.0, 1.0, 0.0, 1.0).sum(), 1.0)


def test_one_of_options_each_get_their_draws():
    chain = parse_chain([{"type": "one_of", "prob": [0.25, 0.75], "options": [[{"type": "jpeg"}],
                                                                          [{"type": "noise"}]]}], 4, "cfg")
    assert isinstance(chain.steps[0], OneOf)
    rows = [draw_sample(chain, np.random.default_rng(i), (64, 64))[0] for i in range(N)]
    assert within(sum(int(r["d0_option"]) == 0 for r in rows), N, 0.25)
    assert all("d0o0s0_quality" in r and "d0o1s0_sigma" in r for r in rows)


def test_the_realesrgan_chain_preset_is_realesrgan_datasets_chain():
    from pathlib import Path

    import dali_sr

    cfg = dali_sr.load_config(Path(__file__).resolve().parents[1] / "configs" / "realesrgan_chain_x4.yml")
    assert cfg.degradation.steps == realesrgan_chain({}, 4, True, "test").steps and cfg.crop_pad_size == 400


def test_fixed_resize_scales_are_drawn_by_their_probabilities():
    chain = parse_chain([{"type": "resize", "scales": [0.5, 0.25], "scale_prob": [0.75, 0.25]},
                         {"type": "resize", "to": "gt", "modes": ["bilinear"]}], 4, "cfg")
    rows = [draw_sample(chain, np.random.default_rng(i), (64, 64))[0] for i in range(N)]
    sizes = [int(r["d0_size"][0]) for r in rows]
    assert set(sizes) == {32, 16} and within(sizes.count(32), N, 0.75)
    assert all(list(r["d1_size"]) == [64, 64] for r in rows)
    with pytest.raises(ConfigError, match="give 'scales' .* or 'resize_prob' with 'resize_range', not both"):
        parse_chain([{"type": "resize", "scales": [0.5], "resize_range": [0.5, 1]}], 4, "cfg")


def test_pick_is_numpys_weighted_choice_draw_for_draw():
    """The draws' fast weighted choice gives what `Generator.choice(n, p=p)` gives, from the same stream."""
    from dali_sr.degrade.draws import pick

    for seed in range(20):
        p = np.random.default_rng(seed).random(1 + seed % 6)
        p[seed % len(p)] = 0.0 if len(p) > 1 else p[0]
        p = tuple(p / p.sum())
        ours, theirs = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 1])
        assert [pick(ours, p) for _ in range(300)] == [int(theirs.choice(len(p), p=p)) for _ in range(300)]
