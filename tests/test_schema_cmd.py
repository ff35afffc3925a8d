"""`dali-sr schema`: the JSON Schema lists every key the loader accepts, and option files of each dialect
validate against it (with jsonschema where it is installed; its structure is checked either way)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dali_sr.cli import main
from dali_sr.config.common import COMMON_KEYS
from dali_sr.config.dialects import redux, redux_keys
from dali_sr.config.json_schema import config_schema
from dali_sr.config.types import dataset_type, dataset_types
from dali_sr.storage.io_options import BACKEND_KEYS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def schema() -> dict:
    return config_schema()


def test_every_key_the_loader_accepts_is_in_the_schema(schema):
    section = schema["definitions"]["dataset"]["properties"]
    accepted = set(COMMON_KEYS) | {k for name in dataset_types() for k in dataset_type(name).options.keys}
    accepted |= set(redux_keys.DATASET_KEYS) | set(redux.DALI_SR_KEYS) | {"mode", "batch_size", "n_workers"}
    assert sorted(accepted - set(section)) == []
    top = schema["properties"]
    model = {k for name in dataset_types() for k in dataset_type(name).options.model_keys}
    assert sorted((set(redux_keys.TOP_KEYS) | model | {"scale", "manual_seed", "datasets"}) - set(top)) == []
    io = section["io_backend"]["properties"]
    assert set(io) == {"type"} | {k for keys in BACKEND_KEYS.values() for k in keys}


def test_types_and_defaults_come_from_the_fields(schema):
    section = schema["definitions"]["dataset"]["properties"]
    assert section["scale"]["type"] == ["integer"] and section["use_hflip"]["type"] == ["boolean"]
    assert section["gt_size"]["type"] == ["integer", "null"] and section["prefetch_queue_depth"]["default"] == 2
    assert set(section["dataroot_gt"]["type"]) == {"string", "null", "array"}  # a list in traiNNer-redux's files
    assert set(section["dataset_enlarge_ratio"]["type"]) == {"integer", "string"}  # 'auto'
    assert schema["definitions"]["dataset"]["additionalProperties"] is False


def _option_files() -> list[dict]:
    files = [yaml.safe_load((ROOT / "configs" / name).read_text())
             for name in ("basicsr_edsr_x4_option.yml", "realesrgan_x4plus.yml", "div2k_x4_lmdb.yml")]
    import test_redux_dialect as r

    roots = {"gt_a": "/d/a/hr", "lq_a": "/d/a/lr", "gt_b": "/d/b/hr", "lq_b": "/d/b/lr"}
    files.append(yaml.safe_load(r.OTF_TOP.format(lq_usm="false") + "datasets:\n" + r.OTF_TRAIN.format(**roots)
                                + r.VAL_AND_TRAINER.format(**roots)))
    return files


def test_option_files_validate_and_a_misspelt_key_does_not(schema):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    for opts in _option_files():
        assert list(validator.iter_errors(opts)) == []
    bad = _option_files()[-1]
    bad["datasets"]["train"]["lq_sise"] = 16
    assert any("lq_sise" in e.message for e in validator.iter_errors(bad))


def test_option_files_keys_are_properties_without_jsonschema(schema):
    """The same files checked by the schema's structure alone: each section key is a property."""
    section = schema["definitions"]["dataset"]["properties"]
    for opts in _option_files():
        sections = opts["datasets"].values() if "datasets" in opts else [opts]
        for s in sections:
            assert set(s) <= set(section), sorted(set(s) - set(section))


def test_the_command_prints_and_writes_it(tmp_path, capsys):
    assert main(["schema", "--compact"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(config_schema()))
    out = tmp_path / "s.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["title"] == "dali_sr config"
