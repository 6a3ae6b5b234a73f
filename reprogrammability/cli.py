"""The ``nnr`` command line.

Each subcommand lives next to the code it drives and exposes ``register(subparsers)``; those
modules import nothing heavy at module level, so ``nnr catalog ...`` starts without torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from . import __version__

SUBCOMMANDS: dict[str, str] = {
    "demo": "reprogrammability.demo",
    "catalog": "reprogrammability.catalog.cli",
    "validate": "reprogrammability.framework.validation_cli",
    "bench": "reprogrammability.bench",
    "theory": "reprogrammability.framework.theory.cli",
}
"""Subcommand name -> module with ``register(subparsers)``; a module that is absent is skipped."""


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
