"""The text of an option file, every failure to read it a one-line `ConfigError` naming the file."""
from __future__ import annotations

from pathlib import Path
from typing import Union

from ..errors import ConfigError


def read_option_text(path: Union[str, Path], kind: str) -> str:
    """The UTF-8 text of the `kind` ("YAML", "TOML") option file `path`."""
    p = Path(path)
    try:
        return p.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise ConfigError(f"config file {p} is a directory, not a {kind} file; pass the path of a {kind} file") from None
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(f"config file {p} does not exist; pass the path of a {kind} file or a dict") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror}; make it readable or pass another file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text; pass a {kind} file") from None
