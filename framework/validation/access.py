"""Access: the method works with no more of f than it declares.

* ``gradient``: white-box, nothing is restricted;
* ``hidden-states``: white-box without gradients: f runs under ``no_grad`` and its output is detached;
* ``scores`` and ``zeroth-order``: f answers only a tensor of output scores and refuses autograd (no graph
  through f); a zeroth-order method must still learn (its parameters change) from those answers;
* ``text-only``: f answers only text (generation); a method that reads score tensors does not qualify.

One prediction (and, for a learned manipulation, one training step) is run on the trained method with f
restricted that way.
"""

from __future__ import annotations

import contextlib
import types
from typing import Any, Iterator

import torch
from torch import Tensor

from ..axes import Access, Configuration
from .common import FAILED, PASSED, _clone, _equal, _shape, _trainable
from .context import Context
from .registry import check
from .training import _train

_SCORE_ONLY = (Access.SCORES, Access.ZEROTH_ORDER)


def _is_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    if isinstance(value, Tensor):
        return not (value.is_floating_point() or value.is_complex())
    if isinstance(value, (list, tuple)):
        return all(_is_text(v) for v in value)
    return False


@contextlib.contextmanager
def _restricted(ctx: Context, access: Access, seen: list[str]) -> Iterator[None]:
    """f runs without autograd and returns a detached output; what it returns is checked against ``access``."""
    frozen = ctx.frozen
    inner = frozen._run

    def run(_self: Any, x: Any, manipulations: Any, trace: Any) -> Any:
        with torch.no_grad():
            output = inner(x, manipulations, trace)
        if access in _SCORE_ONLY and not (isinstance(output, Tensor) and output.is_floating_point()):
            seen.append(f"f's answer is a {_shape(output)}, not a tensor of scores")
        if access is Access.TEXT_ONLY and not _is_text(output):
            seen.append(f"f's answer is {_shape(output)} of scores, not text")
        return output.detach() if isinstance(output, Tensor) else output

    had = "_run" in frozen.__dict__
    previous = frozen.__dict__.get("_run")
    frozen.__dict__["_run"] = types.MethodType(run, frozen)
    try:
        yield
    finally:
        if had:
            frozen.__dict__["_run"] = previous
        else:
            frozen.__dict__.pop("_run", None)


@check("access", "access")
def access(ctx: Context) -> tuple[str, str]:
    """the method trains and predicts with f restricted to its declared access (scores only and no autograd for
    scores/zeroth-order, text only for text-only, no autograd for hidden-states)

    Why: the access claim says which models a method can be used with (an API, a score-only service, white-box
    weights)"""
    declared = ctx.rp.access
    if declared is Access.GRADIENT:
        return PASSED, "access gradient: white-box, gradients through f are allowed (nothing to restrict)"
    seen: list[str] = []
    learnable = [p for p in ctx.parts if p.configuration is Configuration.LEARNABLE]
    before = {n: p.detach().clone() for n, p in _trainable(ctx.rp) if n.startswith("inputs.")}
    how = {
        Access.HIDDEN_STATES: "f refusing autograd",
        Access.SCORES: "f answering only scores and refusing autograd",
        Access.ZEROTH_ORDER: "f answering only scores and refusing autograd",
        Access.TEXT_ONLY: "f answering only text",
    }[declared]
    with _restricted(ctx, declared, seen):
        # only a learned manipulation trains through f; a fixed method's training touches O alone (on f's answers)
        training = _train(ctx.example, 1, ctx.seed + 1) if learnable else None
        try:
            ctx.rp.eval()
            with torch.no_grad():
                ctx.rp(_clone(ctx.x1))
        except Exception as error:  # noqa: BLE001
            return FAILED, f"declares access {declared} but cannot predict with {how}: {type(error).__name__}: {error}"
    if training is not None and not training.complete:
        return FAILED, f"declares access {declared} but cannot train with {how}: {training.error}"
    if seen:
        return FAILED, f"declares access {declared} but {seen[0]}"
    if declared is Access.ZEROTH_ORDER and learnable:
        stale = [n for n, p in _trainable(ctx.rp) if n in before and _equal(before[n], p)]
        if stale:
            return FAILED, (
                f"declares access zeroth-order but with {how} its parameters {', '.join(stale[:4])} do not change: "
                "its updates need gradients through f"
            )
    return PASSED, f"trains and predicts with {how} (access {declared})"
