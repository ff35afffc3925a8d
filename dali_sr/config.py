"""Dataset configs: BasicSR dataset options (dict or YAML) validated into a typed `Config`.

Accepts a single dataset section, or a whole BasicSR option file (top-level `scale`,
`manual_seed`, `datasets: {train: ..., val: ...}`) from which one section is picked by
phase. Unknown keys and wrong types fail with a one-line `ConfigError`.

This module knows option schemas only: the keys every dataset accepts, and, handed to
`load_config` by whoever knows the dataset types, the keys of the chosen `type:`.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import yaml

from .degrade.chain import Chain, parse_chain
from .errors import ConfigError
from .parallel import default_workers

PHASES = ("train", "val", "test")
DEVICES = ("auto", "gpu", "cpu")
IO_BACKENDS = ("disk", "lmdb", "memcached", "tfrecord", "webdataset")
SHARD_BACKENDS = ("tfrecord", "webdataset")


@dataclass(frozen=True)
class Option:
    """One accepted config key: its type check, default and a value check."""

    types: tuple
    default: Any = None
    check: Optional[Callable[[Any], bool]] = None
    expect: str = ""  # human words for what `check` wants


def _floats_in(low: float, high: float) -> Callable[[Any], bool]:
    """A check of 1 or 3 finite numbers, each in [low, high] (NaN and infinities are outside every range)."""
    def check(v: Any) -> bool:
        return len(v) in (1, 3) and all(isinstance(x, (int, float)) and not isinstance(x, bool) and low <= x <= high
                                        for x in v)
    return check


_NONE = type(None)
_INT, _FLOAT, _BOOL, _STR = (int,), (int, float), (bool,), (str,)

# Upper bounds that no training needs but that keep DALI and memory safe: a larger value is a typo.
MAX_SCALE = 16
MAX_PATCH_SIDE = 32768  # the largest image side the loader reads (storage.headers.MAX_SIDE)
MAX_BATCH_SIZE = 65536
MAX_BATCH_PIXELS = 2 ** 32  # GT pixels of one training batch: batch_size x window side^2 (48 GiB as float32 RGB)
MAX_THREADS = 256  # DALI CPU threads (num_threads, num_worker_per_gpu)
MAX_SOURCE_WORKERS = 64  # processes
MAX_PREFETCH = 32  # batches
MAX_ENLARGE_RATIO = 10 ** 6
MAX_DEVICE_ID = 1023
MAX_SEED = 2 ** 63 - 1  # DALI takes a signed 64-bit seed
MEAN_RANGE = (-1000.0, 1000.0)  # with STD_RANGE, (x - mean) / std of x in [0, 1] stays within about 1e6
STD_RANGE = (0.001, 1000.0)


def _int_range(types: tuple, default: Any, low: int, high: int, high_words: str = "") -> Option:
    """An integer option (or null, if `types` has it) in [low, high]; `high_words` shows `high` in the message."""
    return Option(types, default, lambda v: low <= v <= high, f"an integer in [{low}, {high_words or high}]")


def _floats_option(low: float, high: float) -> Option:
    """`mean` / `std`: a list of 1 or 3 finite numbers in [low, high], or null."""
    return Option((list, tuple, _NONE), None, _floats_in(low, high),
                  f"a list of 1 or 3 finite numbers in [{low:g}, {high:g}]")


# BasicSR dataset option names, then dali_sr's own keys.
OPTIONS: dict[str, Option] = {
    "type": Option(_STR),
    "name": Option(_STR + (_NONE,)),
    "phase": Option(_STR, None, lambda v: v in PHASES, f"one of {PHASES}"),
    "scale": _int_range(_INT, None, 1, MAX_SCALE),
    "dataroot_gt": Option(_STR + (_NONE,)),
    "dataroot_lq": Option(_STR + (_NONE,)),
    "meta_info_file": Option(_STR + (_NONE,)),
    "filename_tmpl": Option(_STR, "{}", lambda v: "{}" in v, "a template containing '{}'"),
    "io_backend": Option((dict,), None),
    "gt_size": _int_range(_INT + (_NONE,), None, 1, MAX_PATCH_SIDE),
    "use_hflip": Option(_BOOL, False),
    "use_flip": Option(_BOOL, None),  # BasicSR's old name of use_hflip
    "use_rot": Option(_BOOL, False),
    "use_vflip": Option(_BOOL, False),  # dali_sr's: vertical flips (p=0.5) of their own, without use_rot's transpose
    "mean": _floats_option(*MEAN_RANGE),
    "std": _floats_option(*STD_RANGE),
    "color": Option(_STR + (_NONE,), None, lambda v: v in (None, "y", "rgb"), "'y' or omitted"),
    "batch_size_per_gpu": _int_range(_INT, None, 1, MAX_BATCH_SIZE),
    "num_worker_per_gpu": _int_range(_INT, None, 0, MAX_THREADS),  # a hint for DALI threads: 0 = the default
    "dataset_enlarge_ratio": _int_range(_INT, 1, 1, MAX_ENLARGE_RATIO),
    "prefetch_mode": Option(_STR + (_NONE,), None, lambda v: v in (None, "cpu", "cuda"), "cpu, cuda or omitted"),
    "num_prefetch_queue": _int_range(_INT, None, 1, MAX_PREFETCH),
    "pin_memory": Option(_BOOL, False),
    "persistent_workers": Option(_BOOL, False),  # accepted; DALI's pipeline persists anyway
    "use_shuffle": Option(_BOOL, None),  # BasicSR's name of shuffle
    # dali_sr's own keys
    "degradation": Option(_STR + (list, _NONE), None),  # LQ made from GT: 'bicubic' or a list of steps
    "crop_pad_size": _int_range(_INT + (_NONE,), None, 1, MAX_PATCH_SIDE),
    "device": Option(_STR, "auto", lambda v: v in DEVICES, f"one of {DEVICES}"),
    "device_id": _int_range(_INT + (_NONE,), None, 0, MAX_DEVICE_ID),
    "seed": _int_range(_INT, 0, 0, MAX_SEED, "2**63 - 1"),
    "num_threads": _int_range(_INT + (_NONE,), None, 1, MAX_THREADS),
    "prefetch_queue_depth": _int_range(_INT, 2, 1, MAX_PREFETCH),
    "hw_decoder_load": Option(_FLOAT, 0.65, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]"),
    "source_workers": _int_range(_INT, 0, 0, MAX_SOURCE_WORKERS),
    "shuffle": Option(_BOOL, None),
    "drop_last": Option(_BOOL, None),
}

# Keys of a whole BasicSR option file that are read (the rest of such a file is ignored).
_OPTION_FILE_KEYS = ("scale", "manual_seed")
# io_backend keys by type (`client_cfg` and `sys_path` belong to BasicSR's private memcached client: accepted, unused);
# the shard types also take the limits of each read from object storage (s3://)
OBJECT_STORAGE_KEYS = ("connect_timeout", "read_timeout", "max_attempts", "deadline")
IO_BACKEND_KEYS = {"disk": (), "lmdb": (), "memcached": ("server_list_cfg", "client_cfg", "sys_path"),
                   "tfrecord": ("feature", "patch_shape") + OBJECT_STORAGE_KEYS, "webdataset": OBJECT_STORAGE_KEYS}


@dataclass(frozen=True)
class IoOptions:
    """`io_backend` beyond its type: memcached's server list file; for TFRecords without dali_sr's index and
    meta files (the TensorFlow format), the feature holding each record's value and the (h, w, c) of raw
    uint8 patches; for shards under `s3://`, the limits of each read."""

    server_list_cfg: Optional[str] = None
    feature: str = "data"
    patch_shape: Optional[tuple[int, int, int]] = None
    # each read of an object under s3://: seconds to connect and to wait for the server's next bytes, attempts
    # (transient failures are retried with backoff), and seconds for all attempts together
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_attempts: int = 10
    deadline: float = 25.0


def _no_check(cfg: "Config", where: str) -> None:
    """The check of a type with nothing beyond the common keys to check."""


def _no_preparation(values: dict, where: str) -> tuple[dict, dict]:
    """The preparation of a type whose keys need no translation."""
    return values, {}


@dataclass(frozen=True)
class TypeOptions:
    """What a dataset `type:` adds to the common keys: its own keys, the top-level keys of an option file it
    reads (`option_file_keys`, e.g. a model's degradation settings), whether training needs `gt_size`, whether
    a GT-only config gets LQ made from GT (`makes_lq`; else it yields GT alone),
    `prepare(values, where) -> (values, extra)` translating its keys into common ones before the `Config`
    is built (`extra` joins `Config.extra`), and a last check of the validated `Config`
    (`validate(cfg, where)`). Both raise `ConfigError`."""

    options: Mapping[str, Option] = field(default_factory=dict)
    option_file_keys: tuple[str, ...] = ()
    needs_gt_size: bool = True
    makes_lq: bool = True
    prepare: Callable[[dict, str], tuple[dict, dict]] = _no_preparation
    validate: Callable[["Config", str], None] = _no_check


@dataclass(frozen=True)
class Config:
    """A validated dataset config. `extra` holds options specific to the pipeline type."""

    type: str
    phase: str
    name: str
    scale: int
    dataroot_gt: Optional[str]
    dataroot_lq: Optional[str]
    meta_info_file: Optional[str]
    filename_tmpl: str
    io_backend: str
    gt_size: Optional[int]
    use_hflip: bool
    use_rot: bool
    use_vflip: bool
    mean: Optional[tuple]
    std: Optional[tuple]
    color: Optional[str]
    batch_size: int
    dataset_enlarge_ratio: int
    device: str
    device_id: int
    seed: int
    num_threads: int
    prefetch_queue_depth: int
    hw_decoder_load: float
    source_workers: int
    shuffle: bool
    drop_last: bool
    degradation: Optional[Chain] = None  # LQ made from GT (no dataroot_lq): bicubic or a chain of steps
    crop_pad_size: Optional[int] = None  # a chain degrades windows of this size, then crops gt_size from them
    io_options: IoOptions = IoOptions()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_train(self) -> bool:
        return self.phase == "train"

    @property
    def out_channels(self) -> int:
        return 1 if self.color == "y" else 3


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A mapping that gives one key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no tags that build Python objects) that refuses a key given twice in one mapping,
    at any depth, instead of keeping the last one. Keys merged in with `<<` may still be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = lines.get(key)
                except TypeError:  # an unhashable key: the safe constructor refuses it below
                    continue
                if first is not None:
                    lines_words = f"lines {first} and {line}" if first != line else f"both on line {line}"
                    raise _DuplicateKey(None, None, f"key '{key}' appears twice ({lines_words})", key_node.start_mark)
                lines[key] = line
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Union[str, Path]) -> dict:
    p = Path(path)
    try:
        text = p.read_text()
    except IsADirectoryError:
        raise ConfigError(f"config file {p} is a directory, not a YAML file; pass the path of a YAML file") from None
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(f"config file {p} does not exist; pass the path of a YAML file or a dict") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}; make it readable or pass another file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text; pass a YAML file") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader that refuses duplicate keys
    except _DuplicateKey as e:
        raise ConfigError(f"{p}: {e.problem}; keep one of them") from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"config file {p} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of options, not {type(data).__name__}")
    return data


def _option_file_keys(section: dict, opts: Mapping[str, Any], keys: Sequence[str], origin: str) -> None:
    """Copy the top-level `keys` of a whole option file into the dataset section; one given in both places
    must agree (the model reads the top-level one)."""
    if "datasets" not in opts:
        return
    for key in keys:
        if key not in opts:
            continue
        if key in section and section[key] != opts[key]:
            raise ConfigError(f"{origin}: '{key}' is {opts[key]!r} at the top level (the model's) but "
                              f"{section[key]!r} in the dataset section; make them agree")
        section[key] = opts[key]


def _pick_section(opts: dict, phase: Optional[str], origin: str) -> dict:
    """Return the dataset section: `opts` itself, or one of `opts['datasets']` by phase."""
    if "datasets" not in opts:
        section = dict(opts)
        if phase is not None:
            section["phase"] = phase
        return section
    datasets = opts["datasets"]
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError(f"{origin}: 'datasets' must be a non-empty mapping of phase -> dataset options")
    want = phase or "train"
    name = want if want in datasets else next((k for k in datasets if str(k).split("_")[0] == want), None)
    if name is None:
        raise ConfigError(f"{origin}: no dataset for phase '{want}' under 'datasets' (has: {', '.join(map(str, datasets))})")
    section = dict(datasets[name] or {})
    section["phase"] = str(name).split("_")[0]
    for key in _OPTION_FILE_KEYS:
        if opts.get(key) is not None:
            target = "seed" if key == "manual_seed" else key
            if key == "scale" or target not in section:
                section[target] = opts[key]
    return section


def _suggest(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def _type_words(types: tuple) -> str:
    names = {int: "integer", float: "number", bool: "true/false", str: "string", dict: "mapping",
             list: "list", tuple: "list", _NONE: "null"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


def check_options(section: Mapping[str, Any], options: Mapping[str, Option], where: str) -> dict:
    """Validate `section` against `options`; return it with defaults filled in."""
    out = {}
    for key, value in section.items():
        if key not in options:
            raise ConfigError(f"{where}: unknown key '{key}'{_suggest(str(key), list(options))}")
        opt = options[key]
        ok_type = isinstance(value, opt.types) and not (isinstance(value, bool) and bool not in opt.types)
        if not ok_type:
            raise ConfigError(f"{where}: '{key}' must be {_type_words(opt.types)}, got {value!r}")
        if opt.check is not None and value is not None and not opt.check(value):
            raise ConfigError(f"{where}: '{key}' must be {opt.expect}, got {value!r}")
        out[key] = value
    for key, opt in options.items():
        out.setdefault(key, opt.default)
    return out


def _patch_shape(value: Any, where: str) -> tuple[int, int, int]:
    shape = list(value) if isinstance(value, (list, tuple)) else []
    if len(shape) == 2:
        shape.append(1)
    if len(shape) != 3 or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in shape) \
            or shape[2] not in (1, 3):
        raise ConfigError(f"{where}: io_backend.patch_shape must be [height, width] or [height, width, 1 or 3] of "
                          f"positive integers, got {value!r}")
    return tuple(shape)


def _io_backend(value: Optional[dict], where: str) -> tuple[str, IoOptions]:
    """The io_backend type and its options."""
    if value is None:
        return "disk", IoOptions()
    every = sorted({k for keys in IO_BACKEND_KEYS.values() for k in keys} | {"type"})
    for key in value:
        if key not in every:
            raise ConfigError(f"{where}: unknown key 'io_backend.{key}'{_suggest(str(key), every)} (io_backend "
                              f"takes type: {' | '.join(IO_BACKENDS)}, and that type's keys)")
    kind = value.get("type")
    if kind not in IO_BACKENDS:
        raise ConfigError(f"{where}: io_backend.type must be one of {IO_BACKENDS}, got {kind!r}")
    accepted = ("type",) + IO_BACKEND_KEYS[kind]
    for key in value:
        if key not in accepted:
            owner = next(t for t, keys in IO_BACKEND_KEYS.items() if key in keys)
            raise ConfigError(f"{where}: 'io_backend.{key}' is a key of io_backend type {owner}, not {kind}; "
                              f"remove it or set type: {owner}")
    if kind == "memcached":
        servers = value.get("server_list_cfg")
        if not isinstance(servers, str) or not servers:
            raise ConfigError(f"{where}: io_backend type memcached needs 'server_list_cfg', the file of the servers' "
                              f"host:port lines")
        return kind, IoOptions(server_list_cfg=servers)
    feature = value.get("feature", "data")
    if not isinstance(feature, str) or not feature:
        raise ConfigError(f"{where}: io_backend.feature must be the name of a record's feature, got {feature!r}")
    shape = _patch_shape(value["patch_shape"], where) if value.get("patch_shape") is not None else None
    limits = {key: _request_limit(key, value[key], where) for key in OBJECT_STORAGE_KEYS if key in value}
    return kind, IoOptions(feature=feature, patch_shape=shape, **limits)


def _request_limit(key: str, value: Any, where: str) -> Union[int, float]:
    """An object-storage limit: a positive number of seconds, or a positive integer for `max_attempts`."""
    whole = key == "max_attempts"
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) \
            or not 0 < value < float("inf"):
        raise ConfigError(f"{where}: io_backend.{key} must be a positive {'integer' if whole else 'number of seconds'}"
                          f", got {value!r}")
    return value if whole else float(value)


def _hflip(section: Mapping[str, Any], v: Mapping[str, Any], where: str) -> bool:
    """`use_hflip`, or BasicSR's old name `use_flip`; giving both with different values is a conflict."""
    if "use_hflip" in section and v["use_flip"] is not None and v["use_flip"] != v["use_hflip"]:
        raise ConfigError(f"{where}: 'use_flip' ({v['use_flip']}) and 'use_hflip' ({v['use_hflip']}) disagree; "
                          f"use_flip is BasicSR's old name of use_hflip, keep one of them")
    return v["use_hflip"] if "use_hflip" in section or v["use_flip"] is None else v["use_flip"]


def _degradation(v: Mapping[str, Any], train: bool, where: str) -> Optional[Chain]:
    """How LQ is made: None with `dataroot_lq` (stored LQ), else `degradation`, by default bicubic.

    A list of steps (random degradations) is for training; validation and test take bicubic or stored LQ,
    so every pass sees the same LQ."""
    if v["dataroot_lq"] and v["degradation"]:
        raise ConfigError(f"{where}: 'degradation' makes LQ from GT, but 'dataroot_lq' gives stored LQ; remove one "
                          f"of them")
    if v["dataroot_lq"]:
        return None
    value = v["degradation"] or "bicubic"
    chain = value if isinstance(value, Chain) else parse_chain(value, v["scale"], where)
    if not train and not chain.is_bicubic:
        raise ConfigError(f"{where}: a degradation list draws new LQ on every pass, so it is for training; "
                          f"validate on stored LQ (dataroot_lq, e.g. made by dali-sr downscale) or 'bicubic'")
    return chain


def _crop_pad_size(v: Mapping[str, Any], chain: Optional[Chain], train: bool, where: str) -> Optional[int]:
    """The window a chain degrades before the `gt_size` crop (None: the `gt_size` window itself)."""
    size = v["crop_pad_size"]
    if size is None:
        return None
    if chain is None or chain.is_bicubic or not train:
        raise ConfigError(f"{where}: 'crop_pad_size' is the window a degradation list degrades in training; remove "
                          f"it, or give a degradation list")
    if size < v["gt_size"] or size % v["scale"]:
        raise ConfigError(f"{where}: 'crop_pad_size' {size} must be at least gt_size {v['gt_size']} and a multiple "
                          f"of scale {v['scale']}")
    return None if size == v["gt_size"] else size


def _local_rank(where: str) -> int:
    """The GPU index torchrun gives this process ($LOCAL_RANK), 0 without one."""
    text = os.environ.get("LOCAL_RANK", "0").strip()
    if not text.isdigit() or int(text) > MAX_DEVICE_ID:
        raise ConfigError(f"{where}: LOCAL_RANK={text!r} is not a GPU index in [0, {MAX_DEVICE_ID}]; fix LOCAL_RANK "
                          f"or set device_id")
    return int(text)


def _check_batch_pixels(batch: int, v: Mapping[str, Any], where: str) -> None:
    """One training batch of `batch` GT windows (`crop_pad_size`, else `gt_size`) must stay within
    `MAX_BATCH_PIXELS`."""
    key = "crop_pad_size" if v["crop_pad_size"] is not None else "gt_size"
    side = v[key]
    if side is not None and batch * side * side > MAX_BATCH_PIXELS:
        raise ConfigError(f"{where}: batch_size_per_gpu {batch} x {key} {side}x{side} is {batch * side * side} GT "
                          f"pixels per batch, above the limit of 2**32; lower batch_size_per_gpu or {key}")


def load_config(source: Union[str, Path, Mapping[str, Any]], phase: Optional[str] = None, *,
                type_options: Callable[[str], TypeOptions], **overrides: Any) -> Config:
    """Validate a dataset section or a whole BasicSR option file into a `Config`.

    `source` is a YAML path or a dict; `phase` picks the section of an option file
    (`train`, `val`, `test` or an exact key such as `val_2`); `overrides` replace keys.
    `type_options(name)` gives the options of `type: name` (a `ConfigError` for an unknown type).
    """
    if not isinstance(source, (str, Path, Mapping)):
        raise ConfigError(f"a config is a YAML file path or a dict of dataset options, not {type(source).__name__} "
                          f"{source!r}")
    origin = str(source) if isinstance(source, (str, Path)) else "config"
    opts = _read_yaml(source) if isinstance(source, (str, Path)) else dict(source)
    if phase is not None and phase.split("_")[0] not in PHASES:
        raise ConfigError(f"phase must be one of {PHASES}, got {phase!r}")
    section = _pick_section(opts, phase, origin)
    section.update(overrides)
    if "type" not in section:
        raise ConfigError(f"{origin}: missing 'type' (the pipeline, e.g. PairedImageDataset)")
    spec = type_options(str(section["type"]))
    _option_file_keys(section, opts, spec.option_file_keys, origin)
    where = f"{origin} [{section.get('name') or section['type']}]"
    all_options = {**OPTIONS, **spec.options}
    v, extra = spec.prepare(check_options(section, all_options, where), where)

    phase_ = v["phase"] or "train"
    if v["scale"] is None:
        raise ConfigError(f"{where}: missing 'scale' (the SR factor; 1 for restoration)")
    use_hflip = _hflip(section, v, where)
    mean, std = v["mean"], v["std"]
    if (mean is None) != (std is None):
        raise ConfigError(f"{where}: give both 'mean' and 'std' or neither")
    channels = 1 if v["color"] == "y" else 3
    for key, val in (("mean", mean), ("std", std)):
        if val is not None and len(val) not in (1, channels):
            raise ConfigError(f"{where}: '{key}' needs {channels} values for color {v['color'] or 'rgb'}, got {len(val)}")
    train = phase_ == "train"
    if train and v["gt_size"] is None and spec.needs_gt_size:
        raise ConfigError(f"{where}: training needs 'gt_size' (GT patch size, e.g. 128)")
    if v["gt_size"] is not None and train and v["gt_size"] % v["scale"]:
        raise ConfigError(f"{where}: 'gt_size' {v['gt_size']} is not a multiple of scale {v['scale']}")
    batch_size = v["batch_size_per_gpu"] or (16 if train else 1)
    if train:
        _check_batch_pixels(batch_size, v, where)
    degradation = _degradation(v, train, where) if spec.makes_lq else None
    shuffle = v["shuffle"] if v["shuffle"] is not None else (v["use_shuffle"] if v["use_shuffle"] is not None else train)
    device_id = v["device_id"] if v["device_id"] is not None else _local_rank(where)
    io_backend, io_options = _io_backend(v["io_backend"], where)
    if io_options.patch_shape is not None and io_options.patch_shape[2] == 1 and v["color"] != "y":
        raise ConfigError(f"{where}: io_backend.patch_shape {list(io_options.patch_shape)} holds one-channel Y "
                          f"patches; set color: y")
    cfg = Config(
        type=v["type"], phase=phase_, name=v["name"] or v["type"], scale=v["scale"],
        dataroot_gt=v["dataroot_gt"], dataroot_lq=v["dataroot_lq"], meta_info_file=v["meta_info_file"],
        filename_tmpl=v["filename_tmpl"], io_backend=io_backend, io_options=io_options,
        gt_size=v["gt_size"], use_hflip=use_hflip, use_rot=v["use_rot"], use_vflip=v["use_vflip"],
        mean=tuple(float(x) for x in mean) if mean is not None else None,
        std=tuple(float(x) for x in std) if std is not None else None,
        color="y" if v["color"] == "y" else None,
        batch_size=batch_size,
        dataset_enlarge_ratio=v["dataset_enlarge_ratio"] if train else 1,
        device=v["device"], device_id=device_id, seed=v["seed"],
        num_threads=v["num_threads"] or v["num_worker_per_gpu"] or default_workers(),
        prefetch_queue_depth=v["prefetch_queue_depth"], hw_decoder_load=float(v["hw_decoder_load"]),
        source_workers=v["source_workers"],
        shuffle=shuffle, drop_last=v["drop_last"] if v["drop_last"] is not None else train, degradation=degradation,
        crop_pad_size=_crop_pad_size(v, degradation, train, where),
        extra={**{k: v[k] for k in spec.options}, **extra},
    )
    spec.validate(cfg, where)
    return cfg
