"""The state shared by the checks of one validation, and the helpers that observe the trained method."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor

from ..axes import Alignment, Location
from ..errors import SpecError
from ..frozen import FrozenModel, InterfaceTrace
from ..interfaces import EmbeddingState
from ..manipulation import InputManipulation
from ..reprogrammer import Reprogrammer
from .common import (
    FAILED,
    SKIPPED,
    _clone,
    _error,
    _names,
    _state_diff,
    _trainable,
)
from .example import ValidationExample, _Target
from .guard import FrozenGuard
from .recording import (
    _Call,
    _Probe,
    _Recorder,
    _subsequence,
)
from .registry import ORDER, get
from .report import CheckResult, ValidationReport
from .training import _Training

_RULE_TO_CHECK = {
    "fixed-has-no-trainable-parameters": "configuration-fixed",
    "learnable-has-trainable-parameters": "configuration-learnable",
    "statistical-alignment-has-no-gradient-parameters": "alignment-statistical",
    "linear-alignment-has-parameters": "alignment-linear",
}
"""Spec rules whose violation is reported by a more specific check (the rest go to ``spec-rules``)."""


class Context:
    """The state of one validation: the built example, what the forwards and training observed, and the results.

    The runner fills the attributes phase by phase (an attribute of a phase that did not run is absent)."""

    # the built example (runner)
    example: ValidationExample
    rp: Reprogrammer
    frozen: FrozenModel
    device: torch.device
    x1: Any
    """The example's inputs on the device; ``x2`` the second probe batch."""
    x2: Any
    y: Tensor
    parts: list[InputManipulation]
    coordinates: str
    guard: FrozenGuard
    # the first forward (spec_checks.forward-runs)
    z0: Any
    """z = f(I(x₁)) before training."""
    forward_error: str
    calls_before: dict[int, list[_Call]]
    # before training (runner)
    alignment_before: dict[str, Tensor]
    alignment_full_before: dict[str, Any]
    z_fixed: Optional[Tensor]
    """A fixed random z of z₀'s shape, to compare O's outputs before and after training."""
    alignment_out_before: Any
    part_states: list[dict[str, Tensor]]
    part_full_states: list[dict[str, Any]]
    learned_before: dict[str, Tensor]
    # training (runner)
    training: _Training
    train_seconds: float
    # after training (_observe, _second, runner)
    trace_all: InterfaceTrace
    calls1: dict[int, list[_Call]]
    prepared: Any
    z2: Any
    snapshot: dict[str, Any]
    saved: Optional[str]
    """The error of saving the learned parts, None when they were saved."""
    fresh: Optional[Reprogrammer]
    """A copy of the built reprogrammer before training (determinism), for the save/load round trip."""

    def __init__(self, target: _Target, *, steps: int, seed: int):
        self.target = target
        self.steps = steps
        self.seed = seed
        self.results: dict[str, CheckResult] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="nnr-validate-")

    def put(self, name: str, status: str, reason: str, seconds: float = 0.0) -> None:
        if name not in self.results:
            self.results[name] = CheckResult(name, status, reason, seconds)

    def run(self, name: str) -> None:
        """Run the registered check ``name`` (once); an exception inside it is a failure of the method."""
        if name in self.results:
            return
        start = time.perf_counter()
        try:
            function = get(name).function
            assert function is not None, f"the check {name!r} was registered without a function"
            status, reason = function(self)
        except Exception as error:  # noqa: BLE001
            status, reason = FAILED, f"raised {_error(error)}"
        self.put(name, status, reason, time.perf_counter() - start)

    def skip_rest(self, reason: str) -> None:
        for name in ORDER:
            self.put(name, SKIPPED, reason)

    def report(self, seconds: float) -> ValidationReport:
        ordered = [self.results[n] for n in ORDER if n in self.results]
        return ValidationReport(self.target.name, ordered, getattr(self, "coordinates", ""), seconds)

    def built_fingerprint(self) -> str:
        """The fingerprint f had when the example was built (before the method ran)."""
        guard = getattr(self, "guard", None)
        return guard.reference.fingerprint() if guard is not None else self.frozen.fingerprint()

    def frozen_note(self) -> str:
        """A note naming the real cause when f itself was modified during the run ('' otherwise)."""
        guard = getattr(self, "guard", None)
        modified = bool(guard and (guard.findings.changed or guard.findings.differs)) or bool(
            self.frozen.changed_tensors()
        )
        return (
            " -- f itself was modified during the run (see the frozen-model checks), which explains it"
            if modified
            else ""
        )

    def close(self) -> None:
        self._tmp.cleanup()

    def _spec_failure(self, error: SpecError) -> None:
        rules = ", ".join(rule for rule, _ in error.violations)
        self.put("example-builds", FAILED, f"the Reprogrammer refused its coordinates ({rules}); see the named checks")
        other = []
        for rule, message in error.violations:
            name = _RULE_TO_CHECK.get(rule)
            if rule == "rule-based-alignment-has-no-parameters":
                name = "alignment-identity" if message.startswith("alignment is identity") else "alignment-rule-based"
            if name is None:
                other.append(f"[{rule}] {message}")
            else:
                self.put(name, FAILED, f"[{rule}] {message}")
        if other:
            self.put("spec-rules", FAILED, "; ".join(other))
        self.skip_rest("the example did not build")

    def _align(self, z: Any) -> Any:
        if z is None:
            return None
        with torch.no_grad():
            return _clone(self.rp.output(z))

    def _attribute_frozen_error(self, message: Optional[str]) -> None:
        """A FrozenModelError raised by a forward goes to the frozen-model check it is about."""
        if not message:
            return
        if "written in place" in message:
            self.put("frozen-no-writes", FAILED, message)
        elif "gradient" in message:
            self.put("frozen-no-gradient", FAILED, message)
        changed = self.frozen.changed_tensors()
        if changed:
            self.put("frozen-unchanged", FAILED, f"the frozen model changed: {_names(changed)}")

    def _snapshot_from_trace(self) -> dict[str, Any]:
        """The learned parts and ŷ = O(z₁) right after training (z₁ from the traced forward)."""
        try:
            with torch.no_grad():
                scores = self.rp.output(self.trace_all.output)
            return {"state": {k: v.clone() for k, v in self.rp.learned_state().items()}, "scores": _clone(scores)}
        except Exception as error:  # noqa: BLE001
            return {"error": _error(error)}

    def _snapshot(self, rp: Reprogrammer) -> dict[str, Any]:
        """The learned parts of ``rp`` and its scores ŷ on x₁ (``{"error": ...}`` when it cannot run)."""
        try:
            with torch.no_grad():
                rp.eval()
                scores = rp(_clone(self.x1))
            return {"state": {k: v.clone() for k, v in rp.learned_state().items()}, "scores": _clone(scores)}
        except Exception as error:  # noqa: BLE001
            return {"error": _error(error)}

    def _save(self, rp: Reprogrammer) -> Optional[str]:
        try:
            rp.save_learned(Path(self._tmp.name) / "learned")
            return None
        except Exception as error:  # noqa: BLE001
            return _error(error)

    def _observe(self) -> None:
        """Right after training: one traced forward on x₁ that also records every part's calls."""
        self.rp.eval()
        with _Recorder(self.parts) as recorder, torch.no_grad():
            self.trace_all = self.frozen.trace(_clone(self.x1), self.parts)
        self.calls1 = recorder.calls
        self._calls2: Optional[dict[int, list[_Call]]] = None
        self._without: dict[int, Any] = {}
        self.prepared = self._raw_input(skip=None)

    def _second(self) -> dict[int, list[_Call]]:
        """Every part's calls on the second probe batch x₂ (one forward, on first use) and z₂."""
        if self._calls2 is None:
            self.rp.eval()
            with _Recorder(self.parts) as recorder, torch.no_grad():
                self.z2 = self.rp.source_outputs(_clone(self.x2))
            self._calls2 = recorder.calls
        return self._calls2

    def _probe(self, index: int) -> _Probe:
        part = self.parts[index]
        return _Probe(
            part,
            self.calls1[index],
            lambda: self._second()[index],
            self.seed + 17 + index,
            self._prompt_positions(part.tower),
        )

    def _prompt_positions(self, tower: Optional[str]) -> set[int]:
        """Positions of the embedding sequence (of ``tower``) that embedding-location parts inserted (prompts)."""
        calls = [
            c
            for i, p in enumerate(self.parts)
            if p.location is Location.EMBEDDING and p.tower == tower
            for c in self.calls1[i][:1]
        ]
        if not calls:
            return set()
        first, last = calls[0].input, calls[-1].output
        if not (isinstance(first, EmbeddingState) and isinstance(last, EmbeddingState)):
            return set()
        kept = _subsequence(first.embeds, last.embeds)
        if kept is None:
            return set()
        return {t for t in range(last.length) if t not in set(kept)}

    def _prepare(self, value: Any) -> Any:
        with torch.no_grad():
            return self.frozen.adapter.prepare(self.frozen.model, _clone(value))

    def _raw_input(self, skip: Optional[int]) -> Any:
        """f's raw input: x through the input-location parts (all, or all but ``skip``), then the adapter's prepare."""
        x = _clone(self.x1)
        with torch.no_grad():
            for j, part in enumerate(self.parts):
                if part.location is Location.INPUT and j != skip:
                    x = part(x)
            return self.frozen.adapter.prepare(self.frozen.model, x)

    def _trace_without(self, index: int) -> Any:
        """The trace of a forward with every part but ``index``; None when f cannot run without it."""
        if index not in self._without:
            others = [p for j, p in enumerate(self.parts) if j != index]
            try:
                with torch.no_grad():
                    self._without[index] = self.frozen.trace(_clone(self.x1), others)
            except Exception:  # noqa: BLE001 - e.g. the part maps the task input to f's input size
                self._without[index] = None
        return self._without[index]

    def _probe_z(self) -> tuple[Tensor, Tensor]:
        """z₁ = f(I(x₁)) from the traced forward, z₂ from the second probe forward."""
        self._second()
        return self.trace_all.output, self.z2

    def _learns(self) -> bool:
        """Whether training can change anything (else the second build is only built and run, not trained)."""
        if _trainable(self.rp) or self.rp.output.alignment is Alignment.STATISTICAL or self.rp.output.refit_each_epoch:
            return True
        return bool(_state_diff(self.learned_before, self.snapshot.get("state", {})))
