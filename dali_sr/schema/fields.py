"""Typed fields: the keys a mapping of options accepts, each with its types, default and value check, and the
check of a mapping against them (unknown keys refused, naming the closest valid one)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection, Mapping, Optional

from ..errors import ConfigError
from .suggest import closest

NONE = type(None)
ANY = (int, float, bool, str, list, tuple, dict, NONE)  # any YAML value: a later check names what is wrong
_TYPE_WORDS = {int: "integer", float: "number", bool: "true/false", str: "string", dict: "mapping", list: "list",
               tuple: "list", NONE: "null"}


@dataclass(frozen=True)
class Field:
    """One accepted key: the types its value may have, its default, and a check of a value (null passes)
    with `expect` saying in words what the check wants."""

    types: tuple[type, ...]
    default: Any = None
    check: Optional[Callable[[Any], bool]] = None
    expect: str = ""

    def read(self, key: str, value: Any, where: str) -> Any:
        """`value` once it has one of the types (true/false is not an integer) and passes the check."""
        if not isinstance(value, self.types) or (isinstance(value, bool) and bool not in self.types):
            raise ConfigError(f"{where}: '{key}' must be {type_words(self.types)}, got {value!r}")
        if self.check is not None and value is not None and not self.check(value):
            raise ConfigError(f"{where}: '{key}' must be {self.expect}, got {value!r}")
        return value


def type_words(types: tuple[type, ...]) -> str:
    """The types in words: 'integer or null'."""
    return " or ".join(dict.fromkeys(_TYPE_WORDS[t] for t in types))


def integer(low: int, high: int, default: Optional[int] = None, nullable: bool = False,
            high_words: str = "") -> Field:
    """An integer in [low, high] (or null when `nullable`); `high_words` writes `high` in the message."""
    return Field((int, NONE) if nullable else (int,), default, lambda v: low <= v <= high,
                 f"an integer in [{low}, {high_words or high}]")


def choice(values: Collection[Any], default: Any = None, expect: str = "", nullable: bool = False) -> Field:
    """A string that is one of `values` (or null when `nullable`)."""
    words = expect or f"one of {tuple(values)}"
    return Field((str, NONE) if nullable else (str,), default, lambda v: v in values, words)


def flag(default: Optional[bool] = False) -> Field:
    """true or false; a null default means "not given" (null itself is not accepted)."""
    return Field((bool,), default)


def text(default: Optional[str] = None) -> Field:
    """A string (or null when the default is null)."""
    return Field((str,) if default is not None else (str, NONE), default)


def unknown_key(key: Any, valid: Collection[str], where: str) -> ConfigError:
    """The error of a key outside `valid`, suggesting the closest one."""
    return ConfigError(f"{where}: unknown key '{key}'{closest(str(key), valid)}")


def check_keys(values: Mapping[Any, Any], valid: Collection[str], where: str) -> None:
    """Refuse a key outside `valid`."""
    for key in values:
        if key not in valid:
            raise unknown_key(key, valid, where)


def check_section(values: Mapping[str, Any], fields: Mapping[str, Field], where: str) -> dict[str, Any]:
    """`values` checked key by key against `fields`, with the default of every key not given."""
    checked = {}
    for key, value in values.items():
        if key not in fields:
            raise unknown_key(key, fields, where)
        checked[key] = fields[key].read(key, value, where)
    return {key: checked.get(key, field.default) for key, field in fields.items()}
