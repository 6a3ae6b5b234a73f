"""``nnr catalog``: list, papers, show, query, resolve, graph, export, import-bib, crosscheck, check.

Printing lives in :mod:`.cli_output`. Only argparse is imported at module level; each handler imports the catalog when it runs (no torch
ever; networkx only for ``graph`` and ``export --format graphml``). ``--json`` prints a JSON list of
entries whose keys are the YAML field names.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import TYPE_CHECKING, Any, Callable

from .cli_output import (
    SYMBOLS,
    dump,
    method_rows,
    print_json,
    print_methods,
    print_papers,
    print_parameter_centric,
    show_method,
    show_paper,
)

if TYPE_CHECKING:  # pragma: no cover
    from .checks import Finding
    from .loader import Catalog

__all__ = ["register"]

CHECK_NAMES = ("time-order", "glossary", "axis-rules")
"""The whole-catalog checks (:data:`reprogrammability.catalog.checks.CHECKS`), named here to keep start-up light."""

_FILTERS = ("configuration", "operator", "location", "alignment", "paradigm", "modality", "access", "f_weights")


# --- plumbing ------------------------------------------------------------------------------------------


def _guard(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the catalog's expected errors into a message on stderr and an exit status."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from .errors import CatalogError

        try:
            return handler(args)
        except CatalogError as error:
            print(f"nnr catalog: invalid catalog data: {error}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # the reader (head, less) went away: stop quietly
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except (KeyError, ValueError, OSError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            print(f"nnr catalog: {message}", file=sys.stderr)
            return 1

    return run


def _short(value: Any) -> str:
    from .errors import short_repr

    return short_repr(value)


def _catalog() -> "Catalog":
    from .loader import Catalog

    return Catalog.load()


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    """The filters given on the command line; an empty value stays in, so that the query rejects it."""
    found: dict[str, Any] = {}
    for name in _FILTERS:
        value = getattr(args, name, None)
        if value is not None:
            found[name] = value
    for name in ("year", "runs_on"):
        if getattr(args, name, None) is not None:
            found[name] = getattr(args, name)
    if getattr(args, "keeps_f_frozen", False):
        found["keeps_f_frozen"] = True
    if getattr(args, "text", None) is not None:
        found["text"] = " ".join(args.text) if isinstance(args.text, list) else args.text
    return found


def _add_filters(parser: argparse.ArgumentParser) -> None:
    from_framework = {
        "configuration": "fixed, learnable",
        "operator": "additive, concatenative, parametric",
        "location": "input, embedding, hidden",
        "alignment": "identity, rule-based, statistical, linear",
        "paradigm": "model-reprogramming, prompt-tuning, prompt-instruction",
        "modality": (
            "vision, text, vision-language, audio, time-series, graph, tabular, molecule, protein, dna, general"
        ),
        "access": "text-only, scores, hidden-states, zeroth-order, gradient",
        "f_weights": "frozen, added-modules, trained (what the method does to f's own weights)",
    }
    group = parser.add_argument_group("filters (repeat or comma-separate values: any of them matches)")
    for name, allowed in from_framework.items():
        symbol = SYMBOLS.get(name)
        label = f"{symbol} {name}" if symbol else name
        group.add_argument(
            f"--{name.replace('_', '-')}", dest=name, action="append", metavar="VALUE", help=f"{label}: {allowed}"
        )
    group.add_argument(
        "--keeps-f-frozen", action="store_true", help="only entries that leave f's weights untouched (f_weights=frozen)"
    )
    group.add_argument(
        "--runs-on",
        metavar="WHAT",
        choices=["text-api", "scores", "gradients", "white-box"],
        help="what you have of f: text-api (generated text), scores (output scores), gradients "
        "(backpropagation through f), white-box (also hidden states)",
    )
    group.add_argument("--year", metavar="RANGE", help="2022, 2020-2023, 2020- or -2021")
    group.add_argument("--text", metavar="WORDS", help="words that must all appear (ids, names, titles, summaries)")


# --- handlers --------------------------------------------------------------------------------------------


@_guard
def _cmd_list(args: argparse.Namespace) -> int:
    catalog = _catalog()
    methods = catalog.query(**_filters(args))
    if args.json:
        print_json([dump(m) for m in methods])
    else:
        print_methods(methods)
    return 0


@_guard
def _cmd_papers(args: argparse.Namespace) -> int:
    from .models import PaperEntry, PaperKind

    catalog = _catalog()
    papers = [p for p in catalog.query(kind="papers", **_filters(args)) if isinstance(p, PaperEntry)]
    if args.method:
        for method_id in args.method:
            catalog.method(method_id)
        papers = [p for p in papers if set(args.method) & set(p.methods)]
    if args.kind:
        kinds = set()
        for value in args.kind:
            for part in value.split(","):
                try:
                    kinds.add(PaperKind(part.strip()))
                except ValueError:
                    raise ValueError(f"--kind: {_short(part)} is not one of {[k.value for k in PaperKind]}") from None
        papers = [p for p in papers if p.kind in kinds]
    if args.json:
        print_json([dump(p) for p in papers])
    else:
        print_papers(papers)
    return 0


@_guard
def _cmd_query(args: argparse.Namespace) -> int:
    catalog = _catalog()
    kind = "all" if args.all else "papers" if args.papers else "methods"
    entries = catalog.query(kind=kind, **_filters(args))
    if args.json:
        print_json([dump(e) for e in entries])
        return 0
    from .models import MethodEntry

    methods = [e for e in entries if isinstance(e, MethodEntry)]
    papers = [e for e in entries if not isinstance(e, MethodEntry)]
    if kind in ("methods", "all"):
        print_methods(methods)
    if kind == "all":
        print()
    if kind in ("papers", "all"):
        print_papers(papers)
    return 0


@_guard
def _cmd_show(args: argparse.Namespace) -> int:
    catalog = _catalog()
    entries = [catalog.get(entry_id) for entry_id in args.id]
    if args.json:
        print_json([dump(e) for e in entries])
        return 0
    from .models import MethodEntry

    for index, entry in enumerate(entries):
        if index:
            print("\n" + "─" * 60 + "\n")
        if isinstance(entry, MethodEntry):
            show_method(catalog, entry)
        else:
            show_paper(catalog, entry)
    return 0


@_guard
def _cmd_resolve(args: argparse.Namespace) -> int:
    from reprogrammability.tables import format_table, wrap

    from .resolve import suggestions

    catalog = _catalog()
    term = " ".join(args.term)
    if not term.strip():
        raise ValueError("term: give a name, e.g. 'soft prompt', 'label mapping' or 'LoRA'")
    resolution = catalog.resolve(term)
    if args.json:
        print_json(resolution.to_dicts())
        return 0 if resolution else 1
    if not resolution:
        close = suggestions(catalog, term)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        print(
            f"nnr catalog: no glossary term, method or parameter-centric name matches {_short(term)}{hint}",
            file=sys.stderr,
        )
        return 1
    for glossary_term in resolution.terms:
        names = glossary_term.term + (f" ({', '.join(glossary_term.variants)})" if glossary_term.variants else "")
        print(names)
        print(wrap(glossary_term.definition))
        multiple = len(glossary_term.senses) > 1
        for number, sense in enumerate(glossary_term.senses, 1):
            print()
            head = f"  {number}. {sense.label}" if multiple else f"  {sense.label}"
            paradigms = "+".join(p.value for p in sense.paradigm) if sense.paradigm else "any paradigm"
            print(f"{head}  [{paradigms}; {sense.coordinates}]")
            print(wrap(sense.meaning, indent="     "))
            if sense.methods:
                headers, rows = method_rows([catalog.methods[m] for m in sense.methods])
                print(format_table(rows, headers, indent="     ", max_width={1: 26}))
        if glossary_term.see_also:
            print(f"\n  see also: {', '.join(glossary_term.see_also)}")
        print()
    for pca_term in resolution.parameter_centric:
        print_parameter_centric(catalog, pca_term)
    if not resolution.terms and resolution.methods:
        print(f"{_short(term)} names a catalogued method:")
        print_methods(resolution.methods)
    return 0


@_guard
def _cmd_graph(args: argparse.Namespace) -> int:
    catalog = _catalog()
    if args.path:
        path = catalog.lineage_path(*args.path)
        if args.json:
            print_json([dump(catalog.methods[m]) for m in path])
        elif path:
            print(" — ".join(path))
        else:
            print(f"{args.path[0]} and {args.path[1]} are not connected by relations")
        return 0
    if args.axes is not None and not args.shared:
        raise ValueError("--axes: only applies with --shared ID")
    if args.shared:
        axes = [a.strip() for value in (args.axes or []) for a in value.split(",") if a.strip()] or None
        if args.axes is not None and not axes:
            raise ValueError("--axes: an empty value compares nothing; give axes such as 'operator,location'")
        same = catalog.sharing_coordinates(args.shared, axes) if axes else catalog.sharing_coordinates(args.shared)
        if args.json:
            print_json([dump(catalog.methods[m]) for m in same])
        else:
            print(
                f"methods with the coordinates of {args.shared} ({catalog.methods[args.shared].coordinates}"
                + (f", on {', '.join(axes)}" if axes else "")
                + "):"
            )
            print_methods([catalog.methods[m] for m in same], empty="  none")
        return 0
    if args.id:
        before = catalog.builds_on(args.id)
        after = catalog.built_upon_by(args.id)
        if args.json:
            print_json([{"id": args.id, "builds_on": before, "built_upon_by": after}])
            return 0
        print(f"{args.id} builds on:       " + (", ".join(before) or "nothing in the catalog"))
        print(f"{args.id} is built upon by: " + (", ".join(after) or "nothing in the catalog"))
        return 0
    graph = catalog.graph()
    kinds: dict[str, int] = {}
    for _, kind in graph.nodes(data="kind"):
        kinds[kind] = kinds.get(kind, 0) + 1
    edges: dict[str, int] = {}
    for _, _, kind in graph.edges(data="kind"):
        edges[kind] = edges.get(kind, 0) + 1
    relations = [(u, d["type"], v) for u, v, d in graph.edges(data=True) if d.get("kind") == "relation"]
    if args.json:
        print_json([{"source": u, "type": t, "target": v} for u, t, v in sorted(relations)])
        return 0
    from reprogrammability.tables import format_table

    print("nodes: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    print("edges: " + ", ".join(f"{n} {k}" for k, n in sorted(edges.items())))
    print()
    print(format_table(sorted(relations), ["method", "relation", "builds on"]))
    return 0


@_guard
def _cmd_export(args: argparse.Namespace) -> int:
    from .export import check_output, export, write_export

    if args.force and not args.output:
        raise ValueError("--force: only applies with --output FILE")
    if args.output:
        check_output(args.output, force=args.force)  # before any work
    catalog = _catalog()
    if args.output:
        path = write_export(catalog, args.format, args.output, force=args.force)
        print(f"wrote {path} ({args.format})", file=sys.stderr)
    else:
        sys.stdout.write(export(catalog, args.format))
    return 0


@_guard
def _cmd_import_bib(args: argparse.Namespace) -> int:
    from pathlib import Path

    import yaml

    from .bibtex import paper_stubs
    from .export import check_output

    source = Path(args.file)
    if not source.is_file():
        raise FileNotFoundError(f"file: no BibTeX file {_short(args.file)}")
    if args.force and not args.output:
        raise ValueError("--force: only applies with --output FILE")
    if args.output:
        check_output(args.output, force=args.force)
    from .bibtex import MAX_BIB_CHARS

    if source.stat().st_size > 4 * MAX_BIB_CHARS:
        raise ValueError(f"file: {source} is larger than {MAX_BIB_CHARS // 2**20} MiB; split it")
    text = source.read_text(encoding="utf-8", errors="replace")
    from .errors import CatalogError

    known = None if args.include_known else _catalog()
    try:
        stubs = paper_stubs(text, known, file=str(source))
    except CatalogError as error:  # the user's file, not the catalog's data
        raise ValueError(f"not valid BibTeX: {error}") from None
    header = (
        f"# {len(stubs)} paper stub(s) from {source.name}: fill in kind, methods, paradigm, modality, coordinates\n"
        "# and summary, then move them into catalog/papers/*.yaml and run `nnr catalog check`.\n"
    )
    body = yaml.safe_dump(stubs, sort_keys=False, allow_unicode=True, width=100) if stubs else "[]\n"
    if args.output:
        Path(args.output).write_text(header + body, encoding="utf-8")
        print(f"wrote {args.output} ({len(stubs)} stubs)", file=sys.stderr)
    else:
        sys.stdout.write(header + body)
    return 0


@_guard
def _cmd_crosscheck(args: argparse.Namespace) -> int:
    from .crosscheck import crosscheck, crosscheck_markdown

    rows = crosscheck(_catalog(), args.survey)
    if args.json:
        print_json([r.to_dict() for r in rows])
    elif args.markdown:
        sys.stdout.write(crosscheck_markdown(rows))
    else:
        from reprogrammability.tables import format_table

        table = [[r.category, r.entry or "", r.field, r.theirs, r.ours, r.reason] for r in rows]
        print(
            format_table(
                table, ["category", "ours id", "field", "theirs", "ours", "reason"], max_width={3: 30, 4: 30, 5: 70}
            )
        )
        print(f"\n{len(rows)} differences")
    return 0


def _entry_misfits(path: str) -> list["Finding"]:
    """Catalog-level findings about a method file (relations, cycles, names, time order, glossary, axis
    rules) before the validator runs; a file that does not load is left to the validator's report."""
    from pathlib import Path

    from .checks import check_entry
    from .errors import CatalogError
    from .parsing import load_method_file

    if not Path(path).is_file():
        return []
    try:
        entry = load_method_file(path)
    except CatalogError:
        return []
    return check_entry(_catalog(), entry)


