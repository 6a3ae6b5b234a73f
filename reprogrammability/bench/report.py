"""The report of a bench run as files: a Markdown table, a bar plot of the ratios, and the JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..outputs import output_mode
from .suites import REGISTRY


def _mark(passed: bool | None, op: str) -> str:
    if passed is None:
        return "—"
    if op in ("<", ">"):  # an option: kept only if it helps
        return "helps" if passed else "no gain"
    return "pass" if passed else "FAIL"


def _fmt_target(row: dict[str, Any]) -> str:
    return "—" if row["target"] is None else f"{row['op']} {row['target']:g}"


def table(report: dict[str, Any]) -> str:
    """The ratios as a Markdown table (ratio, value, target, mark, times)."""
    m = report["machine"]
    load = m.get("load_average")
    lines = [
        f"nnr bench ({report['mode']}): {m['device']}"
        + (f" ({m['gpu']})" if m.get("gpu") else f", {m['processor']}, {m['torch_threads']} torch thread(s)")
        + f", clock: {report['clock']}"
        + (f", load average {load[0]:.2f} at start" if load else ""),
        "",
        "| ratio | value | target | | numerator | denominator | what |",
        "|---|---:|---:|---|---:|---:|---|",
    ]
    for row in report["ratios"]:
        num = "" if row["numerator_s"] is None else f"{row['numerator_s'] * 1e3:.1f} ms"
        den = "" if row["denominator_s"] is None else f"{row['denominator_s'] * 1e3:.1f} ms"
        if row["name"].endswith("memory/peft"):
            num = f"{row['extra']['ours_bytes'] / 2**20:.1f} MB"
            den = f"{row['extra']['peft_bytes'] / 2**20:.1f} MB"
        if row["name"] == "options.host_syncs_per_step":
            num = den = ""
        lines.append(
            f"| {row['name']} | {row['value']:.3f} | {_fmt_target(row)} | {_mark(row['passed'], row['op'])} "
            f"| {num} | {den} | {row['description']} |"
        )
    notes = [note for suite in REGISTRY.values() for note in suite.notes(report)]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Horizontal bars: each ratio (log scale) with its target tick. Targets: green met, red missed; options
    (kept only if they help): blue helps, grey no gain; no target: grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    rows = [r for r in report["ratios"] if r["name"] != "options.host_syncs_per_step" and r["value"] > 0]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.6))
    for i, row in enumerate(rows):
        option = row["op"] in ("<", ">")
        colour = (
            "#b0b0b0"
            if row["passed"] is None
            else (
                ("#2f6fb0" if row["passed"] else "#b0b0b0") if option else ("#3a923a" if row["passed"] else "#c0392b")
            )
        )
        ax.barh(i, row["value"], color=colour)
        right = row["value"]
        if row["target"] is not None:
            ax.plot([row["target"]] * 2, [i - 0.42, i + 0.42], color="black", linewidth=2)
            right = max(right, row["target"])
        label = f" {row['value']:.2f}" + ("" if row["target"] is None else f"  ({row['op']} {row['target']:g})")
        ax.text(right * 1.02, i, label, va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    values = [r["value"] for r in rows] + [r["target"] for r in rows if r["target"]]
    low, high = min(values + [1.0]) * 0.8, max(values + [1.0]) * 2.2
    ax.set_xlim(low, high)
    ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2, 3, 5, 10, 20, 50) if low <= t <= high]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.axvline(1.0, color="#999999", linewidth=0.8, linestyle=":")
    m = report["machine"]
    where = m.get("gpu") or f"{m['device']} ({m['torch_threads']} thread(s), clock: {report['clock']} time)"
    load = m.get("load_average")
    ax.set_title(
        f"nnr bench ({report['mode']}) on {where}"
        + (f", load average {load[0]:.1f}" if load else "")
        + "\nbars: measured ratios; black ticks: targets; blue/grey: options that help / do not",
        fontsize=9,
    )
    ax.set_xlabel("ratio (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


def write_report(report: dict[str, Any], directory: Path, overwrite: bool = False) -> list[Path]:
    """``<stem>.json``, ``.md`` and ``.png`` in ``directory`` (see :func:`result_stem`); refuses to overwrite
    unless ``overwrite``.

    All three are written under temporary names first, then renamed, the JSON (the result itself; the table and
    the plot are drawn from it) last: a run killed at any moment leaves either no new JSON or a complete set.
    """
    stem = report["stem"]
    paths = [directory / f"{stem}.{ext}" for ext in ("json", "md", "png")]
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"output: {existing[0]} exists; pass --overwrite to replace it")
    directory.mkdir(parents=True, exist_ok=True)
    staged = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in paths]
    try:
        staged[0].write_text(json.dumps(report, indent=2, default=float) + "\n")
        staged[1].write_text(table(report) + "\n")
        plot(report, staged[2])
        for temporary, final in zip(staged[::-1], paths[::-1], strict=True):  # the JSON last
            os.chmod(temporary, output_mode())
            os.replace(temporary, final)
    finally:
        for temporary in staged:
            temporary.unlink(missing_ok=True)
    return paths
