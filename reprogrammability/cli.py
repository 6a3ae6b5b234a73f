"""The ``nnr`` command line.

Each subcommand lives next to the code it drives and exposes ``register(subparsers)``; those
modules import nothing heavy at module level, so ``nnr catalog ...`` starts without torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from . import __version__

SUBCOMMANDS: dict[str, str] = {
    "demo": "reprogrammability.demo",
    "catalog": "reprogrammability.catalog.cli",
    "validate": "reprogrammability.framework.validation_cli",
    "bench": "reprogrammability.bench",
    "theory": "reprogrammability.framework.theory.cli",
    "gpu-check": "reprogrammability.gpu_check",
    "predict": "reprogrammability.predict",
    "case-study": "reprogrammability.case_study",
    "compare": "reprogrammability.compare",
    "cost": "reprogrammability.cost_report",
}
"""Subcommand name -> module with ``register(subparsers)``; a module that is absent is skipped."""

CHECKS: dict[str, dict[str, str]] = {
    "bench": {"device": "device", "threads": "threads", "output": "output_directory"},
    "validate": {"steps": "steps", "seed": "seed"},
    "gpu-check": {"device": "device", "steps": "steps"},
}
"""Subcommand -> {argument dest: check in :func:`_argument_check`}: arguments of subcommands defined elsewhere,
installed as their argparse types, so a bad value fails at parse time (exit 2), before any work."""

LOCKED_OUTPUTS: dict[str, str] = {"bench": "output"}
"""Subcommand -> the dest of its output folder, locked for the run: a second run into it refuses at once."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnr",
        description="Neural network reprogrammability: ŷ = O_ω(f(I_{λ,τ,ℓ}(x))) with f frozen.",
    )
    parser.add_argument("--version", action="version", version=f"nnr (reprogrammability) {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                continue  # the subcommand's module is not part of this build
            raise
        module.register(subparsers)
        _install_checks(subparsers.choices.get(name), CHECKS.get(name, {}))
    return parser


def _argument_check(name: str):
    from . import arguments

    return {
        "device": arguments.device,
        "threads": arguments.integer(0, 1024),
        "output_directory": arguments.output_directory,
        "steps": arguments.integer(1, 100_000),
        "seed": arguments.seed,
    }[name]


def _install_checks(subparser: argparse.ArgumentParser | None, checks: dict[str, str]) -> None:
    """Give the arguments named in :data:`CHECKS` their checking type, so argparse rejects a bad value at parse
    time (exit 2, ``argument --name: ...``), before the subcommand does any work."""
    if subparser is None:
        return
    for action in subparser._actions:
        if action.dest in checks:
            action.type = _argument_check(checks[action.dest])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    command = getattr(args, "command", None) or "nnr"
    try:
        locked = LOCKED_OUTPUTS.get(command)
        if locked and getattr(args, locked, None) is not None and not getattr(args, "no_write", False):
            from .outputs import output_lock

            with output_lock(getattr(args, locked), f"--{locked}", f"nnr {command}"):
                return int(args.handler(args) or 0)
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError, LookupError, RuntimeError) as error:
        # a clear message, not a traceback: every error the package raises on purpose names the argument at fault
        if os.environ.get("NNR_TRACEBACK"):
            raise
        print(f"nnr {command}: error: {_bounded(error)}", file=sys.stderr)
        return 2 if isinstance(error, (ValueError, TypeError, LookupError)) else 1


def _bounded(error: BaseException, limit: int = 2000) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= limit else text[:limit] + " ..."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
