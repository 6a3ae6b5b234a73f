"""Put the validator's checks in your own pytest suite (in the spirit of scikit-learn's ``parametrize_with_checks``).

    from reprogrammability.framework.testing import parametrize_with_checks

    @parametrize_with_checks([my_example, "ilm-vp"])
    def test_my_methods(method, check):
        check(method)

Every ``(method, check)`` pair becomes one test, named ``<method>-<check>``, so a failure names the
method and the claim it breaks. The method is validated once per test session (the first of its
checks pays for it; the others read the cached report): the factory is called two or three times then, as
:func:`~reprogrammability.framework.validation.validate` documents. A check that does not apply to
the method (no part at that location, another alignment) *passes* as not applicable: its reason is
kept on the check (``check.not_applicable``), and pytest reports no skip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

from .validation import CHECKS, FAILED, SKIPPED, ValidationReport, validate

if TYPE_CHECKING:
    import pytest

__all__ = ["parametrize_with_checks", "MethodCheck", "method_id", "cached_report", "clear_cache"]

_REPORTS: dict[int, tuple[Any, ValidationReport]] = {}


def method_id(method: Any) -> str:
    """A readable test id for a method: its registry id, factory name or reprogrammer name."""
    if isinstance(method, str):
        return method
    info = getattr(method, "method_info", None)
    if info is not None:
        return str(info.id)
    ident = getattr(method, "id", None)
    if isinstance(ident, str):
        return ident
    name = getattr(method, "__name__", None) or getattr(method, "name", None)
    return str(name) if name else type(method).__name__


def cached_report(method: Any, **options: Any) -> ValidationReport:
    """The report of ``method``, validated on first use and kept for the session (keyed by the object)."""
    key = id(method)
    cached = _REPORTS.get(key)
    if cached is None or cached[0] is not method:
        report = validate(method, **options)
        _REPORTS[key] = (method, report)  # holding ``method`` keeps its id from being reused
        return report
    return cached[1]


def clear_cache() -> None:
    _REPORTS.clear()


class MethodCheck:
    """One named check as a callable: ``check(method)`` fails the test with the check's reason."""

    def __init__(self, name: str, options: Optional[dict[str, Any]] = None):
        self.name = name
        self.options = dict(options or {})
        self.not_applicable: Optional[str] = None
        """The reason the check does not apply, after a call that found it not applicable."""

    def __call__(self, method: Any) -> None:
        import pytest

        report = cached_report(method, **self.options)
        if self.name not in report:
            pytest.fail(f"{method_id(method)}: {self.name} was not run; checks run: {[c.name for c in report]}")
        result = report[self.name]
        if result.status == SKIPPED:  # not applicable to this method: a pass, with its reason kept
            self.not_applicable = result.reason
            return
        if result.status == FAILED:
            pytest.fail(f"{method_id(method)} fails {self.name}: {result.reason}", pytrace=False)

    def __repr__(self) -> str:
        return f"MethodCheck({self.name!r})"


def parametrize_with_checks(
    methods: Sequence[Any] | Any, *, checks: Optional[Iterable[str]] = None, **options: Any
) -> pytest.MarkDecorator:
    """A ``pytest.mark.parametrize("method, check", ...)`` over every method and every named check.

    Args:
        methods: factories ``() -> (reprogrammer, inputs, targets)`` / ``ValidationExample``, registered
            method ids, MethodInfo objects or registered ``build`` functions (one, or a list).
        checks: names from :data:`~reprogrammability.framework.validation.CHECKS` (all by default).
        **options: passed to :func:`validate` (``steps``, ``seed``).
    """
    import pytest

    if not isinstance(methods, (list, tuple)):
        methods = [methods]
    known = [c.name for c in CHECKS]
    names = list(checks) if checks is not None else known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"checks: unknown {unknown}; allowed: {known}")
    params, ids = [], []
    for method in methods:
        for name in names:
            params.append((method, MethodCheck(name, options)))
            ids.append(f"{method_id(method)}-{name}")
    return pytest.mark.parametrize(("method", "check"), params, ids=ids)
