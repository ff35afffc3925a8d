"""Reading a TOML option file (neosr writes its option files in TOML): the standard library's `tomllib`
(Python 3.11+; the `tomli` package, the same parser, before), every failure a one-line `ConfigError` naming
the file. TOML itself refuses a key given twice."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Union

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9 and 3.10
    import tomli as tomllib

TOML_SUFFIXES = (".toml",)


def read_toml(path: Union[str, Path]) -> dict:
    """The table of options in TOML file `path`; a one-line `ConfigError` naming the file otherwise."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise ConfigError(f"config file {p} is a directory, not a TOML file; pass the path of a TOML file") from None
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(f"config file {p} does not exist; pass the path of a TOML file or a dict") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}; make it readable or pass another file") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text; pass a TOML file") from None
    except tomllib.TOMLDecodeError as e:
        hint = ("; write Windows paths in single quotes ('C:\\data\\gt'), where a backslash is no escape"
                if "escape" in str(e).lower() else "")
        raise ConfigError(f"config file {p} is not valid TOML: {e}{hint}") from None
