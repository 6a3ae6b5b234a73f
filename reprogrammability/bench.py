"""``nnr bench``: how fast reprogramming is, against its limit and against what people use instead.

A reprogramming step on a frozen model cannot cost less than one forward pass plus one backward
pass to the input (no weight gradients, no optimiser state for the model). Every suite measures
ratios in one run, on the same model and batch, with interleaved repeated timing: after warm-up,
one step of every variant per round with the order rotated every round (so a busy machine slows
all of them alike), the ratio taken per round and the median over rounds reported. The Trainer is
timed inside its own loop (a data loader that stamps the clock), each of its steps paired with a
bare step run right before it. Low-noise cross-checks are reported next to the ratios: the work a
reprogramming step adds to the bare step, and the re-fit of ILM/BLM, each timed alone.

=========  =================================================================================  ========
suite      ratio                                                                              target
=========  =================================================================================  ========
visual     padding program + FLM step / (forward + backward-to-input of the bare model)        ≤ 1.10
visual     the same step through :class:`~reprogrammability.framework.training.Trainer`        ≤ 1.10
visual     padding program + FLM step / full fine-tuning step (all weights, Adam)               ≤ 0.70
prompt     prompt tuning / prefix tuning step time and peak step memory / peft's               ≤ 1.00
icl        in-context learning: re-encoding time / shared-prefix cache time at k = 8           ≥ 3
mapping    ILM / BLM epoch through the Trainer / FLM epoch                                     ≤ 1.05
options    channels-last, CPU bf16 autocast, torch.compile (``--compile``): step / default     < 1 helps
options    weights that require gradients / frozen weights; host syncs per training step       —, 0
=========  =================================================================================  ========

Clocks: on CPU the process's CPU time (robust on a shared machine; wall time is recorded too), on
CUDA the wall time with a synchronisation at each stamp. Peak step memory: CUDA's allocator peak,
or on CPU the peak of the running sum of the allocations and frees that torch's profiler records
during one step (tensors only, not the Python heap). The machine's load average goes into the report.

Modes: default (EfficientNet-Lite0 at canvas 112, batch 16; a Llama-like LM with hidden size 256 and
4 layers; 5 to 8 minutes on one thread of a busy CPU), ``--quick`` (smaller shapes, under a minute)
and ``--tiny`` (tiny random models, seconds: for tests of the mechanics, not for figures). The vision
model has random weights: the time of a step does not depend on their values. ``--threads`` defaults
to 1 (CPU time of one thread is the steadiest figure on a shared machine).

Writes ``<stem>.json`` (everything), ``.md`` (the table) and ``.png`` (ratios against targets) into
``--output`` (``benchmarks/results/perf``), the stem naming the run (``bench``, ``bench-quick``,
``bench-quick-options-compile``, ``bench-cuda`` ...); refuses to overwrite unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

SUITES = ("visual", "options", "prompt", "icl", "mapping")
DEFAULT_OUTPUT = Path("benchmarks") / "results" / "perf"


# ------------------------------------------------------------------------------------------------
# settings and targets
@dataclass(frozen=True)
class Settings:
    """Shapes and repetitions of one mode."""

    mode: str
    vision_model: str  # "efficientnet_lite0" or "tiny_cnn"
    batch: int
    canvas: int
    image: int
    classes: int
    steps: int  # batches in one Trainer epoch of the visual suite
    pairs: int  # timed rounds of one step of every variant, interleaved (after ``warmup`` untimed ones)
    trainer_rounds: int  # Trainer epochs, each step paired with a bare step run right before it
    warmup: int
    lm_hidden: int
    lm_layers: int
    lm_heads: int
    lm_kv_heads: int
    lm_vocab: int
    lm_batch: int
    lm_length: int
    virtual_tokens: int
    lm_pairs: int
    icl_queries: int
    icl_batch: int
    icl_ks: tuple[int, ...]
    icl_rounds: int
    mapping_samples: int
    mapping_batch: int
    mapping_canvas: int
    mapping_rounds: int


MODES: dict[str, Settings] = {
    "default": Settings(
        mode="default", vision_model="efficientnet_lite0", batch=16, canvas=112, image=80, classes=10, steps=4,
        pairs=25, trainer_rounds=4, warmup=2, lm_hidden=256, lm_layers=4, lm_heads=8, lm_kv_heads=4, lm_vocab=2048,
        lm_batch=8, lm_length=64, virtual_tokens=16, lm_pairs=20, icl_queries=16, icl_batch=8, icl_ks=(0, 4, 8),
        icl_rounds=7, mapping_samples=64, mapping_batch=16, mapping_canvas=96, mapping_rounds=8,
    ),
    "quick": Settings(
        mode="quick", vision_model="efficientnet_lite0", batch=8, canvas=64, image=48, classes=10, steps=2,
        pairs=10, trainer_rounds=3, warmup=1, lm_hidden=128, lm_layers=2, lm_heads=4, lm_kv_heads=2, lm_vocab=1024,
        lm_batch=4, lm_length=32, virtual_tokens=8, lm_pairs=8, icl_queries=8, icl_batch=8, icl_ks=(0, 4, 8),
        icl_rounds=3, mapping_samples=32, mapping_batch=8, mapping_canvas=64, mapping_rounds=3,
    ),
    "tiny": Settings(
        mode="tiny", vision_model="tiny_cnn", batch=4, canvas=32, image=24, classes=4, steps=2, pairs=1,
        trainer_rounds=1, warmup=0, lm_hidden=32, lm_layers=2, lm_heads=4, lm_kv_heads=2, lm_vocab=1276, lm_batch=2,
        lm_length=12, virtual_tokens=4, lm_pairs=1, icl_queries=4, icl_batch=4, icl_ks=(0, 8), icl_rounds=1,
        mapping_samples=8, mapping_batch=4, mapping_canvas=32, mapping_rounds=1,
    ),
}

TARGETS: dict[str, tuple[str, float | None, str]] = {
    "visual.step/bare": ("<=", 1.10, "visual reprogramming step / (forward + backward-to-input of the bare model)"),
    "visual.trainer_step/bare": ("<=", 1.10, "the same step run by the Trainer (data loading included) / bare"),
    "visual.step/finetune": ("<=", 0.70, "visual reprogramming step / full fine-tuning step (Adam)"),
    "prompt.prompt_tuning.time/peft": ("<=", 1.00, "prompt tuning step time, ours / peft"),
    "prompt.prompt_tuning.memory/peft": ("<=", 1.00, "prompt tuning peak step memory, ours / peft"),
    "prompt.prefix_tuning.time/peft": ("<=", 1.00, "prefix tuning step time, ours / peft"),
    "prompt.prefix_tuning.memory/peft": ("<=", 1.00, "prefix tuning peak step memory, ours / peft"),
    "icl.speedup_k0": (">=", None, "ICL k=0: re-encoding time / shared-prefix cache time"),
    "icl.speedup_k4": (">=", None, "ICL k=4: re-encoding time / shared-prefix cache time"),
    "icl.speedup_k8": (">=", 3.0, "ICL k=8: re-encoding time / shared-prefix cache time"),
    "mapping.ilm/flm": ("<=", 1.05, "ILM epoch / FLM epoch (Trainer, same data)"),
    "mapping.blm/flm": ("<=", 1.05, "BLM epoch / FLM epoch (Trainer, same data)"),
    "options.channels_last/default": ("<", 1.0, "channels-last step / default step (kept only if < 1)"),
    "options.bf16_autocast/fp32": ("<", 1.0, "bf16 autocast step / fp32 step on this device (kept only if < 1)"),
    "options.compile/eager": ("<", 1.0, "torch.compile'd f step / eager step, compile time excluded (kept only if < 1)"),
    "options.weight_grads/frozen": (">", 1.0, "forward + backward with weights requiring gradients / frozen weights"),
    "options.host_syncs_per_step": ("<=", 0.0, "host-device synchronisations per Trainer step (counted)"),
}


@dataclass
class Ratio:
    """One measured ratio with its target."""

    name: str
    value: float
    op: str
    target: float | None
    description: str
    numerator_s: float | None = None
    denominator_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        if self.target is None or not math.isfinite(self.value):
            return None
        return {
            "<=": self.value <= self.target,
            ">=": self.value >= self.target,
            "<": self.value < self.target,
            ">": self.value > self.target,
        }[self.op]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def make_ratio(name: str, value: float, **details: Any) -> Ratio:
    op, target, description = TARGETS[name]
    return Ratio(name, float(value), op, target, description, **details)


# ------------------------------------------------------------------------------------------------
# timing
class Clock:
    """Stamps (wall seconds, process CPU seconds); on CUDA each stamp synchronises first."""

    def __init__(self, device: Any, primary: str = "auto"):
        self.cuda = getattr(device, "type", str(device)) == "cuda"
        if primary not in ("auto", "cpu", "wall"):
            raise ValueError(f"clock: {primary!r} is not one of ['auto', 'cpu', 'wall']")
        self.primary = ("wall" if self.cuda else "cpu") if primary == "auto" else primary

    def now(self) -> tuple[float, float]:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter(), time.process_time()

    def pick(self, pair: tuple[float, float]) -> float:
        return pair[0] if self.primary == "wall" else pair[1]


def per_step(clock: Clock, step: Callable[[], Any], count: int) -> tuple[float, float]:
    """Run ``step`` ``count`` times; the median (wall, cpu) seconds of one step."""
    stamps = [clock.now()]
    for _ in range(count):
        step()
        stamps.append(clock.now())
    walls = [b[0] - a[0] for a, b in zip(stamps, stamps[1:])]
    cpus = [b[1] - a[1] for a, b in zip(stamps, stamps[1:])]
    return statistics.median(walls), statistics.median(cpus)


def interleaved(
    variants: dict[str, Callable[[], tuple[float, float]]], rounds: int, warmup: int, log: Callable[[str], None]
) -> dict[str, list[tuple[float, float]]]:
    """Call every variant once per round, rotating the order; keep the (wall, cpu) figures of the timed rounds."""
    names = list(variants)
    times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            figure = variants[name]()
            if r >= warmup:
                times[name].append(figure)
        if r + 1 == warmup + rounds or (r + 1) % max(1, (warmup + rounds) // 4) == 0:
            log(f"  round {r + 1}/{warmup + rounds}" + (f" ({warmup} warm-up)" if warmup else ""))
    return times


def paired_ratio(clock: Clock, times: dict[str, list[tuple[float, float]]], top: str, bottom: str) -> dict[str, Any]:
    """Median over rounds of top/bottom (paired by round) on the primary clock, and the medians themselves."""
    num = [clock.pick(t) for t in times[top]]
    den = [clock.pick(t) for t in times[bottom]]
    ratios = [a / b for a, b in zip(num, den) if b > 0]
    walls = [a[0] / b[0] for a, b in zip(times[top], times[bottom]) if b[0] > 0]
    return {
        "value": statistics.median(ratios) if ratios else float("nan"),
        "numerator_s": statistics.median(num),
        "denominator_s": statistics.median(den),
        "extra": {"wall_ratio": statistics.median(walls) if walls else float("nan"), "rounds": len(ratios)},
    }


class _quiet_stderr:
    """Silence file descriptor 2 (the profiler's native start/stop lines) for the duration of a block."""

    def __enter__(self):
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            self.null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(self.null, 2)
        except OSError:  # pragma: no cover - no file descriptors (embedded interpreters)
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
            os.close(self.null)
        return False


def peak_step_memory(step: Callable[[], Any], device: Any) -> float:
    """Bytes: CUDA's allocator peak above the start, or on CPU the peak running sum of the profiler's
    allocation (+) and free (−) events during ``step`` (tensors only)."""
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        torch.cuda.synchronize()
        start = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - start)
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    running, peak = 0, 0
    for event in events:
        running += event.self_cpu_memory_usage
        peak = max(peak, running)
    return float(peak)


