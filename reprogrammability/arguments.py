"""Argument types of the ``nnr`` commands: each checks one value when the command line is parsed, before any
work starts, and fails the argparse way (exit 2, ``argument --name: ...`` naming what is allowed).

Used as ``type=`` by the subcommands and, for subcommands defined elsewhere, by :data:`CHECKS` in
:mod:`reprogrammability.cli`. Importing this module does not import torch (only :func:`device` does, when called).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable

__all__ = ["integer", "positive_float", "seed", "device", "output_directory"]

MAX_SEED = 2**32 - 1


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An ``int`` type with inclusive bounds (``None``: unbounded on that side)."""

    def parse(text: str) -> int:
        allowed = _range_text(low, high)
        try:
            value = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not a whole number; allowed: {allowed}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed: {allowed}")
        return value

    parse.__name__ = f"integer {_range_text(low, high)}"
    return parse


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{_shown(text)} is not a number; allowed: a finite number > 0") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; allowed: a finite number > 0")
    return value


def device(text: str) -> str:
    """``auto`` or a torch device present on this machine (``cpu``, ``cuda``, ``cuda:N``)."""
    text = str(text).strip()
    if text == "auto" or text == "cpu":
        return text
    from reprogrammability.framework.checks import check_device

    try:
        check_device(text, "device")
    except (ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("device: ")) from None
    return text


def output_directory(text: str) -> Path:
    """A directory that exists or can be created, and can be written."""
    from reprogrammability.outputs import OutputError, check_output_directory

    try:
        return check_output_directory(text, "directory")
    except OutputError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("directory: ")) from None


def _range_text(low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return "any whole number"
    if high is None:
        return f"a whole number ≥ {low}"
    if low is None:
        return f"a whole number ≤ {high}"
    return f"{low}..{high}"


def _shown(text: object) -> str:
    shown = repr(str(text))
    return shown if len(shown) <= 40 else shown[:37] + "..."


seed = integer(0, MAX_SEED)
"""A random seed: 0 .. 2³² − 1."""
