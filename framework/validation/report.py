"""The outcome of a validation: one :class:`CheckResult` per named check, in registry order."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import ReprogrammabilityError
from .common import FAILED, PASSED, SKIPPED


@dataclass
class CheckResult:
    """The outcome of one check: ``status`` is ``passed``, ``failed`` or ``skipped`` (not applicable)."""

    name: str
    status: str
    reason: str
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check is not a failure)."""
        return self.status != FAILED

    @property
    def skipped(self) -> bool:
        return self.status == SKIPPED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "passed": self.passed,
            "reason": self.reason,
            "seconds": round(self.seconds, 4),
        }


class ValidationError(ReprogrammabilityError, AssertionError):
    """A method failed validation; ``report`` holds every check."""

    def __init__(self, report: "ValidationReport"):
        self.report = report
        lines = [f"  [{c.name}] {c.reason}" for c in report.failures]
        super().__init__(f"{report.method} failed {len(lines)} check(s):\n" + "\n".join(lines))


@dataclass
class ValidationReport:
    """Every check run on one method, in :data:`CHECKS` order."""

    method: str
    checks: list[CheckResult] = field(default_factory=list)
    coordinates: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAILED]

    @property
    def failed_names(self) -> list[str]:
        return [c.name for c in self.failures]

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"check: {name!r} is not in this report; checks: {[c.name for c in self.checks]}")

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.checks)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.checks)

    def raise_for_failures(self) -> "ValidationReport":
        """Raise :class:`ValidationError` listing the failed checks; return the report otherwise."""
        if not self.passed:
            raise ValidationError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(c.status == s for c in self.checks) for s in (PASSED, FAILED, SKIPPED)}
        return {
            "method": self.method,
            "coordinates": self.coordinates,
            "passed": self.passed,
            "counts": counts,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def format(self, *, verbose: bool = True) -> str:
        """A readable table: one line per check (``verbose=False``: failures only)."""
        marks = {PASSED: "PASS", FAILED: "FAIL", SKIPPED: "skip"}
        width = max([len(c.name) for c in self.checks] + [10])
        head = f"validate {self.method}" + (f"  ({self.coordinates})" if self.coordinates else "")
        lines = [head]
        for check in self.checks:
            if verbose or check.status == FAILED:
                lines.append(f"  {marks[check.status]}  {check.name:<{width}}  {check.reason}")
        counts = self.to_dict()["counts"]
        lines.append(
            f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[SKIPPED]} skipped in {self.seconds:.2f} s"
            + ("" if self.passed else f"  -- FAILED: {', '.join(self.failed_names)}")
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()
