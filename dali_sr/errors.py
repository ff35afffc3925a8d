"""Exceptions raised by dali_sr. Every message is one line naming what failed and the fix."""


class DaliSRError(Exception):
    """Base class of every error dali_sr raises on purpose."""


class ConfigError(DaliSRError, ValueError):
    """A config key is unknown, missing, or has a wrong type or value."""


class DatasetError(DaliSRError):
    """The data on disk / in an LMDB is missing, inconsistent, corrupt or unsupported."""
