"""A dataset type of the user's own, added with `dali_sr.register_dataset_type` from this test's code: paired
images with a key of its own (`invert_lq`) that its own graph reads, validated by `load_config` like a built-in
type's keys, and trained on for one optimizer step."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr import ConfigError
from dali_sr.config import TypeOptions, dataset_types
from dali_sr.datasets.kind import DatasetKind
from dali_sr.datasets.paired.index import build_paired_index
from dali_sr.datasets.paired.source import PairedSource
from dali_sr.schema.fields import Field

NAME = "InvertedLQPairDataset"
SCALE = 2


@dataclass(frozen=True)
class InvertOptions:
    """The type's own key, typed: `Config.options`."""

    invert_lq: bool


def inverted_lq_graph(cfg, source, on_gpu):
    """The built-in paired graph, then LQ replaced by 1 - LQ when the config says so."""
    from dali_sr.pipelines.graph import restoration_graph

    lq, gt, idx = restoration_graph(cfg, source, on_gpu, frames=False)
    return (1.0 - lq if cfg.options.invert_lq else lq), gt, idx


INVERTED = DatasetKind(TypeOptions(keys={"invert_lq": Field((bool,), True)}, struct=InvertOptions),
                       build_paired_index, PairedSource)


@pytest.fixture(scope="module", autouse=True)
def registered():
    if NAME not in dataset_types():
        dali_sr.register_dataset_type(NAME, INVERTED, inverted_lq_graph)


@pytest.fixture
def section(tmp_path) -> dict:
    roots = make_nn_pairs(tmp_path, SCALE, [(12, 14), (13, 12), (12, 12), (15, 13)])
    return paired_cfg(roots, SCALE, type=NAME, seed=3)


def test_its_key_is_validated_typed_and_suggested_like_a_built_in_types(section):
    assert dali_sr.load_config(section).options == InvertOptions(invert_lq=True)
    assert dali_sr.load_config(dict(section, invert_lq=False)).options == InvertOptions(invert_lq=False)
    with pytest.raises(ConfigError, match=r"^config \[nn\]: 'invert_lq' must be true/false, got 'yes'$"):
        dali_sr.load_config(dict(section, invert_lq="yes"))
    with pytest.raises(ConfigError, match=r"^config \[nn\]: unknown key 'invert_l'; did you mean 'invert_lq'\?$"):
        dali_sr.load_config(dict(section, invert_l=True))
    with pytest.raises(ConfigError, match=r"unknown key 'invert_lq'"):
        dali_sr.load_config(dict(section, type="PairedImageDataset", invert_lq=True))
    option_file = {"scale": SCALE, "manual_seed": 9, "datasets": {"train": {k: v for k, v in section.items()
                                                                            if k not in ("scale", "seed")}}}
    cfg = dali_sr.load_config(option_file)
    assert (cfg.type, cfg.scale, cfg.seed, cfg.options.invert_lq) == (NAME, SCALE, 9, True)


def test_a_name_is_registered_once():
    with pytest.raises(ConfigError, match=f"dataset type '{NAME}' is registered already"):
        dali_sr.register_dataset_type(NAME, INVERTED, inverted_lq_graph)
    with pytest.raises(ConfigError, match="pass a DatasetKind"):
        dali_sr.register_dataset_type("NotAKind", object(), inverted_lq_graph)
    assert "NotAKind" not in dataset_types()


def test_its_graph_makes_the_batches_and_a_model_trains_a_step_on_them(section):
    with dali_sr.build_loader(section) as loader:
        batch = next(iter(loader))
    lq, gt = batch["lq"], batch["gt"]
    assert lq.shape == (4, 3, 8, 8) and gt.shape == (4, 3, 16, 16)
    # GT is LQ upsampled by nearest neighbour: every GT pixel block holds the inverse of its LQ pixel
    assert torch.equal(lq, 1.0 - gt[:, :, ::SCALE, ::SCALE])
    assert batch["gt_path"] == [p.replace("/lq/", "/gt/") for p in batch["lq_path"]]

    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def loss() -> torch.Tensor:
        return F.mse_loss(F.interpolate(model(lq), scale_factor=SCALE, mode="nearest"), gt)

    before = loss()
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert after < before  # a linear model on a convex loss, a small step: the step lowers the loss
