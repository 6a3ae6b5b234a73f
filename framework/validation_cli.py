"""``nnr validate``: run the validator on a method and print its report.

    nnr validate path/to/my_method.py:example      # a factory in a file
    nnr validate my_package.methods:example        # a factory in an importable module
    nnr validate ilm-vp                            # a registered method (its example)
    nnr validate ilm-vp --json                     # the report as JSON
    nnr validate --list-checks                     # what is checked

Exit status: 0 when every check passed (or was skipped as not applicable), 1 when a check failed,
2 when the target cannot be loaded. Only argparse is imported here; torch loads in the handler.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--steps", type=int, default=2, help="training steps (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every build and run (default 0)")
    parser.add_argument("--failures-only", action="store_true", help="print only the failed checks")
    parser.add_argument("--list-checks", action="store_true", help="list the named checks and exit")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from .validation import CHECKS, load_target, validate

    if args.list_checks:
        if args.json:
            print(json.dumps([{"name": c.name, "group": c.group, "description": c.description} for c in CHECKS], indent=2))
        else:
            width = max(len(c.name) for c in CHECKS)
            for check in CHECKS:
                print(f"{check.name:<{width}}  [{check.group}] {check.description}")
        return 0
    if not args.target:
        print("nnr validate: give a target: path/to/file.py:factory, module:factory or a method id", file=sys.stderr)
        return 2
    if args.steps < 1:
        print(f"nnr validate: --steps: expected ≥ 1, got {args.steps}", file=sys.stderr)
        return 2
    try:
        target = load_target(args.target)
    except (ImportError, AttributeError, KeyError, ValueError, FileNotFoundError, SyntaxError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"nnr validate: {message}", file=sys.stderr)
        return 2
    try:
        name = args.target if ":" in args.target else None  # a factory is named as the user wrote it
        report = validate(target, steps=args.steps, seed=args.seed, name=name)
    except (TypeError, ValueError) as error:
        print(f"nnr validate: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(report.to_json())
    else:
        print(report.format(verbose=not args.failures_only))
    return 0 if report.passed else 1