def _cmd_check(args: argparse.Namespace) -> int:
    if args.entry:
        if args.only:
            print("nnr catalog check: --only applies to the whole-catalog check (give no ENTRY)", file=sys.stderr)
            return 2
        misfits = _entry_misfits(args.entry)
        notes = [f for f in misfits if f.check == "glossary"]  # a new method is added to the glossary later
        misfits = [f for f in misfits if f.check != "glossary"]
        for note in notes:
            print(f"nnr catalog check: note: {note}", file=sys.stderr)
        if misfits:
            if args.json:
                print_json([f.to_dict() for f in misfits])
            else:
                print(f"nnr catalog check: {args.entry} does not fit the catalog:", file=sys.stderr)
                for finding in misfits:
                    print(f"  {finding}", file=sys.stderr)
            return 1
        from reprogrammability.framework import validation_cli

        return int(validation_cli.run_catalog_check(args))
    if args.implementation:
        print("nnr catalog check: --implementation needs an ENTRY (a method's YAML file)", file=sys.stderr)
        return 2
    from .checks import check_catalog
    from .errors import CatalogError

    try:
        catalog = _catalog()
    except CatalogError as error:
        if args.json:
            print_json(
                [
                    {
                        "check": "load",
                        "file": error.file,
                        "field": error.field,
                        "entry": error.entry or "",
                        "message": error.detail,
                    }
                ]
            )
        else:
            print(f"nnr catalog check: the catalog does not load: {error}", file=sys.stderr)
        return 1
    findings = check_catalog(catalog, args.only)
    if args.json:
        print_json([f.to_dict() for f in findings])
    else:
        for finding in findings:
            print(finding)
        checks = args.only or ", ".join(CHECK_NAMES)
        summary = (
            f"{len(catalog.methods)} methods, {len(catalog.papers)} papers, {len(catalog.glossary)} glossary terms"
        )
        if findings:
            print(f"\n{len(findings)} finding{'s' if len(findings) != 1 else ''} ({checks}; {summary})")
        else:
            print(f"catalog consistent ({checks}; {summary})")
    return 1 if findings else 0


