"""``nnr compare``: reprogramming-centric (RCA) against parameter-centric adaptation (PCA), side by side.

On one frozen model and task, with the same data, seeds and training budget, every method is trained and
reported: trainable parameters (and their fraction of f), bytes to store one task's adaptation, test
accuracy (mean ± std over seeds), time per step and to a stated accuracy, peak training memory and the
inference overhead against bare f. Results: ``<output>/compare_<setting>.json`` (schema ``nnr-compare/1``;
``--quick``: ``compare_<setting>_quick.json``, a few steps per method, for tests).

Settings are found by themselves: every module of this package that defines ``SETTINGS: dict[str, factory]``
(factory() -> :class:`~reprogrammability.compare.core.Setting`) contributes its names.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable

DEFAULT_OUTPUT = Path("benchmarks/results")
_NOT_SETTINGS = {"core"}


def settings() -> dict[str, Callable[[], Any]]:
    """Setting name -> factory, from every module of this package that defines ``SETTINGS`` (no torch import)."""
    found: dict[str, Callable[[], Any]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name in _NOT_SETTINGS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, factory in getattr(module, "SETTINGS", {}).items():
            if name in found:
                raise RuntimeError(f"setting {name!r} is defined twice (second in {module.__name__})")
            found[name] = factory
    return found


def register(subparsers: Any) -> None:
    from reprogrammability.arguments import integer, output_directory, seed

    names = list(settings())
    parser = subparsers.add_parser(
        "compare",
        help="RCA vs PCA: reprogramming against fine-tuning/LoRA/adapters on one frozen model, side by side",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--setting",
        nargs="+",
        choices=names + ["all"],
        default=["all"],
        metavar="NAME",
        help="settings to run: " + ", ".join(names + ["all"]) + " (default: all)",
    )
    parser.add_argument("--seeds", nargs="+", type=seed, default=[0, 1, 2], help="seeds (default: 0 1 2)")
    parser.add_argument("--quick", action="store_true", help="every method a few steps (tests; < 5 min on 2 cores)")
    parser.add_argument(
        "--methods", nargs="+", default=None, metavar="METHOD", help="a subset of the setting's methods (default: all)"
    )
    parser.add_argument(
        "--output",
        type=output_directory,
        default=DEFAULT_OUTPUT,
        help=f"folder for the JSON results (default: {DEFAULT_OUTPUT})",
    )
    parser.add_argument(
        "--threads", type=integer(1, 1024), default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def _selected(requested: list[str]) -> list[str]:
    names = list(settings())
    if "all" in requested:
        return names
    return list(dict.fromkeys(requested))


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this run (from the parsed arguments)."""
    words = ["nnr", "compare", "--setting", *args.setting, "--seeds", *map(str, args.seeds)]
    if args.quick:
        words.append("--quick")
    if args.methods:
        words += ["--methods", *args.methods]
    if args.threads:
        words += ["--threads", str(args.threads)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    """Check the arguments, then run each setting and write its results."""
    from .core import format_rows, results_document, run_setting, write_results

    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"argument --seeds: repeated seeds {args.seeds}; give distinct seeds")
    factories = settings()
    chosen = [factories[name]() for name in _selected(args.setting)]
    if args.methods:
        for setting in chosen:
            unknown = [m for m in args.methods if m not in setting.method_names()]
            if len(chosen) == 1 and unknown:
                raise ValueError(
                    f"argument --methods: {', '.join(unknown)} not in setting {setting.name!r}; allowed: "
                    + ", ".join(setting.method_names())
                )
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    command = _command(args)
    from tqdm import tqdm

    for setting in chosen:
        start = time.perf_counter()
        setting.prepare(quick=args.quick, log=lambda text: print(text, file=sys.stderr, flush=True))
        methods = [m for m in (args.methods or setting.method_names()) if m in setting.method_names()]
        bar = tqdm(total=len(methods) * len(args.seeds), disable=args.no_progress, desc=setting.name, leave=False)
        started = [False]

        def advance(description: str, bar: Any = bar, started: list[bool] = started) -> None:
            if started[0]:
                bar.update(1)
            started[0] = True
            bar.set_postfix_str(description)

        rows: list[dict[str, Any]] = []
        for method in methods:  # the file is rewritten after each method: a cut-short run keeps what it measured
            rows += run_setting(setting, args.seeds, [method], progress=advance)
            document = results_document(setting, rows, args.seeds, command, time.perf_counter() - start)
            document["complete"] = len(rows) == len(methods)
            path = write_results(document, args.output, args.quick)
        bar.update(1)
        bar.close()
        print(f"\n{setting.name}: {setting.model['name']} → {setting.task['name']}, seeds {args.seeds}")
        print(format_rows(rows))
        print(f"written: {path}")
    return 0
