"""Configuration λ: fixed parts keep all their state; learnable parts have parameters that are updated."""

from __future__ import annotations

import torch

from ..axes import Access, Configuration
from .common import (
    FAILED,
    PASSED,
    SKIPPED,
    _equal,
    _names,
    _part_name,
    _trainable,
    full_state,
    full_state_diff,
)
from .context import Context
from .recording import _replay_call
from .registry import check


@check("configuration-fixed", "configuration λ")
def fixed(ctx: Context) -> tuple[str, str]:
    """fixed parts have no trainable parameters and training changes neither their state nor what they compute

    Why: λ=fixed means nothing of the part is learned, in any kind of state"""
    fixed = [(i, p) for i, p in enumerate(ctx.parts) if p.configuration is Configuration.FIXED]
    if not fixed:
        return SKIPPED, "no fixed input part"
    problems, checked = [], []
    for index, part in fixed:
        label = _part_name(index, part)
        params = _trainable(part)
        if params:
            problems.append(f"{label} is fixed but has trainable parameters {_names([n for n, _ in params])}")
            continue
        changed = full_state_diff(ctx.part_full_states[index], full_state(part))
        if changed:
            problems.append(f"training changed the state of fixed {label}: {_names(changed)}")
            continue
        for call in ctx.calls_before[index][:4]:
            with torch.no_grad():
                again = _replay_call(part, call)
            if not _equal(again, call.output):
                problems.append(f"after training, fixed {label} computes something else from the same input")
                break
        checked.append(label)
    if problems:
        return FAILED, "; ".join(problems)
    return PASSED, f"{', '.join(checked)}: no trainable parameters; state and outputs unchanged by training"


@check("configuration-learnable", "configuration λ")
def learnable(ctx: Context) -> tuple[str, str]:
    """learnable parts have trainable parameters and every one of them receives updates (gradient or zeroth-order)

    Why: λ=learnable means the part's parameters are what training changes"""
    learnable = [(i, p) for i, p in enumerate(ctx.parts) if p.configuration is Configuration.LEARNABLE]
    if not learnable:
        return SKIPPED, "no learnable input part"
    zeroth = ctx.rp.access is Access.ZEROTH_ORDER
    if zeroth and ctx.example.gradient_estimator is None:
        return FAILED, (
            "access is zeroth-order but the example gives no gradient estimator; return "
            "ValidationExample(..., gradient_estimator=...) (or a 4-tuple) so that its updates can be checked"
        )
    prefix = {id(p): f"inputs.{i}." for i, p in enumerate(ctx.parts)}
    problems, counts = [], []
    for index, part in learnable:
        label = _part_name(index, part)
        params = _trainable(part)
        if not params:
            problems.append(f"{label} is learnable but has no trainable parameters")
            continue
        names = [prefix[id(part)] + n for n, _ in params]
        no_grad = [n for n in names if not ctx.training.grads.get(n)]
        unchanged = [n for n in names if not ctx.training.changed.get(n)]
        how = "the zeroth-order estimate" if zeroth else "a gradient"
        if ctx.example.gradient_estimator is not None and not zeroth:
            no_grad = []  # a custom update rule (e.g. a discrete search) may set the values itself
        if no_grad:
            problems.append(f"{label}: {_names(no_grad)} never received {how} in {ctx.training.steps_done} steps")
        elif unchanged:
            problems.append(f"{label}: {_names(unchanged)} did not change in {ctx.training.steps_done} steps")
        hidden = [
            n
            for n in full_state_diff(ctx.part_full_states[index], full_state(part))
            if n.startswith(("attribute ", "class attribute "))
            and not n.rsplit(".", 1)[-1].split(" ")[-1].startswith("_")
        ]  # private attributes (``_last_tokens``) are per-call caches by convention; the round trip judges them
        if hidden:
            problems.append(
                f"{label}: training changed state kept outside its parameters and buffers ({_names(hidden)}): "
                "learned state must be parameters (or buffers), which are saved, counted and checked"
            )
        counts.append(f"{label} ({sum(p.numel() for _, p in params):,})")
    if problems:
        return FAILED, "; ".join(problems)
    via = (
        "zeroth-order estimates"
        if zeroth
        else f"updates from {type(ctx.example.gradient_estimator).__name__}"
        if ctx.example.gradient_estimator is not None
        else "gradients"
    )
    return PASSED, f"every trainable tensor of {', '.join(counts)} received {via} and changed"
