"""``theory.md``: the checked propositions of :mod:`reprogrammability.framework.theory` with the residuals
measured in ``benchmarks/results/theory.json``; :func:`method_theory_lines` links them from method pages."""

from __future__ import annotations

from typing import Any

from ..common import Content, Site, cell, method_link, relative_link, slug

PAGE = "theory.md"


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    return cell(value)


def _flat(measurements: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in measurements.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flat(value, f"{name} · ")
        else:
            rows.append((name.replace("_", " "), value))
    return rows


def _anchor(proposition: Any) -> str:
    return slug(proposition.title)


def method_theory_lines(source: str, method_id: str) -> list[str]:
    """A "Theory" section for the method page ``source``: links to the propositions about ``method_id``."""
    from reprogrammability.framework.theory import for_method

    found = for_method(method_id)
    if not found:
        return []
    page = relative_link(source, PAGE)
    lines = ["## Theory", "", "Checked propositions that concern this method:", ""]
    lines += [f"- [{p.title}]({page}#{_anchor(p)}) (`{p.id}`)" for p in found]
    return lines + [""]


def _verdict(row: dict[str, Any]) -> str:
    return "passes" if row["passed"] else "**fails**"


def theory_page(report: dict[str, Any] | None, thorough: dict[str, Any] | None = None) -> str:
    """The page from the default report (with broken variants) and, when there is one, the ``--thorough`` report."""
    from reprogrammability.framework.theory import PROPOSITIONS
    from reprogrammability.framework.theory.results import COMMAND, THOROUGH_COMMAND

    measured = {row["proposition"]: row for row in (report or {}).get("results", [])}
    larger = {row["proposition"]: row for row in (thorough or {}).get("results", [])}
    broken: dict[str, list[dict]] = {}
    for row in (report or {}).get("broken_variants", []):
        broken.setdefault(row["proposition"], []).append(row)
    lines = [
        "# Theory",
        "",
        "Results from the literature that explain why and when reprogramming works, and where it cannot, stated "
        "with their assumptions and checked numerically: each check builds random instances in float64 (random "
        "shapes and seeds, like a property test) and measures a residual, or, for a limitation, constructs the "
        "counterexample and measures how far every prompt stays from it. Each check also has deliberately broken "
        "variants (a wrong sign, a wrong gate, a wrong normalisation) that must fail, so no check passes vacuously.",
        "",
        f"Run them: `nnr theory list`, `nnr theory check [ID] [--thorough]`. The numbers below come from "
        f"`benchmarks/results/theory.json`, written by `{COMMAND}`, and for the larger instances from "
        f"`benchmarks/results/theory_thorough.json`, written by `{THOROUGH_COMMAND}`.",
        "",
    ]
    if report:
        machine, versions = report.get("machine", {}), report.get("versions", {})
        lines += [
            f"Run of {report.get('created', '?')}: seed {report.get('seed')}, "
            f"{'thorough' if report.get('thorough') else 'default'} shapes, {machine.get('processor', '?')} "
            f"({machine.get('cpu_count', '?')} CPUs), torch {versions.get('torch', '?')}.",
            "",
        ]
    else:
        lines += ["No results yet: run the command above.", ""]
    lines += [
        "| proposition | kind | source | measured | check | `--thorough` | criterion |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in PROPOSITIONS:
        row, big = measured.get(p.id), larger.get(p.id)
        source = p.sources[0]
        value = _number(row["value"]) if row else "not run"
        status = _verdict(row) if row else ""
        criterion = cell(row["criterion"]) if row else ""
        big_value = f"{_number(big['value'])}, {_verdict(big)}" if big else "not run"
        lines.append(
            f"| [{cell(p.title)}](#{_anchor(p)}) | {p.kind} | {cell(source.authors.split(',')[0])} et al. "
            f"{source.year} | {value} | {status} | {big_value} | {criterion} |"
        )
    lines.append("")
    for p in PROPOSITIONS:
        lines += [f"## {p.title}", "", f"`{p.id}` · {p.kind}", "", f"**Statement.** {p.statement}", ""]
        lines += ["**Assumptions.**", ""] + [f"- {a}" for a in p.assumptions] + [""]
        lines += ["**Source.**", ""]
        for s in p.sources:
            title = f"[{s.title}]({s.url})" if s.url else s.title
            where = f"; {s.where}" if s.where else ""
            arxiv = f", arXiv:{s.arxiv}" if s.arxiv else ""
            lines.append(f"- {s.authors} ({s.year}). *{title}*. {s.venue}{arxiv}{where}.")
        lines.append("")
        if p.own:
            lines += [f"**Our part.** {p.own}", ""]
        links = ", ".join(method_link(PAGE, m) for m in p.methods)
        lines += [f"**Methods.** {links}", "", f"**How it is checked.** {p.how}", ""]
        row = measured.get(p.id)
        if row:
            lines += [
                f"**Measured.** {row['quantity']} = {_number(row['value'])} (criterion: {row['criterion']}; "
                f"{row['instances']} instances, {row['seconds']:.1f} s): {_verdict(row)}.",
                "",
            ]
            big = larger.get(p.id)
            if big:
                lines += [
                    f"With `--thorough`: {_number(big['value'])} ({big['instances']} instances, "
                    f"{big['seconds']:.1f} s): {_verdict(big)}.",
                    "",
                ]
            lines += [
                "| measurement | value |",
                "|---|---|",
            ]
            lines += [f"| {cell(name)} | {_number(value)} |" for name, value in _flat(row["measurements"])]
            lines.append("")
        variants = {v["variant"]: v for v in broken.get(p.id, [])}
        lines += ["**Broken variants** (each must fail):", ""]
        for name, what in p.variants.items():
            outcome = variants.get(name)
            state = (
                ("fails, as it must" if not outcome["passed"] else "**passes: the check is vacuous**")
                if outcome
                else "not run"
            )
            lines.append(f"- `{name}`: {what}: {state}.")
        lines.append("")
    return "\n".join(lines)


def pages(site: Site) -> dict[str, Content]:
    from reprogrammability.framework.theory.results import DEFAULT_PATH, THOROUGH_PATH, load_report

    report, thorough = (load_report(site.results_dir / path.name) for path in (DEFAULT_PATH, THOROUGH_PATH))
    return {PAGE: theory_page(report, thorough)}
