"""The training steps the validator runs, instrumented (see :mod:`.guard` for what is watched inside each step)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..axes import Alignment
from ..errors import FrozenModelError
from .common import (
    _equal,
    _error,
    _to_device,
    _trainable,
    full_state,
)
from .example import ValidationExample, _seed_everything
from .guard import FrozenGuard


@dataclass
class _Training:
    steps_done: int = 0
    error: Optional[str] = None
    error_type: Optional[type] = None
    train_mode_modules: list[str] = field(default_factory=list)
    frozen_grads: list[str] = field(default_factory=list)
    write_error: Optional[str] = None
    grads: dict[str, bool] = field(default_factory=dict)
    changed: dict[str, bool] = field(default_factory=dict)
    estimator: bool = False
    queries: int = 0
    alignment_after_fit: Any = None

    @property
    def complete(self) -> bool:
        return self.error is None


def _graph_reaches(loss: Tensor, tensors: dict[int, str]) -> list[str]:
    """Names of ``tensors`` (by id) that the autograd graph of ``loss`` would accumulate a gradient into."""
    found, seen, stack = [], set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None and id(variable) in tensors:
            found.append(tensors[id(variable)])
        stack.extend(next_node for next_node, _ in getattr(node, "next_functions", ()))
    return found


def _train(example: ValidationExample, steps: int, seed: int, guard: Optional[FrozenGuard] = None) -> _Training:
    """``steps`` optimiser steps with the trainer's optimiser, statistical fitting and estimator hook, observed
    from inside each step: the graph of the loss is searched for f's parameters before ``backward``, and f's
    state is checked after ``backward`` and after the optimiser step (``guard``)."""
    from ..training import Trainer, TrainerConfig

    rp = example.reprogrammer
    frozen = rp.frozen
    record = _Training(estimator=example.gradient_estimator is not None)
    base = example.trainer_config
    base = base.model_dump() if isinstance(base, TrainerConfig) else dict(base or {})
    device = rp.device
    settings = {
        **base,
        "epochs": steps,
        "max_steps": steps,
        "progress": False,
        "device": str(device),
        "seed": seed,
        "amp": False,
        "num_workers": 0,
    }
    try:
        trainer = Trainer(
            rp, TrainerConfig(**settings), loss_fn=example.loss_fn, gradient_estimator=example.gradient_estimator
        )
    except Exception as error:  # noqa: BLE001 - e.g. an unknown trainer_config field
        record.error, record.error_type = f"the trainer could not be set up: {_error(error)}", type(error)
        return record
    inputs, targets = _to_device(example.inputs, device), example.targets.to(device)
    # one batch; a list is a map-style dataset (DataLoader only indexes it), torch's stubs ask for a Dataset
    data: DataLoader[Any] = DataLoader(
        [(inputs, targets)],  # type: ignore[arg-type]
        batch_size=None,
        collate_fn=lambda item: item,
    )

    seen_training: set[str] = set()
    handles = []
    model_name = type(frozen.model).__name__
    for name, module in frozen.model.named_modules():

        def pre_hook(module: nn.Module, args: tuple[Any, ...], name: str = name or model_name) -> None:
            if module.training:
                seen_training.add(name)

        handles.append(module.register_forward_pre_hook(pre_hook))
    trainable = _trainable(rp)
    before = {n: p.detach().clone() for n, p in trainable}
    record.grads = {n: False for n, _ in trainable}
    frozen_grads: set[str] = set()
    frozen_ids = {id(p): n for n, p in frozen.model.named_parameters()}

    def moment(label: str) -> None:
        if guard is not None:
            guard.check_state(label)

    _seed_everything(seed)
    try:
        output = rp.output
        if output.alignment is Alignment.STATISTICAL or not output.is_fitted:
            trainer.fit_alignment(data)
        record.alignment_after_fit = full_state(output)
        optimizer = trainer._optimizer([p for _, p in trainable]) if trainable else None
        for step in range(steps):
            if guard is not None:
                guard.phase = f"training step {step + 1}"
            rp.train()
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
            if example.gradient_estimator is not None:
                if guard is not None:
                    guard.in_update = True
                try:
                    example.gradient_estimator.estimate(rp, inputs, targets, trainer.loss_fn)
                finally:
                    if guard is not None:
                        guard.in_update = False
                with torch.no_grad():
                    _, source = rp.forward_with_source(inputs)
            else:
                logits, source = rp.forward_with_source(inputs)
                loss = trainer.loss_fn(logits.float(), targets)
                if loss.requires_grad:
                    frozen_grads |= {f"{n} (in the graph of the loss)" for n in _graph_reaches(loss, frozen_ids)}
                    loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward has no annotations
            for name, p in trainable:
                if p.grad is not None and bool(p.grad.detach().abs().sum() > 0):
                    record.grads[name] = True
            frozen_grads |= {n for n, p in frozen.model.named_parameters() if p.grad is not None or p.requires_grad}
            moment("after backward, before the optimiser step")
            if optimizer is not None:
                optimizer.step()
            moment("after the optimiser step")
            if output.refit_each_epoch:
                output.fit(source.detach().float(), targets)
            record.steps_done += 1
    except Exception as error:  # noqa: BLE001 - every failure of the method is a finding
        record.error = _error(error)
        record.error_type = type(error)
        if isinstance(error, FrozenModelError) and "written in place" in str(error):
            record.write_error = str(error)
    finally:
        for handle in handles:
            handle.remove()
        rp.eval()
    frozen_grads |= {n for n, p in frozen.model.named_parameters() if p.grad is not None or p.requires_grad}
    record.frozen_grads = sorted(frozen_grads)
    record.train_mode_modules = sorted(seen_training)
    record.changed = {n: not _equal(before[n], p) for n, p in trainable}
    record.queries = int(getattr(example.gradient_estimator, "queries", 0) or 0)
    if record.write_error is None:
        try:
            frozen.check_writes()
        except FrozenModelError as error:
            record.write_error = str(error)
    return record
