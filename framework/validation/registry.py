"""The registry of named checks: each is a function ``check(ctx) -> (status, reason)`` with its group, what
it verifies and a one-line *why* (the claim of the definition it protects).

Family modules register their checks with :func:`check`; :func:`checks` lists them in report order
(:data:`ORDER`). The runner (:mod:`.runner`) decides *when* each runs; the report (:mod:`.report`)
only holds results. In the spirit of scikit-learn's ``check_estimator``, which yields named checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

__all__ = ["CheckInfo", "ORDER", "check", "checks", "get"]


@dataclass(frozen=True)
class CheckInfo:
    """A named check: its group (which claim of the definition it tests), what it verifies, and why it matters."""

    name: str
    group: str
    description: str
    why: str = ""
    function: Optional[Callable[[Any], tuple[str, str]]] = field(default=None, compare=False, repr=False)


ORDER: tuple[str, ...] = (
    "example-builds",
    "declared-coordinates",
    "spec-rules",
    "forward-runs",
    "training-runs",
    "frozen-unchanged",
    "frozen-no-gradient",
    "frozen-eval-mode",
    "frozen-no-writes",
    "frozen-unmodified-modules",
    "frozen-computes-as-copy",
    "frozen-runs-only-in-composition",
    "configuration-fixed",
    "configuration-learnable",
    "location-input",
    "location-embedding",
    "location-hidden",
    "operator-additive",
    "operator-concatenative",
    "operator-parametric",
    "alignment-identity",
    "alignment-rule-based",
    "alignment-statistical",
    "alignment-linear",
    "batch-independence",
    "input-dependence",
    "access",
    "symbolic-parameter-count",
    "symbolic-formula-renders",
    "deterministic",
    "save-load-roundtrip",
)
"""Every check, in report order."""

_REGISTRY: dict[str, CheckInfo] = {}


def check(name: str, group: str, description: str, why: str) -> Callable[[Callable], Callable]:
    """Register ``function(ctx) -> (status, reason)`` as the named check (``name`` must be in :data:`ORDER`)."""
    if name not in ORDER:
        raise ValueError(f"name: {name!r} is not one of the ordered checks {list(ORDER)}")

    def register(function: Callable) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"name: check {name!r} is registered twice")
        _REGISTRY[name] = CheckInfo(name, group, description, why, function)
        return function

    return register


def checks() -> tuple[CheckInfo, ...]:
    """The registered checks in report order."""
    return tuple(_REGISTRY[name] for name in ORDER if name in _REGISTRY)


def get(name: str) -> CheckInfo:
    """The check called ``name``; the error lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"check: unknown {name!r}; known: {list(ORDER)}") from None
