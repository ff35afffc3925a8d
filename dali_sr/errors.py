"""Exceptions raised by dali_sr. Every message is one line naming what failed and the fix."""
from contextlib import contextmanager
from typing import Iterator, Sequence


class DaliSRError(Exception):
    """Base class of every error dali_sr raises on purpose."""


class ConfigError(DaliSRError, ValueError):
    """A config key is unknown, missing, or has a wrong type or value."""


class DatasetError(DaliSRError):
    """The data on disk / in an LMDB is missing, inconsistent, corrupt or unsupported."""


class MissingFileError(DatasetError):
    """A file or object that a dataset names does not exist."""


class TransientReadWarning(RuntimeWarning):
    """A batch failed to read in the loader's source but read fine again: the loader read it again."""


@contextmanager
def named_errors(dataset: str) -> Iterator[None]:
    """Prefix `DatasetError`s raised inside with the dataset's name (once)."""
    try:
        yield
    except DatasetError as e:
        if str(e).startswith(f"{dataset}: "):
            raise
        raise DatasetError(f"{dataset}: {e}") from None


def listing(names: Sequence[str], limit: int = 3) -> str:
    """The first `limit` names, and how many more, for an error message."""
    return ", ".join(names[:limit]) + (f" (+{len(names) - limit} more)" if len(names) > limit else "")
