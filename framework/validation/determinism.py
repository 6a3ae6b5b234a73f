"""Reproducibility: same seed, same result (bit-exact)."""

from __future__ import annotations

import copy

import torch

from .common import (
    FAILED,
    PASSED,
    _clone,
    _differences,
    _names,
    _to_device,
)
from .context import Context
from .registry import check
from .training import _train


@check("deterministic", "reproducibility")
def deterministic(ctx: Context) -> tuple[str, str]:
    """two builds trained with the same seed give bit-identical learned parts and predictions

    Why: a result that cannot be reproduced with the same seed cannot be checked"""
    if "error" in ctx.snapshot:
        return FAILED, f"the trained reprogrammer could not predict: {ctx.snapshot['error']}"
    other = ctx.target.build(ctx.seed)
    rp = other.reprogrammer
    if rp.frozen.fingerprint() != ctx.built_fingerprint():
        return FAILED, f"two builds with seed {ctx.seed} have different frozen models: the factory is not seeded"
    try:  # an untrained copy of this build is the fresh instance of the round trip
        ctx.fresh = copy.deepcopy(rp)
        ctx.fresh.frozen._snapshot_versions()
    except Exception:  # noqa: BLE001 - not every object deep-copies; the round trip builds again then
        ctx.fresh = None
    rp.eval()
    with torch.no_grad():  # the same call sequence as the first build: one forward before training
        rp.source_outputs(_clone(_to_device(other.inputs, rp.device)))
    if ctx._learns():
        training = _train(other, ctx.steps, ctx.seed)
        if not training.complete:
            return FAILED, f"the second run with the same seed failed: {training.error}"
    snapshot = ctx._snapshot(rp)
    if "error" in snapshot:
        return FAILED, f"the second run could not predict: {snapshot['error']}"
    diff, gap = _differences(ctx.snapshot, snapshot)
    if diff:
        return FAILED, f"two runs with seed {ctx.seed} learned different {_names(diff)}{ctx.frozen_note()}"
    if gap is not None:
        return (
            FAILED,
            f"two runs with seed {ctx.seed} predict differently (max difference {gap:.3g}){ctx.frozen_note()}",
        )
    what = (
        "built and trained" if ctx.target.from_factory else "copied and trained (construction not re-run: no factory)"
    )
    if not ctx._learns():
        what = what.replace("and trained", "(nothing to train)")
    return (
        PASSED,
        f"{what} twice with seed {ctx.seed}: {len(snapshot['state'])} learned tensors and ŷ bit-identical",
    )
