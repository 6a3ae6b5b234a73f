"""The data of a checked proposition: statement, source, methods, and the result of its numerical check.

Nothing here imports torch, so ``nnr theory list`` and the docs can read the propositions cheaply;
the check of each proposition lives in ``reprogrammability.framework.theory.checks.<module>``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Source", "Proposition", "CheckResult", "KINDS"]

KINDS = ("identity", "bound", "statistical", "limitation")


@dataclass(frozen=True)
class Source:
    """A paper, cited with title, authors, year, venue and arXiv id (``None`` when the result is ours)."""

    title: str
    authors: str
    year: int
    venue: str
    arxiv: str | None = None
    where: str = ""
    """Which part of the paper (e.g. "Sec. 3.1, Eq. 7")."""

    def cite(self) -> str:
        arxiv = f", arXiv:{self.arxiv}" if self.arxiv else ""
        where = f" ({self.where})" if self.where else ""
        return f'{self.authors}, "{self.title}", {self.venue} {self.year}{arxiv}{where}'

    @property
    def url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else None


@dataclass(frozen=True)
class Proposition:
    """One checked statement.

    ``statement`` and ``assumptions`` are LaTeX-in-Markdown (``$...$``); ``own`` says, in words, which part
    is our corollary rather than the source's claim (empty when the statement is the source's);
    ``check`` is ``"module:function"`` under :mod:`reprogrammability.framework.theory.checks`, called as
    ``function(thorough=False, seed=0, variant=None) -> CheckResult``; ``variants`` names the deliberately
    broken versions of the check (each must fail) with what each breaks.
    """

    id: str
    title: str
    kind: str
    """``"identity"`` (an equality checked to a residual), ``"bound"`` (an inequality checked with its slack),
    ``"statistical"`` (an expectation checked against Monte-Carlo means with their standard errors) or
    ``"limitation"`` (a constructed counterexample)."""
    statement: str
    assumptions: tuple[str, ...]
    sources: tuple[Source, ...]
    methods: tuple[str, ...]
    check: str
    variants: dict[str, str] = field(default_factory=dict)
    own: str = ""
    how: str = ""
    """How the check builds its instances and what it measures (Markdown)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {self.kind!r}")

    def check_function(self) -> Callable[..., "CheckResult"]:
        module_name, _, function = self.check.partition(":")
        module = importlib.import_module(f"{__package__}.checks.{module_name}")
        found: Callable[..., CheckResult] = getattr(module, function)
        return found

    def run(self, thorough: bool = False, seed: int = 0, variant: str | None = None) -> "CheckResult":
        """Run the check (or the broken ``variant`` of it); returns the measured result."""
        if variant is not None and variant not in self.variants:
            allowed = ", ".join(sorted(self.variants)) or "none"
            raise ValueError(f"variant: {variant!r} is not a broken variant of {self.id}; allowed: {allowed}")
        import time

        start = time.perf_counter()
        result = self.check_function()(thorough=thorough, seed=seed, variant=variant)
        result.seconds = time.perf_counter() - start
        result.proposition = self.id
        return result


@dataclass
class CheckResult:
    """What a check measured: the headline ``quantity`` with its ``value`` and the ``criterion`` it must meet.

    ``measurements`` holds every other number the check computed (per instance family); ``instances``
    counts the random instances built. ``passed`` is True only if every sub-criterion held.
    """

    passed: bool
    quantity: str
    value: float
    criterion: str
    measurements: dict[str, Any] = field(default_factory=dict)
    instances: int = 0
    thorough: bool = False
    seed: int = 0
    variant: str | None = None
    proposition: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "proposition": self.proposition,
            "passed": bool(self.passed),
            "quantity": self.quantity,
            "value": float(self.value),
            "criterion": self.criterion,
            "measurements": self.measurements,
            "instances": self.instances,
            "thorough": self.thorough,
            "seed": self.seed,
            "variant": self.variant,
            "seconds": round(self.seconds, 3),
        }
