"""The ``nnr bench`` subcommand: arguments, the run, the files written."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .report import table, write_report
from .runner import result_stem, run_bench
from .suites import SUITES, TARGETS

DEFAULT_OUTPUT = Path("benchmarks") / "results" / "perf"


def _description() -> str:
    """The package's docstring followed by every ratio and its target (from the suites themselves)."""
    from reprogrammability import bench

    rows = []
    for name, (op, target, text) in TARGETS.items():
        goal = "—" if target is None else f"{op} {target:g}"
        rows.append(f"  {name:<34} {goal:<7} {text}")
    return (bench.__doc__ or "") + "\nRatios and targets:\n" + "\n".join(rows) + "\n"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure reprogramming speed against its limit and against peft, fine-tuning and re-encoding",
        description=_description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--suite", action="append", choices=[*SUITES, "all"], help="suite to run (repeatable; default: all)"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller shapes and fewer rounds (under 2 minutes on CPU)")
    size.add_argument("--tiny", action="store_true", help="tiny random models, seconds (tests the mechanics only)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--clock",
        default="auto",
        choices=["auto", "cpu", "wall"],
        help="primary clock (auto: process CPU time on CPU, synchronised wall time on CUDA)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave torch's default)")
    parser.add_argument("--real", action="store_true", help="prompt and icl suites on SmolLM2-135M (slow on CPU)")
    parser.add_argument(
        "--compile", action="store_true", help="also measure torch.compile (minutes of compiling on CPU)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"directory for the JSON, Markdown and PNG results (default: {DEFAULT_OUTPUT})",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; write no files")
    parser.add_argument("--overwrite", action="store_true", help="replace existing result files")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    suites = SUITES if not args.suite or "all" in args.suite else tuple(dict.fromkeys(args.suite))
    mode = "quick" if args.quick else "tiny" if args.tiny else "default"
    from reprogrammability.framework.training import resolve_device

    stem = result_stem(mode, suites, resolve_device(args.device).type, args.real, args.compile)
    if not args.no_write and not args.overwrite:
        existing = [args.output / f"{stem}.{ext}" for ext in ("json", "md", "png")]
        found = [p for p in existing if p.exists()]
        if found:  # fail before spending minutes measuring
            print(f"nnr bench: output: {found[0]} exists; pass --overwrite to replace it", file=sys.stderr)
            return 2

    def log(message: str) -> None:
        if not args.json:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    report = run_bench(
        suites,
        mode=mode,
        device=args.device,
        clock=args.clock,
        threads=args.threads or None,
        real=args.real,
        with_compile=args.compile,
        log=log,
    )
    if not args.no_write:
        paths = write_report(report, args.output, overwrite=args.overwrite)
        log("wrote " + ", ".join(str(p) for p in paths))
    print(json.dumps(report, indent=2, default=float) if args.json else table(report))
    return 0
