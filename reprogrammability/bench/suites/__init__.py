"""The bench suites, one module each; every module here that defines ``SUITE`` is a suite.

Adding a suite is adding one module with ``TARGETS``, a measuring function and
``SUITE = Suite(name, order, TARGETS, run)`` (see :mod:`reprogrammability.bench.suite`).
"""

from __future__ import annotations

import importlib
import pkgutil

from ..suite import Suite, Target


def _discover() -> dict[str, Suite]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        suite = getattr(module, "SUITE", None)
        if isinstance(suite, Suite):
            found.append(suite)
    return {suite.name: suite for suite in sorted(found, key=lambda s: (s.order, s.name))}


REGISTRY: dict[str, Suite] = _discover()
"""Suite name -> :class:`Suite`, in report order."""

SUITES: tuple[str, ...] = tuple(REGISTRY)
"""The suite names, in report order."""

TARGETS: dict[str, Target] = {name: target for suite in REGISTRY.values() for name, target in suite.targets.items()}
"""Every ratio name -> ``(op, target, description)``."""
