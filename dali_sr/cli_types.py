"""argparse value types shared by the `dali-sr` commands."""
from __future__ import annotations

import argparse


def _integer(text: str, low: int, words: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {words}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {words}, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _integer(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _integer(text, 0, "a non-negative integer")


def positive_int_list(text: str) -> list[int]:
    """argparse type: comma-separated positive integers, e.g. `2,4,8`."""
    return [positive_int(part) for part in text.split(",")]


def fraction_list(text: str) -> list[float]:
    """argparse type: comma-separated numbers in [0, 1], e.g. `0.65,0.9,1.0`."""
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be numbers in [0, 1], got {part!r}") from None
        if not 0.0 <= value <= 1.0:
            raise argparse.ArgumentTypeError(f"must be numbers in [0, 1], got {part}")
        out.append(value)
    return out


def choice_list(choices: tuple[str, ...]):
    """argparse type factory: comma-separated words, each one of `choices`."""
    def parse(text: str) -> list[str]:
        words = text.split(",")
        for word in words:
            if word not in choices:
                raise argparse.ArgumentTypeError(f"{word!r} is not one of {', '.join(choices)}")
        return words
    return parse
