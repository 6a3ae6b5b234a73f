"""Theory you can run: propositions that explain when and why reprogramming works, each with a numerical check.

Each :class:`Proposition` carries its statement (LaTeX), assumptions, source papers, the catalog methods it
concerns and a check that builds random float64 instances (or a constructed counterexample for a
limitation) and measures a residual; every check has deliberately broken variants that must fail.
Importing this package does not import torch; :meth:`Proposition.run` does.

    >>> from reprogrammability.framework.theory import get
    >>> get("icl-one-gd-step").run().passed
    True
"""

from .proposition import CheckResult, Proposition, Source
from .registry import PROPOSITIONS, for_method, get, ids

__all__ = ["CheckResult", "Proposition", "Source", "PROPOSITIONS", "get", "ids", "for_method", "run_all"]


def run_all(thorough: bool = False, seed: int = 0, only: str | None = None) -> list[CheckResult]:
    """Run every check (or only the proposition ``only``) and return the results in registry order."""
    chosen = [get(only)] if only else list(PROPOSITIONS)
    return [proposition.run(thorough=thorough, seed=seed) for proposition in chosen]
