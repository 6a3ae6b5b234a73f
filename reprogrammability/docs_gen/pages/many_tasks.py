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
FORGETTING = ("many_tasks.json", "many_tasks_quick.json")  # the full run first, the --quick run as a fallback
FORGETTING_FIGURE = "many-tasks-forgetting.svg"
METHODS = {"rca": "RCA (program bank, f frozen)", "finetune": "sequential full fine-tuning", "lora": "sequential LoRA"}

API_EXAMPLE = """```python
from reprogrammability.framework import FrozenModel, Reprogrammer
from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0, IMAGENET_MEAN, IMAGENET_STD
from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
from reprogrammability.implementations.reprogramming.programs import PaddingProgram
from reprogrammability.implementations.serving import ProgramBank

f = FrozenModel(efficientnet_lite0(pretrained=True))   # held once, never changed

def vr(frozen, classes=10):                             # how each task's program is built
    return Reprogrammer(frozen, PaddingProgram(112, 56, mean=IMAGENET_MEAN, std=IMAGENET_STD),
                        FrequencyLabelMapping(1000, classes), paradigm="model-reprogramming")

bank = ProgramBank(f)
bank.load("digits", "programs/digits", vr)              # checks weights hash, method, Spec and f's fingerprint
bank.load("fashion", "programs/fashion", vr)
bank.add("parity", trained_parity_reprogrammer, labels=["even", "odd"])
print(bank.plan(images, ["digits", "fashion", "parity", "digits"]).explain())
scores = bank.predict(images, ["digits", "fashion", "parity", "digits"])   # one forward of f; row i has C_{t_i} scores
names = bank.labels(images, ["digits", "fashion", "parity", "digits"])     # class names per row
bank.remove("parity")                                   # f untouched
```"""


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


def _forgetting(report: dict[str, Any], file: str) -> str:
    settings = report["settings"]
    lines = [
        f"Run `.venv/bin/python benchmarks/many_tasks.py{' --quick' if report['mode'] == 'quick' else ''}` "
        f"(file `benchmarks/results/{file}`; {settings['train']} training and {settings['test']} test images per task, "
        f"{settings['epochs']} epoch(s), seed {settings['seed']}, torch {report['versions']['torch']}, "
        f"peft {report['versions']['peft']}). Tasks in order: {', '.join(settings['tasks'])}. "
        f"f's fingerprint unchanged through RCA's run: **{'yes' if report['f_fingerprint_unchanged'] else 'NO'}**.",
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
    return "\n".join(lines + ["", f"![accuracy drop of earlier tasks]({FORGETTING_FIGURE})"])


def _forgetting_svg(report: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "reprogrammability", "svg.fonttype": "none", "font.size": 9})
    tasks = report["settings"]["tasks"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    width = 0.8 / len(METHODS)
    for k, (method, label) in enumerate(METHODS.items()):
        drops = [100 * report["drop"][method][t] for t in tasks]
        ax.bar([i + k * width for i in range(len(tasks))], drops, width, label=label)
    ax.set_xticks([i + width for i in range(len(tasks))], tasks)
    ax.set_ylabel("accuracy drop after the last task (points)")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(frameon=False)
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
        "wherever the rows give f inputs of one geometry: padding / additive image programs, soft prompts and "
        "key/value prefixes of one length and position, hidden edits on the same layers; output alignments of any "
        "class count. Rows whose f-inputs differ (another canvas, another prompt or prefix length) go to separate "
        "passes, and `bank.plan(x, tasks).explain()` says which and why. Every row equals what its task's own "
        "`Reprogrammer` gives (tested to 1e-6 on tiny models and EfficientNet-Lite0, `tests/test_bank.py`).",
        "",
        "## Python API",
        "",
        API_EXAMPLE,
        "",
        "## No forgetting, measured",
        "",
    ]
    found = next((name for name in FORGETTING if (site.results_dir / name).is_file()), None)
    if found is None:
        text.append("No result yet: run `.venv/bin/python benchmarks/many_tasks.py`.")
    else:
        forgetting = json.loads((site.results_dir / found).read_text())
        text.append(_forgetting(forgetting, found))
        out[FORGETTING_FIGURE] = _forgetting_svg(forgetting)
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
