"""Reading a YAML option file: PyYAML's safe loader (no tags that build Python objects), a key given twice
refused, and every failure a one-line `ConfigError` naming the file."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import yaml

from ..errors import ConfigError
from .option_text import read_option_text


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


def read_yaml(path: Union[str, Path]) -> dict:
    """The mapping of options in YAML file `path`; a one-line `ConfigError` naming the file otherwise."""
    p = Path(path)
    text = read_option_text(p, "YAML")
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
