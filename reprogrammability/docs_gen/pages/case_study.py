"""The page "Case study": the three paradigms on one frozen dual encoder, from the committed ``nnr case-study`` runs.

Reads ``benchmarks/results/case_study_<task>/case_study_<task>.json`` (the full run; the ``_quick`` folder as a
fallback), prints its table and the computed comparisons, re-draws the paths figure from the JSON and
copies the programs image committed next to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..common import Content, Site, cell

PAGE = "case-study.md"
TASK_TITLES = {"fashion-mnist": "Fashion-MNIST", "digits": "scikit-learn digits"}


def _find(results_dir: Path, task: str) -> tuple[Path, dict[str, Any]] | None:
    import json

    from reprogrammability.case_study import default_output, file_names

    name = file_names(task)["report"]
    for quick in (False, True):
        folder = results_dir / default_output(task, quick).name
        if (folder / name).is_file():
            return folder, json.loads((folder / name).read_text())
    return None


def _table(report: dict[str, Any]) -> list[str]:
    seeds = len(report["seeds"])
    lines = [
        "| paradigm | method | coordinates (λ, τ, ℓ, ω) | trainable parameters | accuracy (mean ± std) | training time |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in report["rows"]:
        if not row.get("accuracy_per_seed"):
            lines.append(
                f"| {row['paradigm']} | {cell(row['method'])} | — | — | not run: {cell(row.get('error', ''))} | — |"
            )
            continue
        runs = len(row["accuracy_per_seed"])
        spread = f" ± {100 * row['accuracy_std']:.1f}" if runs > 1 else (" (fixed)" if seeds > 1 else "")
        seconds = f"{row['train_seconds_mean']:.0f} s" if row["trained"] else "—"
        lines.append(
            f"| {row['paradigm']} | {cell(row['method'])} | {cell(row['coordinates'])} | "
            f"{row['trainable_parameters']:,} | {100 * row['accuracy_mean']:.1f}{spread} % | {seconds} |"
        )
    return lines


def _sentences(report: dict[str, Any]) -> list[str]:
    from reprogrammability.case_study import summary_sentences

    budget = report["budget"]
    machine = report.get("machine", {})
    out = [
        f"Reproduce: `{report['command']}` ({report['mode']} budget: {budget['shots_per_class']} training images "
        f"per class drawn under each seed ({budget['train_images']} in all), {budget['epochs']} epoch(s) of batch "
        f"{budget['batch_size']} with Adam (step {budget['learning_rates']}), {budget['test_images']} fixed test "
        f"images, f's input {budget['canvas']} px, the padding program around a {budget['program_image']} px image; "
        f"seeds {', '.join(str(s) for s in report['seeds'])}; {report['seconds'] / 60:.0f} min on "
        f"{machine.get('torch_threads', '?')} CPU thread(s), torch {report['versions']['torch']}).",
        "",
        f"f's fingerprint (SHA-256 over every parameter and buffer, `{report['fingerprint_before'][:12]}…`) after "
        f"every run equals the one before: **{'yes' if report['fingerprint_unchanged'] else 'NO'}**. Alignment map "
        f"used: `dual_encoder_alignment.safetensors`, SHA-256 `{report.get('alignment_sha256', '?')[:12]}…`.",
        "",
    ]
    out += [f"- {sentence}" for sentence in summary_sentences(report)]
    return out


def pages(site: Site) -> dict[str, Content]:
    from reprogrammability.case_study import figures, file_names

    out: dict[str, Content] = {}
    text = [
        "# Case study: three paradigms, one frozen model",
        "",
        "The survey's case study adapts one vision-language model three ways, each through another computational "
        "path of the same frozen f: **prompt instruction** writes the class prompts by hand (no training), **prompt "
        "tuning** learns context vectors in the text tower's token-embedding space, **model reprogramming** learns "
        "a program on the image and maps f's outputs to the task's labels. Here f is the offline dual encoder "
        "`DualEncoder` (EfficientNet-Lite0 image tower g, all-MiniLM-L6-v2 text tower h and a DeViSE-style map A, "
        "logits z_c = s·cos(g(x), A h(t_c))), and every row is a registered implementation composed with "
        "`Reprogrammer` and `Trainer` on the same seeds and data. The class prompts, templates and descriptors are "
        "hand-written (`implementations/data/descriptors/`, no language model). ILM-VP reads the image tower's own "
        "1000 ImageNet logits (the classifier head of g), mapped to the task's classes by frequency label mapping.",
        "",
    ]
    for task, title in TASK_TITLES.items():
        text += [f"## {title}", ""]
        found = _find(site.results_dir, task)
        if found is None:
            text += [f"No result yet: run `nnr case-study --task {task}`.", ""]
            continue
        folder, report = found
        names = file_names(task)
        text += _table(report) + [""] + _sentences(report) + [""]
        paths = f"case-study-{task}-paths.svg"
        out[paths] = figures.paths_figure(report)
        text += [f"![the computational path of every method through the frozen dual encoder]({paths})", ""]
        programs = folder / names["programs"]
        if programs.is_file():
            image = f"case-study-{task}-programs.png"
            out[image] = programs.read_bytes()
            text += [f"![the learned image programs (first seed)]({image})", ""]
    out[PAGE] = "\n".join(text)
    return out
