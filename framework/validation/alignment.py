"""Alignment ω: identity, rule-based, statistical and linear claims, judged on every kind of state."""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from ..axes import Alignment
from .common import (
    FAILED,
    PASSED,
    SKIPPED,
    _close,
    _equal,
    _max_diff,
    _names,
    _shape,
    _state,
    _state_diff,
    _trainable,
    full_state,
    full_state_diff,
)
from .context import Context
from .registry import check

Judge = Callable[[Context], tuple[str, str]]


def _claim(name: str, alignment: Alignment, *, no_parameters: str = "") -> Callable[[Judge], Judge]:
    """Register the decorated judge (its docstring says what it verifies and why) as the check of ``alignment``:
    not applicable unless ω is ``alignment`` and f's readout is a tensor of scores to probe; failed at once when
    ``no_parameters`` (what the claim says about parameters) is given and the alignment has trainable parameters."""

    def register(judge: Judge) -> Judge:
        def run(ctx: Context) -> tuple[str, str]:
            if ctx.rp.output.alignment is not alignment:
                return SKIPPED, f"the output alignment is {ctx.rp.output.alignment}"
            if not isinstance(ctx.z0, Tensor) or not ctx.z0.is_floating_point():
                return SKIPPED, f"f's readout is a {type(ctx.z0).__name__}, not a tensor of scores to probe"
            trainable = [n for n, _ in _trainable(ctx.rp.output)]
            if no_parameters and trainable:
                return FAILED, f"it has trainable parameters {_names(trainable)}; {no_parameters}"
            return judge(ctx)

        run.__name__ = run.__qualname__ = name.replace("-", "_")
        run.__doc__ = judge.__doc__
        check(name, "alignment ω")(run)
        return judge

    return register


def _fit_changes_nothing(ctx: Context) -> Optional[str]:
    output = ctx.rp.output
    before, out_before = _state(output), ctx._align(ctx.z_fixed)
    generator = torch.Generator().manual_seed(ctx.seed + 3)
    z = torch.randn(ctx.z0.shape, generator=generator).to(ctx.z0)
    labels = torch.randint(0, int(ctx.y.max()) + 1, (z.shape[0],), generator=generator).to(ctx.y.device)
    try:
        with torch.no_grad():
            output.fit(z, labels)
        changed = _state_diff(before, _state(output))
        after = ctx._align(ctx.z_fixed)
    finally:
        output.load_state_dict(before, strict=False)
    if changed:
        return f"fit() changed its state ({_names(changed)}): it is estimated from data (alignment=statistical)"
    if not _equal(after, out_before):
        return "fit() changed what it computes: it is estimated from data (alignment=statistical)"
    return None


def _unchanged_by_training(ctx: Context) -> Optional[str]:
    changed = full_state_diff(ctx.alignment_full_before, full_state(ctx.rp.output))
    if changed:
        return f"training changed its state ({_names(changed)})"
    if ctx.alignment_out_before is not None and not _equal(ctx._align(ctx.z_fixed), ctx.alignment_out_before):
        return "training changed what it computes"
    return None


@_claim("alignment-identity", Alignment.IDENTITY, no_parameters="identity has none")
def _identity(ctx: Context) -> tuple[str, str]:
    """the identity alignment returns f's outputs or a restriction of them, with no parameters and no fitting

    Why: ω=identity reads f's outputs as they are"""
    output = ctx.rp.output
    z = ctx.z_fixed
    assert z is not None  # _claim runs the judge only when z₀ is a tensor of scores, and then z_fixed is one
    with torch.no_grad():
        scores = output(z)
    if not isinstance(scores, Tensor) or scores.shape[:-1] != z.shape[:-1]:
        return FAILED, f"it maps z {_shape(z)} to {_shape(scores)}; identity keeps every dimension but the last"
    columns = scores.unsqueeze(-1) == z.unsqueeze(-2)  # (..., C_t, C_s)
    matched = columns.reshape(-1, scores.shape[-1], z.shape[-1]).all(dim=0).any(dim=-1)
    if not bool(matched.all()):
        missing = [int(i) for i in torch.nonzero(~matched).flatten()[:5]]
        return FAILED, (
            f"output column(s) {missing} are not columns of f's output: identity returns z or a restriction z[..., S]"
        )
    problem = _fit_changes_nothing(ctx) or _unchanged_by_training(ctx)
    if problem:
        return FAILED, problem
    kind = (
        "z itself"
        if scores.shape == z.shape and _equal(scores, z)
        else f"a restriction to {scores.shape[-1]} of {z.shape[-1]} outputs"
    )
    return PASSED, f"returns {kind}; no parameters, nothing fitted, unchanged by training"


