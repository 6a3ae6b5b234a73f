"""Setup and spec checks: the example builds, runs and trains; the coordinates are the declared ones and obey the rules."""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from ..errors import FrozenModelError
from ..spec import SPEC_RULES
from .common import (
    FAILED,
    PASSED,
    SKIPPED,
    _clone,
    _shape,
)
from .context import Context
from .recording import _Recorder
from .registry import check


@check("example-builds", "setup")
def example_builds(ctx: Context) -> tuple[str, str]:
    """the factory returns (reprogrammer, inputs, targets) and the Reprogrammer accepts its coordinates

    The runner decides this check when it builds the example; run later, it reports that build.

    Why: nothing can be checked about a method that does not build"""
    if getattr(ctx, "rp", None) is None:
        return FAILED, "the example was not built"
    return PASSED, f"{ctx.rp.name!r} built"


@check("declared-coordinates", "spec")
def declared(ctx: Context) -> tuple[str, str]:
    """the built reprogrammer sits at the coordinates its registry or catalog entry declares

    Why: the registry and catalog place a method by what it declares; the built method must sit there"""
    expected = ctx.target.expected
    if expected is None:
        return SKIPPED, "no registry or catalog declaration to compare with"
    spec = ctx.rp.spec
    wrong = []
    for axis in ("configuration", "operator", "location", "alignment"):
        ours, theirs = getattr(spec, axis), getattr(expected, axis)
        if tuple(ours) != tuple(theirs):
            wrong.append(f"{axis}: declared {'+'.join(map(str, theirs))}, built {'+'.join(map(str, ours))}")
    for name in ("paradigm", "access"):
        if getattr(spec, name) != getattr(expected, name):
            wrong.append(f"{name}: declared {getattr(expected, name)}, built {getattr(spec, name)}")
    if expected.modality.value != "general" and spec.modality != expected.modality:
        wrong.append(f"modality: declared {expected.modality}, built {spec.modality}")
    if wrong:
        return FAILED, f"the {ctx.target.expected_source} and the built reprogrammer disagree: " + "; ".join(wrong)
    return PASSED, f"matches the {ctx.target.expected_source}: {spec.coordinates_str()}"


@check("spec-rules", "spec")
def spec_rules(ctx: Context) -> tuple[str, str]:
    """the coordinates obey the rules of the definition (access, paradigm, continuous input for additive)

    Why: some combinations of coordinates contradict the definition"""
    violations = ctx.rp.spec.violations()
    if violations:
        return FAILED, "; ".join(f"[{r}] {m}" for r, m in violations)
    return PASSED, f"all {len(SPEC_RULES)} rules of the definition hold"


@check("forward-runs", "setup")
def forward(ctx: Context) -> tuple[str, str]:
    """ŷ = O(f(I(x))) runs on the inputs and gives one score row (no NaN) per target

    Why: ŷ = O(f(I(x))) must give one finite score row per item"""
    ctx.rp.eval()
    try:
        with _Recorder(ctx.parts) as recorder, torch.no_grad():
            ctx.z0 = ctx.rp.source_outputs(_clone(ctx.x1))
    except FrozenModelError as error:
        ctx.forward_error = str(error)
        return FAILED, f"raised FrozenModelError (see the frozen-model checks): {error}"
    ctx.calls_before = recorder.calls
    output = ctx.rp.output
    if not output.is_fitted:
        probe = copy.deepcopy(output)
        probe.fit(ctx.z0.float(), ctx.y)
        with torch.no_grad():
            scores = probe(ctx.z0)
        note = " (a copy of the statistical alignment fitted on them)"
    else:
        with torch.no_grad():
            scores = output(ctx.z0)
        note = ""
    if not isinstance(scores, Tensor):
        return FAILED, f"ŷ is a {type(scores).__name__}, expected a tensor of scores"
    batch = ctx.y.shape[0]
    if scores.dim() < 1 or scores.shape[0] != batch:
        return FAILED, f"ŷ has shape {tuple(scores.shape)}; expected one row per target ({batch})"
    if scores.is_floating_point() and bool(torch.isnan(scores).any()):
        return FAILED, "ŷ has NaN values"
    if scores.dim() == 2 and int(ctx.y.max()) >= scores.shape[1]:
        return FAILED, f"ŷ scores {scores.shape[1]} classes but the targets go up to {int(ctx.y.max())}"
    return PASSED, f"z = f(I(x)) {_shape(ctx.z0)}, ŷ {tuple(scores.shape)}{note}"


@check("training-runs", "setup")
def training(ctx: Context) -> tuple[str, str]:
    """a few training steps run (back-propagation, or the example's zeroth-order gradient estimator)

    Why: the claims about training (λ, ω, frozen f) are observed on real steps"""
    t = ctx.training
    if not t.complete:
        return FAILED, f"step {t.steps_done + 1} of {ctx.steps} raised {t.error}"
    how = (
        f"zeroth-order estimator {type(ctx.example.gradient_estimator).__name__} ({t.queries} queries)"
        if t.estimator
        else "back-propagation"
    )
    return PASSED, f"{t.steps_done} steps with {how} in {ctx.train_seconds:.2f} s"