# ------------------------------------------------------------------------------------------------
# models and helpers
def _vision_model(s: Settings):
    if s.vision_model == "efficientnet_lite0":
        from reprogrammability.implementations.models.efficientnet_lite import efficientnet_lite0

        return efficientnet_lite0(pretrained=False), 1000
    from reprogrammability.implementations.models.tiny import tiny_cnn

    return tiny_cnn(seed=0), 10


def _mean_std(s: Settings):
    if s.vision_model == "efficientnet_lite0":
        from reprogrammability.implementations.models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

        return IMAGENET_MEAN, IMAGENET_STD
    return (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _padding_flm(net, s: Settings, num_source: int, canvas: int | None = None, output=None):
    from reprogrammability.framework import FrozenModel, Reprogrammer
    from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
    from reprogrammability.implementations.reprogramming.programs import PaddingProgram

    mean, std = _mean_std(s)
    canvas = canvas or s.canvas
    frozen = net if isinstance(net, FrozenModel) else FrozenModel(net)
    output = output if output is not None else FrequencyLabelMapping(num_source, s.classes)
    program = PaddingProgram(canvas, min(s.image, canvas), mean=mean, std=std, resize_input=True)
    return Reprogrammer(frozen, program, output, paradigm="model-reprogramming", modality="vision",
                        name=f"padding+{type(output).__name__}")


def _images(count: int, size: int, classes: int, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    return torch.rand(count, 3, size, size, generator=g), torch.arange(count) % classes


def _timed_loader(dataset, batch_size: int, clock: Clock, between: Callable[[], Any] | None = None, seed: int = 0):
    """A DataLoader (the Trainer uses it as is) that times each step of the loop that iterates it.

    ``starts[i]`` is the stamp when the i-th pass asked for its first batch; ``passes[i]`` lists, for each
    batch of the i-th pass, the (wall, cpu) seconds from just before the batch is
    fetched to the moment the loop asks for the next one (data loading and the whole step). With ``between``,
    while gradients are enabled (training, not the Trainer's no-grad pass that fits ω), ``between`` runs and is
    timed right before each fetch: ``paired[i]`` lists (step, between) pairs taken under the same conditions.
    """
    import torch
    from torch.utils.data import DataLoader

    from reprogrammability.framework.training import _collate

    class TimedLoader(DataLoader):
        passes: list[list[tuple[float, float]]]
        starts: list[tuple[float, float]]
        paired: list[list[tuple[tuple[float, float], tuple[float, float]]]]

        def __iter__(self):
            iterator = super().__iter__()
            steps: list[tuple[float, float]] = []
            pairs: list[tuple[tuple[float, float], tuple[float, float]]] = []
            self.passes.append(steps)
            self.paired.append(pairs)
            start, other = None, None
            while True:
                entry = clock.now()
                if start is None:
                    self.starts.append(entry)
                if start is not None:
                    steps.append((entry[0] - start[0], entry[1] - start[1]))
                    if other is not None:
                        pairs.append((steps[-1], other))
                start, other = entry, None
                if between is not None and torch.is_grad_enabled():
                    between()
                    start = clock.now()
                    other = (start[0] - entry[0], start[1] - entry[1])
                try:
                    batch = next(iterator)
                except StopIteration:
                    return
                yield batch

    loader = TimedLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=_collate,
                         generator=torch.Generator().manual_seed(seed))
    loader.passes, loader.paired, loader.starts = [], [], []
    return loader


# ------------------------------------------------------------------------------------------------
# suites
def suite_visual(s: Settings, device, clock: Clock, log) -> tuple[list[Ratio], dict[str, Any]]:
    """Padding program + FLM on the frozen vision model vs the bare model's forward + backward-to-input
    and vs full fine-tuning, on the same batches."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch.utils.data import TensorDataset

    from reprogrammability.framework.training import Trainer

    net, num_source = _vision_model(s)
    finetune_net = copy.deepcopy(net).to(device).train().requires_grad_(True)
    reprogrammer = _padding_flm(net, s, num_source).to(device)
    bare = reprogrammer.frozen.model  # the same frozen network (eval, no weight gradients)
    images, labels = _images(s.steps * s.batch, s.image, s.classes)
    trainer = Trainer(reprogrammer, batch_size=s.batch, epochs=1, learning_rate=0.01, progress=False, device=str(device))
    trainer.fit_alignment((images, labels))
    batches = [(images[i : i + s.batch].to(device), labels[i : i + s.batch].to(device))
               for i in range(0, len(images), s.batch)]
    program = reprogrammer.inputs[0]
    with torch.no_grad():  # what f sees: the bare model gets exactly the program's canvas
        canvases = [program(x).detach() for x, _ in batches]
    source_labels = [torch.randint(0, num_source, (len(y),), device=device) for _, y in batches]
    program_optimizer = torch.optim.Adam([p for p in reprogrammer.parameters() if p.requires_grad], lr=0.01)
    finetune_optimizer = torch.optim.Adam(finetune_net.parameters(), lr=1e-4)
    cycle = {"i": 0}

    def nxt() -> int:
        cycle["i"] = (cycle["i"] + 1) % len(batches)
        return cycle["i"]

    def step_reprogramming():
        i = nxt()
        x, y = batches[i]
        program_optimizer.zero_grad(set_to_none=True)
        logits, _ = reprogrammer.forward_with_source(x)
        F.cross_entropy(logits.float(), y).backward()
        program_optimizer.step()

    def step_bare():
        i = nxt()
        x = canvases[i].detach().requires_grad_(True)
        F.cross_entropy(bare(x), source_labels[i]).backward()

    def step_finetune():
        i = nxt()
        finetune_optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(finetune_net(canvases[i]), source_labels[i]).backward()
        finetune_optimizer.step()

    dataset = TensorDataset(images, labels)

    def trainer_pairs() -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """One Trainer epoch; each of its steps paired with a bare step run right before it."""
        loader = _timed_loader(dataset, s.batch, clock, between=step_bare)
        Trainer(reprogrammer, batch_size=s.batch, epochs=1, learning_rate=0.01, progress=False,
                device=str(device)).fit(loader)
        return loader.paired[-1]

    variants = {
        "bare": lambda: per_step(clock, step_bare, 1),
        "reprogramming": lambda: per_step(clock, step_reprogramming, 1),
        "finetune": lambda: per_step(clock, step_finetune, 1),
    }
    log(f"visual: {s.vision_model}, batch {s.batch}, canvas {s.canvas}, image {s.image}")
    times = interleaved(variants, s.pairs, s.warmup, log)
    log(f"visual: {s.trainer_rounds} Trainer epochs of {s.steps} steps, each step paired with a bare step")
    trainer_pairs()  # warm-up
    pairs = [pair for _ in range(s.trainer_rounds) for pair in trainer_pairs()]
    times["trainer"] = [trainer for trainer, _ in pairs]
    times["bare_beside_trainer"] = [bare for _, bare in pairs]
    reprogrammer.frozen.assert_unchanged()
    # the work a reprogramming step adds to the bare step, timed alone (short, so little exposed to load):
    # the program's forward and backward, the label map with the loss, and Adam on the program
    upstream = torch.randn_like(canvases[0])
    source = torch.randn(s.batch, num_source, device=device)

    def step_extra():
        x, y = batches[nxt()]
        program_optimizer.zero_grad(set_to_none=True)
        program(x).backward(upstream[: len(x)])
        z = source[: len(x)].clone().requires_grad_(True)
        F.cross_entropy(reprogrammer.output(z).float(), y).backward()
        program_optimizer.step()

    per_step(clock, step_extra, 3)
    extra_work = clock.pick(per_step(clock, step_extra, 12))
    bare_median = statistics.median(clock.pick(t) for t in times["bare"])
    step_vs_bare = paired_ratio(clock, times, "reprogramming", "bare")
    step_vs_bare["extra"].update(extra_work_s=extra_work, extra_work_share_of_bare=extra_work / bare_median)
    ratios = [
        make_ratio("visual.step/bare", **step_vs_bare),
        make_ratio("visual.trainer_step/bare", **paired_ratio(clock, times, "trainer", "bare_beside_trainer")),
        make_ratio("visual.step/finetune", **paired_ratio(clock, times, "reprogramming", "finetune")),
    ]
    details = {
        "model": s.vision_model,
        "trainable_parameters": reprogrammer.parameter_count(),
        "model_parameters": reprogrammer.frozen.parameter_count,
        "batch": s.batch, "canvas": s.canvas, "image": s.image,
        "median_step_s": {k: statistics.median(clock.pick(t) for t in v) for k, v in times.items()},
        "times": times,
    }
    return ratios, details


def suite_options(s: Settings, device, clock: Clock, log, with_compile: bool = False) -> tuple[list[Ratio], dict[str, Any]]:
    """Each performance option measured against the default on the visual step; host syncs counted."""
    import copy

    import torch
    import torch.nn.functional as F

    net, num_source = _vision_model(s)
    images, labels = _images(s.steps * s.batch, s.image, s.classes)
    device_type = getattr(device, "type", "cpu")

    def setup(channels_last: bool = False, compiled: bool = False):
        reprogrammer = _padding_flm(copy.deepcopy(net), s, num_source).to(device)
        from reprogrammability.framework.training import Trainer

        Trainer(reprogrammer, batch_size=s.batch, progress=False, device=str(device)).fit_alignment((images, labels))
        if channels_last:
            reprogrammer.to(memory_format=torch.channels_last)
        if compiled:
            reprogrammer.frozen.model.compile()
        batches = [(images[i : i + s.batch].to(device), labels[i : i + s.batch].to(device))
                   for i in range(0, len(images), s.batch)]
        if channels_last:
            batches = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in batches]
        optimizer = torch.optim.Adam([p for p in reprogrammer.parameters() if p.requires_grad], lr=0.01)
        state = {"i": 0}

        def step(autocast: bool = False):
            state["i"] = (state["i"] + 1) % len(batches)
            x, y = batches[state["i"]]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=autocast):
                logits, _ = reprogrammer.forward_with_source(x)
                loss = F.cross_entropy(logits.float(), y)
            loss.backward()
            optimizer.step()

        return step

    default_step = setup()
    cl_step = setup(channels_last=True)
    canvases = [torch.rand(s.batch, 3, s.canvas, s.canvas, device=device) for _ in range(2)]
    targets = torch.randint(0, num_source, (s.batch,), device=device)
    frozen_net = copy.deepcopy(net).to(device).eval().requires_grad_(False)
    grad_net = copy.deepcopy(net).to(device).eval().requires_grad_(True)

    def input_backward(model):
        def step():
            x = canvases[0].clone().requires_grad_(True)
            F.cross_entropy(model(x), targets).backward()
            model.zero_grad(set_to_none=True)
        return step

    variants = {
        "default": lambda: per_step(clock, default_step, 1),
        "channels_last": lambda: per_step(clock, cl_step, 1),
        "bf16_autocast": lambda: per_step(clock, lambda: default_step(autocast=True), 1),
        "frozen_weights": lambda: per_step(clock, input_backward(frozen_net), 1),
        "weights_require_grad": lambda: per_step(clock, input_backward(grad_net), 1),
    }
    details: dict[str, Any] = {}
    if with_compile:
        compiled_step = setup(compiled=True)
        start = time.perf_counter()
        compiled_step()
        compiled_step()  # compile (and a possible re-compile) outside the timed rounds
        details["compile_seconds"] = time.perf_counter() - start
        variants["compiled"] = lambda: per_step(clock, compiled_step, 1)
    log(f"options: {', '.join(variants)}")
    times = interleaved(variants, s.pairs, s.warmup, log)
    ratios = [
        make_ratio("options.channels_last/default", **paired_ratio(clock, times, "channels_last", "default")),
        make_ratio("options.bf16_autocast/fp32", **paired_ratio(clock, times, "bf16_autocast", "default")),
        make_ratio("options.weight_grads/frozen", **paired_ratio(clock, times, "weights_require_grad", "frozen_weights")),
    ]
    if with_compile:
        ratios.append(make_ratio("options.compile/eager", **paired_ratio(clock, times, "compiled", "default")))
    syncs = host_syncs_per_step()
    ratios.append(make_ratio("options.host_syncs_per_step", syncs["per_step"], extra=syncs))
    details.update(framework_overhead(net))
    details["median_step_s"] = {k: statistics.median(clock.pick(t) for t in v) for k, v in times.items()}
    details["times"] = times
    return ratios, details


_SYNC_METHODS = frozenset({"__bool__", "item", "__float__", "__int__", "__index__", "tolist", "__len__"})


def count_host_syncs(run: Callable[[], Any], ignore: Sequence[str] = ("torch/utils/data", "torch/optim")) -> list[str]:
    """Calls that copy a tensor's value to the host (``bool``, ``float``, ``int``, ``item``, ``tolist``) made by
    ``run``, as ``"method file:line"`` of the innermost frame outside torch. On CUDA each is a device synchronisation.

    Calls whose stack passes through ``ignore`` (data loading on the host; the optimisers' step counters, which
    torch keeps on the host) are not counted.
    """
    import traceback

    from torch.overrides import TorchFunctionMode

    found: list[str] = []

    class Recorder(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = getattr(func, "__name__", "")
            if name in _SYNC_METHODS:
                frames = traceback.extract_stack()[:-1]
                paths = [f.filename.replace(os.sep, "/") for f in frames]
                if not any(part in p for p in paths for part in ignore):
                    outside = [f for f in frames if "/torch/" not in f.filename.replace(os.sep, "/")]
                    where = outside[-1] if outside else frames[-1]
                    found.append(f"{name} {Path(where.filename).name}:{where.lineno}")
            return func(*args, **(kwargs or {}))

    with Recorder():
        run()
    return found


def host_syncs_per_step(short: int = 2, long: int = 6, batch: int = 4) -> dict[str, Any]:
    """Count host reads in Trainer.fit with ``short`` and ``long`` steps (tiny CNN, padding program, ILM): the
    difference divided by the extra steps is what each step adds (epoch-end reads cancel out)."""
    import torch

    from reprogrammability.framework import Reprogrammer
    from reprogrammability.framework.training import Trainer
    from reprogrammability.implementations.models.tiny import tiny_cnn
    from reprogrammability.implementations.reprogramming.label_mapping import IterativeLabelMapping
    from reprogrammability.implementations.reprogramming.programs import PaddingProgram

    counts = {}
    for steps in (short, long):
        reprogrammer = Reprogrammer(tiny_cnn(seed=0), PaddingProgram(32, 24), IterativeLabelMapping(10, 4),
                                    paradigm="model-reprogramming")
        images, labels = _images(steps * batch, 24, 4)
        trainer = Trainer(reprogrammer, epochs=1, batch_size=batch, progress=False, device="cpu")
        counts[steps] = count_host_syncs(lambda: trainer.fit((images, labels)))
    extra = len(counts[long]) - len(counts[short])
    return {"per_step": extra / (long - short), "per_fit": {str(k): v for k, v in counts.items()}}


def framework_overhead(net) -> dict[str, Any]:
    """Host CPU time the framework adds to a forward of f (µs): FrozenModel's write check over f's tensors, and the
    whole FrozenModel + Reprogrammer dispatch measured on a 1-parameter model. On a GPU, where a step takes
    milliseconds, this is what the Python layer costs."""
    import torch
    from torch import nn

    from reprogrammability.framework import FrozenModel, Reprogrammer
    from reprogrammability.framework.alignment import IdentityAlignment
    from reprogrammability.framework.axes import Configuration, Location, Operator
    from reprogrammability.framework.manipulation import InputManipulation
    from reprogrammability.framework.symbolic import SymbolicForm, x as sym_x

    class Identity(InputManipulation):
        configuration, operator, location = Configuration.FIXED, Operator.ADDITIVE, Location.INPUT

        def forward(self, value):
            return value

        def symbolic(self):
            return SymbolicForm(expression=sym_x)

    frozen_net = FrozenModel(net)
    repeats = 500
    start = time.process_time()
    for _ in range(repeats):
        frozen_net.check_writes()
    check = (time.process_time() - start) / repeats
    tiny = nn.Linear(1, 1)
    reprogrammer = Reprogrammer(tiny, Identity(), IdentityAlignment(), paradigm="prompt-instruction")
    value = torch.zeros(1, 1)
    with torch.no_grad():
        for fn in (lambda: tiny(value), lambda: reprogrammer(value)):
            fn()
        timings = []
        for fn in (lambda: tiny(value), lambda: reprogrammer(value)):
            start = time.process_time()
            for _ in range(2000):
                fn()
            timings.append((time.process_time() - start) / 2000)
    return {
        "write_check_us": check * 1e6,
        "write_check_tensors": len(frozen_net._tensors()),
        "dispatch_overhead_us": (timings[1] - timings[0]) * 1e6,
    }


def _tiny_llama(s: Settings, seed: int = 0):
    """The Llama-like test LM of the mode; its vocabulary covers the word-level tokenizer's."""
    from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_tokenizer

    vocab = max(s.lm_vocab, len(tiny_tokenizer(style="causal")))
    return tiny_causal_lm("llama", vocab_size=vocab, hidden_size=s.lm_hidden, num_layers=s.lm_layers,
                          num_heads=s.lm_heads, num_kv_heads=s.lm_kv_heads, max_positions=512, seed=seed)


def suite_prompt(s: Settings, device, clock: Clock, log, real: bool = False) -> tuple[list[Ratio], dict[str, Any]]:
    """Our prompt tuning and prefix tuning (implementations.prompt_tuning) against peft's, same model and batch:
    the same prompt weights are copied into both, the scores are checked equal, then one training step
    (forward, verbalised cross-entropy at the last token, backward, Adam) is timed and its peak memory taken."""
    import torch
    import torch.nn.functional as F

    try:
        from peft import PrefixTuningConfig, PromptTuningConfig, get_peft_model
    except ImportError:  # pragma: no cover - peft is a test dependency
        log("prompt: peft is not installed; skipped")
        return [], {"skipped": "peft is not installed"}
    from reprogrammability.implementations.models.tiny import tiny_tokenizer
    from reprogrammability.implementations.prompt_tuning import prefix_tuning, prompt_tuning

    if real:
        from reprogrammability.implementations.models.pretrained import load_smollm2

        def fresh_model():
            return load_smollm2()

        words = ["negative", "positive"]
    else:

        def fresh_model():
            return _tiny_llama(s).to(device), tiny_tokenizer(style="causal")

        words = ["bad", "good"]
    model, tokenizer = fresh_model()
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(7, min(vocab, 30000), (s.lm_batch, s.lm_length), generator=g)
    mask = torch.ones_like(ids)
    mask[0, -max(1, s.lm_length // 4):] = 0  # one padded row
    ids[mask == 0] = tokenizer.pad_token_id or 0
    batch = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
    labels = (torch.arange(s.lm_batch) % 2).to(device)
    last = batch["attention_mask"].sum(1) - 1
    rows = torch.arange(s.lm_batch, device=device)
    P = s.virtual_tokens
    ratios: list[Ratio] = []
    details: dict[str, Any] = {"model": "SmolLM2-135M-Instruct" if real else
                               f"Llama-like, hidden {s.lm_hidden}, {s.lm_layers} layers, vocab {vocab}",
                               "batch": s.lm_batch, "length": s.lm_length, "virtual_tokens": P}
    for method in ("prompt_tuning", "prefix_tuning"):
        if method != "prompt_tuning":
            model, tokenizer = fresh_model()
        model = model.to(device)
        if method == "prompt_tuning":
            config = PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P)
        else:
            config = PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=P, prefix_projection=False)
        peft_model = get_peft_model(model, config).to(device)
        theirs = peft_model.prompt_encoder["default"].embedding.weight
        with torch.no_grad():
            theirs.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        base = peft_model.get_base_model()
        if method == "prompt_tuning":
            ours = prompt_tuning.build(base, tokenizer=tokenizer, label_words=words, num_virtual_tokens=P, init="normal")
            part, offset = ours.inputs[0], P
            with torch.no_grad():
                part.prompt.copy_(theirs)
        else:
            ours = prefix_tuning.build(base, tokenizer=tokenizer, label_words=words, num_virtual_tokens=P,
                                       reparameterize=False)
            part, offset = ours.inputs[0], 0
            with torch.no_grad():
                part.prefix.copy_(theirs)
        ours = ours.to(device)
        align = ours.output

        def peft_scores():
            return align(peft_model(**batch).logits[rows, offset + last])

        peft_model.train()  # as fine-tuning runs it (dropout is 0 in these models)
        with torch.no_grad():
            difference = float((peft_scores() - ours(batch)).abs().max())
        ours_optimizer = torch.optim.Adam([p for p in ours.parameters() if p.requires_grad], lr=1e-3)
        peft_optimizer = torch.optim.Adam([p for p in peft_model.parameters() if p.requires_grad], lr=1e-3)

        def ours_step():
            ours_optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(ours(batch).float(), labels).backward()
            ours_optimizer.step()

        def peft_step():
            peft_optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(peft_scores().float(), labels).backward()
            peft_optimizer.step()

        log(f"prompt: {method} (max |Δscore| ours vs peft before training: {difference:.1e})")
        times = interleaved({"ours": lambda: per_step(clock, ours_step, 1),
                             "peft": lambda: per_step(clock, peft_step, 1)}, s.lm_pairs, s.warmup, log)
        memory = {}
        for name, step in (("ours", ours_step), ("peft", peft_step)):
            step()  # the optimiser state exists; the previous step's gradients are freed inside the step
            memory[name] = statistics.median(peak_step_memory(step, device) for _ in range(3))
        ratios.append(make_ratio(f"prompt.{method}.time/peft", **paired_ratio(clock, times, "ours", "peft")))
        ratios.append(make_ratio(f"prompt.{method}.memory/peft", memory["ours"] / max(memory["peft"], 1.0),
                                 numerator_s=None, denominator_s=None,
                                 extra={"ours_bytes": memory["ours"], "peft_bytes": memory["peft"]}))
        details[method] = {"max_abs_score_difference": difference, "peak_step_bytes": memory, "times": times,
                           "trainable_parameters": ours.parameter_count()}
        ours.frozen.assert_unchanged()
    return ratios, details


def suite_icl(s: Settings, device, clock: Clock, log, real: bool = False) -> tuple[list[Ratio], dict[str, Any]]:
    """In-context learning with the shared-prefix key/value cache vs re-encoding the demonstrations for every
    query (implementations.prompt_instruction), the same queries and prompts; the cache is cleared before each
    timed run, so the cached time includes encoding the prefix."""
    import torch

    from reprogrammability.implementations.data.text import load_text_task
    from reprogrammability.implementations.models.tiny import tiny_tokenizer
    from reprogrammability.implementations.prompt_instruction import in_context_learning

    if real:
        from reprogrammability.implementations.models.pretrained import load_smollm2

        model, tokenizer = load_smollm2()
        template = {"input_template": "Review: {text}\nSentiment:", "label_words": ["negative", "positive"]}
    else:
        model, tokenizer = _tiny_llama(s), tiny_tokenizer(style="causal")
        template = {"input_template": "review : {text} sentiment :", "label_words": ["negative", "positive"]}
    model = model.to(device)
    train, test = load_text_task("sentiment", "train"), load_text_task("sentiment", "test")
    queries = list(test.inputs[: s.icl_queries])
    ratios: list[Ratio] = []
    details: dict[str, Any] = {"model": "SmolLM2-135M-Instruct" if real else
                               f"Llama-like, hidden {s.lm_hidden}, {s.lm_layers} layers",
                               "queries": len(queries), "batch": s.icl_batch, "k": {}}
    for k in s.icl_ks:
        built = {}
        for use_cache in (True, False):
            built[use_cache] = in_context_learning.build(
                model, tokenizer=tokenizer, pool=(train.inputs, train.labels.tolist()), k=k, seed=0, balanced=True,
                use_cache=use_cache, batch_size=s.icl_batch, continuation="first", **template,
            )

        def run(use_cache: bool):
            reprogrammer = built[use_cache]

            def go() -> tuple[float, float]:
                reprogrammer.frozen.adapter.clear_cache()
                start = clock.now()
                with torch.no_grad():
                    z = torch.cat([reprogrammer.source_outputs(queries[i : i + s.icl_batch])
                                   for i in range(0, len(queries), s.icl_batch)])
                end = clock.now()
                run.scores[use_cache] = z  # type: ignore[attr-defined]
                return end[0] - start[0], end[1] - start[1]

            return go

        run.scores = {}  # type: ignore[attr-defined]
        log(f"icl: k = {k}")
        times = interleaved({"cached": run(True), "reencode": run(False)}, s.icl_rounds, s.warmup, log)
        difference = float((run.scores[True] - run.scores[False]).abs().max())  # type: ignore[attr-defined]
        prompt = built[True].inputs[0](queries[:1])
        prefix_tokens = len(tokenizer(prompt.prefixes[0])["input_ids"]) if prompt.prefixes[0] else 0
        query_tokens = len(tokenizer(prompt.queries[0])["input_ids"])
        name = f"icl.speedup_k{k}"
        measured = paired_ratio(clock, times, "reencode", "cached")
        extra = {**measured.pop("extra"), "prefix_tokens": prefix_tokens, "query_tokens": query_tokens,
                 "max_abs_score_difference": difference}
        if name in TARGETS:
            ratios.append(make_ratio(name, **measured, extra=extra))
        details["k"][str(k)] = {**extra, "times": times}
    return ratios, details


def suite_mapping(s: Settings, device, clock: Clock, log) -> tuple[list[Ratio], dict[str, Any]]:
    """One training epoch through the Trainer with ILM and BLM (ω re-fitted at the end of the epoch from the
    epoch's own logits) against FLM (fitted once), same program, data and batches; the epoch is timed from the
    first batch of the training pass to the end of fit (re-fit and the frozen-model check included)."""
    from torch.utils.data import TensorDataset

    from reprogrammability.framework.training import Trainer
    from reprogrammability.implementations.reprogramming.label_mapping import (
        BayesianLabelMapping,
        FrequencyLabelMapping,
        IterativeLabelMapping,
    )

    net, num_source = _vision_model(s)
    from reprogrammability.framework import FrozenModel

    frozen = FrozenModel(net.to(device))
    images, labels = _images(s.mapping_samples, min(s.image, s.mapping_canvas), s.classes)
    dataset = TensorDataset(images, labels)
    outputs = {"flm": FrequencyLabelMapping, "ilm": IterativeLabelMapping, "blm": BayesianLabelMapping}

    def run(name: str):
        def go() -> tuple[float, float]:
            reprogrammer = _padding_flm(frozen, s, num_source, canvas=s.mapping_canvas,
                                        output=outputs[name](num_source, s.classes)).to(device)
            loader = _timed_loader(dataset, s.mapping_batch, clock)
            Trainer(reprogrammer, epochs=1, batch_size=s.mapping_batch, learning_rate=0.01, progress=False,
                    device=str(device)).fit(loader)
            end = clock.now()
            start = loader.starts[-1]
            return end[0] - start[0], end[1] - start[1]

        return go

    log(f"mapping: {len(dataset)} images, batch {s.mapping_batch}, canvas {s.mapping_canvas}")
    times = interleaved({n: run(n) for n in outputs}, s.mapping_rounds, s.warmup, log)
    # the only work ILM/BLM add to an epoch: ω re-estimated from the epoch's logits (timed alone, low noise)
    import torch

    logits = torch.randn(len(dataset), num_source, generator=torch.Generator().manual_seed(0)).to(device)
    targets = labels.to(device)
    flm_epoch = statistics.median(clock.pick(t) for t in times["flm"])
    ratios = []
    for name in ("ilm", "blm"):
        alignment = outputs[name](num_source, s.classes).to(device)
        refit = clock.pick(per_step(clock, lambda: alignment.fit(logits, targets), 5))
        measured = paired_ratio(clock, times, name, "flm")
        measured["extra"].update(refit_s=refit, refit_share_of_flm_epoch=refit / flm_epoch)
        ratios.append(make_ratio(f"mapping.{name}/flm", **measured))
    return ratios, {"samples": len(dataset), "batch": s.mapping_batch, "canvas": s.mapping_canvas, "times": times}


# ------------------------------------------------------------------------------------------------
# the run
def machine(device) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        info["load_average"] = None
    if getattr(device, "type", "") == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run_bench(
    suites: Sequence[str] = SUITES,
    mode: str = "default",
    device: str = "auto",
    clock: str = "auto",
    threads: int | None = 1,
    real: bool = False,
    with_compile: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the suites; the report (machine, settings, ratios with targets, per-suite details) as a dict."""
    import torch

    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {sorted(MODES)}")
    unknown = [x for x in suites if x not in SUITES]
    if unknown:
        raise ValueError(f"suite: {unknown} not in {list(SUITES)}")
    log = log or (lambda message: None)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run_suites(suites, mode, device, clock, real, with_compile, log)
    finally:
        torch.set_num_threads(previous_threads)


def _run_suites(suites, mode, device, clock, real, with_compile, log) -> dict[str, Any]:
    from reprogrammability.framework.training import resolve_device, seed_everything

    settings = MODES[mode]
    target = resolve_device(device)
    timer = Clock(target, clock)
    seed_everything(0)
    report: dict[str, Any] = {
        "stem": result_stem(mode, suites, target.type, real, with_compile),
        "mode": mode,
        "suites_run": [x for x in SUITES if x in suites],
        "clock": timer.primary,
        "machine": machine(target),
        "settings": asdict(settings),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "ratios": [],
        "suites": {},
    }
    runners: dict[str, Callable[[], tuple[list[Ratio], dict[str, Any]]]] = {
        "visual": lambda: suite_visual(settings, target, timer, log),
        "options": lambda: suite_options(settings, target, timer, log, with_compile=with_compile),
        "prompt": lambda: suite_prompt(settings, target, timer, log, real=real),
        "icl": lambda: suite_icl(settings, target, timer, log, real=real),
        "mapping": lambda: suite_mapping(settings, target, timer, log),
    }
    begin = time.perf_counter()
    for name in SUITES:
        if name not in suites:
            continue
        start = time.perf_counter()
        ratios, details = runners[name]()
        details["seconds"] = time.perf_counter() - start
        log(f"{name}: {details['seconds']:.0f} s")
        report["ratios"].extend(r.as_dict() for r in ratios)
        report["suites"][name] = details
    report["seconds"] = time.perf_counter() - begin
    try:
        report["machine"]["load_average_end"] = list(os.getloadavg())
    except OSError:  # pragma: no cover
        pass
    return report


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
        lines.append(f"| {row['name']} | {row['value']:.3f} | {_fmt_target(row)} | {_mark(row['passed'], row['op'])} "
                     f"| {num} | {den} | {row['description']} |")
    by_name = {row["name"]: row for row in report["ratios"]}
    notes = []
    if "extra_work_s" in by_name.get("visual.step/bare", {}).get("extra", {}):
        e = by_name["visual.step/bare"]["extra"]
        notes.append(f"Work the reprogramming step adds to the bare step, timed alone (program forward and backward, "
                     f"label map and loss, Adam on the program): {e['extra_work_s'] * 1e3:.1f} ms = "
                     f"{100 * e['extra_work_share_of_bare']:.1f}% of the bare step.")
    for name in ("mapping.ilm/flm", "mapping.blm/flm"):
        e = by_name.get(name, {}).get("extra", {})
        if "refit_s" in e:
            notes.append(f"{name.split('.')[1].split('/')[0].upper()} re-fit of ω from an epoch's logits, timed alone: "
                         f"{e['refit_s'] * 1e3:.2f} ms = {100 * e['refit_share_of_flm_epoch']:.3f}% of an FLM epoch.")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    options = report["suites"].get("options", {})
    if "write_check_us" in options:
        lines += ["", f"Framework overhead per forward of f: write check {options['write_check_us']:.0f} µs over "
                      f"{options['write_check_tensors']} tensors, FrozenModel + Reprogrammer dispatch "
                      f"{options['dispatch_overhead_us']:.0f} µs (host time)."]
    if "compile_seconds" in options:
        lines.append(f"torch.compile of f took {options['compile_seconds']:.0f} s (first two steps).")
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
        colour = "#b0b0b0" if row["passed"] is None else (
            ("#2f6fb0" if row["passed"] else "#b0b0b0") if option else ("#3a923a" if row["passed"] else "#c0392b"))
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
    ax.set_title(f"nnr bench ({report['mode']}) on {where}" + (f", load average {load[0]:.1f}" if load else "")
                 + "\nbars: measured ratios; black ticks: targets; blue/grey: options that help / do not",
                 fontsize=9)
    ax.set_xlabel("ratio (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def result_stem(mode: str, suites: Sequence[str], device_type: str = "cpu", real: bool = False,
                with_compile: bool = False) -> str:
    """``bench[-mode][-suites][-device][-real][-compile]``: one file name per kind of run."""
    parts = ["bench"]
    if mode != "default":
        parts.append(mode)
    if set(suites) != set(SUITES):
        parts.extend(x for x in SUITES if x in suites)
    if device_type != "cpu":
        parts.append(device_type)
    if real:
        parts.append("real")
    if with_compile:
        parts.append("compile")
    return "-".join(parts)


def write_report(report: dict[str, Any], directory: Path, overwrite: bool = False) -> list[Path]:
    """``<stem>.json``, ``.md`` and ``.png`` in ``directory`` (see :func:`result_stem`); refuses to overwrite
    unless ``overwrite``."""
    stem = report["stem"]
    paths = [directory / f"{stem}.{ext}" for ext in ("json", "md", "png")]
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"output: {existing[0]} exists; pass --overwrite to replace it")
    directory.mkdir(parents=True, exist_ok=True)
    paths[0].write_text(json.dumps(report, indent=2, default=float) + "\n")
    paths[1].write_text(table(report) + "\n")
    plot(report, paths[2])
    return paths


# ------------------------------------------------------------------------------------------------
# the command
def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure reprogramming speed against its limit and against peft, fine-tuning and re-encoding",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--suite", action="append", choices=[*SUITES, "all"],
                        help="suite to run (repeatable; default: all)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller shapes and fewer rounds (under 2 minutes on CPU)")
    size.add_argument("--tiny", action="store_true", help="tiny random models, seconds (tests the mechanics only)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    parser.add_argument("--clock", default="auto", choices=["auto", "cpu", "wall"],
                        help="primary clock (auto: process CPU time on CPU, synchronised wall time on CUDA)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave torch's default)")
    parser.add_argument("--real", action="store_true", help="prompt and icl suites on SmolLM2-135M (slow on CPU)")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (minutes of compiling on CPU)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"directory for the JSON, Markdown and PNG results (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--no-write", action="store_true", help="print only; write no files")
    parser.add_argument("--overwrite", action="store_true", help="replace existing result files")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    suites = SUITES if not args.suite or "all" in args.suite else tuple(dict.fromkeys(args.suite))
    mode = "quick" if args.quick else "tiny" if args.tiny else "default"
    from reprogrammability.framework.training import resolve_device

    stem = result_stem(mode, suites, resolve_device(args.device).type, args.real, args.compile)
    if not args.no_write and not args.overwrite:
        existing = [args.output / f"{stem}.{ext}" for ext in ("json", "md", "png")]
        found = [p for p in existing if p.exists()]
        if found:  # fail before spending minutes measuring
            print(f"nnr bench: output: {found[0]} exists; pass --overwrite to replace it", file=sys.stderr)
            return 2

    def log(message: str) -> None:
        if not args.json:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    report = run_bench(suites, mode=mode, device=args.device, clock=args.clock, threads=args.threads or None,
                       real=args.real, with_compile=args.compile, log=log)
    if not args.no_write:
        paths = write_report(report, args.output, overwrite=args.overwrite)
        log("wrote " + ", ".join(str(p) for p in paths))
    print(json.dumps(report, indent=2, default=float) if args.json else table(report))
    return 0
