"""Inference overhead: every part declares its extra cost against bare f, and the declaration matches a measurement."""

from __future__ import annotations

from typing import Any

from ..cost import UndeclaredOverheadError, measure_inference_overhead, relative_error
from .common import FAILED, PASSED
from .context import Context
from .registry import check

__all__ = ["TOLERANCE", "judge_overhead"]

TOLERANCE = 0.05
"""Largest relative difference between the declared and the measured extra tokens and FLOPs."""

FLOOR = 1e-3
"""An extra below this share of bare f's FLOPs counts as zero in the relative error's denominator."""


def judge_overhead(measured: dict[str, Any], tolerance: float = TOLERANCE) -> tuple[str, str]:
    """``(status, reason)`` for one :func:`~reprogrammability.framework.cost.measure_inference_overhead` result."""
    token_error = relative_error(measured["symbolic_extra_tokens"], measured["extra_tokens"], 1.0)
    flop_error = relative_error(
        measured["symbolic_extra_flops"], measured["extra_flops"], FLOOR * measured["bare_flops"]
    )
    said = (
        f"tokens declared {measured['symbolic_extra_tokens']:,} / measured {measured['extra_tokens']:,.2f}, "
        f"FLOPs declared {measured['symbolic_extra_flops']:,} / measured {measured['extra_flops']:,.0f} per query "
        f"(bare f {measured['bare_flops']:,.0f})"
    )
    if token_error > tolerance or flop_error > tolerance:
        parts = "; ".join(f"{label}: {latex}" for label, latex in measured["symbolic"].items())
        return FAILED, f"declared and measured differ by more than {tolerance:.0%}: {said}; declarations {parts}"
    return PASSED, said


@check("inference-overhead", "cost")
def inference_overhead(ctx: Context) -> tuple[str, str]:
    """every part declares its inference overhead against bare f (extra tokens, keys, FLOPs), and the declared
    extra tokens and FLOPs per query are within 5 % of those counted on the example (positions entering f's
    first layer; torch's FlopCounterMode on the reprogrammer and on bare f)

    Why: the cost model reported next to each method's parameter count is computed from the declarations"""
    try:
        measured = measure_inference_overhead(ctx.rp, ctx.x1, repeats=0)
    except UndeclaredOverheadError as error:
        return FAILED, str(error)
    return judge_overhead(measured)
