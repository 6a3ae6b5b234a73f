"""The frozen model f: unchanged, no gradient, eval mode, no writes (observed at rest and inside every step)."""

from __future__ import annotations

from ..axes import Access
from ..errors import FrozenModelError
from .common import (
    FAILED,
    PASSED,
    _names,
    _trainable,
)
from .context import Context
from .registry import check


def _first(items: list[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(items))
    return "; ".join(unique[:limit]) + (f"; and {len(unique) - limit} more" if len(unique) > limit else "")


def _steps(ctx: Context) -> int:
    training = getattr(ctx, "training", None)
    return training.steps_done if training is not None else 0


@check("frozen-unchanged", "frozen model")
def frozen_unchanged(ctx: Context) -> tuple[str, str]:
    """f's parameters and buffers are bit-identical to an untouched copy at the start and end of every run of f,
    after each step and at the end

    Why: f is frozen: its weights are the same bits before, during and after every step"""
    seen = ctx.guard.findings.changed if getattr(ctx, "guard", None) else []
    if seen:
        return FAILED, f"f's weights differ from an untouched copy: {_first(seen)}"
    changed = ctx.frozen.changed_tensors()
    if changed:
        return FAILED, f"the frozen model changed during training: {_names(changed)}"
    count = len(ctx.frozen._tensors())
    runs = ctx.guard.findings.runs if getattr(ctx, "guard", None) else 0
    return (
        PASSED,
        f"all {count} parameters and buffers bit-identical to an untouched copy at {2 * runs} moments of {runs} runs "
        f"of f and after {_steps(ctx)} steps (fingerprint {ctx.frozen.fingerprint()[:12]})",
    )


@check("frozen-no-gradient", "frozen model")
def frozen_no_gradient(ctx: Context) -> tuple[str, str]:
    """no parameter of f requires or holds a gradient as its module runs, after backward or after a step, and none
    is in the graph of the loss; no trainable parameter is one of f's tensors

    Why: a frozen f is never part of what is optimised, not even for one step"""
    training = getattr(ctx, "training", None)
    in_graph = list(training.frozen_grads) if training is not None else []
    seen = ctx.guard.findings.gradient if getattr(ctx, "guard", None) else []
    if seen or in_graph:
        found = [_first(seen, 2)] if seen else []
        found += [f"after the steps: {_names(in_graph, 4)}"] if in_graph else []
        return FAILED, f"gradients reached the frozen model (requires_grad or .grad set): {'; '.join(found)}"
    frozen_ptrs = {p.data_ptr() for p in ctx.frozen.model.parameters()} | {
        b.data_ptr() for b in ctx.frozen.model.buffers()
    }
    shared = [n for n, p in _trainable(ctx.rp) if p.data_ptr() in frozen_ptrs]
    if shared:
        return FAILED, f"trainable parameters of I/O are tensors of the frozen model: {_names(shared)}"
    return PASSED, "no parameter of f required or received a gradient at any moment of any step"


@check("frozen-eval-mode", "frozen model")
def frozen_eval(ctx: Context) -> tuple[str, str]:
    """every module of f runs in eval mode, in every forward (training steps included)

    Why: train mode changes what f computes (dropout, batch statistics)"""
    training = getattr(ctx, "training", None)
    modules = list(training.train_mode_modules) if training is not None else []
    seen = ctx.guard.findings.train_mode if getattr(ctx, "guard", None) else []
    if modules:
        return (
            FAILED,
            f"modules of the frozen model ran in training mode: {_names(modules)} (f must stay in eval mode)",
        )
    if seen:
        return FAILED, f"modules of the frozen model ran in training mode: {_first(seen)} (f must stay in eval mode)"
    if ctx.frozen.model.training or any(m.training for m in ctx.frozen.model.modules()):
        return FAILED, "the frozen model was left in training mode"
    return PASSED, f"all {sum(1 for _ in ctx.frozen.model.modules())} modules of f ran in eval mode"


@check("frozen-no-writes", "frozen model")
def frozen_writes(ctx: Context) -> tuple[str, str]:
    """nothing writes to f's tensors in place (version counters unchanged)

    Why: writing to f's tensors, even the same values, is modifying f"""
    training = getattr(ctx, "training", None)
    if training is not None and training.write_error:
        return FAILED, training.write_error
    try:
        ctx.frozen.check_writes()
    except FrozenModelError as error:
        return FAILED, str(error)
    return PASSED, "no tensor of f was written in place (version counters unchanged)"


@check("frozen-unmodified-modules", "frozen model")
def frozen_unmodified_modules(ctx: Context) -> tuple[str, str]:
    """no hook, parametrisation, patched method (instance or torch class), tensor subclass or torch mode is added to
    f

    Why: code attached to f changes what f computes while its weights stay the same"""
    guard = ctx.guard
    found = [f"{m} (present when the example was built)" for m in guard.initial]
    found += guard.findings.modified
    if guard.findings.modified_in_update and ctx.rp.access not in (Access.GRADIENT, Access.HIDDEN_STATES):
        found += [
            f"{m} during the update rule, which declares access {ctx.rp.access}"
            for m in guard.findings.modified_in_update
        ]
    if found:
        return FAILED, f"the method attached code to f: {_first(found)}"
    note = (
        f" (its update rule hooks f while it runs, allowed with access {ctx.rp.access} since f computes the same)"
        if guard.findings.modified_in_update
        else ""
    )
    return (
        PASSED,
        f"no hook, parametrisation, patched method or tensor subclass on f's modules in {guard.findings.runs} runs{note}",
    )


@check("frozen-computes-as-copy", "frozen model")
def frozen_computes_as_copy(ctx: Context) -> tuple[str, str]:
    """in every run of f, an untouched copy of f given the same interface values computes the same hidden states at
    the declared interfaces and the same output

    Why: ŷ = O(f(I(x))) holds only if f is the pretrained function itself whenever the method uses it"""
    findings = ctx.guard.findings
    found = findings.differs_inside + findings.differs
    if found:
        return FAILED, f"f does not compute what the pretrained f computes: {_first(found, 2)}"
    return PASSED, f"{findings.compared} runs of f (training and evaluation) agree with an untouched copy of f"


@check("frozen-runs-only-in-composition", "frozen model")
def frozen_runs_only_in_composition(ctx: Context) -> tuple[str, str]:
    """f's modules run only inside runs of f, as often as in an untouched copy (no part or alignment calls f itself)

    Why: a part or alignment that runs f (or pieces of it) on its own computes something other than O(f(I(x)))"""
    findings = ctx.guard.findings
    if findings.outside:
        return FAILED, f"f was run outside ŷ = O(f(I(x))): {_first(findings.outside, 2)}"
    return PASSED, f"f's modules ran only inside the {findings.runs} runs of f, as often as in an untouched copy"
