"""Visual reprogramming (padding program + FLM) against the bare model's forward + backward-to-input,
the same step run by the Trainer, and full fine-tuning."""

from __future__ import annotations

import statistics
from typing import Any

from ..fixtures import padding_flm, random_images, timed_loader, vision_model
from ..settings import Settings
from ..suite import Ratio, Suite, Target, make_ratio
from ..timing import Clock, interleaved, paired_ratio, per_step

TARGETS: dict[str, Target] = {
    "visual.step/bare": ("<=", 1.10, "visual reprogramming step / (forward + backward-to-input of the bare model)"),
    "visual.trainer_step/bare": ("<=", 1.10, "the same step run by the Trainer (data loading included) / bare"),
    "visual.step/finetune": ("<=", 0.70, "visual reprogramming step / full fine-tuning step (Adam)"),
}


def suite_visual(s: Settings, device, clock: Clock, log) -> tuple[list[Ratio], dict[str, Any]]:
    """Padding program + FLM on the frozen vision model vs the bare model's forward + backward-to-input
    and vs full fine-tuning, on the same batches."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch.utils.data import TensorDataset

    from reprogrammability.framework.training import Trainer

    net, num_source = vision_model(s)
    finetune_net = copy.deepcopy(net).to(device).train().requires_grad_(True)
    reprogrammer = padding_flm(net, s, num_source).to(device)
    bare = reprogrammer.frozen.model  # the same frozen network (eval, no weight gradients)
    images, labels = random_images(s.steps * s.batch, s.image, s.classes)
    trainer = Trainer(
        reprogrammer, batch_size=s.batch, epochs=1, learning_rate=0.01, progress=False, device=str(device)
    )
    trainer.fit_alignment((images, labels))
    batches = [
        (images[i : i + s.batch].to(device), labels[i : i + s.batch].to(device)) for i in range(0, len(images), s.batch)
    ]
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
        loader = timed_loader(dataset, s.batch, clock, between=step_bare)
        Trainer(reprogrammer, batch_size=s.batch, epochs=1, learning_rate=0.01, progress=False, device=str(device)).fit(
            loader
        )
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
        make_ratio(TARGETS, "visual.step/bare", **step_vs_bare),
        make_ratio(TARGETS, "visual.trainer_step/bare", **paired_ratio(clock, times, "trainer", "bare_beside_trainer")),
        make_ratio(TARGETS, "visual.step/finetune", **paired_ratio(clock, times, "reprogramming", "finetune")),
    ]
    details = {
        "model": s.vision_model,
        "trainable_parameters": reprogrammer.parameter_count(),
        "model_parameters": reprogrammer.frozen.parameter_count,
        "batch": s.batch,
        "canvas": s.canvas,
        "image": s.image,
        "median_step_s": {k: statistics.median(clock.pick(t) for t in v) for k, v in times.items()},
        "times": times,
    }
    return ratios, details


def notes(report: dict[str, Any]) -> list[str]:
    """The work a reprogramming step adds to the bare step, timed alone."""
    e: dict[str, Any] = next((r["extra"] for r in report["ratios"] if r["name"] == "visual.step/bare"), {})
    if "extra_work_s" not in e:
        return []
    return [
        f"Work the reprogramming step adds to the bare step, timed alone (program forward and backward, "
        f"label map and loss, Adam on the program): {e['extra_work_s'] * 1e3:.1f} ms = "
        f"{100 * e['extra_work_share_of_bare']:.1f}% of the bare step."
    ]


SUITE = Suite(
    "visual",
    order=10,
    targets=TARGETS,
    notes=notes,
    run=lambda c: suite_visual(c.settings, c.device, c.clock, c.log),
)
