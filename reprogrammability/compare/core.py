"""The core of ``nnr compare``: settings, seeds, budget, timing, memory, rows and results.

A *setting* (:class:`Setting`) is one frozen model f and one task with a fixed budget; it trains each of
its methods once per seed (:meth:`Setting.run`) and returns a :class:`SeedRun`. :func:`run_setting` loops
over methods and seeds and turns the runs into schema rows (:func:`make_row`, schema ``nnr-compare/1``):

    accuracy = mean ± std over seeds (sample std, n − 1), fraction_of_f = |θ_adapt| / |θ_f|,
    step_time_s = mean ± std of the per-seed mean step time, time_to_target_s = mean over the seeds that
    reached the target (null when none did), steps_to_target likewise (rounded up).

Torch is imported inside functions only (``nnr`` must start fast).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

__all__ = [
    "SCHEMA",
    "FAMILIES",
    "PARADIGMS",
    "Budget",
    "MethodFacts",
    "SeedRun",
    "Setting",
    "make_row",
    "run_setting",
    "results_document",
    "write_results",
    "format_rows",
    "train_steps",
    "first_reaching",
    "adaptation_bytes",
    "peak_training_memory",
    "measure_overhead",
    "machine_info",
    "versions_info",
]

SCHEMA = "nnr-compare/1"
FAMILIES = ("PCA", "RCA")
PARADIGMS = ("parameter-centric", "model-reprogramming", "prompt-tuning", "prompt-instruction")
MEMORY_METHOD = (
    "peak of the running sum of torch profiler allocation/free events during one training step on CPU "
    "(tensors only, not the Python heap); torch.cuda.max_memory_allocated above the start on CUDA"
)


@dataclass(frozen=True)
class Budget:
    """The training budget shared by every method of one setting.

    ``steps`` optimiser steps of ``batch_size`` examples (methods without training, e.g. in-context learning,
    use none); ``target_accuracy`` is the stated accuracy for the time-to-target column.
    """

    steps: int
    batch_size: int
    lr_policy: str
    target_accuracy: float
    eval_every: int = 0
    """Steps between test-accuracy checkpoints for time-to-target (0: only at the end)."""

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1:
            raise ValueError(f"budget: steps must be ≥ 0 and batch_size ≥ 1, got {self.steps}, {self.batch_size}")
        if not 0.0 <= self.target_accuracy <= 1.0:
            raise ValueError(f"budget.target_accuracy: expected 0..1, got {self.target_accuracy}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MethodFacts:
    """What does not change with the seed: identity, placement, counts, bytes, memory, inference overhead."""

    method: str
    label: str
    family: str
    paradigm: str
    coordinates: str | None
    access: str
    keeps_f_frozen: bool
    trainable_parameters: int
    f_parameters: int
    adaptation_bytes: int
    peak_train_memory_bytes: int | None = None
    inference_overhead: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family: expected one of {FAMILIES}, got {self.family!r}")
        if self.paradigm not in PARADIGMS:
            raise ValueError(f"paradigm: expected one of {PARADIGMS}, got {self.paradigm!r}")
        if self.f_parameters <= 0:
            raise ValueError(f"f_parameters: expected > 0, got {self.f_parameters}")


@dataclass
class SeedRun:
    """One method trained with one seed: the final test accuracy and the training timeline.

    ``step_seconds``: wall time of each optimiser step (or a mean per step repeated; evaluation excluded);
    ``checkpoints``: (step, test accuracy) pairs in step order, used for the time to the target accuracy.
    """

    facts: MethodFacts
    accuracy: float
    step_seconds: list[float] = field(default_factory=list)
    checkpoints: list[tuple[int, float]] = field(default_factory=list)
    queries: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Setting:
    """One frozen model and task; subclasses fill :attr:`name`, :meth:`prepare`, :meth:`method_names`, :meth:`run`.

    Contract: :meth:`prepare` loads f and the data once (``quick``: a tiny budget for tests) and sets
    :attr:`model` (``{"name", "parameters"}``), :attr:`task` (``{"name", "source", "license", "train", "test",
    "classes"}``) and :attr:`budget`; :meth:`run` trains one method with one seed, on the same data and budget
    as every other method, and returns a :class:`SeedRun`. Import torch inside the methods only.
    """

    name: str = ""
    description: str = ""
    model: dict[str, Any]
    task: dict[str, Any]
    budget: Budget
    notes: list[str]

    def method_names(self) -> list[str]:
        raise NotImplementedError(f"{type(self).__name__}.method_names")

    def prepare(self, quick: bool = False, log: Callable[[str], None] = print) -> None:
        raise NotImplementedError(f"{type(self).__name__}.prepare")

    def run(self, method: str, seed: int) -> SeedRun:
        raise NotImplementedError(f"{type(self).__name__}.run")

    def extra_results(self) -> dict[str, Any]:
        """Setting-specific studies written next to the rows (e.g. a query-budget curve); empty by default."""
        return {}


# -- rows ----------------------------------------------------------------------------------------


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def first_reaching(checkpoints: Sequence[tuple[int, float]], target: float) -> int | None:
    """The first checkpoint step whose accuracy is ≥ ``target``, or None."""
    for step, accuracy in checkpoints:
        if accuracy >= target:
            return step
    return None


def make_row(runs: Sequence[SeedRun], target_accuracy: float) -> dict[str, Any]:
    """One schema row from the runs of one method over the seeds (facts taken from the first seed's run)."""
    if not runs:
        raise ValueError("runs: expected at least one seed run")
    facts = runs[0].facts
    accuracies = [r.accuracy for r in runs]
    step_means = [statistics.fmean(r.step_seconds) for r in runs if r.step_seconds]
    reached_steps: list[int] = []
    reached_times: list[float] = []
    for r in runs:
        step = first_reaching(r.checkpoints, target_accuracy)
        if step is not None:
            reached_steps.append(step)
            reached_times.append(sum(r.step_seconds[:step]) if len(r.step_seconds) >= step else float("nan"))
    row: dict[str, Any] = {
        "method": facts.method,
        "label": facts.label,
        "family": facts.family,
        "paradigm": facts.paradigm,
        "coordinates": facts.coordinates,
        "access": facts.access,
        "keeps_f_frozen": facts.keeps_f_frozen,
        "trainable_parameters": facts.trainable_parameters,
        "fraction_of_f": facts.trainable_parameters / facts.f_parameters,
        "adaptation_bytes": facts.adaptation_bytes,
        "accuracy": {**_mean_std(accuracies), "per_seed": accuracies},
        "step_time_s": _mean_std(step_means) if step_means else {"mean": 0.0, "std": 0.0},
        "steps_to_target": math.ceil(statistics.fmean(reached_steps)) if reached_steps else None,
        "time_to_target_s": statistics.fmean(reached_times) if reached_times else None,
        "seeds_reaching_target": len(reached_steps),
        "peak_train_memory_bytes": facts.peak_train_memory_bytes,
        "inference_overhead": facts.inference_overhead,
        "notes": list(facts.notes),
    }
    queries = [r.queries for r in runs if r.queries is not None]
    if queries:
        row["queries"] = int(statistics.fmean(queries))
    extras = [r.extra for r in runs if r.extra]
    if extras:
        row["per_seed_extra"] = extras
    return row


def run_setting(
    setting: Setting,
    seeds: Sequence[int],
    methods: Iterable[str] | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every method (in order) with every seed; one row per method. ``progress(description)`` is called
    before each run (the CLI advances its progress bar there)."""
    names = list(methods) if methods is not None else setting.method_names()
    unknown = [m for m in names if m not in setting.method_names()]
    if unknown:
        raise ValueError(
            f"--methods: {', '.join(unknown)} not in setting {setting.name!r}; allowed: "
            + ", ".join(setting.method_names())
        )
    rows = []
    for method in names:
        runs = []
        for seed in seeds:
            if progress is not None:
                progress(f"{setting.name} {method} seed {seed}")
            runs.append(setting.run(method, seed))
        rows.append(make_row(runs, setting.budget.target_accuracy))
    return rows


# -- results -------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["device"] = "cuda" if torch.cuda.is_available() else "cpu"
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        info["load_average_at_end"] = list(os.getloadavg())
    except OSError:  # pragma: no cover
        pass
    return info


def versions_info(packages: Sequence[str] = ("torch", "peft", "transformers", "numpy", "scikit-learn")) -> dict:
    from importlib import metadata

    from reprogrammability import __version__

    out: dict[str, str] = {"reprogrammability": __version__}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def results_document(
    setting: Setting, rows: list[dict[str, Any]], seeds: Sequence[int], command: str, wall_s: float
) -> dict[str, Any]:
    """The whole results file (schema ``nnr-compare/1``)."""
    return {
        "schema": SCHEMA,
        "setting": setting.name,
        "model": setting.model,
        "task": setting.task,
        "budget": setting.budget.as_dict(),
        "seeds": list(seeds),
        "machine": machine_info(),
        "versions": versions_info(),
        "command": command,
        "wall_s": wall_s,
        "memory_measurement": MEMORY_METHOD,
        "rows": rows,
        "notes": list(setting.notes),
        **setting.extra_results(),
    }


def write_results(document: dict[str, Any], directory: Path, quick: bool) -> Path:
    """``compare_<setting>.json`` (``_quick`` for quick runs) in ``directory``; returns the path."""
    stem = "compare_" + document["setting"].replace("-", "_") + ("_quick" if quick else "")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=1, allow_nan=False, default=_jsonable) + "\n")
    temporary.replace(path)
    return path


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _si(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{prefix}{unit}"
    return f"{value:.3g}{unit}"


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The printed table: one line per row."""
    from reprogrammability.tables import format_table

    lines = []
    for row in rows:
        accuracy = row["accuracy"]
        overhead = row.get("inference_overhead") or {}
        ratio = overhead.get("extra_time_ratio")
        lines.append(
            [
                row["method"],
                row["family"],
                row["coordinates"] or "—",
                f"{row['trainable_parameters']:,}",
                f"{row['fraction_of_f']:.2e}",
                _si(row["adaptation_bytes"], "B"),
                f"{100 * accuracy['mean']:.1f} ± {100 * accuracy['std']:.1f}",
                f"{1000 * row['step_time_s']['mean']:.0f} ms",
                "—" if row["time_to_target_s"] is None else f"{row['time_to_target_s']:.1f} s",
                _si(row["peak_train_memory_bytes"], "B"),
                "—" if ratio is None else f"{ratio:.2f}×",
            ]
        )
    headers = ["method", "family", "coordinates", "trainable", "of f", "bytes", "accuracy %", "step", "to target"]
    headers += ["peak mem", "inference"]
    return format_table(lines, headers, max_width={2: 44})


# -- measuring helpers shared by the settings ----------------------------------------------------


def train_steps(
    step: Callable[[int], Any],
    steps: int,
    evaluate: Callable[[], float] | None = None,
    eval_every: int = 0,
) -> tuple[list[float], list[tuple[int, float]]]:
    """Run ``step(i)`` for i = 0..steps-1, timing each; evaluate after every ``eval_every`` steps and at the end
    (evaluation outside the timed region). Returns (step seconds, [(step, accuracy), ...])."""
    seconds: list[float] = []
    checkpoints: list[tuple[int, float]] = []
    for i in range(steps):
        begin = time.perf_counter()
        step(i)
        seconds.append(time.perf_counter() - begin)
        done = i + 1
        if evaluate is not None and ((eval_every and done % eval_every == 0) or done == steps):
            checkpoints.append((done, float(evaluate())))
    return seconds, checkpoints


def adaptation_bytes(tensors: dict[str, Any]) -> int:
    """Bytes of the safetensors file holding one task's adaptation (the tensors that must be saved)."""
    from safetensors.torch import save

    return len(save({name: t.detach().contiguous().cpu() for name, t in tensors.items()}))


def peak_training_memory(step: Callable[[], Any], device: Any) -> int:
    """Peak memory of one training step (see :data:`MEMORY_METHOD`), in bytes."""
    from reprogrammability.bench.timing import peak_step_memory

    return int(peak_step_memory(step, device))


def _flops(fn: Callable[[], Any]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def measure_overhead(
    adapted: Callable[[], Any],
    bare: Callable[[], Any],
    *,
    extra_tokens: int = 0,
    symbolic_extra_tokens: int | None = None,
    symbolic_extra_flops: int | None = None,
    repeats: int = 3,
    batch: int = 1,
) -> dict[str, Any]:
    """Inference overhead per query against bare f: extra FLOPs (torch FlopCounterMode, matmul/conv 2·m·n·k
    convention) divided by the ``batch`` of queries each callable runs, and the wall-time ratio (median of
    ``repeats`` interleaved runs); each callable runs one forward, under ``torch.no_grad`` inside."""
    import torch

    with torch.no_grad():
        adapted()  # warm-up
        bare()
        extra_flops = (_flops(adapted) - _flops(bare)) / batch
        times: dict[str, list[float]] = {"adapted": [], "bare": []}
        for _ in range(repeats):
            for name, fn in (("bare", bare), ("adapted", adapted)):
                begin = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - begin)
    return {
        "extra_tokens": int(extra_tokens),
        "extra_flops": float(extra_flops),
        "extra_time_ratio": statistics.median(times["adapted"]) / statistics.median(times["bare"]),
        "symbolic_extra_tokens": symbolic_extra_tokens,
        "symbolic_extra_flops": symbolic_extra_flops,
    }
