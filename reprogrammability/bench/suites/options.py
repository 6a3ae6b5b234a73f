"""Performance options (channels-last, bf16 autocast, torch.compile) against the default visual step;
weights that require gradients against frozen ones; host syncs per Trainer step; framework overhead."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ..fixtures import padding_flm, random_images, vision_model
from ..settings import Settings
from ..suite import Ratio, Suite, Target, make_ratio
from ..timing import Clock, interleaved, paired_ratio, per_step

TARGETS: dict[str, Target] = {
    "options.channels_last/default": ("<", 1.0, "channels-last step / default step (kept only if < 1)"),
    "options.bf16_autocast/fp32": ("<", 1.0, "bf16 autocast step / fp32 step on this device (kept only if < 1)"),
    "options.compile/eager": (
        "<",
        1.0,
        "torch.compile'd f step / eager step, compile time excluded (kept only if < 1)",
    ),
    "options.weight_grads/frozen": (">", 1.0, "forward + backward with weights requiring gradients / frozen weights"),
    "options.host_syncs_per_step": ("<=", 0.0, "host-device synchronisations per Trainer step (counted)"),
}


def suite_options(
    s: Settings, device, clock: Clock, log, with_compile: bool = False
) -> tuple[list[Ratio], dict[str, Any]]:
    """Each performance option measured against the default on the visual step; host syncs counted."""
    import copy

    import torch
    import torch.nn.functional as F

    net, num_source = vision_model(s)
    images, labels = random_images(s.steps * s.batch, s.image, s.classes)
    device_type = getattr(device, "type", "cpu")

    def setup(channels_last: bool = False, compiled: bool = False):
        reprogrammer = padding_flm(copy.deepcopy(net), s, num_source).to(device)
        from reprogrammability.framework.training import Trainer

        Trainer(reprogrammer, batch_size=s.batch, progress=False, device=str(device)).fit_alignment((images, labels))
        if channels_last:
            reprogrammer.to(memory_format=torch.channels_last)
        if compiled:
            reprogrammer.frozen.model.compile()
        batches = [
            (images[i : i + s.batch].to(device), labels[i : i + s.batch].to(device))
            for i in range(0, len(images), s.batch)
        ]
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
        make_ratio(TARGETS, "options.channels_last/default", **paired_ratio(clock, times, "channels_last", "default")),
        make_ratio(TARGETS, "options.bf16_autocast/fp32", **paired_ratio(clock, times, "bf16_autocast", "default")),
        make_ratio(
            TARGETS,
            "options.weight_grads/frozen",
            **paired_ratio(clock, times, "weights_require_grad", "frozen_weights"),
        ),
    ]
    if with_compile:
        ratios.append(make_ratio(TARGETS, "options.compile/eager", **paired_ratio(clock, times, "compiled", "default")))
    syncs = host_syncs_per_step()
    ratios.append(make_ratio(TARGETS, "options.host_syncs_per_step", syncs["per_step"], extra=syncs))
    details.update(framework_overhead(net))
    details["median_step_s"] = {k: statistics.median(clock.pick(t) for t in v) for k, v in times.items()}
    details["times"] = times
    return ratios, details


_SYNC_METHODS = frozenset({"__bool__", "item", "__float__", "__int__", "__index__", "tolist", "__len__"})


def count_host_syncs(
    run: Callable[[], Any], ignore: Sequence[str] = ("torch/utils/data", "torch/optim", "framework/checks.py")
) -> list[str]:
    """Calls that copy a tensor's value to the host (``bool``, ``float``, ``int``, ``item``, ``tolist``) made by
    ``run``, as ``"method file:line"`` of the innermost frame outside torch. On CUDA each is a device synchronisation.

    Calls whose stack passes through ``ignore`` are not counted: data loading on the host; the optimisers' step
    counters, which torch keeps on the host; and the boundary checks of ``framework/checks.py``, which read only
    host-side tensors (a batch before it moves to the device, or any tensor of a CPU run) and skip device tensors.
    The count is measured on the CPU, so it reports the reads that a CUDA run of the same code would make.
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

    from reprogrammability.framework import Reprogrammer
    from reprogrammability.framework.training import Trainer
    from reprogrammability.implementations.models.tiny import tiny_cnn
    from reprogrammability.implementations.reprogramming.label_mapping import IterativeLabelMapping
    from reprogrammability.implementations.reprogramming.programs import PaddingProgram

    counts = {}
    for steps in (short, long):
        reprogrammer = Reprogrammer(
            tiny_cnn(seed=0), PaddingProgram(32, 24), IterativeLabelMapping(10, 4), paradigm="model-reprogramming"
        )
        images, labels = random_images(steps * batch, 24, 4)
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
    from reprogrammability.framework.symbolic import SymbolicForm
    from reprogrammability.framework.symbolic import x as sym_x

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


def notes(report: dict[str, Any]) -> list[str]:
    """The framework's host overhead per forward of f, and the compile time."""
    options = report["suites"].get("options", {})
    lines = []
    if "write_check_us" in options:
        lines.append(
            f"Framework overhead per forward of f: write check {options['write_check_us']:.0f} µs over "
            f"{options['write_check_tensors']} tensors, FrozenModel + Reprogrammer dispatch "
            f"{options['dispatch_overhead_us']:.0f} µs (host time)."
        )
    if "compile_seconds" in options:
        lines.append(f"torch.compile of f took {options['compile_seconds']:.0f} s (first two steps).")
    return lines


SUITE = Suite(
    "options",
    order=20,
    targets=TARGETS,
    notes=notes,
    run=lambda c: suite_options(c.settings, c.device, c.clock, c.log, with_compile=c.with_compile),
)
