"""Inference overhead of every registered method against bare f: the parts' symbolic declaration vs the measurement.

    python benchmarks/inference_overhead.py            # all methods -> benchmarks/results/inference_overhead.json

Same as ``nnr cost --output benchmarks/results/inference_overhead.json``; one CPU thread, seed 0, each method's
tiny validator example. See :mod:`reprogrammability.framework.cost` for the conventions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reprogrammability.cost_report import RESULT, run_methods


def main(argv: list[str]) -> int:
    report = run_methods(argv or None, repeats=3, log=print)
    path = Path(__file__).resolve().parent.parent / RESULT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"]), "->", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
