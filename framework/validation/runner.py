"""The runner: builds the example, trains it under watch, observes it, and runs the registered checks in order.

The checks themselves live in one module per family and only read the :class:`Context`; the runner decides
when each runs (a check needs the observations of a phase) and the report (:mod:`.report`) holds results.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional

import torch

from ..errors import SpecError
from ..reprogrammer import Reprogrammer
from ..spec import Spec
from .common import FAILED, PASSED, SKIPPED, _batch_size, _error, _roll, _state, _to_device, full_state
from .context import Context
from .example import _resolve
from .guard import FrozenGuard, snapshot_torch_classes
from .registry import ORDER
from .report import CheckResult, ValidationReport
from .training import _train

__all__ = ["validate", "check_method", "check_catalog_entry"]

_AFTER_TRAINING = (
    "configuration-fixed",
    "configuration-learnable",
    "alignment-linear",
    "deterministic",
    "save-load-roundtrip",
)
_FROZEN = tuple(name for name in ORDER if name.startswith("frozen-"))
"""The frozen-model checks: decided at the end from what the guard saw in every run of f."""


def _run_checks(ctx: Context) -> None:
    """Every phase of one validation, in order (results go to ``ctx.results``)."""
    try:
        ctx.example = ctx.target.build(ctx.seed)
    except SpecError as error:
        ctx._spec_failure(error)
        return
    except Exception as error:  # noqa: BLE001
        ctx.put("example-builds", FAILED, f"the factory raised {_error(error)}")
        ctx.skip_rest("the example did not build")
        return
    ctx.rp = ctx.example.reprogrammer
    ctx.frozen = ctx.rp.frozen
    ctx.device = ctx.rp.device
    ctx.x1 = _to_device(ctx.example.inputs, ctx.device)
    ctx.x2 = _to_device(ctx.example.probe_inputs, ctx.device) if ctx.example.probe_inputs is not None else _roll(ctx.x1)
    ctx.y = ctx.example.targets.to(ctx.device)
    ctx.parts = ctx.rp.manipulations
    spec = ctx.rp.spec
    ctx.coordinates = f"{spec.coordinates_str()}, {spec.paradigm}, access {spec.access}"
    ctx.put(
        "example-builds",
        PASSED,
        f"{ctx.rp.name!r}: {len(ctx.parts)} input part(s) and {type(ctx.rp.output).__name__} on "
        f"{type(ctx.frozen.model).__name__} ({ctx.frozen.parameter_count:,} parameters), {_batch_size(ctx.x1)} inputs",
    )
    for name in ("declared-coordinates", "spec-rules", "symbolic-parameter-count", "symbolic-formula-renders"):
        ctx.run(name)
    ctx.guard = FrozenGuard(ctx.frozen)
    with ctx.guard.watching(ctx.rp):
        _observe_and_check(ctx)
    ctx.run("inference-overhead")  # after the watch: it runs bare f on its own, as the reference


def _observe_and_check(ctx: Context) -> None:
    guard = ctx.guard
    guard.phase = "the first forward (evaluation)"
    ctx.run("forward-runs")
    if ctx.results["forward-runs"].status == FAILED:
        ctx._attribute_frozen_error(getattr(ctx, "forward_error", None))
        for name in _FROZEN:
            ctx.run(name)
        ctx.skip_rest("the forward pass did not run (see forward-runs)")
        return
    ctx.alignment_before = _state(ctx.rp.output)
    ctx.alignment_full_before = full_state(ctx.rp.output)
    ctx.z_fixed = torch.randn_like(ctx.z0.float()).to(ctx.z0.dtype) if isinstance(ctx.z0, torch.Tensor) else None
    try:
        ctx.alignment_out_before = ctx._align(ctx.z_fixed) if ctx.rp.output.is_fitted else None
    except Exception:  # noqa: BLE001 - reported by the alignment checks, which run it again
        ctx.alignment_out_before = None
    ctx.part_states = [_state(p) for p in ctx.parts]
    ctx.part_full_states = [full_state(p) for p in ctx.parts]
    ctx.learned_before = {k: v.clone() for k, v in ctx.rp.learned_state().items()}
    start = time.perf_counter()
    ctx.training = _train(ctx.example, ctx.steps, ctx.seed, guard=guard)
    ctx.train_seconds = time.perf_counter() - start
    ctx.run("training-runs")
    guard.phase = "after training"
    guard.check_state("at rest")
    if not ctx.training.complete:
        for name in _AFTER_TRAINING:
            ctx.put(name, SKIPPED, "the training steps did not complete (see training-runs)")
    with guard.probing_parts():
        ctx.run("configuration-fixed")
    ctx.run("configuration-learnable")
    guard.phase = "the traced forward after training (evaluation)"
    try:
        with guard.probing_parts():
            ctx._observe()
    except Exception as error:  # noqa: BLE001
        for name in _FROZEN:
            ctx.run(name)
        ctx.skip_rest(f"the trained reprogrammer could not run: {_error(error)}")
        return
    ctx.snapshot = ctx._snapshot_from_trace()
    ctx.saved = ctx._save(ctx.rp)
    guard.phase = "the probe forwards (evaluation)"
    with guard.probing_parts():
        for name in ("location-input", "location-embedding", "location-hidden"):
            ctx.run(name)
        for name in ("operator-additive", "operator-concatenative", "operator-parametric"):
            ctx.run(name)
    for name in ("alignment-identity", "alignment-rule-based", "alignment-statistical", "alignment-linear"):
        ctx.run(name)
    guard.phase = "the batch probes (evaluation)"
    ctx.run("batch-independence")
    ctx.run("input-dependence")
    guard.phase = "after the probes"
    guard.check_state("at rest")
    ctx.run("deterministic")
    ctx.run("save-load-roundtrip")
    guard.phase = "the access probe"
    ctx.run("access")
    guard.phase = "the end of the validation"
    guard.check_state("at rest")
    for name in _FROZEN:
        ctx.run(name)


@contextlib.contextmanager
def _deterministic_algorithms() -> Iterator[None]:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` for the duration (then the caller's setting)."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*determinis.*")
            yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


# --- public entry points ---------------------------------------------------------------------------------------


def validate(
    method: Any,
    inputs: Any = None,
    targets: Any = None,
    *,
    steps: int = 2,
    seed: int = 0,
    gradient_estimator: Any = None,
    trainer_config: Any = None,
    expected: Optional[Spec] = None,
    name: Optional[str] = None,
) -> ValidationReport:
    """Run every registered check on ``method`` and return the report (it never raises for a failure).

    Args:
        method: a factory ``() -> (reprogrammer, inputs, targets)`` or ``ValidationExample`` (called two or
            three times, each under the same seeding), a registered method id, a :class:`MethodInfo`, a registered
            ``build`` function, a ``"file.py:factory"`` string, or a :class:`Reprogrammer` with ``inputs``/``targets``.
        steps: training steps for the frozen-model, configuration and reproducibility checks.
        seed: the seed of every build and training run.
        gradient_estimator, trainer_config: for a Reprogrammer instance (factories put them in a ValidationExample).
        expected: coordinates to compare with (``declared-coordinates``); a registered method's own declaration
            is used when omitted.
        name: the name shown in the report.
    """
    if steps < 1:
        raise ValueError(f"steps: expected ≥ 1, got {steps}")
    start = time.perf_counter()
    options = {"gradient_estimator": gradient_estimator, "trainer_config": trainer_config}
    if not isinstance(method, Reprogrammer) and any(v is not None for v in options.values()):
        raise TypeError(
            "gradient_estimator/trainer_config: only for a Reprogrammer instance; a factory returns a ValidationExample"
        )
    snapshot_torch_classes()
    target = _resolve(method, inputs, targets, options if isinstance(method, Reprogrammer) else {})
    if expected is not None:
        target.expected, target.expected_source = expected, "expected coordinates"
    if name:
        target.name = name
    ctx = Context(target, steps=steps, seed=seed)
    try:
        with torch.random.fork_rng(devices=[]), _deterministic_algorithms():
            _run_checks(ctx)
    finally:
        ctx.close()
    return ctx.report(time.perf_counter() - start)


def check_method(method: Any, inputs: Any = None, targets: Any = None, **options: Any) -> ValidationReport:
    """:func:`validate`, raising :class:`ValidationError` (an ``AssertionError``) when a check fails."""
    return validate(method, inputs, targets, **options).raise_for_failures()


def check_catalog_entry(yaml_path: str | Path, implementation_factory: Any = None, **options: Any) -> ValidationReport:
    """Validate a catalog entry together with its implementation.

    Loads ``yaml_path`` with the catalog's own loader and schema; a problem there is the failed check
    ``catalog-entry``. The implementation is ``implementation_factory`` (any target :func:`validate`
    accepts) or, by default, the entry's ``implementation`` (its registered example). The built
    reprogrammer's coordinates, paradigm and access are compared with the entry (``declared-coordinates``),
    and every other check runs as in :func:`validate`.
    """
    from ...catalog.errors import CatalogError
    from ...catalog.loader import check_implementation, load_method_file

    start = time.perf_counter()
    path = Path(yaml_path)
    try:
        entry = load_method_file(path)
    except CatalogError as error:
        report = ValidationReport(path.name, [CheckResult("catalog-entry", FAILED, str(error))])
        report.seconds = time.perf_counter() - start
        return report
    entry_check = CheckResult(
        "catalog-entry", PASSED, f"{path.name}: valid entry {entry.id!r} ({entry.spec.coordinates_str()})"
    )
    target = implementation_factory
    if target is None:
        try:
            target = check_implementation(entry)
        except CatalogError as error:
            failed = CheckResult("catalog-implementation", FAILED, str(error))
            return ValidationReport(entry.id, [entry_check, failed], seconds=time.perf_counter() - start)
    report = validate(target, expected=entry.spec, name=entry.id, **options)
    for check in report.checks:
        if check.name == "declared-coordinates":
            check.reason = check.reason.replace("expected coordinates", f"catalog entry {path.name}")
    report.checks.insert(0, entry_check)
    report.seconds = time.perf_counter() - start
    return report
