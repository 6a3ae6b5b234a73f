"""The page "Many tasks, one model": the program bank's API and the serving-cost results of ``nnr bench --suite serving``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from ..common import Content, Site

PAGE = "many-tasks.md"
FIGURE = "many-tasks-memory.svg"
RESULT = Path("perf") / "bench-serving.json"
FORGETTING = {  # per setting: the full run first, the --quick run as a fallback; the figure
    "vision": (("many_tasks.json", "many_tasks_quick.json"), "many-tasks-forgetting.svg"),
    "text": (("many_tasks_text.json", "many_tasks_text_quick.json"), "many-tasks-forgetting-text.svg"),
}
NOTES = {
    "vision": "Parity relabels the digits images, so a method that changes f can gain on digits while learning "
    "parity. Fine-tuning and LoRA get the same few epochs as RCA (Adam, learning rate 1e-4), so they learn little.",
    "text": "SmolLM2-Instruct already answers sentiment and topic well after the cue, so earlier tasks have "
    "little room to fall; every method gets only the few optimiser steps listed above (a CPU run).",
}
EXACTNESS = "bank_exactness.json"
EXACTNESS_ROWS = {
    "float32": "float32",
    "float64": "float64 (transformers' rotary cos/sin still in float32)",
    "float64_rope64": "float64, rotary cos/sin also in float64",
}
METHODS = {"rca": "RCA (program bank, f frozen)", "finetune": "sequential full fine-tuning", "lora": "sequential LoRA"}

API_EXAMPLE = """```python
import tempfile

from reprogrammability.framework import FrozenModel, Trainer
from reprogrammability.implementations.data.images import load_digits_images
from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0
from reprogrammability.implementations.registry import create_method
from reprogrammability.implementations.serving import ProgramBank, load_bank, save_task

f = FrozenModel(efficientnet_lite0(pretrained=True))   # held once, never changed
digits = load_digits_images(56, "train", 0)
images, labels = digits.inputs[:8].float(), digits.labels[:8]
folder = tempfile.mkdtemp()

bank = ProgramBank(f)
for task, classes, targets in (("digits", 10, labels), ("parity", 2, labels % 2)):
    config = {"canvas_size": 112, "image_size": 56, "num_classes": classes}
    program = create_method("ilm-vp", f, config)       # padding program + iterative label mapping, on f
    Trainer(program, epochs=1, batch_size=8, progress=False).fit((images, targets))
    bank.add(task, program, labels=["even", "odd"] if task == "parity" else None)
    save_task(bank, task, f"{folder}/bank/{task}", config=config)  # safetensors + Spec + f's fingerprint + recipe

bank = load_bank(f, f"{folder}/bank")                  # rebuilt from the files; checks weights, Spec, fingerprint
tasks = ["digits", "parity", "parity", "digits"]
print(bank.plan(images[:4], tasks).explain())           # 1 forward pass of f
scores = bank.predict(images[:4], tasks)                # row i: C_{t_i} scores (10, 2, 2, 10)
names = bank.labels(images[:4], tasks)                  # class index or name per row
bank.remove("parity")                                   # f untouched
```"""

CLI_EXAMPLE = """```bash
nnr predict FOLDER/bank --model efficientnet_lite0 --manifest inputs/manifest.csv
# or task by task, on f from a factory:  --model f.py:make_f --program digits=FOLDER/bank/digits ...
```"""
"""The saved bank above from the command line; ``manifest.csv`` has the columns ``file,task`` (images) or
``text,task`` (text tasks; a ``.txt`` file works too). Run by ``tests/test_many_tasks.py``."""


def _exactness(path: Path) -> str:
    """The mixed-batch vs own-run differences of ``benchmarks/bank_exactness.py`` per dtype, and what they mean."""
    if not path.is_file():
        return f"No result yet: run `.venv/bin/python benchmarks/bank_exactness.py` (writes `{path.name}`)."
    report = json.loads(path.read_text())
    results = report["results"]
    lines = [
        f"Run `.venv/bin/python benchmarks/bank_exactness.py` (file `benchmarks/results/{path.name}`; f: "
        f"{report['model']}; torch {report['versions']['torch']}, transformers {report['versions']['transformers']}; "
        f"seed {report['seed']}). One batch of {report['rows']} sentences whose rows belong to "
        f"{len(report['tasks'])} tasks ({', '.join(report['tasks'])}: soft prompts and key/value prefixes of different "
        "lengths, one task with neither), run as one forward of f; every task reads f's full next-token logits. "
        "*mixed vs own*: the largest difference between a row of the mixed batch and the same row from its task's own "
        "`Reprogrammer` run on that task's rows alone. *own alone vs own block*: the same `Reprogrammer`, a row run "
        "alone against the row in its task's block: only the batch's shape differs.",
        "",
        "| dtype | mixed vs own | own alone vs own block | largest logit | forwards of f |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in EXACTNESS_ROWS.items():
        if key in results:
            row = results[key]
            lines.append(
                f"| {label} | {row['mixed_vs_own']:.1e} | {row['own_alone_vs_own_block']:.1e} | "
                f"{row['largest_logit']:.1f} | {row['forwards_of_f']} |"
            )
    if {"float32", "float64_rope64"} <= set(results):
        f32, f64 = results["float32"], results["float64_rope64"]
        verdict = (
            "of the same size as"
            if f32["mixed_vs_own"] <= 2 * max(f32["own_alone_vs_own_block"], 1e-7)
            else "LARGER than"
        )
        lines += [
            "",
            f"In float32 the mixed batch's residue ({f32['mixed_vs_own']:.1e}) is {verdict} what merely changing the "
            f"batch's shape does to a task's own run ({f32['own_alone_vs_own_block']:.1e}); in float64 with float64 "
            f"rotary tables it falls to {f64['mixed_vs_own']:.1e}. So the float32 difference is floating-point "
            "reduction order (kernels summing over a longer key axis and a larger batch), not a masking or position "
            "defect, which would survive float64. transformers' Llama computes its rotary cos/sin in float32 whatever "
            "the model's dtype, which leaves float32-sized, shape-dependent rounding even in a float64 model "
            f"(own alone vs own block: {results.get('float64', f64)['own_alone_vs_own_block']:.1e}).",
        ]
    return "\n".join(lines)


def _memory_svg(memory: dict[str, dict[str, int]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "reprogrammability", "svg.fonttype": "none", "font.size": 9})
    counts = sorted(int(n) for n in memory)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    series = (
        ("finetuned_copies_bytes", "N fine-tuned copies of f"),
        ("lora_bytes", "f + N LoRA adapters (peft)"),
        ("bank_bytes", "program bank: f once + N programs"),
    )
    for key, label in series:
        ax.plot(counts, [memory[str(n)][key] / 1e6 for n in counts], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("tasks N")
    ax.set_ylabel("MB (distinct tensor storages)")
    ax.legend(frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def _duration(report: dict[str, Any]) -> str:
    if "seconds" not in report:
        return ""
    return f", {report['seconds'] / 60:.0f} min on {report.get('machine', {}).get('threads', '?')} CPU thread(s)"


def _forgetting(report: dict[str, Any], file: str, figure: str) -> str:
    settings = report["settings"]
    setting = report.get("setting", "vision")
    flags = (" --setting text" if setting == "text" else "") + (" --quick" if report["mode"] == "quick" else "")
    unit = "sentences" if setting == "text" else "images"
    lines = [
        f"Run `.venv/bin/python benchmarks/many_tasks.py{flags}` (file `benchmarks/results/{file}`; f: "
        f"{report.get('model', 'EfficientNet-Lite0 (ImageNet)')}; {settings['train']} training and "
        f"{settings['test']} test {unit} per task, {settings['epochs']} epoch(s), seed {settings['seed']}, "
        f"torch {report['versions']['torch']}, peft {report['versions']['peft']}{_duration(report)}). "
        f"Tasks in order: {', '.join(settings['tasks'])}. "
        f"f's fingerprint unchanged through RCA's run: **{'yes' if report['f_fingerprint_unchanged'] else 'NO'}**.",
    ]
    if "optimiser_steps_per_task" in settings:
        steps = ", ".join(f"{task} {count}" for task, count in settings["optimiser_steps_per_task"].items())
        lines[0] += f" Optimiser steps per task (every method): {steps}."
    if "mixed_batch_max_difference" in report:
        lines[0] += (
            " RCA's earlier tasks are evaluated as one mixed batch of different prompt lengths; largest difference "
            f"from each task's own run: {report['mixed_batch_max_difference']:.1e}."
        )
    lines += [
        "",
        "| method | task | accuracy right after learning it | accuracy after the last task | drop |",
        "|---|---|---:|---:|---:|",
    ]
    for method, label in METHODS.items():
        table = report["accuracy_after_each_task"][method]
        last = list(table)[-1]
        for task in table:
            lines.append(
                f"| {label} | {task} | {table[task][task]:.4f} | {table[last][task]:.4f} | "
                f"{report['drop'][method][task]:+.4f} |"
            )
    earlier = settings["tasks"][:-1]
    changes = [
        f"{label}: " + ", ".join(f"{task} {100 * report['drop'][method][task]:+.1f}" for task in earlier)
        for method, label in METHODS.items()
    ]
    lines += [
        "",
        "Drop of each earlier task by the end, in points (> 0 is forgetting, < 0 a gain): "
        + "; ".join(changes)
        + ". "
        + NOTES.get(setting, ""),
    ]
    return "\n".join(lines + ["", f"![accuracy of every task after each new task, per method]({figure})"])


def _forgetting_svg(report: dict[str, Any]) -> bytes:
    """One panel per method: each task's test accuracy after each task learned since (x: tasks in order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "reprogrammability", "svg.fonttype": "none", "font.size": 8})
    tasks = report["settings"]["tasks"]
    fig, axes = plt.subplots(1, len(METHODS), figsize=(7.5, 2.6), sharey=True)
    for ax, (method, label) in zip(axes, METHODS.items()):
        table = report["accuracy_after_each_task"][method]
        for start, task in enumerate(tasks):
            xs = list(range(start, len(tasks)))
            ax.plot(xs, [100 * table[tasks[k]][task] for k in xs], marker="o", label=task)
        ax.set_xticks(range(len(tasks)), [f"after {t}" for t in tasks], rotation=30, ha="right")
        ax.set_title(label, fontsize=8)
    axes[0].set_ylabel("test accuracy (%)")
    axes[-1].legend(frameon=False, fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def _results(report: dict[str, Any]) -> str:
    serving = report["suites"]["serving"]
    memory = serving["memory"]
    machine = report.get("machine", {})
    lines = [
        f"Measured by `nnr bench --suite serving` ({report.get('mode', 'default')} mode, "
        f"{machine.get('device', '?')}, torch {machine.get('torch', '?')}, {machine.get('torch_threads', '?')} thread(s)); "
        f"file `benchmarks/results/{RESULT.as_posix()}`. f: EfficientNet-Lite0 (default and quick modes) or a tiny "
        "CNN (tiny mode); each task: a padding program + frequency label mapping. LoRA (rank "
        f"{serving['lora_rank']}) sits on f's plain `nn.Linear` and 1×1 `nn.Conv2d` layers (on EfficientNet-Lite0 only "
        "the classifier: its convolutions are a subclass peft does not wrap), so its bytes are a lower bound.",
        "",
        "| tasks N | program bank (MB) | f + N LoRA adapters (MB) | N fine-tuned copies (MB) |",
        "|---:|---:|---:|---:|",
    ]
    for n in sorted(memory, key=int):
        row = memory[n]
        lines.append(
            f"| {n} | {row['bank_bytes'] / 1e6:.2f} | {row['lora_bytes'] / 1e6:.2f} | {row['finetuned_copies_bytes'] / 1e6:.2f} |"
        )
    lines += ["", f"![memory against tasks]({FIGURE})", "", "| ratio | value | target | |", "|---|---:|---:|---|"]
    for ratio in report["ratios"]:
        if ratio["name"].startswith("serving."):
            target = "—" if ratio["target"] is None else f"{ratio['op']} {ratio['target']}"
            verdict = {True: "pass", False: "FAIL", None: ""}[ratio["passed"]]
            lines.append(f"| `{ratio['name']}` | {ratio['value']:.3f} | {target} | {verdict} |")
    return "\n".join(lines)


def pages(site: Site) -> dict[str, Content]:
    path = site.results_dir / RESULT
    out: dict[str, Content] = {}
    text = [
        "# Many tasks, one model",
        "",
        "Because f never changes, one frozen model serves every task it has been reprogrammed for: each task is "
        "only its input manipulation I_t and output alignment O_t. `ProgramBank` holds one `FrozenModel` and any "
        "number of task programs, added and removed at run time (a program made for another f is refused by its "
        "fingerprint), and runs a batch whose rows belong to different tasks as",
        "",
        "$$\\hat y_i = O_{t_i}\\big(f(I_{t_i}(x_i))\\big)_i \\quad\\text{for all rows } i \\text{ in one forward of } f,$$",
        "",
        "wherever the rows give f inputs of one geometry: padding / additive image programs of one canvas, hidden "
        "edits on the same layers, output alignments of any class count, and on transformers text models soft "
        "prompts and key/value prefixes of *different* lengths and positions. There, row block t (its own prompt "
        "inserted, length T_t, prefix of P_t positions) is right-padded to T = max T_t with masked positions, its "
        "prefix padded to P = max P_t with masked keys, and its tokens get the position ids P_t + 0, 1, …, T_t − 1 "
        "of its own run; readouts read each row at its own token positions. Right padding keeps every real token at "
        "its own index and leaves no query row fully masked. Rows whose f-inputs still differ (another canvas, "
        "other hidden-edit layers, a multi-tower model) go to separate passes, and "
        "`bank.plan(x, tasks).explain()` says which and why. Every row equals what its task's own `Reprogrammer` "
        "gives up to rounding (padded passes sum attention over a longer key axis): 1e-6 in float32 and 1e-9 in "
        "float64 on the tiny test models; on SmolLM2-135M see *Exactness on a real model* below. "
        "Tested over visual reprogramming, prompt tuning, prefix "
        "tuning, P-tuning v2, verbalizers and label mappings on tiny Llama, GPT-2 and BERT models and EfficientNet-Lite0 "
        "(`tests/test_bank.py`, `tests/test_bank_per_row.py`). The example below is run by `tests/test_many_tasks.py`.",
        "",
        "## Python API",
        "",
        "Each task is a registered method on the bank's f, saved with `save_task` (weights, Spec, f's fingerprint, "
        "class names and the recipe that rebuilds it) and loaded back without any Python per task:",
        "",
        API_EXAMPLE,
        "",
        "## Command line",
        "",
        "The same saved bank over a folder of inputs, each input's task named in a manifest (a CSV with the columns "
        "`file,task`, or `text,task` for text tasks, where a `.txt` file also works; or a JSON list of such "
        "objects). A row naming a task the bank lacks, a program saved for another f (fingerprint), a missing file "
        "or a folder without its recipe stops with an error that names it.",
        "",
        CLI_EXAMPLE,
        "",
        "## Exactness on a real model",
        "",
        _exactness(site.results_dir / EXACTNESS),
        "",
        "## No forgetting, measured",
        "",
    ]
    for setting, (files, figure) in FORGETTING.items():
        text += [f"### {'Images' if setting == 'vision' else 'Text'}", ""]
        found = next((name for name in files if (site.results_dir / name).is_file()), None)
        if found is None:
            text.append(f"No result yet: run `.venv/bin/python benchmarks/many_tasks.py --setting {setting}`.")
        else:
            forgetting = json.loads((site.results_dir / found).read_text())
            text.append(_forgetting(forgetting, found, figure))
            out[figure] = _forgetting_svg(forgetting)
        text.append("")
    text += ["", "## Serving cost as tasks grow", ""]
    if path.is_file():
        report = json.loads(path.read_text())
        text.append(_results(report))
        out[FIGURE] = _memory_svg(report["suites"]["serving"]["memory"])
    else:
        text.append(
            f"No result yet: run `nnr bench --suite serving --output benchmarks/results/perf` (writes `{RESULT}`)."
        )
    out[PAGE] = "\n".join(text) + "\n"
    return out