@_claim("alignment-rule-based", Alignment.RULE_BASED, no_parameters="a rule-based map has none")
def _rule_based(ctx: Context) -> tuple[str, str]:
    """a rule-based alignment is fixed: no parameters, fit() changes nothing, training changes nothing

    Why: ω=rule-based is a fixed map chosen by hand, not learned"""
    problem = _fit_changes_nothing(ctx) or _unchanged_by_training(ctx)
    if problem:
        return FAILED, problem
    if not _equal(ctx._align(ctx.z_fixed), ctx._align(ctx.z_fixed)):
        return FAILED, "it gives different outputs for the same z"
    return PASSED, "fixed map: no parameters, fit() changes nothing, training changes nothing"


@_claim("alignment-statistical", Alignment.STATISTICAL)
def _statistical(ctx: Context) -> tuple[str, str]:
    """a statistical alignment is estimated from data by fit() and has no gradient parameters

    Why: ω=statistical is estimated from data by fitting, never by a gradient step"""
    output = ctx.rp.output
    if _trainable(output):
        return (
            FAILED,
            f"it has trainable parameters {_names([n for n, _ in _trainable(output)])}; a statistical map has no gradient parameters",
        )
    if not output.is_fitted:
        return FAILED, "it is not fitted after the training steps (the trainer calls fit() first)"
    after_fit = getattr(ctx.training, "alignment_after_fit", None)
    if after_fit is not None and not output.refit_each_epoch:
        stepped = full_state_diff(after_fit, full_state(output))
        if stepped:
            return FAILED, (
                f"the training steps changed it after fit() ({_names(stepped)}): a statistical map is estimated by "
                "fit() only, never updated by a training step"
            )
    saved = _state(output)
    z1, z2 = ctx._probe_z()
    num_classes = int(ctx.y.max()) + 1
    y1 = ctx.y
    y2 = (ctx.y + 1) % max(num_classes, 2)
    generator = torch.Generator().manual_seed(ctx.seed + 5)
    try:
        with torch.no_grad():
            output.fit(z1.float(), y1)
            first_state, first = _state(output), ctx._align(ctx.z_fixed)
            noise = torch.randn(z2.shape, generator=generator).to(z2) * float(z2.float().std().clamp_min(1e-3))
            output.fit((z2 + noise).float(), y2)
            second_state, second = _state(output), ctx._align(ctx.z_fixed)
            if _equal(first, second):  # tiny data can be degenerate: try clearly different synthetic data
                synthetic = torch.randn(z1.shape, generator=generator).to(z1) * 3
                output.fit(synthetic.float(), y2)
                second_state, second = _state(output), ctx._align(ctx.z_fixed)
            output.fit(z1.float(), y1)
            again = ctx._align(ctx.z_fixed)
    finally:
        output.load_state_dict(saved, strict=False)
    if _equal(first, second):
        return (
            FAILED,
            "fit() on different data (outputs and labels) gives the same mapping: it is not estimated from data",
        )
    if (
        isinstance(first, Tensor)
        and isinstance(again, Tensor)
        and not (first.shape == again.shape and _close(first, again))
    ):
        return FAILED, (
            "fit() on the same data gives another mapping once it has been fitted on other data: it is not a "
            "function of the fit data (it keeps memory of earlier fits)"
        )
    estimated = _state_diff(first_state, second_state)
    return PASSED, f"no gradient parameters; fit() estimates {_names(estimated) or 'its mapping'} from (z, y)"


@_claim("alignment-linear", Alignment.LINEAR)
def _linear(ctx: Context) -> tuple[str, str]:
    """a linear alignment is affine in f's outputs and its parameters receive updates

    Why: ω=linear is a trained affine head on f's outputs"""
    output = ctx.rp.output
    params = _trainable(output)
    if not params:
        return FAILED, "it has no trainable parameters; a linear head W z + b has some"
    z1, z2 = ctx._probe_z()
    z2 = z2 + torch.randn_like(z2) * float(z2.float().std().clamp_min(1e-3))
    with torch.no_grad():
        o1, o2 = output(z1), output(z2)
        for a in (0.5, 2.0):
            mixed = output(a * z1 + (1 - a) * z2)
            expected = a * o1 + (1 - a) * o2
            if mixed.shape != expected.shape or not _close(mixed, expected):
                return FAILED, (
                    f"it is not affine in z: O({a}·z₁ + {1 - a}·z₂) differs from {a}·O(z₁) + {1 - a}·O(z₂) by "
                    f"{_max_diff(mixed, expected):.3g}"
                )
    if ctx.training.complete:
        names = [f"output.{n}" for n, _ in params]
        stale = [n for n in names if not ctx.training.changed.get(n)]
        if stale:
            return (
                FAILED,
                f"its parameters {_names(stale)} did not change in {ctx.training.steps_done} training steps",
            )
    count = sum(p.numel() for _, p in params)
    return PASSED, f"affine in z ({count:,} trainable parameters, all updated by training)"
