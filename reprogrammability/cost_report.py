"""``nnr cost``: each registered method's inference overhead against bare f, declared and measured.

For every method's example reprogrammer, the parts' declared overhead (extra tokens, extra FLOPs per
query, :mod:`reprogrammability.framework.cost`) is evaluated and compared with the one counted on the
example (positions entering f's first layer; torch's FlopCounterMode on the reprogrammer and on bare f).
A method passes when both are within 5 %; a part that declares nothing fails. The exit status is 1 when
any method fails.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["register", "run_methods", "summarise"]

RESULT = Path("benchmarks/results/inference_overhead.json")


def _measure_one(method_id: str, repeats: int) -> dict[str, Any]:
    import torch

    from reprogrammability.framework.cost import UndeclaredOverheadError
    from reprogrammability.framework.cost_measure import (
        FLOOR,
        TOLERANCE,
        judge_overhead,
        measure_inference_overhead,
        relative_error,
    )
    from reprogrammability.framework.validation.example import ValidationExample
    from reprogrammability.implementations.registry import get_method

    row: dict[str, Any] = {"method": method_id}
    try:
        torch.manual_seed(0)
        built = get_method(method_id).example()
        rp, inputs = (built.reprogrammer, built.inputs) if isinstance(built, ValidationExample) else built[:2]
        measured = measure_inference_overhead(rp, inputs, repeats=repeats)
    except UndeclaredOverheadError as error:
        return {**row, "status": "undeclared", "reason": str(error)}
    except Exception as error:  # noqa: BLE001 - reported per method; bare f may not read the raw query
        return {**row, "status": "not-measured", "reason": f"{type(error).__name__}: {error}"}
    status, reason = judge_overhead(measured, TOLERANCE)
    flop_error = relative_error(
        measured["symbolic_extra_flops"], measured["extra_flops"], FLOOR * measured["bare_flops"]
    )
    return {
        **row,
        "status": status,
        "reason": reason,
        "symbolic_extra_tokens": measured["symbolic_extra_tokens"],
        "measured_extra_tokens": measured["extra_tokens"],
        "symbolic_extra_flops": measured["symbolic_extra_flops"],
        "measured_extra_flops": measured["extra_flops"],
        "relative_error_flops": flop_error,
        "relative_error_tokens": relative_error(measured["symbolic_extra_tokens"], measured["extra_tokens"], 1.0),
        "symbolic_extra_keys": measured["symbolic_extra_keys"],
        "symbolic_elementwise": measured["symbolic_elementwise"],
        "bare_flops_per_query": measured["bare_flops"],
        "extra_time_ratio": measured["extra_time_ratio"],
        "batch_size": measured["batch_size"],
        "declarations": measured["symbolic"],
        "reference": measured["reference"],
        "shapes_of_f": {k: float(v) for k, v in measured["shapes"].items()},
    }


def run_methods(
    methods: Sequence[str] | None = None, repeats: int = 3, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Every method's row (``status`` passed / failed / undeclared / not-measured) with machine and versions."""
    import platform

    import sympy
    import torch

    from reprogrammability import __version__
    from reprogrammability.implementations.registry import list_methods

    start = time.perf_counter()
    torch.set_num_threads(1)
    rows = []
    for method_id in methods or list_methods():
        row = _measure_one(method_id, repeats)
        rows.append(row)
        if log:
            log(f"{method_id:32s} {row['status']:12s} {row['reason'][:110]}")
    return {
        "schema": "nnr-inference-overhead/1",
        "command": "python benchmarks/inference_overhead.py (or nnr cost --output FILE)",
        "convention": (
            "per query, against bare f on the same query; FLOPs as torch.utils.flop_counter.FlopCounterMode counts "
            "them (2mnk per matmul, convolutions, attention 4·Lq·Lk·d incl. the CPU fused kernel); steady state; "
            "where f cannot read the query (a series into a language model), bare f is f on the tokens the entry "
            "part makes, that part's FLOPs its overhead (each row's 'reference'); data-dependent lengths (generated "
            "text, a statistics prompt) take the values of the measured forward"
        ),
        "tolerance": 0.05,
        "seeds": [0],
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "torch_threads": 1,
        },
        "versions": {"reprogrammability": __version__, "torch": torch.__version__, "sympy": sympy.__version__},
        "wall_s": round(time.perf_counter() - start, 1),
        "summary": summarise(rows),
        "methods": rows,
    }


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many methods have each status."""
    counts: dict[str, int] = {"methods": len(rows)}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="each method's inference overhead against bare f: declared (symbolic) vs measured (tokens, FLOPs)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("methods", nargs="*", metavar="METHOD", help="registered method ids (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats for the time ratio (default: 3)")
    parser.add_argument("--output", type=Path, default=None, help="write the JSON report here")
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    if args.repeats < 0:
        raise ValueError(f"--repeats: expected a count ≥ 0, got {args.repeats}")
    if args.methods:
        from reprogrammability.implementations.registry import list_methods

        known = list_methods()
        unknown = [m for m in args.methods if m not in known]
        if unknown:
            raise ValueError(f"METHOD: unknown method id(s) {unknown}; `nnr catalog` lists the {len(known)} known ones")
    report = run_methods(args.methods or None, repeats=args.repeats, log=print)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"]))
    return 0 if set(report["summary"]) <= {"methods", "passed"} else 1
