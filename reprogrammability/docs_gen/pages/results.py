"""``results/index.md`` and the files it shows, from ``benchmarks/results/*.{json,md,png}``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

from ..common import (
    Content,
    Site,
    cell,
)


def _demote(markdown: str) -> str:
    out = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,5} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


_LOCAL_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _local_links_only(markdown: str, available: set[str]) -> str:
    """Keep links to files that are published with the page; turn others into plain text."""

    def fix(match: re.Match) -> str:
        bang, text, target = match.groups()
        if re.match(r"^[a-z]+:", target) or target.startswith("#") or target.split("#")[0] in available:
            return match.group(0)
        return f"{text} (`{target}`, not published)"

    return _LOCAL_LINK.sub(fix, markdown)


def _json_tables(value: Any, title: str = "", depth: int = 0) -> list[str]:
    """Lists of flat dicts inside a results JSON, as Markdown tables (for results without a .md)."""
    lines: list[str] = []
    if depth > 4:
        return lines
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = [k for k in value[0] if all(not isinstance(v.get(k), (dict, list)) for v in value)]
        if keys:
            if title:
                lines += [f"**{title}**", ""]
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            for v in value:
                cells = []
                for k in keys:
                    item = v.get(k, "")
                    cells.append(f"{item:.4g}" if isinstance(item, float) else cell(item))
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        for i, v in enumerate(value):
            for k, sub in v.items():
                if isinstance(sub, (list, dict)):
                    lines += _json_tables(sub, f"{title} {i + 1} · {k}".strip(" ·"), depth + 1)
    elif isinstance(value, dict):
        for k, sub in value.items():
            if k in ("environment", "arguments"):
                continue
            if isinstance(sub, (list, dict)):
                lines += _json_tables(sub, f"{title} · {k}".strip(" ·"), depth + 1)
    return lines


def results_pages(results_dir: Path, benchmarks_dir: Optional[Path] = None) -> dict[str, Content]:
    """``results/index.md`` and the files it shows, from ``benchmarks/results`` (whatever exists)."""
    benchmarks_dir = benchmarks_dir or results_dir.parent
    files: dict[str, Content] = {}
    lines = [
        "# Results",
        "",
        "Tables and plots written by the benchmark scripts in `benchmarks/` into `benchmarks/results/`, "
        "as they were when this site was built. Each section names the run (date, machine, settings); "
        "re-run a script to refresh it.",
        "",
    ]
    results = (
        sorted(p for p in results_dir.glob("*") if p.suffix in (".json", ".md", ".png")) if results_dir.is_dir() else []
    )
    stems = sorted({p.stem for p in results})
    scripts = (
        sorted(p for p in benchmarks_dir.glob("*.py") if not p.name.startswith("_")) if benchmarks_dir.is_dir() else []
    )
    published = {p.name for p in results if p.suffix in (".png", ".json")}
    for stem in stems:
        json_file, md_file, png_file = (results_dir / f"{stem}{s}" for s in (".json", ".md", ".png"))
        lines += [f"## {stem.replace('_', ' ')}", ""]
        data = None
        if json_file.exists():
            try:
                data = json.loads(json_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                lines += [f"`{json_file.name}` could not be read: {error}", ""]
        if md_file.exists():
            text = md_file.read_text(encoding="utf-8")
            text = re.sub(r"\A# [^\n]*\n", "", text)  # the section heading replaces the file's title
            lines += [_local_links_only(_demote(text), published).strip(), ""]
        elif isinstance(data, dict):
            environment = data.get("environment")
            if isinstance(environment, dict):
                lines += ["Run: " + ", ".join(f"{k} {v}" for k, v in environment.items()), ""]
            lines += _json_tables(data) or ["(no tables in this result file)", ""]
        if png_file.exists():
            files[f"results/{png_file.name}"] = png_file.read_bytes()
            lines += [f"![{stem}]({png_file.name})", ""]
        if json_file.exists():
            files[f"results/{json_file.name}"] = json_file.read_bytes()
            lines += [f"Raw data: [{json_file.name}]({json_file.name}).", ""]
    if not stems:
        lines += ["No benchmark has been run yet: `benchmarks/results/` is empty.", ""]
    not_run = [s for s in scripts if not any(stem.startswith(s.stem) for stem in stems)]
    if scripts:
        lines += ["## The benchmark scripts", "", "| script | what it measures | results |", "|---|---|---|"]
        for script in scripts:
            doc = _module_docstring(script)
            first = doc.splitlines()[0] if doc else ""
            state = (
                "not yet run" if script in not_run else ", ".join(f"`{s}`" for s in stems if s.startswith(script.stem))
            )
            lines.append(f"| `benchmarks/{script.name}` | {cell(first)} | {state} |")
        lines.append("")
    files["results/index.md"] = "\n".join(lines)
    return files


def _module_docstring(path: Path) -> str:
    import ast

    try:
        return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, ValueError):
        return ""


def pages(site: Site) -> dict[str, Content]:
    return results_pages(site.results_dir)
