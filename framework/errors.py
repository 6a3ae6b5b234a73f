"""Errors raised by the framework. Every message names the argument or field at fault and what is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Protocol

__all__ = [
    "ReprogrammabilityError",
    "SpecError",
    "FrozenModelError",
    "InterfaceError",
    "ShapeError",
    "NotFittedError",
    "InputError",
    "DTypeError",
    "NonFiniteError",
    "SavedProgramError",
]


class ReprogrammabilityError(Exception):
    """Base class of every error this package raises on purpose."""


class SpecError(ReprogrammabilityError):
    """A method's coordinates break a rule of the definition; ``violations`` lists ``(rule, message)``."""

    def __init__(self, violations: list[tuple[str, str]]):
        self.violations = list(violations)
        lines = [f"[{rule}] {message}" for rule, message in self.violations]
        super().__init__("invalid spec:\n  " + "\n  ".join(lines))


class FrozenModelError(ReprogrammabilityError, RuntimeError):
    """Something changed, trained or wrote to the frozen model."""


class InterfaceError(ReprogrammabilityError, ValueError):
    """A manipulation asked for an interface the model adapter does not expose."""


class ShapeError(ReprogrammabilityError, ValueError):
    """A tensor has the wrong shape; the message names the argument, the expected and the actual shape."""


class NotFittedError(ReprogrammabilityError, RuntimeError):
    """A statistical output alignment was used before ``fit``."""


class InputError(ReprogrammabilityError, ValueError):
    """A value is empty, out of range or otherwise not allowed; the message names the argument and what is allowed."""


class DTypeError(ReprogrammabilityError, TypeError):
    """A tensor has a dtype the part does not accept; the message names the argument and the allowed dtypes."""


class NonFiniteError(InputError):
    """NaN or ±inf in data, in a loss or in learned tensors, where only finite numbers are allowed."""


class SavedProgramError(ReprogrammabilityError, ValueError):
    """A saved program (``reprogrammer.json`` + ``reprogrammer.safetensors``) does not belong to this reprogrammer,
    is incomplete, or is corrupt; the message names the field that differs."""


class _Shaped(Protocol):
    """Anything with a ``shape`` (a tensor, an array); this module imports no tensor library."""

    @property
    def shape(self) -> Sequence[int]: ...


def expect_shape(name: str, tensor: _Shaped, expected: tuple[Optional[int], ...]) -> None:
    """Raise :class:`ShapeError` unless ``tensor.shape`` matches ``expected`` (``None`` matches any size)."""
    shape = tuple(tensor.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        pretty = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ShapeError(f"{name}: expected shape {pretty}, got {shape}")
