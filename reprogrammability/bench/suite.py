"""What a bench suite is: a name, its ratios with their targets, and a function that measures them.

A suite module in :mod:`reprogrammability.bench.suites` defines ``SUITE = Suite(...)``; the package
finds it by itself. ``run(context)`` returns ``(ratios, details)``: the :class:`Ratio` rows of the
report and a JSON-able dict of everything else the suite measured.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from .settings import Settings
from .timing import Clock

Target = tuple[str, float | None, str]
"""``(op, target, description)``: ``value op target`` is the goal (``op`` one of <=, >=, <, >)."""


@dataclass
class Ratio:
    """One measured ratio with its target."""

    name: str
    value: float
    op: str
    target: float | None
    description: str
    numerator_s: float | None = None
    denominator_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        if self.target is None or not math.isfinite(self.value):
            return None
        return {
            "<=": self.value <= self.target,
            ">=": self.value >= self.target,
            "<": self.value < self.target,
            ">": self.value > self.target,
        }[self.op]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def make_ratio(targets: dict[str, Target], name: str, value: float, **details: Any) -> Ratio:
    """The ratio ``name`` with its target from ``targets`` (a suite's ``TARGETS``)."""
    op, target, description = targets[name]
    return Ratio(name, float(value), op, target, description, **details)


@dataclass(frozen=True)
class SuiteContext:
    """What every suite receives: the mode's shapes, the device, the clock, a logger and the run's options."""

    settings: Settings
    device: Any
    clock: Clock
    log: Callable[[str], None]
    real: bool = False
    with_compile: bool = False


@dataclass(frozen=True)
class Suite:
    """One ``nnr bench --suite NAME``.

    ``order`` places it in the report and in file names; ``targets`` maps each ratio name to
    ``(op, target, description)``; ``notes(report)`` adds lines under the report's table.
    """

    name: str
    order: int
    targets: dict[str, Target]
    run: Callable[[SuiteContext], tuple[list[Ratio], dict[str, Any]]]
    notes: Callable[[dict[str, Any]], list[str]] = lambda report: []
