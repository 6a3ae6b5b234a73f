"""The formal framework: axes, spec, the parts of ŷ = O_ω(f(I_{λ,τ,ℓ}(x))) and their composition.

The axes and :class:`Spec` are torch-free and imported eagerly; the torch parts load on first use,
so ``from reprogrammability.framework import Location`` stays fast (the catalog and CLI rely on it).
"""

from __future__ import annotations

import importlib
from typing import Any

from .axes import AXES, Access, Alignment, AxisValue, Configuration, Location, Modality, Operator, Paradigm
from .errors import (
    FrozenModelError,
    InterfaceError,
    NotFittedError,
    ReprogrammabilityError,
    ShapeError,
    SpecError,
)
from .spec import SPEC_RULES, Spec, SpecRule

_LAZY = {
    "FrozenModel": ".frozen",
    "InterfaceTrace": ".frozen",
    "EmbeddingState": ".interfaces",
    "ModelAdapter": ".interfaces",
    "ModuleAdapter": ".interfaces",
    "AttentionGeometry": ".interfaces",
    "InputManipulation": ".manipulation",
    "HiddenManipulation": ".manipulation",
    "OutputAlignment": ".alignment",
    "IdentityAlignment": ".alignment",
    "IndexMapping": ".alignment",
    "LinearAlignment": ".alignment",
    "StatisticalAlignment": ".alignment",
    "Reprogrammer": ".reprogrammer",
    "SymbolicForm": ".symbolic",
    "Trainer": ".training",
    "TrainerConfig": ".training",
    "FullFineTuning": ".baselines",
    "LinearProbe": ".baselines",
}

__all__ = [
    "AXES",
    "Access",
    "Alignment",
    "AxisValue",
    "Configuration",
    "Location",
    "Modality",
    "Operator",
    "Paradigm",
    "Spec",
    "SpecRule",
    "SPEC_RULES",
    "ReprogrammabilityError",
    "SpecError",
    "FrozenModelError",
    "InterfaceError",
    "NotFittedError",
    "ShapeError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
