"""Serialisation: the learned parts saved and loaded into a fresh instance reproduce predictions bit-exactly."""

from __future__ import annotations

from pathlib import Path

from .common import (
    FAILED,
    PASSED,
    _differences,
    _error,
    _names,
)
from .context import Context
from .registry import check


@check("save-load-roundtrip", "reproducibility")
def roundtrip(ctx: Context) -> tuple[str, str]:
    """save_learned/load_learned into a fresh instance reproduces the learned parts and predictions bit-exactly

    Why: a learned program is only useful if it can be saved and loaded back"""
    if ctx.saved is not None:
        return FAILED, f"save_learned failed: {ctx.saved}"
    if "error" in ctx.snapshot:
        return FAILED, f"the trained reprogrammer could not predict: {ctx.snapshot['error']}"
    fresh = getattr(ctx, "fresh", None) or ctx.target.build(ctx.seed).reprogrammer
    if fresh.frozen.fingerprint() != ctx.built_fingerprint():
        return FAILED, "the factory built a different frozen model on its next call with the same seed"
    try:
        fresh.load_learned(Path(ctx._tmp.name) / "learned")
    except Exception as error:  # noqa: BLE001 - e.g. a fingerprint mismatch because f was modified
        return FAILED, f"load_learned into a fresh instance failed: {_error(error)}{ctx.frozen_note()}"
    snapshot = ctx._snapshot(fresh)
    if "error" in snapshot:
        return FAILED, f"after load_learned the fresh instance cannot predict: {snapshot['error']}"
    note = ctx.frozen_note()  # the real cause when f itself was modified
    diff, gap = _differences(ctx.snapshot, snapshot)
    if diff:
        return FAILED, f"after the round trip these learned tensors differ: {_names(diff)}{note}"
    if gap is not None:
        if note:
            return (
                FAILED,
                f"after the round trip a fresh instance predicts differently (max difference {gap:.3g}){note}",
            )
        return FAILED, (
            f"after the round trip a fresh instance predicts differently (max difference {gap:.3g}): some learned "
            "state is not saved (keep it in parameters or persistent buffers)"
        )
    return PASSED, f"{len(snapshot['state'])} learned tensors and ŷ reproduced bit-exactly by a fresh instance"
