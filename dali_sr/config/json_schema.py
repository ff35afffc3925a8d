"""A JSON Schema (draft-07) of every key a config may hold, for editors' completion and checks: built from the
fields the loader itself checks (the keys every dataset takes, each registered type's, `io_backend`'s) and the
keys of the option-file dialects, so it lists what the loader accepts.

The schema describes a dataset section, and an option file: its `datasets:` sections, the file-wide keys the
dialects read (`scale`, `manual_seed`, the models' degradation keys, traiNNer-redux's top level) and, as option
files hold a trainer's keys too, any other top-level key.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..degrade.redux import KERNEL_DEFAULTS, MODEL_DEFAULTS
from ..schema.fields import NONE, Field
from ..storage.io_options import BACKEND_KEYS, IO_BACKENDS
from .common import COMMON_KEYS
from .dialects import dlas, redux, redux_keys
from .types import dataset_type, dataset_types

_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string", list: "array", tuple: "array",
               dict: "object", NONE: "null"}
_ANY_TYPES = set(_JSON_TYPES)
_ACCEPTED = "traiNNer-redux's; accepted, not used by the loader"


def _field(field: Field) -> dict[str, Any]:
    """The schema of one field: its types (none for a field that takes any value), default and expectation."""
    out: dict[str, Any] = {}
    if set(field.types) != _ANY_TYPES:
        out["type"] = sorted({_JSON_TYPES[t] for t in field.types})
    if field.default is not None and isinstance(field.default, (int, float, str, bool, list, tuple)):
        out["default"] = list(field.default) if isinstance(field.default, tuple) else field.default
    if field.expect:
        out["description"] = field.expect
    return out


def _of_value(value: Any, description: str = "") -> dict[str, Any]:
    """The schema of a key known by its default value."""
    out: dict[str, Any] = {"default": list(value) if isinstance(value, tuple) else value}
    out["type"] = ["array"] if isinstance(value, (list, tuple)) else [_JSON_TYPES[type(value)]]
    if isinstance(value, float) or isinstance(value, int) and not isinstance(value, bool):
        out["type"] = ["integer", "number"]
    if description:
        out["description"] = description
    return out


def _merge(properties: dict[str, dict], key: str, schema: Mapping[str, Any]) -> None:
    """Add `key`; a key several sources define takes the union of their types."""
    if key not in properties:
        properties[key] = dict(schema)
        return
    have = properties[key]
    if "type" in have and "type" in schema:
        have["type"] = sorted(set(have["type"]) | set(schema["type"]))
    elif "type" in have:
        del have["type"]  # one source takes any value
    for name in ("default", "description"):
        if name not in have and name in schema:
            have[name] = schema[name]


def _describe(properties: dict[str, dict], keys: Iterable[str], description: str) -> None:
    """Add `keys` (any value where no source gives a type), described as `description`."""
    for key in keys:
        properties.setdefault(key, {})["description"] = description


def io_backend_schema() -> dict[str, Any]:
    """`io_backend`: its `type` and every type's keys."""
    properties: dict[str, dict] = {"type": {"type": ["string"], "enum": list(IO_BACKENDS)}}
    for fields in BACKEND_KEYS.values():
        for key, field in fields.items():
            _merge(properties, key, _field(field))
    return {"type": "object", "properties": properties, "additionalProperties": False}


def dataset_properties() -> dict[str, dict]:
    """Every key a dataset section may hold, in any dialect."""
    properties: dict[str, dict] = {}
    for key, field in COMMON_KEYS.items():
        _merge(properties, key, _field(field))
    for name in dataset_types():
        for key, field in dataset_type(name).options.keys.items():
            _merge(properties, key, _field(field))
    properties["type"]["examples"] = dataset_types() + list(redux_keys.DATASET_TYPES)
    properties["io_backend"] = io_backend_schema()
    _merge(properties, "mode", {"type": ["string"], "enum": list(dlas.MODES), "description": "DL-Art-School's"})
    for key in dlas._RENAMED:
        _merge(properties, key, {"type": ["integer", "null"], "description": "DL-Art-School's"})
    _merge(properties, "lq_size", {"type": ["integer", "null"],
                                   "description": "traiNNer-redux's LQ patch side: gt_size = lq_size x scale"})
    _merge(properties, "meta_info", {"type": ["string", "null"]})
    _merge(properties, "lq_resize_mode", {"type": ["string", "null"], "enum": [*redux.REDUX_RESIZE_MODES, None]})
    for key in ("dataroot_gt", "dataroot_lq"):
        _merge(properties, key, {"type": ["array"], "items": {"type": "string"}})
    _merge(properties, "dataset_enlarge_ratio", {"type": ["string"]})
    for key, value in KERNEL_DEFAULTS.items():
        _merge(properties, key, _of_value(value))
    _describe(properties, redux_keys.DATASET_UNUSED, _ACCEPTED)
    return properties


def top_properties() -> dict[str, dict]:
    """The file-wide keys the dialects read: BasicSR's, the models' (each type's `model_keys`), traiNNer-redux's."""
    properties: dict[str, dict] = {"scale": {"type": ["integer"]}, "manual_seed": {"type": ["integer", "null"]}}
    for name in dataset_types():
        options = dataset_type(name).options
        for key in options.model_keys:
            field = options.keys.get(key) or COMMON_KEYS.get(key)
            _merge(properties, key, _field(field) if field is not None else {})
    for key, value in MODEL_DEFAULTS.items():
        _merge(properties, key, _of_value(value))
    for key, field in redux_keys.TOP_FIELDS.items():
        _merge(properties, key, _field(field))
    _describe(properties, redux_keys.TOP_UNUSED, _ACCEPTED)
    return properties


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a config: a dataset section or an option file."""
    section = {"type": "object", "properties": dataset_properties(), "additionalProperties": False}
    datasets = {"type": "object", "additionalProperties": {"$ref": "#/definitions/dataset"}}
    properties = {**top_properties(), "datasets": datasets}
    for key, schema in section["properties"].items():
        properties.setdefault(key, schema)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "dali_sr config",
        "description": "A dataset section, or an option file (BasicSR, Real-ESRGAN, traiNNer-redux, DL-Art-School) "
                       "whose datasets: sections the loader reads",
        "type": "object",
        "definitions": {"dataset": section},
        "properties": properties,
    }