# --- registration ----------------------------------------------------------------------------------------


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``catalog`` and its subcommands to the ``nnr`` parser."""
    parser = subparsers.add_parser(
        "catalog",
        help="query the survey's methods and papers on the four axes",
        description="The survey as data: methods, papers and literature names on the axes (λ, τ, ℓ, ω).",
    )

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 0

    parser.set_defaults(handler=show_help)
    sub = parser.add_subparsers(dest="catalog_command", metavar="SUBCOMMAND")

    p = sub.add_parser("list", help="all methods (or those matching filters) as a table")
    _add_filters(p)
    p.add_argument("--json", action="store_true", help="print a JSON list of entries (YAML field names)")
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("papers", help="papers that apply, analyse or extend the methods")
    _add_filters(p)
    p.add_argument("--method", action="append", metavar="ID", help="only papers about this method")
    p.add_argument(
        "--kind",
        action="append",
        metavar="KIND",
        help="application, analysis, extension, theory, survey, benchmark, enabler",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of entries (YAML field names)")
    p.set_defaults(handler=_cmd_papers)

    p = sub.add_parser("show", help="one or more methods or papers in full")
    p.add_argument("id", nargs="+", help="method or paper id")
    p.add_argument("--json", action="store_true", help="print a JSON list of entries (YAML field names)")
    p.set_defaults(handler=_cmd_show)

    p = sub.add_parser("query", help="methods (or papers) by coordinates, paradigm, modality, access, year, text")
    _add_filters(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--papers", action="store_true", help="search the papers instead of the methods")
    which.add_argument("--all", action="store_true", help="search methods and papers")
    p.add_argument("--json", action="store_true", help="print a JSON list of entries (YAML field names)")
    p.set_defaults(handler=_cmd_query)

    p = sub.add_parser("resolve", help="what a literature name means: coordinates and the methods that carry it")
    p.add_argument("term", nargs="+", help='a name such as "soft prompt", "label mapping", "visual prompting"')
    p.add_argument("--json", action="store_true", help="print a JSON list of glossary entries (YAML field names)")
    p.set_defaults(handler=_cmd_resolve)

    p = sub.add_parser("graph", help="lineage: what a method builds on, what builds on it, paths, shared coordinates")
    p.add_argument("id", nargs="?", help="a method id: show what it builds on and what builds on it")
    p.add_argument("--path", nargs=2, metavar=("FROM", "TO"), help="the chain of relations between two methods")
    p.add_argument("--shared", metavar="ID", help="methods with the same coordinates as ID")
    p.add_argument("--axes", action="append", metavar="AXIS", help="with --shared: compare only these axes")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_cmd_graph)

    p = sub.add_parser("export", help="the catalog as JSON, CSV, BibTeX, Mermaid or GraphML")
    p.add_argument("--format", required=True, choices=["json", "csv", "bibtex", "mermaid", "graphml"])
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(handler=_cmd_export)

    p = sub.add_parser("import-bib", help="paper entry stubs (YAML) from a .bib file, to complete by hand")
    p.add_argument("file", help="a BibTeX file")
    p.add_argument("--output", "-o", metavar="FILE", help="write the stubs to FILE instead of standard output")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--include-known", action="store_true", help="also papers already in the catalog")
    p.set_defaults(handler=_cmd_import_bib)

    p = sub.add_parser("crosscheck", help="where our labels differ from the survey's list, with the reasons")
    p.add_argument(
        "--survey",
        metavar="PATH",
        help="the survey's data folder (default: the copy shipped in the package, catalog/survey/)",
    )
    form = p.add_mutually_exclusive_group()
    form.add_argument("--markdown", action="store_true", help="print the documentation page")
    form.add_argument("--json", action="store_true", help="print a JSON list of rows")
    p.set_defaults(handler=_cmd_crosscheck)

    from reprogrammability.framework import validation_cli

    p = sub.add_parser(
        "check",
        help="check the whole catalog (time order, glossary, axis rules), or one new entry with its implementation",
        description="Without ENTRY: load the catalog and run the consistency checks (time order of relations, "
        "glossary reachability, axis rules); exit 1 when anything is found. With ENTRY: validate that entry "
        "together with its implementation (schema, coordinates and every check of `nnr validate`).",
    )
    validation_cli.add_catalog_check_arguments(p)
    for action in p._actions:  # the entry is optional here: without it the whole catalog is checked
        if action.dest == "entry":
            action.nargs, action.required, action.default = "?", False, None
    p.add_argument("--only", choices=CHECK_NAMES, help="without ENTRY: run only this check")
    p.set_defaults(handler=_cmd_check)
