"""Performance benchmark of reprogramming (issue 9): ``nnr bench`` with the results kept in this repository.

Runs :mod:`reprogrammability.bench` (see its docstring for the suites, ratios, targets and how they are
timed) and writes ``benchmarks/results/perf/<stem>.{json,md,png}``, which the docs' results page shows.

    .venv/bin/python benchmarks/perf/run.py                    # every suite, CPU, about 10 minutes
    .venv/bin/python benchmarks/perf/run.py --quick            # under 2 minutes
    .venv/bin/python benchmarks/perf/run.py --suite options --quick --compile   # + torch.compile (slow to compile)
    .venv/bin/python benchmarks/perf/run.py --device cuda --overwrite           # on a GPU: bench-cuda.*

On a GPU the clock is the wall time with a CUDA synchronisation at every stamp, memory is the
allocator's peak, and the AMP option is measured as bf16 autocast; the report names the GPU. Any
other ``nnr bench`` option passes through (``--threads``, ``--real``, ``--clock``, ``--json``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from reprogrammability.cli import main

RESULTS = Path(__file__).resolve().parents[1] / "results" / "perf"

if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not any(a == "--output" or a.startswith("--output=") for a in arguments):
        arguments += ["--output", str(RESULTS)]
    sys.exit(main(["bench", *arguments]))
