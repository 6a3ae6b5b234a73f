"""``nnr theory list`` and ``nnr theory check [ID] [--thorough] [--json]`` (torch is imported only by ``check``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .registry import PROPOSITIONS, get, ids


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "theory",
        help="propositions that explain reprogramming, each with a numerical check",
        description="Propositions with their sources and numerical checks (float64, random instances).",
    )
    actions = parser.add_subparsers(dest="theory_command", metavar="ACTION")
    listing = actions.add_parser("list", help="list the propositions")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    check = actions.add_parser("check", help="run the checks (all, or one proposition)")
    check.add_argument("id", nargs="?", help=f"proposition id, one of: {', '.join(ids())}")
    check.add_argument("--thorough", action="store_true", help="larger and more random instances")
    check.add_argument("--seed", type=int, default=0, help="seed of the random instances (default 0)")
    check.add_argument("--variant", help="run a deliberately broken variant of the check (it must fail)")
    check.add_argument("--variants", action="store_true", help="also run every broken variant (each must fail)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--output", help="write the report (machine, versions, seeds, results) to this JSON file")
    check.set_defaults(handler=_check)
    parser.set_defaults(handler=lambda args: parser.print_help() or 0)


def _list(args: argparse.Namespace) -> int:
    if args.json:
        rows = [
            {
                "id": p.id,
                "title": p.title,
                "kind": p.kind,
                "sources": [s.cite() for s in p.sources],
                "methods": list(p.methods),
                "variants": list(p.variants),
            }
            for p in PROPOSITIONS
        ]
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(p.id) for p in PROPOSITIONS)
    for p in PROPOSITIONS:
        source = p.sources[0]
        print(f"{p.id:<{width}}  {p.kind:<10}  {p.title}")
        print(
            f"{'':<{width}}  {'':<10}  {source.authors.split(',')[0]} et al., {source.venue} {source.year}; "
            f"methods: {', '.join(p.methods)}"
        )
    return 0


def _check(args: argparse.Namespace) -> int:
    from .results import run_report, write_report

    try:
        if args.id is not None:
            get(args.id)
        if args.variant is not None:
            if args.id is None:
                raise KeyError(
                    "variant: name the proposition too, e.g. nnr theory check prefix-gating --variant wrong-gate"
                )
            result = get(args.id).run(thorough=args.thorough, seed=args.seed, variant=args.variant)
            report = {"results": [result.to_dict()], "broken_variants": []}
        else:
            log = (lambda message: None) if args.json else (lambda message: print(message, file=sys.stderr))
            report = run_report(args.id, args.thorough, args.seed, args.variants, log=log, output=args.output)
    except (KeyError, ValueError) as error:
        print(f"nnr theory: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    if args.output:
        path = write_report(report, args.output)
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=1, default=float))
    else:
        for row in report["results"]:
            status = "pass" if row["passed"] else "FAIL"
            variant = f" [broken variant {row['variant']}]" if row["variant"] else ""
            print(
                f"{status}  {row['proposition']}{variant}: {row['quantity']} = {row['value']:.3g} "
                f"(criterion {row['criterion']}; {row['instances']} instances, {row['seconds']:.1f} s)"
            )
    ok = all(row["passed"] for row in report["results"]) and not any(v["passed"] for v in report["broken_variants"])
    return 0 if ok else 1
