"""``nnr case-study``: prompt instruction, prompt tuning and model reprogramming on one frozen dual encoder.

The work is in :mod:`.runner` (methods, training, report) and :mod:`.figures`; this module only parses
arguments and writes the run's files, and imports nothing heavy (the CLI starts without torch).

Files (in ``--output``, default ``benchmarks/results/case_study_<task>[_quick]``; a folder that
already holds results gets a fresh ``run-<time>-<pid>`` sub-folder):
``case_study_<task>.json`` (table, per-seed accuracies, budget, machine, versions, f's fingerprints),
``case_study_<task>_paths.svg`` and ``case_study_<task>_programs.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register", "run", "parse_seeds", "TASKS", "default_output", "file_names"]

TASKS = ("fashion-mnist", "digits")
MAX_SEEDS = 10


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → [0, 1, 2]: distinct integers in 0..2³¹−1, at most :data:`MAX_SEEDS` of them."""
    items = [item.strip() for item in str(text).split(",")]
    try:
        seeds = [int(item) for item in items]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,1,2, got {text!r}") from None
    if not seeds or any(not 0 <= s < 2**31 for s in seeds):
        raise argparse.ArgumentTypeError(f"expected seeds in 0..{2**31 - 1}, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds, got {text!r}")
    if len(seeds) > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_SEEDS} seeds, got {len(seeds)}")
    return seeds


def default_output(task: str, quick: bool) -> Path:
    return Path("benchmarks") / "results" / f"case_study_{task}{'_quick' if quick else ''}"


def file_names(task: str) -> dict[str, str]:
    """The names of a run's files (the docs page reads them from the committed folder)."""
    stem = f"case_study_{task}"
    return {"report": f"{stem}.json", "paths": f"{stem}_paths.svg", "programs": f"{stem}_programs.png"}


def register(subparsers: Any) -> None:
    from .. import arguments

    parser = subparsers.add_parser(
        "case-study",
        help="the three paradigms side by side on one frozen dual encoder",
        description=(
            "Prompt instruction (templates, descriptors), prompt tuning (CoOp, CoCoOp, KgCoOp), model "
            "reprogramming (padding program with identity or label-mapping output) and their combination, "
            "on the same frozen EfficientNet-Lite0 + MiniLM dual encoder, seeds and data. Prints one table; "
            "writes a JSON report and two figures."
        ),
    )
    parser.add_argument("--task", choices=TASKS, default="fashion-mnist", help="target task (default fashion-mnist)")
    parser.add_argument(
        "--seeds",
        type=parse_seeds,
        default=None,
        help="comma-separated training seeds (default 0,1,2; with --quick: 0)",
    )
    parser.add_argument("--quick", action="store_true", help="small subset and one epoch (a few minutes on 2 cores)")
    parser.add_argument(
        "--output",
        type=arguments.output_directory,
        default=None,
        help="folder for the report and figures (default benchmarks/results/case_study_<task>[_quick])",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..outputs import RunFolder, output_lock
    from ..tables import format_table

    quick = bool(args.quick)
    seeds = args.seeds if args.seeds is not None else ([0] if quick else [0, 1, 2])
    directory = Path(args.output) if args.output is not None else default_output(args.task, quick)
    with output_lock(directory, "--output", "nnr case-study") as locked:
        folder = RunFolder(locked, "--output")
        try:
            report = _run_and_write(args.task, seeds, quick, folder.path)
            published = folder.publish()
        finally:
            folder.discard()
    from .runner import table_rows

    headers = ["paradigm", "method", "coordinates (λ, τ, ℓ, ω)", "trainable", "accuracy", "training"]
    print(format_table(table_rows(report), headers))
    for sentence in summary_sentences(report):
        print(sentence)
    print(f"f's fingerprint unchanged after every run: {'yes' if report['fingerprint_unchanged'] else 'NO'}")
    print(f"wrote {published}")
    return 0 if report["fingerprint_unchanged"] else 1


def summary_sentences(report: dict[str, Any]) -> list[str]:
    """The done-when numbers in words, computed from the report (the docs page prints the same)."""
    margins = report.get("margins") or {}
    if not margins:
        return ["No fixed prompt ran, so there is no zero-shot baseline to compare with."]
    names = {r["key"]: r["method"] for r in report["rows"]}
    out = [
        f"Best fixed prompt: {names[margins['best_fixed']]}, {100 * margins['best_fixed_accuracy']:.1f} % "
        f"({margins['best_fixed_over_chance']:.2f}× chance of {100 * report['chance']:.0f} %)."
    ]
    for key, margin in margins["over_best_fixed"].items():
        out.append(f"{names[key]}: {100 * margin:+.1f} points over the best fixed prompt.")
    return out


def _run_and_write(task: str, seeds: list[int], quick: bool, path: Path) -> dict[str, Any]:
    from . import figures
    from .runner import run_case_study

    names = file_names(task)
    programs: list[tuple[str, Any, Any]] = []

    def keep(key: str, seed: int, reprogrammer: Any, data: Any) -> None:
        if seed == seeds[0] and key.startswith("vr"):
            programs.append((key, reprogrammer.inputs[0], data.test_images[:1]))

    report = run_case_study(task, seeds, "quick" if quick else "full", keep=keep)
    (path / names["paths"]).write_bytes(figures.paths_figure(report))
    if programs:
        from reprogrammability.implementations.models.dual_encoder import IMAGENET_MEAN, IMAGENET_STD

        (path / names["programs"]).write_bytes(figures.programs_png(programs, IMAGENET_MEAN, IMAGENET_STD))
    (path / names["report"]).write_text(json.dumps(report, indent=1) + "\n")
    return report
