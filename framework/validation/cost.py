"""Inference overhead: every part declares its extra cost against bare f, and the declaration matches a measurement."""

from __future__ import annotations

from ..cost import UndeclaredOverheadError
from ..cost_measure import judge_overhead, measure_inference_overhead
from .common import FAILED
from .context import Context
from .registry import ORDER, check

__all__ = ["CHECK", "inference_overhead"]

CHECK = "inference-overhead"
"""The check's name; it registers once the name is in :data:`~.registry.ORDER` (and the runner runs it)."""


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


if CHECK in ORDER:
    check(CHECK, "cost")(inference_overhead)
