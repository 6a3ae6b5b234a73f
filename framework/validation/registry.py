"""The registry of named checks: each is a function ``check(ctx) -> (status, reason)`` with its group, what
it verifies and a one-line *why* (the claim of the definition it protects).

Family modules register their checks with :func:`check`; :func:`checks` lists them in report order
(:data:`ORDER`). The runner (:mod:`.runner`) decides *when* each runs; the report (:mod:`.report`)
only holds results. In the spirit of scikit-learn's ``check_estimator``, which yields named checks.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar

__all__ = ["CheckInfo", "ORDER", "check", "check_each", "checks", "get"]


CheckFunction = Callable[[Any], tuple[str, str]]
"""``check(ctx) -> (status, reason)``; ``ctx`` is the runner's Context (not imported here: it imports the registry)."""
_Check = TypeVar("_Check", bound=CheckFunction)


@dataclass(frozen=True)
class CheckInfo:
    """A named check: its group (which claim of the definition it tests), what it verifies, and why it matters."""

    name: str
    group: str
    description: str
    why: str = ""
    function: Optional[CheckFunction] = field(default=None, compare=False, repr=False)


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
    "inference-overhead",
    "deterministic",
    "save-load-roundtrip",
)
"""Every check, in report order."""

_REGISTRY: dict[str, CheckInfo] = {}


def _described(function: CheckFunction) -> tuple[str, str]:
    """``(description, why)`` from a check's docstring: what it verifies, then a paragraph ``Why: ...``."""
    paragraphs = [" ".join(p.split()) for p in inspect.cleandoc(function.__doc__ or "").split("\n\n")]
    why = [p.removeprefix("Why: ") for p in paragraphs if p.startswith("Why: ")]
    description = [p for p in paragraphs if p and not p.startswith("Why: ")]
    if not description or not why:
        raise ValueError(
            f"function: {function.__name__} needs a docstring saying what it verifies and a paragraph 'Why: ...'"
        )
    return description[0], why[0]


def check(name: str, group: str, description: str = "", why: str = "") -> Callable[[_Check], _Check]:
    """Register ``function(ctx) -> (status, reason)`` as the named check (``name`` must be in :data:`ORDER`).

    What it verifies and why it matters are ``description`` and ``why``, or else read from the function's
    docstring (its first paragraph, and a paragraph starting ``Why: ``)."""
    if name not in ORDER:
        raise ValueError(f"name: {name!r} is not one of the ordered checks {list(ORDER)}")

    def register(function: _Check) -> _Check:
        if name in _REGISTRY:
            raise ValueError(f"name: check {name!r} is registered twice")
        said = (description, why) if description and why else _described(function)
        _REGISTRY[name] = CheckInfo(name, group, *said, function)
        return function

    return register


def check_each(group: str, judge: Callable[[Any, Any], tuple[str, str]], *entries: tuple[str, Any, str, str]) -> None:
    """Register one check per ``(name, value, description, why)`` of one axis: each runs ``judge(ctx, value)``
    (e.g. ``location-input`` runs ``judge(ctx, Location.INPUT)``)."""
    for name, value, description, why in entries:

        def run(ctx: Any, value: Any = value) -> tuple[str, str]:
            return judge(ctx, value)

        run.__name__ = run.__qualname__ = name.replace("-", "_")
        run.__module__ = judge.__module__  # the family module that defines the claim
        check(name, group, description, why)(run)


def checks() -> tuple[CheckInfo, ...]:
    """The registered checks in report order."""
    return tuple(_REGISTRY[name] for name in ORDER if name in _REGISTRY)


def get(name: str) -> CheckInfo:
    """The check called ``name``; the error lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"check: unknown {name!r}; known: {list(ORDER)}") from None
