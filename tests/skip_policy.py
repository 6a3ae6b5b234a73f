"""No silent skips for files the repository carries: a skip that blames a missing file fails the run.

Skips are for optional extras that are really absent (a GPU, headless Chromium, an uninstalled
package). A fixture, the survey's data or any other file the repository ships is part of the tests: if
one is missing, the run must fail, not report "skipped". :func:`blames_a_missing_file` recognises
such a skip from its reason; ``tests/conftest.py`` imports the two hooks below, so every pytest run
(``scripts/test.sh``, ``.ci/run``) reports those skips and ends with exit status 1.
"""

from __future__ import annotations

import re

import pytest

__all__ = ["blames_a_missing_file", "pytest_collectreport", "pytest_runtest_logreport", "pytest_sessionfinish"]

_MISSING_FILE = re.compile(
    r"\bfixtures?\b.{0,80}\b(not found|missing|absent|not present)"
    r"|\b(not found|missing|absent)\b.{0,80}\bfixtures?\b"
    r"|\.\./shared|\bshared/"
    r"|not checked out"
    r"|no such file",
    re.IGNORECASE,
)

_BLAMED: list[tuple[str, str]] = []


def blames_a_missing_file(reason: str) -> bool:
    """True when a skip reason says a file or fixture the repository should carry is missing."""
    return bool(_MISSING_FILE.search(reason))


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _record(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _reason(report)
        if blames_a_missing_file(reason):
            _BLAMED.append((report.nodeid, reason))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Module-level skips (``pytest.skip(..., allow_module_level=True)``) are reported at collection."""
    _record(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _BLAMED:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.section("skips for missing files (a failure: the repository must carry these files)", red=True)
        for nodeid, reason in _BLAMED:
            reporter.line(f"{nodeid}: {reason}", red=True)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
