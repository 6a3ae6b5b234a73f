"""The page "RCA vs PCA": every committed ``benchmarks/results/compare_*.json`` (``nnr compare``) as tables, a plot
of accuracy against trainable parameters per setting, and sentences whose numbers are computed from the results.

Computed, never typed: the orders of magnitude between reprogramming-centric (RCA) and parameter-centric (PCA)
trainable-parameter counts, ``log10(|θ_PCA| / |θ_RCA|)``; the accuracy gap in points; the paired ILM − FLM
difference over seeds with its t statistic; the budget at which VR trails or matches a linear probe; BAR's
accuracy against its query count. Where the data contradict the survey's claim (RCA needs two to three orders of
magnitude fewer trainable parameters than PCA), the page says so.
"""

from __future__ import annotations

import io
import json
import math
import statistics
from pathlib import Path
from typing import Any

from ..common import Content, Site, cell

PAGE = "results/rca-vs-pca.md"
CLAIM_ORDERS = (2.0, 3.0)
"""The survey's claim: RCA trains two to three orders of magnitude fewer parameters than PCA."""

T_CRITICAL_95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23}
"""Two-sided 95 % critical values of Student's t by degrees of freedom (paired test over seeds)."""


def load_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every ``compare_*.json`` in ``results_dir`` that is not a ``_quick`` run, by setting name."""
    documents = []
    for path in sorted(Path(results_dir).glob("compare_*.json")):
        if path.stem.endswith("_quick"):
            continue
        document = json.loads(path.read_text())
        if document.get("schema") != "nnr-compare/1":
            continue
        document["_file"] = path.name
        documents.append(document)
    return sorted(documents, key=lambda d: d["setting"])


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value} B"


def _flops(value: float | None) -> str:
    if value is None:
        return "—"
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:+.3g} {unit}"
    return f"{value:+.3g}"


def table(document: dict[str, Any]) -> str:
    """The setting's rows as a Markdown table."""
    n = len(document["seeds"])
    lines = [
        "| method | family | coordinates | access | trainable | of f | bytes | accuracy % (mean ± std, "
        f"{n} seeds) | step (ms) | to {100 * document['budget']['target_accuracy']:.0f} % | peak train memory "
        "| extra FLOPs / query | time vs bare f |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in document["rows"]:
        accuracy = row["accuracy"]
        overhead = row.get("inference_overhead") or {}
        reached = row.get("seeds_reaching_target")
        if row.get("time_to_target_s") is None:
            target = "not reached"
        else:
            target = f"{row['time_to_target_s']:.1f} s ({row['steps_to_target']} steps"
            target += f", {reached}/{n} seeds)" if reached is not None else ")"
        ratio = overhead.get("extra_time_ratio")
        queries = f" ({row['queries']:,} queries)" if row.get("queries") else ""
        lines.append(
            "| "
            + " | ".join(
                [
                    cell(row["label"]) + queries,
                    row["family"],
                    cell(row["coordinates"] or "—"),
                    row["access"],
                    f"{row['trainable_parameters']:,}",
                    f"{row['fraction_of_f']:.2e}",
                    _bytes(row["adaptation_bytes"]),
                    f"{_pct(accuracy['mean'])} ± {_pct(accuracy['std'])}",
                    f"{1000 * row['step_time_s']['mean']:.0f}",
                    target,
                    _bytes(row.get("peak_train_memory_bytes")),
                    _flops(overhead.get("extra_flops")),
                    "—" if ratio is None or not math.isfinite(ratio) else f"{ratio:.2f}×",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def _trained(rows: list[dict[str, Any]], family: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["family"] == family and r["trainable_parameters"] > 0]


def orders_of_magnitude(document: dict[str, Any]) -> dict[str, float]:
    """PCA method -> log10(|θ_PCA| / median |θ_RCA|) over the RCA rows that train parameters."""
    rca = _trained(document["rows"], "RCA")
    if not rca:
        return {}
    reference = statistics.median(r["trainable_parameters"] for r in rca)
    return {r["method"]: math.log10(r["trainable_parameters"] / reference) for r in _trained(document["rows"], "PCA")}


def claim_sentences(document: dict[str, Any]) -> list[str]:
    """Computed sentences: RCA vs full fine-tuning (parameters and accuracy), the orders-of-magnitude figure against
    every PCA method and whether the survey's claim holds, and the accuracy gap at this budget."""
    rows = {r["method"]: r for r in document["rows"]}
    out = []
    full = rows.get("full-ft")
    if full is not None:
        for row in _trained(document["rows"], "RCA"):
            share = row["trainable_parameters"] / full["trainable_parameters"]
            gap = 100 * (full["accuracy"]["mean"] - row["accuracy"]["mean"])
            verdict = f"{gap:.1f} points less accuracy" if gap >= 0 else f"{-gap:.1f} points more accuracy"
            out.append(
                f"{row['label']} trains 10^{math.log10(share):.1f} ({share:.1e}) of full fine-tuning's parameters "
                f"for {verdict} ({_pct(row['accuracy']['mean'])} % vs {_pct(full['accuracy']['mean'])} %)."
            )
    orders = orders_of_magnitude(document)
    if orders:
        rca = _trained(document["rows"], "RCA")
        median = statistics.median(r["trainable_parameters"] for r in rca)
        listed = "; ".join(f"{rows[m]['label']}: {v:.1f}" for m, v in orders.items())
        out.append(
            f"Orders of magnitude between PCA and RCA trainable parameters (log10 of the PCA count over the median "
            f"RCA count, {median:,.0f}): {listed}."
        )
        low, _ = CLAIM_ORDERS
        holds = [rows[m]["label"] for m, v in orders.items() if v >= low]
        fails = [(rows[m]["label"], v) for m, v in orders.items() if v < low]
        if holds:
            out.append(
                f"The survey's claim (two to three orders of magnitude fewer) holds against: {', '.join(holds)}."
            )
        if fails:
            out.append(
                "**The data contradict the claim** against "
                + ", ".join(f"{label} ({v:.1f} orders)" for label, v in fails)
                + ": these PCA methods train fewer than 100× the parameters of the median RCA row here."
            )
    pca, rca = _trained(document["rows"], "PCA"), [r for r in document["rows"] if r["family"] == "RCA"]
    if pca and rca:
        best_pca = max(pca, key=lambda r: r["accuracy"]["mean"])
        best_rca = max(rca, key=lambda r: r["accuracy"]["mean"])
        gap = 100 * (best_pca["accuracy"]["mean"] - best_rca["accuracy"]["mean"])
        steps = document["budget"]["steps"]
        if gap > 0:
            out.append(
                f"At this budget ({steps} steps of {document['budget']['batch_size']}), the best RCA row "
                f"({best_rca['label']}, {_pct(best_rca['accuracy']['mean'])} %) **trails** the best PCA row "
                f"({best_pca['label']}, {_pct(best_pca['accuracy']['mean'])} %) by {gap:.1f} points."
            )
        else:
            out.append(
                f"At this budget ({steps} steps), the best RCA row ({best_rca['label']}) matches or beats the best "
                f"PCA row ({best_pca['label']}) by {-gap:.1f} points."
            )
    return out


def paired_difference(first: list[float], second: list[float]) -> dict[str, float] | None:
    """Paired differences first − second over seeds: mean, sample std, t = mean / (std / √n), 95 % critical t."""
    n = len(first)
    if n < 2 or len(second) != n:
        return None
    diffs = [a - b for a, b in zip(first, second)]
    mean, std = statistics.fmean(diffs), statistics.stdev(diffs)
    t = math.inf if std == 0 and mean != 0 else (0.0 if std == 0 else mean / (std / math.sqrt(n)))
    return {"n": n, "mean": mean, "std": std, "t": t, "critical": T_CRITICAL_95.get(n - 1, 1.96)}


def ilm_vs_flm(document: dict[str, Any]) -> str | None:
    rows = {r["method"]: r for r in document["rows"]}
    if "vr-ilm" not in rows or "vr-flm" not in rows:
        return None
    test = paired_difference(rows["vr-ilm"]["accuracy"]["per_seed"], rows["vr-flm"]["accuracy"]["per_seed"])
    if test is None:
        return None
    real = abs(test["t"]) > test["critical"]
    return (
        f"ILM − FLM on {document['setting']}: {100 * test['mean']:+.1f} ± {100 * test['std']:.1f} points over "
        f"{test['n']} paired seeds (same data, seed and budget), t = {test['t']:.2f} against a 95 % critical value of "
        f"{test['critical']:.2f}: "
        + (
            "the difference is **real** at this budget."
            if real
            else "the difference is **not distinguishable** from seed noise."
        )
    )


def budget_comparison(documents: list[dict[str, Any]]) -> list[str]:
    """VR rows against the linear probe in a setting and in its ``-long`` counterpart (same task, more steps)."""
    by = {d["setting"]: d for d in documents}
    lines = []
    for name, long in by.items():
        if not name.endswith("-long") or name.removesuffix("-long") not in by:
            continue
        short = by[name.removesuffix("-long")]
        lines += [
            f"| method | accuracy % at {short['budget']['steps']} steps | accuracy % at {long['budget']['steps']} "
            "steps | gap to the linear probe (points), small → large budget |",
            "|---|---:|---:|---:|",
        ]
        rows_short = {r["method"]: r for r in short["rows"]}
        rows_long = {r["method"]: r for r in long["rows"]}
        probe_short, probe_long = rows_short.get("linear-probe"), rows_long.get("linear-probe")
        for method, row in rows_long.items():
            if method not in rows_short:
                continue
            gap = ""
            if probe_short and probe_long and method != "linear-probe":
                a = 100 * (row["accuracy"]["mean"] - probe_long["accuracy"]["mean"])
                b = 100 * (rows_short[method]["accuracy"]["mean"] - probe_short["accuracy"]["mean"])
                gap = f"{b:+.1f} → {a:+.1f}"
            lines.append(
                f"| {cell(row['label'])} | {_pct(rows_short[method]['accuracy']['mean'])} ± "
                f"{_pct(rows_short[method]['accuracy']['std'])} | {_pct(row['accuracy']['mean'])} ± "
                f"{_pct(row['accuracy']['std'])} | {gap} |"
            )
        lines.append("")
    return lines


def bar_curves(document: dict[str, Any]) -> dict[str, list[tuple[float, float, float]]]:
    """Black-box rows -> [(queries, mean accuracy, std)] over seeds, from the start (0 queries) to the end."""
    curves = {}
    for row in document["rows"]:
        extras = row.get("per_seed_extra") or []
        if not extras or "queries_per_step" not in extras[0]:
            continue
        points: dict[float, list[float]] = {
            0.0: [e["start_accuracy"] for e in extras if e.get("start_accuracy") is not None]
        }
        for extra in extras:
            for step, accuracy in extra["checkpoints"]:
                points.setdefault(step * extra["queries_per_step"], []).append(accuracy)
        curves[row["label"]] = [
            (q, statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0) for q, v in sorted(points.items()) if v
        ]
    return curves


def _svg(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "reprogrammability", "svg.fonttype": "none", "font.size": 8})
    return plt


def accuracy_parameters_svg(document: dict[str, Any]) -> bytes:
    """Accuracy (mean ± std) against trainable parameters on a log axis; PCA squares, RCA circles."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for row in document["rows"]:
        if row["trainable_parameters"] <= 0:
            continue
        pca = row["family"] == "PCA"
        ax.errorbar(
            row["trainable_parameters"],
            100 * row["accuracy"]["mean"],
            yerr=100 * row["accuracy"]["std"],
            fmt="s" if pca else "o",
            color="#d62728" if pca else "#1f77b4",
            capsize=2,
        )
        ax.annotate(
            row["method"],
            (row["trainable_parameters"], 100 * row["accuracy"]["mean"]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale); squares PCA, circles RCA")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{document['setting']}: {document['model']['name']} → {document['task']['name']}", fontsize=8)
    return _svg(fig)


def bar_svg(curves: dict[str, list[tuple[float, float, float]]], chance: float) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for label, points in curves.items():
        xs, ys, es = zip(*points)
        ax.errorbar(xs, [100 * y for y in ys], yerr=[100 * e for e in es], marker="o", capsize=2, label=label)
    ax.axhline(100 * chance, color="grey", linestyle=":", label="chance")
    ax.set_xlabel("queries to the black-box model (training)")
    ax.set_ylabel("test accuracy (%, checkpoint subset)")
    ax.legend(frameon=False, fontsize=7)
    return _svg(fig)


def _setting_section(document: dict[str, Any], figure: str) -> list[str]:
    task, budget, machine = document["task"], document["budget"], document.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in document.get("versions", {}).items())
    lines = [
        f"## {document['setting']}",
        "",
        f"f: {document['model']['name']} ({document['model']['parameters']:,} parameters, frozen for every RCA row). "
        f"Task: {task['name']} (source: {task['source']}; licence {task['license']}), {task['train']} training / "
        f"{task['test']} test examples, {task['classes']} classes. Budget: {budget['steps']} steps of "
        f"{budget['batch_size']} ({budget['lr_policy']}); seeds {document['seeds']}. Reproduce: `{document['command']}` "
        f"(file `benchmarks/results/{document['_file']}`, {document['wall_s'] / 60:.0f} min on "
        f"{machine.get('cpu_count', '?')} CPU(s), {machine.get('torch_threads', '?')} torch thread(s); {versions}).",
        "",
    ]
    if document.get("complete") is False:
        lines += [
            "**Partial run**: only the methods in the table finished; the file was written after each method.",
            "",
        ]
    lines += [
        table(document),
        "",
        f"![accuracy against trainable parameters, {document['setting']}]({figure})",
        "",
    ]
    lines += [f"- {sentence}" for sentence in claim_sentences(document)]
    ilm = ilm_vs_flm(document)
    if ilm:
        lines.append(f"- {ilm}")
    if document.get("notes"):
        lines += ["", "Notes:", ""] + [f"- {cell(note)}" for note in document["notes"]]
    return lines + [""]


def render(documents: list[dict[str, Any]]) -> dict[str, Content]:
    """The page and its figures from the loaded results."""
    out: dict[str, Content] = {}
    lines = [
        "# RCA vs PCA",
        "",
        "The survey's central claim, measured: on one frozen model and task, with the same data, seeds and budget, "
        "reprogramming-centric adaptation (RCA: input manipulation + output alignment, f frozen) against "
        "parameter-centric adaptation (PCA: full fine-tuning, linear probe, BitFit, LoRA, bottleneck adapters). "
        "Produced by `nnr compare` (one JSON file per setting in `benchmarks/results/`); every number on this page is "
        "read or computed from those files.",
        "",
    ]
    if not documents:
        lines.append("No results yet: run `nnr compare` (its JSON files appear in `benchmarks/results/`).")
        out[PAGE] = "\n".join(lines) + "\n"
        return out
    for document in documents:
        figure = f"rca-vs-pca-{document['setting']}.svg"
        out[f"results/{figure}"] = accuracy_parameters_svg(document)
        lines += _setting_section(document, figure)
    budget = budget_comparison(documents)
    if budget:
        lines += [
            "## At which budget does each comparison hold?",
            "",
            "The same task with more training steps (the `-long` setting): VR rows against the linear probe.",
            "",
        ] + budget
    for document in documents:
        curves = bar_curves(document)
        if not curves:
            continue
        figure = f"rca-vs-pca-queries-{document['setting']}.svg"
        out[f"results/{figure}"] = bar_svg(curves, 1.0 / document["task"]["classes"])
        lines += [
            f"## Black-box reprogramming: accuracy against queries ({document['setting']})",
            "",
            "Accuracy at 0 queries is the program-free start: the many-to-one frequency label map fitted from queried "
            "outputs. The RGF estimate with q directions in d dimensions is mostly noise (cos(ĝ, ∇L) ≈ √(q/d)); "
            "Adam divides each coordinate by its running RMS and so steps every coordinate by about its learning "
            "rate whatever the estimate, while BAR's own update W ← W − α ĝ (ZO-SGD, `bar.trainer_options`) "
            "scales with the estimate. Compare the two rows' changes below.",
            "",
        ]
        lines += ["| method | queries | accuracy % (mean ± std over seeds) |", "|---|---:|---:|"]
        for label, points in curves.items():
            lines += [f"| {cell(label)} | {q:,.0f} | {_pct(m)} ± {_pct(s)} |" for q, m, s in points]
        lines += ["", f"![accuracy against queries]({figure})", ""]
        for label, points in curves.items():
            start, end = points[0], points[-1]
            change = 100 * (end[1] - start[1])
            lines.append(
                f"- {label}: {_pct(start[1])} % before training (the many-to-one label map alone), {_pct(end[1])} % "
                f"after {end[0]:,.0f} queries ({change:+.1f} points)."
            )
        lines.append("")
    out[PAGE] = "\n".join(lines) + "\n"
    return out


def pages(site: Site) -> dict[str, Content]:
    return render(load_results(site.results_dir))
