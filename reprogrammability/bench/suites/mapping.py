"""Label mappings re-fitted every epoch (ILM, BLM) against one fitted once (FLM), through the Trainer."""

from __future__ import annotations

import statistics
from typing import Any

from ..fixtures import padding_flm, random_images, timed_loader, vision_model
from ..settings import Settings
from ..suite import Ratio, Suite, Target, make_ratio
from ..timing import Clock, interleaved, paired_ratio, per_step

TARGETS: dict[str, Target] = {
    "mapping.ilm/flm": ("<=", 1.05, "ILM epoch / FLM epoch (Trainer, same data)"),
    "mapping.blm/flm": ("<=", 1.05, "BLM epoch / FLM epoch (Trainer, same data)"),
}


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

    net, num_source = vision_model(s)
    from reprogrammability.framework import FrozenModel

    frozen = FrozenModel(net.to(device))
    images, labels = random_images(s.mapping_samples, min(s.image, s.mapping_canvas), s.classes)
    dataset = TensorDataset(images, labels)
    outputs = {"flm": FrequencyLabelMapping, "ilm": IterativeLabelMapping, "blm": BayesianLabelMapping}

    def run(name: str):
        def go() -> tuple[float, float]:
            reprogrammer = padding_flm(
                frozen, s, num_source, canvas=s.mapping_canvas, output=outputs[name](num_source, s.classes)
            ).to(device)
            loader = timed_loader(dataset, s.mapping_batch, clock)
            Trainer(
                reprogrammer,
                epochs=1,
                batch_size=s.mapping_batch,
                learning_rate=0.01,
                progress=False,
                device=str(device),
            ).fit(loader)
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
        ratios.append(make_ratio(TARGETS, f"mapping.{name}/flm", **measured))
    return ratios, {"samples": len(dataset), "batch": s.mapping_batch, "canvas": s.mapping_canvas, "times": times}


def notes(report: dict[str, Any]) -> list[str]:
    """The ILM/BLM re-fit of ω, timed alone."""
    by_name = {row["name"]: row for row in report["ratios"]}
    lines = []
    for name in ("mapping.ilm/flm", "mapping.blm/flm"):
        e = by_name.get(name, {}).get("extra", {})
        if "refit_s" in e:
            lines.append(
                f"{name.split('.')[1].split('/')[0].upper()} re-fit of ω from an epoch's logits, timed "
                f"alone: {e['refit_s'] * 1e3:.2f} ms = {100 * e['refit_share_of_flm_epoch']:.3f}% of an FLM epoch."
            )
    return lines


SUITE = Suite(
    "mapping",
    order=50,
    targets=TARGETS,
    notes=notes,
    run=lambda c: suite_mapping(c.settings, c.device, c.clock, c.log),
)
