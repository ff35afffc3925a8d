"""DL-Art-School's `paths` + `weights`: one folder, or folders each repeated its weight's number of times."""
from __future__ import annotations

import pytest

from dali_sr import ConfigError
from dali_sr.datasets.dlas.roots import PATHS, WEIGHTS, weighted_roots


def test_a_single_path_repeats_once_and_a_list_takes_one_weight_per_folder():
    assert weighted_roots("data/a", None, "w") == [("data/a", 1)]
    assert weighted_roots(["a", "b", "c"], [2, 1, 5], "w") == [("a", 2), ("b", 1), ("c", 5)]
    assert weighted_roots(["a", "b"], None, "w") == [("a", 1), ("b", 1)]


@pytest.mark.parametrize("paths, weights, message", [
    (["a", "b"], [1], r"^config \[t\]: 'weights' has 1 entries for 2 'paths'; give one integer per folder$"),
    ("a", [2], r"^config \[t\]: 'weights' \[2\] given with a single path"),
    (["a", ""], None, r"^config \[t\]: 'paths' must be folder names"),
])
def test_weights_that_do_not_match_the_paths_are_refused_in_one_line(paths, weights, message):
    with pytest.raises(ConfigError, match=message):
        weighted_roots(paths, weights, "config [t]")


def test_the_fields_refuse_empty_paths_and_weights_below_one():
    assert PATHS.read("paths", ["a"], "w") == ["a"]
    for bad in ([], ""):
        with pytest.raises(ConfigError, match="'paths' must be a folder or a non-empty list of folders"):
            PATHS.read("paths", bad, "w")
    for bad in ([0], [1, -2], [1.5], [True]):
        with pytest.raises(ConfigError, match="'weights' must be a list of positive integers"):
            WEIGHTS.read("weights", bad, "w")


def test_target_size_over_scale_must_be_a_multiple_of_force_multiple():
    from dali_sr.datasets.dlas.keys import check_target_size

    check_target_size(128, 2, 32, "w")
    check_target_size(None, 2, 32, "w")
    with pytest.raises(ConfigError, match=r"^config \[t\]: target_size 100 / scale 2 = 50 is not a multiple of "
                                          r"force_multiple 32; change target_size or force_multiple$"):
        check_target_size(100, 2, 32, "config [t]")
