"""Run the checks and write ``benchmarks/results/theory.json`` (machine, versions, seeds, every result).

Reproduce: ``nnr theory check --variants --output benchmarks/results/theory.json`` (default shapes, every broken
variant) and ``nnr theory check --thorough --output benchmarks/results/theory_thorough.json``.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .registry import PROPOSITIONS, get

COMMAND = "nnr theory check --variants --output benchmarks/results/theory.json"
DEFAULT_PATH = Path("benchmarks") / "results" / "theory.json"
THOROUGH_COMMAND = "nnr theory check --thorough --output benchmarks/results/theory_thorough.json"
THOROUGH_PATH = Path("benchmarks") / "results" / "theory_thorough.json"


def command(only: str | None, thorough: bool, seed: int, variants: bool, output: str | None) -> str:
    """The ``nnr theory check`` command line that writes this report."""
    words = ["nnr theory check"] + ([only] if only else [])
    words += ["--thorough"] if thorough else []
    words += [f"--seed {seed}"] if seed else []
    words += ["--variants"] if variants else []
    words += [f"--output {output}"] if output else []
    return " ".join(words)


def environment() -> dict[str, Any]:
    import numpy
    import scipy
    import torch
    import transformers

    from reprogrammability import __version__

    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "device": "cpu",
            "dtype": "float64",
        },
        "versions": {
            "python": platform.python_version(),
            "reprogrammability": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
        },
    }


def run_report(
    only: str | None = None,
    thorough: bool = False,
    seed: int = 0,
    variants: bool = False,
    log: Callable[[str], None] | None = None,
    output: str | None = None,
) -> dict[str, Any]:
    """Every check (and with ``variants`` every broken variant) as one JSON-ready report."""
    log = log or (lambda message: None)
    chosen = [get(only)] if only else list(PROPOSITIONS)
    results, broken = [], []
    for proposition in chosen:
        result = proposition.run(thorough=thorough, seed=seed)
        log(f"{proposition.id}: {'pass' if result.passed else 'FAIL'} {result.quantity} = {result.value:.3g}")
        results.append(result.to_dict())
        if variants:
            for name in proposition.variants:
                outcome = proposition.run(thorough=thorough, seed=seed, variant=name)
                log(f"  broken variant {name}: {'passes (BAD)' if outcome.passed else 'fails, as it must'}")
                broken.append(
                    {"proposition": proposition.id, "variant": name, "passed": outcome.passed, "value": outcome.value}
                )
    return {
        "command": command(only, thorough, seed, variants, output),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **environment(),
        "seed": seed,
        "thorough": thorough,
        "results": results,
        "broken_variants": broken,
    }


def write_report(report: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
    return path


def load_report(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The committed report, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report
