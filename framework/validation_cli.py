"""``nnr validate``: run the validator on a method and print its report.

    nnr validate path/to/my_method.py:example      # a factory in a file
    nnr validate my_package.methods:example        # a factory in an importable module
    nnr validate ilm-vp                            # a registered method (its example)
    nnr validate ilm-vp --json                     # the report as JSON
    nnr validate --list-checks                     # what is checked

Exit status: 0 when every check passed (or was skipped as not applicable), 1 when a check failed,
2 when the target cannot be loaded. Only argparse is imported here; torch loads in the handler.

``nnr catalog check my-method.yaml`` is provided here too (:func:`add_catalog_check_arguments` and
:func:`run_catalog_check`), for the catalog CLI to mount::

    p = sub.add_parser("check", help="validate a new catalog entry together with its implementation")
    validation_cli.add_catalog_check_arguments(p)
    p.set_defaults(handler=validation_cli.run_catalog_check)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run", "add_catalog_check_arguments", "run_catalog_check"]


def _add_report_options(parser: argparse.ArgumentParser) -> None:
    """The options of a validation run and its report, shared by ``nnr validate`` and ``nnr catalog check``."""
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--steps", type=int, default=2, help="training steps (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every build and run (default 0)")
    parser.add_argument("--failures-only", action="store_true", help="print only the failed checks")


def _load(target: str, command: str) -> Any:
    """:func:`load_target`, or None after printing ``command: why it cannot be loaded`` to stderr."""
    from .validation import load_target

    try:
        return load_target(target)
    except (ImportError, AttributeError, KeyError, ValueError, FileNotFoundError, SyntaxError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"{command}: {message}", file=sys.stderr)
        return None


def _print_report(report: Any, args: argparse.Namespace) -> int:
    """Print the report as asked (JSON, all checks or failures only); the exit status: 0 passed, 1 failed."""
    print(report.to_json() if args.json else report.format(verbose=not args.failures_only))
    return 0 if report.passed else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "validate",
        help="check that a method is what its coordinates claim, by running it",
        description=(
            "Build a method on its tiny example, train it for a few steps, instrument f's interfaces and probe "
            "its parts; every claim of its spec (frozen f, λ, τ, ℓ, ω, symbolic count, reproducibility) is a "
            "named check. The factory is called two or three times, each under the same seed (main run, same-seed rerun)."
        ),
    )
    parser.add_argument(
        "target",
        nargs="?",
        help="path/to/file.py:factory, package.module:factory, or a registered method id",
    )
    _add_report_options(parser)
    parser.add_argument("--list-checks", action="store_true", help="list the named checks and exit")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from .validation import CHECKS, validate

    if args.list_checks:
        if args.json:
            listed = [{"name": c.name, "group": c.group, "description": c.description, "why": c.why} for c in CHECKS]
            print(json.dumps(listed, indent=2, ensure_ascii=False))
        else:
            width = max(len(c.name) for c in CHECKS)
            for check in CHECKS:
                print(f"{check.name:<{width}}  [{check.group}] {check.description}")
                print(f"{'':<{width}}  why: {check.why}")
        return 0
    if not args.target:
        print("nnr validate: give a target: path/to/file.py:factory, module:factory or a method id", file=sys.stderr)
        return 2
    if args.steps < 1:
        print(f"nnr validate: --steps: expected ≥ 1, got {args.steps}", file=sys.stderr)
        return 2
    target = _load(args.target, "nnr validate")
    if target is None:
        return 2
    try:
        name = args.target if ":" in args.target else None  # a factory is named as the user wrote it
        report = validate(target, steps=args.steps, seed=args.seed, name=name)
    except (TypeError, ValueError) as error:
        print(f"nnr validate: {error}", file=sys.stderr)
        return 2
    return _print_report(report, args)


def add_catalog_check_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Arguments of ``nnr catalog check ENTRY.yaml [--implementation file.py:factory]``."""
    parser.add_argument("entry", help="a catalog method entry, e.g. catalog/methods/my-method.yaml")
    parser.add_argument(
        "--implementation",
        metavar="TARGET",
        help="file.py:factory or module:factory to validate instead of the entry's registered implementation",
    )
    _add_report_options(parser)
    return parser


def run_catalog_check(args: argparse.Namespace) -> int:
    """Validate the entry (schema, implementation, coordinates) and every check of ``nnr validate``."""
    from pathlib import Path

    from .validation import check_catalog_entry

    if not Path(args.entry).is_file():
        print(f"nnr catalog check: entry: no file {args.entry!r}", file=sys.stderr)
        return 2
    if args.steps < 1:
        print(f"nnr catalog check: --steps: expected ≥ 1, got {args.steps}", file=sys.stderr)
        return 2
    factory = None
    if args.implementation:
        factory = _load(args.implementation, "nnr catalog check")
        if factory is None:
            return 2
    report = check_catalog_entry(args.entry, implementation_factory=factory, steps=args.steps, seed=args.seed)
    return _print_report(report, args)
