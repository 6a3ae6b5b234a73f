"""The validator: run a method and check that it really is what its coordinates claim.

Like scikit-learn's ``check_estimator``, but for the definition ŷ = O_ω(f(I_{λ,τ,ℓ}(x))): a method
is built on a tiny model, trained for a few steps, instrumented at f's interfaces and probed with
inputs, and every claim of its spec is checked by observation. Each check has a name and, when it
fails, a reason that says what was observed and what the definition requires.

    >>> report = validate(my_example)          # doctest: +SKIP
    >>> report.passed, report.failures          # doctest: +SKIP

What :func:`validate` accepts
-----------------------------
* a **factory** ``() -> (reprogrammer, inputs, targets)`` (the registry's ``example`` contract), or
  ``() -> ValidationExample`` for more (a zeroth-order gradient estimator, trainer settings, a loss,
  a second probe batch). A 4-tuple ``(reprogrammer, inputs, targets, gradient_estimator)`` is
  accepted too, and a reprogrammer attribute ``gradient_estimator`` is used when nothing else gives
  one. **The factory is called more than once**, each time under ``seed_everything(seed)``: for the
  main run and for the same-seed rerun (an untrained deep copy of that second build is the fresh
  instance that loads the saved learned parts; when it cannot be deep-copied the factory is called
  a third time). So it must build a new reprogrammer, and the same one, on every call;
* a **registered method id** (``"ilm-vp"``), a :class:`MethodInfo`, or a registered ``build``
  function: its ``example`` is used and its declared coordinates are compared with the built ones;
* a **Reprogrammer** plus ``inputs`` and ``targets``: it is trained in place, and deep copies of
  it, taken before, stand in for the extra builds (so construction determinism is not checked, and
  the frozen model is copied).

The checks
----------
:data:`CHECKS` lists them with what each verifies; the groups follow the issue: the frozen model
(1), configuration λ (2), location ℓ by instrumenting f's interfaces (3), operator τ with probe
inputs (4), alignment ω (5), the symbolic form (6), and reproducibility (7). A check that does not
apply to a method (no manipulation at that location, another alignment) is *skipped*, which is not
a failure.

How the operator is decided (precisely)
---------------------------------------
Each manipulation is observed where it acts: what it receives and returns is recorded during a real
forward (a forward hook for ``input``/``embedding`` parts; ``edit_hidden``/``key_value_prefix`` for
hidden parts) on the probe batch x₁; the part alone is then replayed on other values: what it
received on a second batch x₂ of the same shape, mixtures of the two, small changes, and (learnable
parts) the same inputs with its trainable parameters θ perturbed to θ'. Write u for the tensor the
part changes (a tensor input; the one float field of a dict/dataclass input that changes, e.g. graph
features or images next to boxes; the ``embeds`` of an :class:`EmbeddingState`; a hidden state) and
I(u) for what it returns there.

* **additive**, I(u) = a ⊙ A(u) + δ: I keeps the shape (at the input location the number of
  dimensions, so padding onto a larger canvas or one prompted copy per group is allowed); it is
  affine, ``I(½u₁+½u₂) = ½I(u₁)+½I(u₂)``; where the shape is kept its response to a change t of
  the input is element-wise, ``I(u+t) − I(u) = a ⊙ t`` with a ≠ 0 everywhere (the input is carried,
  perhaps normalised, never overwritten or mixed) and a non-zero term is added; and for learnable
  parts ``I_θ'(u₁) − I_θ(u₁) = I_θ'(u₂) − I_θ(u₂) ≠ 0``: the parameters shift every input by the
  same amount (for embedding and hidden parts u₂ comes with its own token ids, so a term that depends
  on the tokens is caught). ``N(pad(x) + M ⊙ σ(W))`` with a normalisation after the sum is additive.
  Text, token ids and key/value prefixes are never additive.
* **concatenative**: the sequence grows by P > 0 and what the part received is kept *unchanged and in
  order* inside what it returns, with the P prompt elements inserted as block(s) (``[P; u]``, or
  ``[u₀; P; u₁:]`` when a prompt goes after a start token as in CoOp; a batch repeated once per
  prompt, as in prompt mixtures, is allowed). Strings: u is a contiguous substring of a longer text;
  token ids: each row keeps its tokens in order and gains the same P tokens; tensors: exactly one
  axis grows; key/value prefixes: a prefix of length P > 0 enters every attention layer; deep prompts
  (a hidden edit that keeps the length): it replaces only prompt positions inserted earlier at the
  embedding, by values that do not depend on the input, and keeps every other position unchanged.
* **parametric**: declared only where neither of the above holds. A part declaring several
  operators (``operator = (Operator.ADDITIVE, Operator.PARAMETRIC)``) is held to the structural part
  of each (additive+parametric: keeps the shape and adds to its input, the term may depend on it).

A part whose operator acts on something other than what ``forward`` receives (CLIP class-prompt
templates act on the class names, not on the image) may define ``validation_view(received, returned)
-> (before, after)`` giving the two sides in the space where its operator acts; the concatenation
test then runs on those.

Tolerances: "equal" is bit-exact where the definition says *unchanged* (the frozen model, the
original content of a concatenation, reproducibility); algebraic identities (affinity, equal
shifts, element-wise responses) hold up to ``1e-4`` relative to the magnitude of the values.

Multi-tower models (CLIP): the trace observes the image tower; a part with ``tower="text"`` acts on
the class prompts' token-embedding state and is observed through its own calls. Its location check
asks that the image input is untouched and that the text tower's embedding state changes.

Reproducibility: everything runs under ``torch.use_deterministic_algorithms(True, warn_only=True)``
inside a forked RNG, so "same seed, same result" means bit-identical with deterministic kernels, and
the caller's RNG stream and settings are left as they were.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import importlib.util
import json
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from .axes import Access, Alignment, Configuration, Location, Operator
from .errors import FrozenModelError, ReprogrammabilityError, SpecError
from .frozen import FrozenModel
from .interfaces import EmbeddingState
from .reprogrammer import Reprogrammer
from .spec import SPEC_RULES, Spec

__all__ = [
    "CHECKS",
    "CheckInfo",
    "CheckResult",
    "ValidationExample",
    "ValidationReport",
    "ValidationError",
    "validate",
    "check_method",
    "check_catalog_entry",
    "load_target",
    "PASSED",
    "FAILED",
    "SKIPPED",
]

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


# --- the list of checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInfo:
    """A named check: its group (which claim of the definition it tests) and what it verifies."""

    name: str
    group: str
    description: str


CHECKS: tuple[CheckInfo, ...] = (
    CheckInfo(
        "example-builds",
        "setup",
        "the factory returns (reprogrammer, inputs, targets) and the Reprogrammer accepts its coordinates",
    ),
    CheckInfo(
        "declared-coordinates",
        "spec",
        "the built reprogrammer sits at the coordinates its registry or catalog entry declares",
    ),
    CheckInfo(
        "spec-rules",
        "spec",
        "the coordinates obey the rules of the definition (access, paradigm, continuous input for additive)",
    ),
    CheckInfo("forward-runs", "setup", "ŷ = O(f(I(x))) runs on the inputs and gives one score row (no NaN) per target"),
    CheckInfo(
        "training-runs",
        "setup",
        "a few training steps run (back-propagation, or the example's zeroth-order gradient estimator)",
    ),
    CheckInfo(
        "frozen-unchanged", "frozen model", "f's parameters and buffers are bit-identical after the training steps"
    ),
    CheckInfo(
        "frozen-no-gradient",
        "frozen model",
        "no gradient ever reaches f, and no trainable parameter is one of f's tensors",
    ),
    CheckInfo("frozen-eval-mode", "frozen model", "every module of f runs in eval mode during training"),
    CheckInfo(
        "frozen-no-writes", "frozen model", "nothing writes to f's tensors in place (version counters unchanged)"
    ),
    CheckInfo(
        "configuration-fixed",
        "configuration λ",
        "fixed parts have no trainable parameters and training changes neither their state nor what they compute",
    ),
    CheckInfo(
        "configuration-learnable",
        "configuration λ",
        "learnable parts have trainable parameters and every one of them receives updates (gradient or zeroth-order)",
    ),
    CheckInfo("location-input", "location ℓ", "an input part changes f's raw input (after the adapter's prepare)"),
    CheckInfo(
        "location-embedding",
        "location ℓ",
        "an embedding part leaves the token ids untouched and changes the embedding state f continues from",
    ),
    CheckInfo(
        "location-hidden",
        "location ℓ",
        "a hidden part leaves input and embedding untouched and changes only intermediate states or attention keys/values",
    ),
    CheckInfo(
        "operator-additive",
        "operator τ",
        "an additive part keeps the shape, is affine in what it receives and adds a term that does not depend on it",
    ),
    CheckInfo(
        "operator-concatenative",
        "operator τ",
        "a concatenative part lengthens the sequence by the prompt length and keeps the original content unchanged and in order",
    ),
    CheckInfo("operator-parametric", "operator τ", "a part declared parametric is neither additive nor concatenative"),
    CheckInfo(
        "alignment-identity",
        "alignment ω",
        "the identity alignment returns f's outputs or a restriction of them, with no parameters and no fitting",
    ),
    CheckInfo(
        "alignment-rule-based",
        "alignment ω",
        "a rule-based alignment is fixed: no parameters, fit() changes nothing, training changes nothing",
    ),
    CheckInfo(
        "alignment-statistical",
        "alignment ω",
        "a statistical alignment is estimated from data by fit() and has no gradient parameters",
    ),
    CheckInfo(
        "alignment-linear",
        "alignment ω",
        "a linear alignment is affine in f's outputs and its parameters receive updates",
    ),
    CheckInfo(
        "symbolic-parameter-count",
        "symbolic form",
        "each part's symbolic parameter count, evaluated at its shapes, equals the measured count",
    ),
    CheckInfo(
        "symbolic-formula-renders",
        "symbolic form",
        "each part's formula and parameter count are sympy expressions that render as LaTeX, and so does ŷ",
    ),
    CheckInfo(
        "deterministic",
        "reproducibility",
        "two builds trained with the same seed give bit-identical learned parts and predictions",
    ),
    CheckInfo(
        "save-load-roundtrip",
        "reproducibility",
        "save_learned/load_learned into a fresh instance reproduces the learned parts and predictions bit-exactly",
    ),
)
"""Every check :func:`validate` runs, in report order."""

_CHECK_NAMES = tuple(c.name for c in CHECKS)

_RULE_TO_CHECK = {
    "fixed-has-no-trainable-parameters": "configuration-fixed",
    "learnable-has-trainable-parameters": "configuration-learnable",
    "statistical-alignment-has-no-gradient-parameters": "alignment-statistical",
    "linear-alignment-has-parameters": "alignment-linear",
}
"""Spec rules whose violation is reported by a more specific check (the rest go to ``spec-rules``)."""


# --- results -----------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """The outcome of one check: ``status`` is ``passed``, ``failed`` or ``skipped`` (not applicable)."""

    name: str
    status: str
    reason: str
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check is not a failure)."""
        return self.status != FAILED

    @property
    def skipped(self) -> bool:
        return self.status == SKIPPED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "passed": self.passed,
            "reason": self.reason,
            "seconds": round(self.seconds, 4),
        }


class ValidationError(ReprogrammabilityError, AssertionError):
    """A method failed validation; ``report`` holds every check."""

    def __init__(self, report: "ValidationReport"):
        self.report = report
        lines = [f"  [{c.name}] {c.reason}" for c in report.failures]
        super().__init__(f"{report.method} failed {len(lines)} check(s):\n" + "\n".join(lines))


@dataclass
class ValidationReport:
    """Every check run on one method, in :data:`CHECKS` order."""

    method: str
    checks: list[CheckResult] = field(default_factory=list)
    coordinates: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAILED]

    @property
    def failed_names(self) -> list[str]:
        return [c.name for c in self.failures]

    def __getitem__(self, name: str) -> CheckResult:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"check: {name!r} is not in this report; checks: {[c.name for c in self.checks]}")

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.checks)

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.checks)

    def raise_for_failures(self) -> "ValidationReport":
        """Raise :class:`ValidationError` listing the failed checks; return the report otherwise."""
        if not self.passed:
            raise ValidationError(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(c.status == s for c in self.checks) for s in (PASSED, FAILED, SKIPPED)}
        return {
            "method": self.method,
            "coordinates": self.coordinates,
            "passed": self.passed,
            "counts": counts,
            "seconds": round(self.seconds, 3),
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def format(self, *, verbose: bool = True) -> str:
        """A readable table: one line per check (``verbose=False``: failures only)."""
        marks = {PASSED: "PASS", FAILED: "FAIL", SKIPPED: "skip"}
        width = max([len(c.name) for c in self.checks] + [10])
        head = f"validate {self.method}" + (f"  ({self.coordinates})" if self.coordinates else "")
        lines = [head]
        for check in self.checks:
            if verbose or check.status == FAILED:
                lines.append(f"  {marks[check.status]}  {check.name:<{width}}  {check.reason}")
        counts = self.to_dict()["counts"]
        lines.append(
            f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[SKIPPED]} skipped in {self.seconds:.2f} s"
            + ("" if self.passed else f"  -- FAILED: {', '.join(self.failed_names)}")
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


# --- what a factory returns --------------------------------------------------------------------------


@dataclass
class ValidationExample:
    """What a factory may return instead of ``(reprogrammer, inputs, targets)``.

    Args:
        reprogrammer: the method, built on a tiny model.
        inputs: a batch of task inputs (tensor, list of strings, dict of tensors), ideally ≥ 2 items.
        targets: target labels (B,) for the training steps.
        gradient_estimator: for ``access=zeroth-order``: the estimator the trainer uses
            (:class:`~reprogrammability.framework.training.GradientEstimator`). Required for such methods.
        trainer_config: :class:`TrainerConfig` fields (or an instance) for the training steps, e.g.
            ``{"learning_rate": 0.1, "optimizer": "sgd"}``; epochs, steps, device and seed are the validator's.
        loss_fn: ``loss(ŷ, y)``; cross-entropy by default.
        probe_inputs: a second batch with the same shapes as ``inputs`` for the operator probes; by
            default ``inputs`` rolled by one along the batch.
    """

    reprogrammer: Reprogrammer
    inputs: Any
    targets: Any
    gradient_estimator: Any = None
    trainer_config: Any = None
    loss_fn: Optional[Callable[[Tensor, Tensor], Tensor]] = None
    probe_inputs: Any = None

    @classmethod
    def coerce(cls, value: Any, *, where: str = "factory") -> "ValidationExample":
        """Accept a :class:`ValidationExample`, a 3- or 4-tuple; the message names what is wrong."""
        if isinstance(value, ValidationExample):
            example = value
        elif isinstance(value, (tuple, list)) and len(value) in (3, 4):
            example = cls(*value[:3], gradient_estimator=value[3] if len(value) == 4 else None)
        else:
            got = f"a {len(value)}-tuple" if isinstance(value, (tuple, list)) else type(value).__name__
            raise TypeError(
                f"{where}: expected (reprogrammer, inputs, targets), (reprogrammer, inputs, targets, "
                f"gradient_estimator) or a ValidationExample, got {got}"
            )
        if not isinstance(example.reprogrammer, Reprogrammer):
            raise TypeError(
                f"{where}: the first element must be a Reprogrammer, got {type(example.reprogrammer).__name__}"
            )
        if example.gradient_estimator is None:
            example.gradient_estimator = getattr(example.reprogrammer, "gradient_estimator", None)
        if not isinstance(example.targets, Tensor):
            example.targets = torch.as_tensor(example.targets)
        if _batch_size(example.inputs) != example.targets.shape[0]:
            raise ValueError(f"{where}: {_batch_size(example.inputs)} inputs but {example.targets.shape[0]} targets")
        return example


# --- small helpers -----------------------------------------------------------------------------------


def _batch_size(inputs: Any) -> int:
    if isinstance(inputs, Tensor):
        return inputs.shape[0]
    if isinstance(inputs, dict):
        return _batch_size(next(iter(inputs.values())))
    if isinstance(inputs, (list, tuple)):
        return len(inputs)
    if isinstance(inputs, str):
        return 1
    raise TypeError(f"inputs: expected a tensor, a list or a dict of tensors, got {type(inputs).__name__}")


def _clone(value: Any) -> Any:
    """A copy of tensors in nested containers (so a method that writes to its input cannot corrupt the probes)."""
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, EmbeddingState):
        return replace(
            value,
            embeds=_clone(value.embeds),
            attention_mask=_clone(value.attention_mask),
            token_positions=_clone(value.token_positions),
            extra={k: _clone(v) for k, v in value.extra.items()},
        )
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    return value


def _to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Tensor):
        return type(value)(_to_device(v, device) for v in value)
    return value


def _roll(inputs: Any) -> Any:
    """A second probe batch with the same shapes: the batch rolled by one."""
    if isinstance(inputs, Tensor):
        if inputs.shape[0] > 1:
            return torch.roll(inputs, 1, dims=0)
        return inputs.flip(-1) if not inputs.is_floating_point() else inputs * 0.5 + 0.25
    if isinstance(inputs, dict):
        return {k: _roll(v) if isinstance(v, Tensor) else v for k, v in inputs.items()}
    if isinstance(inputs, list):
        if len(inputs) > 1:
            return inputs[-1:] + inputs[:-1]
        return [s[::-1] if isinstance(s, str) else s for s in inputs]
    if isinstance(inputs, tuple):
        return tuple(_roll(list(inputs)))
    return inputs


def _equal(a: Any, b: Any) -> bool:
    """Bit-exact structural equality of tensors, states, strings and containers."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
            return False
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a.detach(), b.detach()))
    if isinstance(a, EmbeddingState) or isinstance(b, EmbeddingState):
        if not (isinstance(a, EmbeddingState) and isinstance(b, EmbeddingState)):
            return False
        return (
            _equal(a.embeds, b.embeds)
            and _equal(a.attention_mask, b.attention_mask)
            and _equal(a.token_positions, b.token_positions)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        if type(a) is not type(b):
            return False
        return all(_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if hasattr(a, "keys") and hasattr(b, "keys") and not isinstance(a, (str, bytes)):
        return _equal(dict(a), dict(b))
    try:
        return bool(a == b)
    except Exception:
        return a is b


def _shape(value: Any) -> str:
    if isinstance(value, Tensor):
        return str(tuple(value.shape))
    if isinstance(value, EmbeddingState):
        return f"EmbeddingState{tuple(value.embeds.shape)}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shape(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{len(value)}]"
    if isinstance(value, str):
        return f"str[{len(value)}]"
    return type(value).__name__


def _scale(*tensors: Tensor) -> float:
    values = [float(t.detach().abs().max()) for t in tensors if isinstance(t, Tensor) and t.numel()]
    return max(values + [1.0])


def _tolerance(*tensors: Tensor) -> float:
    eps = max(
        [torch.finfo(t.dtype).eps for t in tensors if isinstance(t, Tensor) and t.is_floating_point()]
        + [torch.finfo(torch.float32).eps]
    )
    return max(1e-4, 50 * eps) * _scale(*tensors)


def _max_diff(a: Tensor, b: Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max()) if a.numel() else 0.0


def _close(a: Tensor, b: Tensor) -> bool:
    if a.shape != b.shape:
        return False
    return _max_diff(a, b) <= _tolerance(a, b)


def _state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if isinstance(v, Tensor)}


def _state_diff(before: dict[str, Tensor], after: dict[str, Tensor]) -> list[str]:
    names = sorted(set(before) | set(after))
    return [n for n in names if n not in before or n not in after or not _equal(before[n], after[n])]


def _trainable(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad]


def _operators(part: Any) -> tuple[Operator, ...]:
    value = part.operator
    return tuple(value) if isinstance(value, (tuple, list, set, frozenset)) else (value,)


def _part_name(index: int, part: nn.Module) -> str:
    return f"I{index}:{type(part).__name__}"


def _error(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {Path(frame[0].filename).name}:{frame[0].lineno})" if frame else ""
    return f"{type(error).__name__}: {error}{where}"


def _names(items: Sequence[str], limit: int = 6) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@contextlib.contextmanager
def _perturbed(part: nn.Module, seed: int, scale: float = 0.5) -> Iterator[None]:
    """Add seeded noise to ``part``'s trainable parameters for the duration; restore them exactly."""
    params = [p for p in part.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    generator = torch.Generator().manual_seed(seed)
    try:
        with torch.no_grad():
            for p, value in zip(params, saved):
                magnitude = max(float(value.float().abs().mean()) if value.numel() else 0.0, 0.1)
                noise = torch.randn(p.shape, generator=generator).to(device=p.device, dtype=p.dtype)
                p.add_(noise * (scale * magnitude))
        yield
    finally:
        with torch.no_grad():
            for p, value in zip(params, saved):
                p.copy_(value)


# --- recording what each part receives and returns ----------------------------------------------------


@dataclass
class _Call:
    """One application of a part: ``kind`` is input, embedding, hidden (an edit) or key_values."""

    kind: str
    input: Any
    output: Any
    layer: Optional[int] = None


class _Recorder:
    """Records every call of every input manipulation during the forwards run inside the block."""

    def __init__(self, parts: Sequence[nn.Module]):
        self.parts = list(parts)
        self.calls: dict[int, list[_Call]] = {i: [] for i in range(len(self.parts))}
        self._handles: list[Any] = []
        self._patched: list[tuple[nn.Module, str]] = []

    def __enter__(self) -> "_Recorder":
        for index, part in enumerate(self.parts):
            calls = self.calls[index]
            if part.location is Location.HIDDEN:
                if getattr(part, "edits_hidden", False):
                    original = type(part).edit_hidden

                    def edit(layer, hidden, part=part, original=original, calls=calls):
                        output = original(part, layer, hidden)
                        calls.append(_Call("hidden", hidden, output, layer))
                        return output

                    object.__setattr__(part, "edit_hidden", edit)
                    self._patched.append((part, "edit_hidden"))
                if getattr(part, "provides_key_values", False):
                    original_kv = type(part).key_value_prefix

                    def prefix(batch_size, geometry, part=part, original=original_kv, calls=calls):
                        output = original(part, batch_size, geometry)
                        calls.append(_Call("key_values", (batch_size, geometry), output))
                        return output

                    object.__setattr__(part, "key_value_prefix", prefix)
                    self._patched.append((part, "key_value_prefix"))
            else:
                kind = "embedding" if part.location is Location.EMBEDDING else "input"

                def hook(module, args, output, kind=kind, calls=calls):
                    calls.append(_Call(kind, args[0] if args else None, output))

                self._handles.append(part.register_forward_hook(hook))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        for part, name in self._patched:
            part.__dict__.pop(name, None)


@dataclass
class _View:
    """The tensor a part changes inside what it receives (``u``) and returns (``v``), and how to swap ``u``."""

    u: Tensor
    v: Tensor
    wrap: Callable[[Tensor], Any]
    extract: Callable[[Any], Tensor]


def _fields(value: Any) -> Optional[dict[str, Any]]:
    if isinstance(value, dict):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


def _rebuild(value: Any, key: str, tensor: Tensor) -> Any:
    if isinstance(value, dict):
        return {**value, key: tensor}
    return dataclasses.replace(value, **{key: tensor})


def _view(call: _Call) -> Optional[_View]:
    """Where a part acts, as tensors: embeddings of a state, a hidden state, a tensor input, or the one float
    field of a dict/dataclass input that it changes (graph features, images with boxes); None for text and ids."""
    u, v = call.input, call.output
    if call.kind == "hidden" and isinstance(u, Tensor) and isinstance(v, Tensor):
        return _View(u, v, lambda t: t, lambda out: out)
    if isinstance(u, EmbeddingState) and isinstance(v, EmbeddingState):
        return _View(u.embeds, v.embeds, lambda t: u.with_embeds(t), lambda out: out.embeds)
    if isinstance(u, Tensor) and isinstance(v, Tensor):
        return _View(u, v, lambda t: t, lambda out: out)
    fields_in = _fields(u)
    if fields_in is None or "input_ids" in fields_in:
        return None
    floats = {k: t for k, t in fields_in.items() if isinstance(t, Tensor) and t.is_floating_point()}
    fields_out = _fields(v)
    if fields_out is not None and fields_out.keys() == fields_in.keys():
        changed = [k for k in floats if not _equal(fields_in[k], fields_out[k])]
        if len(changed) == 1:
            key = changed[0]
            return _View(floats[key], fields_out[key], lambda t: _rebuild(u, key, t), lambda out: _fields(out)[key])
        return None
    if isinstance(v, Tensor):
        same = [k for k, t in floats.items() if t.shape == v.shape] or [
            k for k, t in floats.items() if t.dim() == v.dim()
        ]
        if len(same) == 1:
            key = same[0]
            return _View(floats[key], v, lambda t: _rebuild(u, key, t), lambda out: out)
    return None


def _replay_call(part: nn.Module, call: _Call) -> Any:
    """Apply ``part`` again to exactly what it received in ``call`` (a copy of it)."""
    if call.kind == "hidden":
        return type(part).edit_hidden(part, call.layer, _clone(call.input))
    if call.kind == "key_values":
        return type(part).key_value_prefix(part, *call.input)
    return part(_clone(call.input))


def _replay(part: nn.Module, call: _Call, view: _View, value: Tensor) -> Tensor:
    """The part applied to ``value`` in place of what it changed in ``call`` (the rest of its input kept)."""
    with torch.no_grad():
        if call.kind == "hidden":
            return type(part).edit_hidden(part, call.layer, value)
        return view.extract(part(view.wrap(value)))


class _Probe:
    """What one part received and returned during the traced forward on x₁, the value it received on
    x₂ (one more forward, on first use), and replays of the part alone: on other values, and with its
    trainable parameters perturbed (the same seeded noise every time; f is not run)."""

    def __init__(
        self,
        part: nn.Module,
        first: list[_Call],
        second: Callable[[], list[_Call]],
        seed: int,
        prompt_positions: Optional[set[int]] = None,
    ):
        self.part, self.first, self._second, self.seed = part, first, second, seed
        self.prompt_positions = prompt_positions

    @property
    def second(self) -> list[_Call]:
        return self._second()

    def other_value(self, j: int, view: _View) -> Optional[Tensor]:
        """What the part received at call ``j`` of the second probe, where it acts (None if not comparable)."""
        second = self.second
        if j >= len(second):
            return None
        other = _view(second[j])
        if other is None or other.u.shape != view.u.shape or other.u.dtype != view.u.dtype:
            return None
        return other.u

    def replay(self, call: _Call, view: _View, value: Tensor, *, perturbed: bool = False) -> Tensor:
        if not perturbed:
            return _replay(self.part, call, view, value)
        with _perturbed(self.part, self.seed):
            return _replay(self.part, call, view, value)


def _elementwise_scale(probe: _Probe, call: _Call, view: _View) -> tuple[Optional[Tensor], str]:
    """The response of a same-shape part to small input changes t: ``I(u + t) − I(u) = a ⊙ t`` for a fixed
    element-wise ``a`` (a normalisation; 1 for a plain sum). Returns ``a``, or None and why not."""
    u, v = view.u, view.v
    generator = torch.Generator().manual_seed(probe.seed + 101)
    size = max(float(u.detach().float().abs().mean()), 1e-2)
    responses = []
    for _ in range(2):
        t = (
            (torch.rand(u.shape, generator=generator) + 0.5).to(u)
            * size
            * torch.where(torch.rand(u.shape, generator=generator) < 0.5, -1.0, 1.0).to(u)
        )
        responses.append((probe.replay(call, view, u + t) - v) / t)
    a, b = responses
    if not _close(a, b):
        return (
            None,
            f"its response to a change of the input is not element-wise (it mixes elements: max {_max_diff(a, b):.3g})",
        )
    return a, ""


def _additive_evidence(probe: _Probe) -> tuple[bool, str]:
    """Whether the calls show I(u) = A u + δ: A a fixed map that carries the input (element-wise, e.g. a
    normalisation, or a placement onto a canvas), δ a term independent of u (see the module docstring)."""
    part = probe.part
    learnable = bool(_trainable(part))
    notes = []
    second = None
    for j, c1 in enumerate(probe.first):
        where = f" at layer {c1.layer}" if c1.layer is not None else ""
        if c1.kind == "key_values":
            return (
                False,
                "it provides an attention key/value prefix, which lengthens the attended sequence (concatenative)",
            )
        view = _view(c1)
        if view is None:
            return (
                False,
                f"it maps {_shape(c1.input)} to {_shape(c1.output)}: text, token ids and other non-tensors cannot be added to",
            )
        u1, v1 = view.u, view.v
        if not (u1.is_floating_point() and v1.is_floating_point()):
            return False, f"it acts on discrete values ({u1.dtype}) such as token ids, which cannot be added to"
        if c1.kind in ("embedding", "hidden") and v1.shape != u1.shape:
            return (
                False,
                f"it changes the shape{where} {tuple(u1.shape)} -> {tuple(v1.shape)}; an additive part keeps it",
            )
        if c1.kind == "embedding":
            s_in, s_out = c1.input, c1.output
            if not _equal(s_in.token_positions, s_out.token_positions) or not _equal(
                s_in.attention_mask, s_out.attention_mask
            ):
                return False, "it moves the token positions or changes the attention mask; an additive part keeps them"
        if c1.kind == "input" and (
            _squeezed(v1).dim() != _squeezed(u1).dim() or v1.shape[0] % max(u1.shape[0], 1) != 0
        ):
            return False, f"it changes the number of dimensions {tuple(u1.shape)} -> {tuple(v1.shape)}"
        u2 = probe.other_value(j, view)
        if u2 is None:
            notes.append("two-probe tests skipped: the probe batches differ in shape")
            if learnable:
                d1 = probe.replay(c1, view, u1, perturbed=True) - v1
                if float(d1.abs().max()) <= _tolerance(v1):
                    return False, f"its trainable parameters do not enter its output{where}"
            continue
        v2 = probe.replay(c1, view, u2)
        if not _equal(u1, u2) and _close(v2, v1):
            return (
                False,
                f"its output does not depend on what it receives{where}: it replaces the input rather than adding to it",
            )
        mixed = probe.replay(c1, view, 0.5 * u1 + 0.5 * u2)
        expected = 0.5 * v1 + 0.5 * v2
        if mixed.shape != expected.shape or not _close(mixed, expected):
            gap = _max_diff(mixed, expected) if mixed.shape == expected.shape else float("nan")
            return (
                False,
                f"it is not affine in what it receives{where}: I(½u₁+½u₂) differs from ½I(u₁)+½I(u₂) by {gap:.3g}",
            )
        if v1.shape == u1.shape:
            scale, why = _elementwise_scale(probe, c1, view)
            if scale is None:
                return False, why + where
            tiny = float(scale.abs().min())
            if tiny <= 1e-6:
                return False, (
                    f"it discards part of its input{where} (the input is overwritten where the response is 0): "
                    "I(u) = a ⊙ u + δ needs a ≠ 0 everywhere"
                )
            offset = v1 - scale * u1
            if float(offset.abs().max()) <= _tolerance(v1):
                return False, f"it only rescales its input{where}; nothing is added"
        else:
            notes.append(f"onto a larger canvas {tuple(u1.shape)} -> {tuple(v1.shape)}")
        if learnable:
            # the parameters' effect must not depend on the input; for states and hidden states the whole
            # second probe is used (token ids included), for task inputs the other fields (boxes, graphs) are kept
            if c1.kind in ("embedding", "hidden"):
                second = probe.second
                c2 = second[j]
                view2 = _view(c2)
                base2, other2 = view2.v, probe.replay(c2, view2, view2.u, perturbed=True)
            else:
                base2, other2 = v2, probe.replay(c1, view, u2, perturbed=True)
            d1 = probe.replay(c1, view, u1, perturbed=True) - v1
            d2 = other2 - base2
            if float(d1.abs().max()) <= _tolerance(v1):
                return False, f"its trainable parameters do not enter its output{where}"
            if d1.shape != d2.shape or not _close(d1, d2):
                return False, (
                    f"its parameters do not enter as a term independent of the input{where}: changing them moves "
                    f"I(u₁) and I(u₂) by different amounts (max difference {_max_diff(d1, d2):.3g})"
                )
    kind = probe.first[0].kind
    how = "changing its parameters shifts every input by the same amount" if learnable else "a fixed term is added"
    extra = f" ({'; '.join(sorted(set(notes)))})" if notes else ""
    return True, f"adds a term at the {kind} interface: I(u) = a ⊙ u + δ, affine and element-wise, {how}{extra}"


def _squeezed(t: Tensor) -> Tensor:
    """``t`` without its size-1 dimensions after the batch (a channel axis added to a waveform is not a new axis)."""
    return t.reshape(t.shape[0], *[n for n in t.shape[1:] if n != 1]) if t.dim() > 1 else t


def _subsequence(inner: Tensor, outer: Tensor) -> Optional[list[int]]:
    """Positions (dim 1) where ``inner``'s slices appear unchanged and in order inside ``outer``; None if they do not."""
    if inner.shape[0] != outer.shape[0] or inner.shape[2:] != outer.shape[2:]:
        return None
    t_in, t_out = inner.shape[1], outer.shape[1]
    if t_in == 0:
        return []
    a = inner.reshape(inner.shape[0], t_in, -1)
    b = outer.reshape(outer.shape[0], t_out, -1)
    matches = torch.ones(t_in, t_out, dtype=torch.bool, device=a.device)
    for row in range(a.shape[0]):  # (T_in, T_out) equality of whole slices, one batch row at a time
        matches &= (a[row].unsqueeze(1) == b[row].unsqueeze(0)).all(dim=-1)
    table = matches.cpu().tolist()
    positions, j = [], 0
    for i in range(t_in):
        while j < t_out and not table[i][j]:
            j += 1
        if j == t_out:
            return None
        positions.append(j)
        j += 1
    return positions


def _blocks(positions: list[int], length: int) -> list[tuple[int, int]]:
    """Maximal runs ``(start, length)`` of positions in 0..length-1 that are *not* in ``positions`` (the inserted blocks)."""
    kept, runs, start = set(positions), [], None
    for t in range(length + 1):
        inserted = t < length and t not in kept
        if inserted and start is None:
            start = t
        if not inserted and start is not None:
            runs.append((start, t - start))
            start = None
    return runs


def _concat_tensor(u: Tensor, v: Tensor, axis: int, where: str) -> tuple[bool, str]:
    """``v`` is ``u`` with positions inserted along ``axis`` (batch 0); the batch may be repeated K times (one row per prompt)."""
    if u.shape[axis] == 0:
        return (
            False,
            f"it receives an empty sequence{where} and generates all {v.shape[axis]} positions (nothing is kept)",
        )
    if v.shape[axis] <= u.shape[axis]:
        return False, f"the sequence does not grow{where} ({u.shape[axis]} -> {v.shape[axis]} positions)"
    inner, outer = u.movedim(axis, 1), v.movedim(axis, 1)
    repeat = ""
    if outer.shape[0] != inner.shape[0] and inner.shape[0] and outer.shape[0] % inner.shape[0] == 0:
        k = outer.shape[0] // inner.shape[0]
        for expanded, how in (
            (inner.repeat_interleave(k, dim=0), "one after another"),
            (inner.repeat(k, *[1] * (inner.dim() - 1)), "batch after batch"),
        ):
            if _subsequence(expanded, outer) is not None:
                inner, repeat = expanded, f", each input paired with {k} prompts ({how})"
                break
    positions = _subsequence(inner, outer)
    if positions is None:
        return False, (
            f"the original {u.shape[axis]} positions are not kept unchanged and in order inside the "
            f"{v.shape[axis]} positions it returns{where}"
        )
    runs = _blocks(positions, v.shape[axis])
    prompt = v.shape[axis] - u.shape[axis]
    where_blocks = ", ".join(f"{length} at {start}" for start, length in runs)
    return True, (
        f"inserts P={prompt} prompt positions{where} ({where_blocks}); the original {u.shape[axis]} are kept unchanged "
        f"and in order{repeat}"
    )


def _token_rows(value: Any) -> Optional[list[Tensor]]:
    """The real tokens of each row of a token-id batch (dict with ``input_ids``/``attention_mask``, or a tensor)."""
    fields = _fields(value)
    ids = fields.get("input_ids") if fields is not None else value
    if not isinstance(ids, Tensor) or ids.is_floating_point() or ids.dim() != 2:
        return None
    mask = fields.get("attention_mask") if fields is not None else None
    if not isinstance(mask, Tensor) or mask.shape != ids.shape:
        return [row for row in ids]
    return [row[m.bool()] for row, m in zip(ids, mask)]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(t, str) for t in value)
    )


def _concat_text(before: Any, after: Any) -> tuple[bool, str]:
    texts_in = [before] if isinstance(before, str) else list(before)
    texts_out = [after] if isinstance(after, str) else list(after) if isinstance(after, (list, tuple)) else None
    if texts_out is None or len(texts_out) != len(texts_in) or not all(isinstance(t, str) for t in texts_out):
        return False, f"it maps {len(texts_in)} strings to {_shape(after)}; expected one longer string per input"
    for a, b in zip(texts_in, texts_out):
        if len(b) <= len(a):
            return False, f"the text does not grow ({len(a)} -> {len(b)} characters)"
        if a not in b:
            return False, f"the input text {a[:40]!r} is not kept as one contiguous block in {b[:80]!r}"
    grown = sorted({len(b) - len(a) for a, b in zip(texts_in, texts_out)})
    return (
        True,
        f"keeps every input text as a contiguous block of a longer text (+{_names([str(g) for g in grown], 3)} characters)",
    )


def _concat_tokens(before: list[Tensor], after: list[Tensor]) -> tuple[bool, str]:
    if len(before) != len(after):
        return False, f"it maps {len(before)} token sequences to {len(after)}"
    grown = {len(b) - len(a) for a, b in zip(before, after)}
    if len(grown) != 1 or next(iter(grown)) <= 0:
        return False, f"the token sequences grow by {sorted(grown)} tokens; a prompt adds the same P > 0 tokens to each"
    for a, b in zip(before, after):
        j = 0
        for token in a.tolist():
            rest = b[j:].tolist()
            if token not in rest:
                return False, "the original tokens are not kept unchanged and in order inside the prompted sequence"
            j += rest.index(token) + 1
    return (
        True,
        f"inserts P={next(iter(grown))} tokens into every sequence; the original tokens are kept unchanged and in order",
    )


def _concatenative_evidence(probe: _Probe, prepare: Callable[[Any], Any]) -> tuple[bool, str]:
    """Whether the calls show the input kept unchanged and in order inside a longer sequence (see the module docstring)."""
    reasons = []
    part = probe.part
    for j, c1 in enumerate(probe.first):
        where = f" at layer {c1.layer}" if c1.layer is not None else ""
        if c1.kind == "key_values":
            pairs_kv = c1.output
            lengths = {k.shape[2] for k, _ in pairs_kv} | {v.shape[2] for _, v in pairs_kv}
            if len(lengths) != 1 or next(iter(lengths)) <= 0:
                return False, f"its key/value prefix has lengths {sorted(lengths)}; a prompt needs one length P > 0"
            reasons.append(
                f"prepends a key/value prefix of length P={next(iter(lengths))} to {len(pairs_kv)} attention layers"
            )
            continue
        u, v = c1.input, c1.output
        view_method = getattr(part, "validation_view", None)
        if callable(view_method):
            u, v = view_method(u, v)
        if _is_text(u) and _is_text(v):
            ok, why = _concat_text(u, v)
        elif c1.kind == "input" and (_is_text(u) or _token_rows(u) is not None) and _token_rows(v) is not None:
            before = _token_rows(u) if not _is_text(u) else _token_rows(prepare(u))
            ok, why = (
                (False, "the task input could not be tokenised")
                if before is None
                else _concat_tokens(before, _token_rows(v))
            )
        elif isinstance(u, EmbeddingState) and isinstance(v, EmbeddingState):
            ok, why = _concat_tensor(u.embeds, v.embeds, 1, where)
        elif c1.kind == "hidden" and isinstance(u, Tensor) and isinstance(v, Tensor):
            ok, why = _concat_hidden(probe, j, c1, where)
        elif isinstance(u, Tensor) and isinstance(v, Tensor):
            if u.dim() != v.dim():
                return False, f"it changes the number of dimensions {tuple(u.shape)} -> {tuple(v.shape)}"
            grown = [d for d in range(1, u.dim()) if v.shape[d] != u.shape[d]]
            if len(grown) != 1:
                return False, (
                    f"a concatenation lengthens exactly one axis, but {tuple(u.shape)} -> {tuple(v.shape)} changes "
                    f"{len(grown)} axes"
                )
            ok, why = _concat_tensor(u, v, grown[0], where)
        else:
            hint = (
                ""
                if callable(view_method)
                else (
                    " (a part whose operator acts on something other than what forward receives can say where with "
                    "validation_view(received, returned) -> (before, after))"
                )
            )
            return (
                False,
                f"it maps {_shape(u)} to {_shape(v)}; a concatenation returns a longer sequence of the same kind{hint}",
            )
        if not ok:
            return False, why
        reasons.append(why)
    return True, "; ".join(sorted(set(reasons)))


def _concat_hidden(probe: _Probe, j: int, call: _Call, where: str) -> tuple[bool, str]:
    """A hidden edit is concatenative when it lengthens the hidden sequence keeping it, or (deep prompts) when it
    replaces only prompt positions inserted at the embedding by values that do not depend on the input."""
    a, b = call.input, call.output
    if b.dim() != a.dim() or b.shape[0] != a.shape[0] or b.shape[2:] != a.shape[2:]:
        return False, f"it changes the hidden shape{where} {tuple(a.shape)} -> {tuple(b.shape)}"
    if b.shape[1] > a.shape[1]:
        return _concat_tensor(a, b, 1, where)
    if b.shape[1] < a.shape[1]:
        return False, f"the hidden sequence shrinks{where} ({a.shape[1]} -> {b.shape[1]} positions)"
    changed = (a != b).reshape(a.shape[0], a.shape[1], -1).any(-1).any(0)
    positions = [t for t in range(a.shape[1]) if bool(changed[t])]
    if not positions:
        return False, f"it changes nothing{where}"
    prompts = probe.prompt_positions or set()
    outside = [t for t in positions if t not in prompts]
    if outside:
        return False, (
            f"it keeps the length{where} and overwrites original positions {_names([str(t) for t in outside], 4)} "
            "(a concatenation keeps the original content; deep prompts replace only prompt positions inserted earlier)"
        )
    view = _view(call)
    other = probe.other_value(j, view) if view is not None else None
    if other is None:
        return False, f"its output{where} could not be compared across probes"
    b2 = probe.replay(call, view, other)
    index = torch.tensor(positions, device=b.device)
    if not _close(b.index_select(1, index), b2.index_select(1, index)):
        return False, f"the prompt positions it replaces{where} depend on the input"
    runs = _blocks([t for t in range(a.shape[1]) if t not in positions], a.shape[1])
    return True, (
        f"replaces the prompt block(s) {', '.join(f'{n} at {s}' for s, n in runs)}{where} by input-independent values "
        "and keeps every other position unchanged (deep prompt)"
    )


# --- the example and how it is built -----------------------------------------------------------------


@dataclass
class _Target:
    name: str
    build: Callable[[int], ValidationExample]
    expected: Optional[Spec] = None
    expected_source: str = ""
    from_factory: bool = True


def _seed_everything(seed: int) -> None:
    from .training import seed_everything

    seed_everything(seed)


def _factory_target(
    factory: Callable[[], Any], name: str, expected: Optional[Spec] = None, source: str = ""
) -> _Target:
    def build(seed: int) -> ValidationExample:
        _seed_everything(seed)
        return ValidationExample.coerce(factory(), where=name)

    return _Target(name=name, build=build, expected=expected, expected_source=source)


def _load_file(path: Path) -> Any:
    module_name = f"_nnr_validate_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"target: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_target(reference: str) -> Any:
    """Resolve ``path/to/file.py:factory``, ``package.module:factory`` or a registered method id.

    Returns the factory (or the registry's :class:`MethodInfo`); the error names what is missing.
    """
    if not isinstance(reference, str) or not reference.strip():
        raise ValueError(f"target: expected 'file.py:factory', 'module:factory' or a method id, got {reference!r}")
    reference = reference.strip()
    if ":" in reference:
        location, _, attribute = reference.rpartition(":")
        if not attribute:
            raise ValueError(f"target: {reference!r} names no factory after ':'")
        path = Path(location)
        if location.endswith(".py") or path.exists():
            if not path.is_file():
                raise FileNotFoundError(f"target: no file {location!r}")
            module = _load_file(path)
        else:
            module = importlib.import_module(location)
        obj = module
        for part in attribute.split("."):
            if not hasattr(obj, part):
                available = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
                raise AttributeError(f"target: {location} defines no {attribute!r}; callables there: {available[:15]}")
            obj = getattr(obj, part)
        return obj
    if reference.endswith(".py"):
        raise ValueError(f"target: name the factory in {reference!r} as '{reference}:factory'")
    from ..implementations.registry import get_method

    return get_method(reference)


def _resolve(method: Any, inputs: Any, targets: Any, options: dict[str, Any]) -> _Target:
    from ..implementations.registry import MethodInfo

    if isinstance(method, str):
        method = load_target(method)
    info = method if isinstance(method, MethodInfo) else getattr(method, "method_info", None)
    if isinstance(info, MethodInfo):
        if info.example is None:
            raise ValueError(f"method: {info.id!r} is registered without an example= factory; the validator needs one")
        return _factory_target(info.example, info.id, info.spec, source=f"registry entry {info.id!r}")
    if isinstance(method, Reprogrammer):
        if inputs is None or targets is None:
            raise TypeError("inputs/targets: validating a Reprogrammer instance needs probe inputs and targets")
        pristine = copy.deepcopy(method)
        pristine.frozen._snapshot_versions()
        first = [True]

        def build(seed: int) -> ValidationExample:
            _seed_everything(seed)
            if first[0]:
                first[0] = False
                instance = method
            else:
                instance = copy.deepcopy(pristine)
                instance.frozen._snapshot_versions()  # fresh tensors carry fresh version counters
            return ValidationExample.coerce(
                ValidationExample(instance, _clone(inputs), _clone(targets), **options), where="reprogrammer"
            )

        return _Target(name=method.name, build=build, from_factory=False)
    if callable(method):
        if inputs is not None or targets is not None:
            raise TypeError(
                "inputs/targets: a factory returns its own inputs and targets; pass them only with a Reprogrammer"
            )
        name = getattr(method, "__qualname__", None) or getattr(method, "__name__", None) or type(method).__name__
        return _factory_target(method, name)
    raise TypeError(
        f"method: expected a factory, a registered method id, a MethodInfo or a Reprogrammer, got {type(method).__name__}"
    )


# --- training with instruments ------------------------------------------------------------------------


@dataclass
class _Training:
    steps_done: int = 0
    error: Optional[str] = None
    error_type: Optional[type] = None
    train_mode_modules: list[str] = field(default_factory=list)
    frozen_grads: list[str] = field(default_factory=list)
    write_error: Optional[str] = None
    grads: dict[str, bool] = field(default_factory=dict)
    changed: dict[str, bool] = field(default_factory=dict)
    estimator: bool = False
    queries: int = 0

    @property
    def complete(self) -> bool:
        return self.error is None


def _train(example: ValidationExample, steps: int, seed: int) -> _Training:
    """``steps`` optimiser steps with the trainer's optimiser, statistical fitting and estimator hook, observed."""
    from .training import Trainer, TrainerConfig

    rp = example.reprogrammer
    frozen = rp.frozen
    record = _Training(estimator=example.gradient_estimator is not None)
    base = example.trainer_config
    base = base.model_dump() if isinstance(base, TrainerConfig) else dict(base or {})
    device = rp.device
    settings = {
        **base,
        "epochs": steps,
        "max_steps": steps,
        "progress": False,
        "device": str(device),
        "seed": seed,
        "amp": False,
        "num_workers": 0,
    }
    try:
        trainer = Trainer(
            rp, TrainerConfig(**settings), loss_fn=example.loss_fn, gradient_estimator=example.gradient_estimator
        )
    except Exception as error:  # noqa: BLE001 - e.g. an unknown trainer_config field
        record.error, record.error_type = f"the trainer could not be set up: {_error(error)}", type(error)
        return record
    inputs, targets = _to_device(example.inputs, device), example.targets.to(device)
    data = torch.utils.data.DataLoader([(inputs, targets)], batch_size=None, collate_fn=lambda item: item)

    seen_training: set[str] = set()
    handles = []
    model_name = type(frozen.model).__name__
    for name, module in frozen.model.named_modules():

        def pre_hook(module, args, name=name or model_name):
            if module.training:
                seen_training.add(name)

        handles.append(module.register_forward_pre_hook(pre_hook))
    trainable = _trainable(rp)
    before = {n: p.detach().clone() for n, p in trainable}
    record.grads = {n: False for n, _ in trainable}
    frozen_grads: set[str] = set()
    _seed_everything(seed)
    try:
        output = rp.output
        if output.alignment is Alignment.STATISTICAL or not output.is_fitted:
            trainer.fit_alignment(data)
        optimizer = trainer._optimizer([p for _, p in trainable]) if trainable else None
        for _ in range(steps):
            rp.train()
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
            if example.gradient_estimator is not None:
                example.gradient_estimator.estimate(rp, inputs, targets, trainer.loss_fn)
                with torch.no_grad():
                    _, source = rp.forward_with_source(inputs)
            else:
                logits, source = rp.forward_with_source(inputs)
                loss = trainer.loss_fn(logits.float(), targets)
                if loss.requires_grad:
                    loss.backward()
            for name, p in trainable:
                if p.grad is not None and bool(p.grad.detach().abs().sum() > 0):
                    record.grads[name] = True
            frozen_grads |= {n for n, p in frozen.model.named_parameters() if p.grad is not None or p.requires_grad}
            if optimizer is not None:
                optimizer.step()
            if output.refit_each_epoch:
                output.fit(source.detach().float(), targets)
            record.steps_done += 1
    except Exception as error:  # noqa: BLE001 - every failure of the method is a finding
        record.error = _error(error)
        record.error_type = type(error)
        if isinstance(error, FrozenModelError) and "written in place" in str(error):
            record.write_error = str(error)
    finally:
        for handle in handles:
            handle.remove()
        rp.eval()
    frozen_grads |= {n for n, p in frozen.model.named_parameters() if p.grad is not None or p.requires_grad}
    record.frozen_grads = sorted(frozen_grads)
    record.train_mode_modules = sorted(seen_training)
    record.changed = {n: not _equal(before[n], p) for n, p in trainable}
    record.queries = int(getattr(example.gradient_estimator, "queries", 0) or 0)
    if record.write_error is None:
        try:
            frozen.check_writes()
        except FrozenModelError as error:
            record.write_error = str(error)
    return record


# --- the validator --------------------------------------------------------------------------------------


class _Validator:
    def __init__(self, target: _Target, *, steps: int, seed: int):
        self.target = target
        self.steps = steps
        self.seed = seed
        self.results: dict[str, CheckResult] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="nnr-validate-")

    # -- bookkeeping ---------------------------------------------------------------------------------
    def put(self, name: str, status: str, reason: str, seconds: float = 0.0) -> None:
        if name not in self.results:
            self.results[name] = CheckResult(name, status, reason, seconds)

    def run(self, name: str, function: Callable[[], tuple[str, str]]) -> None:
        """Run one check; an exception inside it is a failure of the method, reported with its location."""
        if name in self.results:
            return
        start = time.perf_counter()
        try:
            status, reason = function()
        except Exception as error:  # noqa: BLE001
            status, reason = FAILED, f"raised {_error(error)}"
        self.put(name, status, reason, time.perf_counter() - start)

    def skip_rest(self, reason: str) -> None:
        for name in _CHECK_NAMES:
            self.put(name, SKIPPED, reason)

    def report(self, seconds: float) -> ValidationReport:
        ordered = [self.results[n] for n in _CHECK_NAMES if n in self.results]
        return ValidationReport(self.target.name, ordered, getattr(self, "coordinates", ""), seconds)

    # -- the run -------------------------------------------------------------------------------------
    def validate(self) -> None:
        try:
            self.example = self.target.build(self.seed)
        except SpecError as error:
            self._spec_failure(error)
            return
        except Exception as error:  # noqa: BLE001
            self.put("example-builds", FAILED, f"the factory raised {_error(error)}")
            self.skip_rest("the example did not build")
            return
        self.rp = self.example.reprogrammer
        self.frozen: FrozenModel = self.rp.frozen
        self.device = self.rp.device
        self.x1 = _to_device(self.example.inputs, self.device)
        self.x2 = (
            _to_device(self.example.probe_inputs, self.device)
            if self.example.probe_inputs is not None
            else _roll(self.x1)
        )
        self.y = self.example.targets.to(self.device)
        self.parts = list(self.rp.inputs)
        spec = self.rp.spec
        self.coordinates = f"{spec.coordinates_str()}, {spec.paradigm}, access {spec.access}"
        self.put(
            "example-builds",
            PASSED,
            f"{self.rp.name!r}: {len(self.parts)} input part(s) and {type(self.rp.output).__name__} on "
            f"{type(self.frozen.model).__name__} ({self.frozen.parameter_count:,} parameters), {_batch_size(self.x1)} inputs",
        )
        self.run("declared-coordinates", self.check_declared)
        self.run("spec-rules", self.check_spec_rules)
        self.run("symbolic-parameter-count", self.check_symbolic_count)
        self.run("symbolic-formula-renders", self.check_symbolic_renders)
        self.run("forward-runs", self.check_forward)
        if self.results["forward-runs"].status == FAILED:
            self._attribute_frozen_error(getattr(self, "forward_error", None))
            self.skip_rest("the forward pass did not run (see forward-runs)")
            return
        self.alignment_before = _state(self.rp.output)
        self.z_fixed = torch.randn_like(self.z0.float()).to(self.z0.dtype) if isinstance(self.z0, Tensor) else None
        try:
            self.alignment_out_before = self._align(self.z_fixed) if self.rp.output.is_fitted else None
        except Exception:  # noqa: BLE001 - reported by the alignment checks, which run it again
            self.alignment_out_before = None
        self.part_states = [_state(p) for p in self.parts]
        self.learned_before = {k: v.clone() for k, v in self.rp.learned_state().items()}
        start = time.perf_counter()
        self.training = _train(self.example, self.steps, self.seed)
        self.train_seconds = time.perf_counter() - start
        self.run("training-runs", self.check_training)
        for name, check in (
            ("frozen-unchanged", self.check_frozen_unchanged),
            ("frozen-no-gradient", self.check_frozen_no_gradient),
            ("frozen-eval-mode", self.check_frozen_eval),
            ("frozen-no-writes", self.check_frozen_writes),
        ):
            self.run(name, check)
        if not self.training.complete:
            reason = "the training steps did not complete (see training-runs)"
            for name in (
                "configuration-fixed",
                "configuration-learnable",
                "alignment-linear",
                "deterministic",
                "save-load-roundtrip",
            ):
                self.put(name, SKIPPED, reason)
        self.run("configuration-fixed", self.check_fixed)
        self.run("configuration-learnable", self.check_learnable)
        try:
            self._observe()
        except Exception as error:  # noqa: BLE001
            self.skip_rest(f"the trained reprogrammer could not run: {_error(error)}")
            return
        self.snapshot = self._snapshot_from_trace()
        self.saved = self._save(self.rp)
        self.run("location-input", lambda: self.check_location(Location.INPUT))
        self.run("location-embedding", lambda: self.check_location(Location.EMBEDDING))
        self.run("location-hidden", lambda: self.check_location(Location.HIDDEN))
        for operator in Operator:
            self.run(f"operator-{operator.value}", lambda operator=operator: self.check_operator(operator))
        for alignment, check in (
            (Alignment.IDENTITY, self.check_identity),
            (Alignment.RULE_BASED, self.check_rule_based),
            (Alignment.STATISTICAL, self.check_statistical),
            (Alignment.LINEAR, self.check_linear),
        ):
            self.run(
                f"alignment-{alignment.value}",
                lambda alignment=alignment, check=check: self._alignment(alignment, check),
            )
        self.run("deterministic", self.check_deterministic)
        self.run("save-load-roundtrip", self.check_roundtrip)

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

    # -- spec and symbolic form ------------------------------------------------------------------------
    def check_declared(self) -> tuple[str, str]:
        expected = self.target.expected
        if expected is None:
            return SKIPPED, "no registry or catalog declaration to compare with"
        spec = self.rp.spec
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
            return FAILED, f"the {self.target.expected_source} and the built reprogrammer disagree: " + "; ".join(wrong)
        return PASSED, f"matches the {self.target.expected_source}: {spec.coordinates_str()}"

    def check_spec_rules(self) -> tuple[str, str]:
        violations = self.rp.spec.violations()
        if violations:
            return FAILED, "; ".join(f"[{r}] {m}" for r, m in violations)
        return PASSED, f"all {len(SPEC_RULES)} rules of the definition hold"

    def check_symbolic_count(self) -> tuple[str, str]:
        wrong, parts = [], []
        modules = [(f"I{i}", type(p).__name__, p) for i, p in enumerate(self.parts)] + [
            ("O", type(self.rp.output).__name__, self.rp.output)
        ]
        for label, cls, module in modules:
            form = module.symbolic()
            measured = sum(p.numel() for _, p in _trainable(module))
            try:
                declared = form.evaluate_parameter_count()
            except Exception as error:  # noqa: BLE001
                wrong.append(f"{label}:{cls} count {sp.sstr(form.parameter_count)} cannot be evaluated: {error}")
                continue
            if declared != measured:
                wrong.append(
                    f"{label}:{cls} declares {sp.sstr(form.parameter_count)} = {declared:,} but has {measured:,} trainable parameters"
                )
            parts.append(f"{label}={declared:,}")
        if wrong:
            return FAILED, "; ".join(wrong)
        total = self.rp.parameter_count()
        if self.rp.evaluated_parameter_count() != total:
            return (
                FAILED,
                f"the parts' symbolic counts sum to {self.rp.evaluated_parameter_count():,}, measured {total:,}",
            )
        return PASSED, f"symbolic = measured = {total:,} ({', '.join(parts)})"

    def check_symbolic_renders(self) -> tuple[str, str]:
        bad = []
        for label, form in self.rp.symbolic_parts():
            for what, value in (("formula", form.expression), ("parameter count", form.parameter_count)):
                if not isinstance(value, sp.Basic):
                    bad.append(f"{label} {what} is a {type(value).__name__}, not a sympy expression")
                    continue
                text = sp.latex(value)
                if not text.strip():
                    bad.append(f"{label} {what} renders as empty LaTeX")
        if bad:
            return FAILED, "; ".join(bad)
        latex = self.rp.latex()
        if not latex.strip() or latex.strip() == r"\hat{y} =":
            return FAILED, "the composed formula renders empty"
        return PASSED, latex if len(latex) <= 160 else latex[:157] + "..."

    # -- forward and training ---------------------------------------------------------------------------
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

    def check_forward(self) -> tuple[str, str]:
        self.rp.eval()
        try:
            with _Recorder(self.parts) as recorder, torch.no_grad():
                self.z0 = self.rp.source_outputs(_clone(self.x1))
        except FrozenModelError as error:
            self.forward_error = str(error)
            return FAILED, f"raised FrozenModelError (see the frozen-model checks): {error}"
        self.calls_before = recorder.calls
        output = self.rp.output
        if not output.is_fitted:
            probe = copy.deepcopy(output)
            probe.fit(self.z0.float(), self.y)
            with torch.no_grad():
                scores = probe(self.z0)
            note = " (a copy of the statistical alignment fitted on them)"
        else:
            with torch.no_grad():
                scores = output(self.z0)
            note = ""
        if not isinstance(scores, Tensor):
            return FAILED, f"ŷ is a {type(scores).__name__}, expected a tensor of scores"
        batch = self.y.shape[0]
        if scores.dim() < 1 or scores.shape[0] != batch:
            return FAILED, f"ŷ has shape {tuple(scores.shape)}; expected one row per target ({batch})"
        if scores.is_floating_point() and bool(torch.isnan(scores).any()):
            return FAILED, "ŷ has NaN values"
        if scores.dim() == 2 and int(self.y.max()) >= scores.shape[1]:
            return FAILED, f"ŷ scores {scores.shape[1]} classes but the targets go up to {int(self.y.max())}"
        return PASSED, f"z = f(I(x)) {_shape(self.z0)}, ŷ {tuple(scores.shape)}{note}"

    def _snapshot_from_trace(self) -> dict[str, Any]:
        """The learned parts and ŷ = O(z₁) right after training (z₁ from the traced forward)."""
        try:
            with torch.no_grad():
                scores = self.rp.output(self.trace_all.output)
            return {"state": {k: v.clone() for k, v in self.rp.learned_state().items()}, "scores": _clone(scores)}
        except Exception as error:  # noqa: BLE001
            return {"error": _error(error)}

    def _snapshot(self, rp: Reprogrammer) -> Optional[dict[str, Any]]:
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

    def check_training(self) -> tuple[str, str]:
        t = self.training
        if not t.complete:
            return FAILED, f"step {t.steps_done + 1} of {self.steps} raised {t.error}"
        how = (
            f"zeroth-order estimator {type(self.example.gradient_estimator).__name__} ({t.queries} queries)"
            if t.estimator
            else "back-propagation"
        )
        return PASSED, f"{t.steps_done} steps with {how} in {self.train_seconds:.2f} s"

    # -- the frozen model ----------------------------------------------------------------------------------
    def check_frozen_unchanged(self) -> tuple[str, str]:
        changed = self.frozen.changed_tensors()
        if changed:
            return FAILED, f"the frozen model changed during training: {_names(changed)}"
        count = len(self.frozen._tensors())
        return (
            PASSED,
            f"all {count} parameters and buffers bit-identical after {self.training.steps_done} steps (fingerprint {self.frozen.fingerprint()[:12]})",
        )

    def check_frozen_no_gradient(self) -> tuple[str, str]:
        if self.training.frozen_grads:
            return (
                FAILED,
                f"gradients reached the frozen model (requires_grad or .grad set): {_names(self.training.frozen_grads)}",
            )
        frozen_ptrs = {p.data_ptr() for p in self.frozen.model.parameters()} | {
            b.data_ptr() for b in self.frozen.model.buffers()
        }
        shared = [n for n, p in _trainable(self.rp) if p.data_ptr() in frozen_ptrs]
        if shared:
            return FAILED, f"trainable parameters of I/O are tensors of the frozen model: {_names(shared)}"
        return PASSED, "no parameter of f required or received a gradient in any step"

    def check_frozen_eval(self) -> tuple[str, str]:
        modules = self.training.train_mode_modules
        if modules:
            return (
                FAILED,
                f"modules of the frozen model ran in training mode: {_names(modules)} (f must stay in eval mode)",
            )
        if self.frozen.model.training or any(m.training for m in self.frozen.model.modules()):
            return FAILED, "the frozen model was left in training mode"
        return PASSED, f"all {sum(1 for _ in self.frozen.model.modules())} modules of f ran in eval mode"

    def check_frozen_writes(self) -> tuple[str, str]:
        if self.training.write_error:
            return FAILED, self.training.write_error
        return PASSED, "no tensor of f was written in place (version counters unchanged)"

    # -- configuration -------------------------------------------------------------------------------------
    def check_fixed(self) -> tuple[str, str]:
        fixed = [(i, p) for i, p in enumerate(self.parts) if p.configuration is Configuration.FIXED]
        if not fixed:
            return SKIPPED, "no fixed input part"
        problems, checked = [], []
        for index, part in fixed:
            label = _part_name(index, part)
            params = _trainable(part)
            if params:
                problems.append(f"{label} is fixed but has trainable parameters {_names([n for n, _ in params])}")
                continue
            changed = _state_diff(self.part_states[index], _state(part))
            if changed:
                problems.append(f"training changed the state of fixed {label}: {_names(changed)}")
                continue
            for call in self.calls_before[index][:4]:
                with torch.no_grad():
                    again = _replay_call(part, call)
                if not _equal(again, call.output):
                    problems.append(f"after training, fixed {label} computes something else from the same input")
                    break
            checked.append(label)
        if problems:
            return FAILED, "; ".join(problems)
        return PASSED, f"{', '.join(checked)}: no trainable parameters; state and outputs unchanged by training"

    def check_learnable(self) -> tuple[str, str]:
        learnable = [(i, p) for i, p in enumerate(self.parts) if p.configuration is Configuration.LEARNABLE]
        if not learnable:
            return SKIPPED, "no learnable input part"
        zeroth = self.rp.access is Access.ZEROTH_ORDER
        if zeroth and self.example.gradient_estimator is None:
            return FAILED, (
                "access is zeroth-order but the example gives no gradient estimator; return "
                "ValidationExample(..., gradient_estimator=...) (or a 4-tuple) so that its updates can be checked"
            )
        prefix = {id(p): f"inputs.{i}." for i, p in enumerate(self.parts)}
        problems, counts = [], []
        for index, part in learnable:
            label = _part_name(index, part)
            params = _trainable(part)
            if not params:
                problems.append(f"{label} is learnable but has no trainable parameters")
                continue
            names = [prefix[id(part)] + n for n, _ in params]
            no_grad = [n for n in names if not self.training.grads.get(n)]
            unchanged = [n for n in names if not self.training.changed.get(n)]
            how = "the zeroth-order estimate" if zeroth else "a gradient"
            if self.example.gradient_estimator is not None and not zeroth:
                no_grad = []  # a custom update rule (e.g. a discrete search) may set the values itself
            if no_grad:
                problems.append(f"{label}: {_names(no_grad)} never received {how} in {self.training.steps_done} steps")
            elif unchanged:
                problems.append(f"{label}: {_names(unchanged)} did not change in {self.training.steps_done} steps")
            counts.append(f"{label} ({sum(p.numel() for _, p in params):,})")
        if problems:
            return FAILED, "; ".join(problems)
        via = (
            "zeroth-order estimates"
            if zeroth
            else f"updates from {type(self.example.gradient_estimator).__name__}"
            if self.example.gradient_estimator is not None
            else "gradients"
        )
        return PASSED, f"every trainable tensor of {', '.join(counts)} received {via} and changed"

    # -- observation of the parts --------------------------------------------------------------------------
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

    def check_location(self, location: Location) -> tuple[str, str]:
        at = [(i, p) for i, p in enumerate(self.parts) if p.location is location]
        if not at:
            return SKIPPED, f"no input part at location {location}"
        problems, found = [], []
        for index, part in at:
            label = _part_name(index, part)
            calls = self.calls1[index]
            if not calls:
                problems.append(f"{label} was never called during a forward")
                continue
            check = {
                Location.INPUT: self._input_location,
                Location.EMBEDDING: self._embedding_location,
                Location.HIDDEN: self._hidden_location,
            }[location]
            ok, why = check(index, part)
            (found if ok else problems).append(f"{label}: {why}")
        if problems:
            return FAILED, "; ".join(problems)
        return PASSED, "; ".join(found)

    def _input_location(self, index: int, part: nn.Module) -> tuple[bool, str]:
        with_part = self.trace_all.input
        try:
            without = self._raw_input(skip=index)
        except Exception as error:  # noqa: BLE001 - f cannot take the task input without this part
            calls = self.calls1[index]
            if all(_equal(c.input, c.output) for c in calls):
                return False, "it returns what it receives: it does not act on the input"
            return True, (
                f"f's raw input is what it makes of x ({_shape(with_part)}); without it f's prepare refuses x "
                f"({type(error).__name__})"
            )
        if _equal(with_part, without):
            return False, "f's raw input (after prepare) is identical with and without it: it does not act on the input"
        return True, f"f's raw input changes: {_shape(without)} -> {_shape(with_part)}"

    def _embedding_location(self, index: int, part: nn.Module) -> tuple[bool, str]:
        if not _equal(self.trace_all.input, self.prepared):
            return False, "it changes f's raw input (token ids or pixels), which is location=input"
        without = self._trace_without(index)
        if without is not None and self.trace_all.key_value_length != without.key_value_length:
            return False, "it changes the attention key/value prefix, which is location=hidden"
        calls = self.calls1[index]
        if not all(isinstance(c.output, EmbeddingState) for c in calls):
            return False, "it does not return an EmbeddingState"
        if all(_equal(c.input, c.output) for c in calls):
            return False, "its output state equals its input state: the embedding is unchanged"
        ids = self.prepared.get("input_ids") if isinstance(self.prepared, dict) else None
        for call in calls:
            seen = call.output.extra.get("input_ids")
            if ids is not None and isinstance(seen, Tensor) and seen.shape == ids.shape and part.tower is None:
                if not _equal(seen, ids.to(seen.device)):
                    return (
                        False,
                        "it edits the token ids carried with the embedding state; token ids belong to location=input",
                    )
        disguised = self._token_substitution(part, calls)
        if disguised:
            return False, disguised
        first = ""
        a, b = self.trace_all.hidden.get(0), without.hidden.get(0) if without is not None else None
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            first = (
                f"; the state entering the first block goes {tuple(b.shape)} -> {tuple(a.shape)}"
                if a.shape != b.shape
                else ("; the state entering the first block changes" if not _equal(a, b) else "")
            )
        tower = f" (tower {part.tower!r})" if part.tower is not None else ""
        u, v = calls[0].input.embeds, calls[0].output.embeds
        return (
            True,
            f"token ids untouched; the embedding state{tower} changes {tuple(u.shape)} -> {tuple(v.shape)}{first}",
        )

    def _token_substitution(self, part: nn.Module, calls: list[_Call]) -> Optional[str]:
        """If every vector it adds or changes is exactly a row of f's token-embedding table, it edits tokens, not embeddings."""
        if part.tower is not None:
            return None
        table_module = self.frozen.adapter.embedding_module(self.frozen.model)
        if not isinstance(table_module, nn.Embedding):
            return None
        table = table_module.weight.detach()

        def rows(vectors: Tensor) -> bool:
            vectors = vectors.reshape(-1, vectors.shape[-1])[:64]
            if vectors.numel() == 0 or vectors.shape[-1] != table.shape[-1]:
                return False
            distance = torch.cdist(vectors.double(), table.double(), compute_mode="donot_use_mm_for_euclid_dist")
            return bool((distance.min(dim=1).values == 0).all())

        for call in calls:
            u, v = call.input.embeds, call.output.embeds
            if u.shape == v.shape:
                changed = (u != v).any(-1)
                if bool(changed.any()) and rows(v[changed]):
                    return (
                        "every embedding vector it changes is exactly a row of f's token-embedding table: it substitutes "
                        "tokens (location=input), it does not manipulate the embedding"
                    )
            else:
                kept = _subsequence(u, v)
                new = [t for t in range(v.shape[1]) if t not in set(kept or [])]
                if kept and new and rows(v[:, new]) and rows(u):
                    return (
                        "it inserts rows of f's token-embedding table into a sequence of token embeddings: that is a "
                        "text prompt on the token ids (location=input), not an embedding manipulation"
                    )
        return None

    def _hidden_location(self, index: int, part: nn.Module) -> tuple[bool, str]:
        if not _equal(self.trace_all.input, self.prepared):
            return False, "it changes f's raw input, which is location=input"
        without = self._trace_without(index)
        if (
            without is not None
            and self.trace_all.embedding is not None
            and not _equal(self.trace_all.embedding, without.embedding)
        ):
            return False, "it changes the embedding output, which is location=embedding"
        calls = self.calls1[index]
        kv = [c for c in calls if c.kind == "key_values"]
        edits = [c for c in calls if c.kind == "hidden"]
        changed_edits = [c for c in edits if not _equal(c.input, c.output)]
        if part.tower is None:
            raw = self.trace_all.input if isinstance(self.trace_all.input, Tensor) else None
            embedding = self.trace_all.embedding
            for call in changed_edits:
                h = call.input
                if isinstance(raw, Tensor) and _equal(h, raw):
                    return False, f"the state it edits at layer {call.layer} is f's raw input (location=input)"
                if isinstance(embedding, Tensor) and _equal(h, embedding):
                    return False, (
                        f"the state it edits at layer {call.layer} is the embedding output itself (declare location=embedding, "
                        "or edit a later block)"
                    )
        lengths = sorted({k.shape[2] for c in kv for k, _ in c.output})
        if not changed_edits and not any(n > 0 for n in lengths):
            return False, "it neither changes a hidden state nor adds attention keys/values"
        what = []
        if changed_edits:
            what.append(f"edits the hidden state entering block(s) {sorted({c.layer for c in changed_edits})}")
        if any(n > 0 for n in lengths):
            what.append(
                f"adds a key/value prefix of length {lengths} (f sees {self.trace_all.key_value_length} extra keys)"
            )
        return True, "input and embedding untouched; " + " and ".join(what)

    # -- operator -----------------------------------------------------------------------------------------------
    def check_operator(self, operator: Operator) -> tuple[str, str]:
        declared = [(i, p) for i, p in enumerate(self.parts) if operator in _operators(p)]
        if not declared:
            return SKIPPED, f"no input part declares operator {operator}"
        problems, found = [], []
        for index, part in declared:
            label = _part_name(index, part)
            probe = self._probe(index)
            if not probe.first:
                problems.append(f"{label} was never called during a forward")
                continue
            ops = set(_operators(part))
            additive = _additive_evidence(probe)
            concatenative = _concatenative_evidence(probe, self._prepare)
            if operator is Operator.ADDITIVE:
                if ops == {Operator.ADDITIVE}:
                    ok, why = additive
                elif Operator.CONCATENATIVE in ops:
                    ok, why = additive if additive[0] else concatenative
                else:  # additive + parametric: a sum whose term may depend on the input
                    first = probe.first[0]
                    view = _view(first)
                    u, v = (view.u, view.v) if view is not None else (None, None)
                    ok = (
                        u is not None
                        and v is not None
                        and u.is_floating_point()
                        and (v.shape == u.shape or (first.kind == "input" and _squeezed(v).dim() == _squeezed(u).dim()))
                        and not concatenative[0]
                    )
                    why = (
                        "keeps the shape and adds to its input (the added term may depend on it: declared with parametric)"
                        if ok
                        else f"declared additive+parametric but it maps {_shape(first.input)} to {_shape(first.output)} "
                        "(an additive part keeps the shape of what it receives)"
                    )
            elif operator is Operator.CONCATENATIVE:
                ok, why = concatenative
            else:
                if ops != {Operator.PARAMETRIC}:
                    ok, why = (
                        True,
                        f"declared together with {'+'.join(sorted(o.value for o in ops - {Operator.PARAMETRIC}))}, checked there",
                    )
                elif additive[0]:
                    ok, why = False, f"it is additive ({additive[1]}); declare operator=additive"
                elif concatenative[0]:
                    ok, why = False, f"it is concatenative ({concatenative[1]}); declare operator=concatenative"
                else:
                    ok, why = True, f"neither additive ({additive[1]}) nor concatenative ({concatenative[1]})"
            (found if ok else problems).append(f"{label}: {why}")
        if problems:
            return FAILED, "; ".join(problems)
        return PASSED, "; ".join(found)

    # -- alignment ------------------------------------------------------------------------------------------------
    def _alignment(self, alignment: Alignment, check: Callable[[], tuple[str, str]]) -> tuple[str, str]:
        if self.rp.output.alignment is not alignment:
            return SKIPPED, f"the output alignment is {self.rp.output.alignment}"
        if not isinstance(self.z0, Tensor) or not self.z0.is_floating_point():
            return SKIPPED, f"f's readout is a {type(self.z0).__name__}, not a tensor of scores to probe"
        return check()

    def _probe_z(self) -> tuple[Tensor, Tensor]:
        """z₁ = f(I(x₁)) from the traced forward, z₂ from the second probe forward."""
        self._second()
        return self.trace_all.output, self.z2

    def _fit_changes_nothing(self) -> Optional[str]:
        output = self.rp.output
        before, out_before = _state(output), self._align(self.z_fixed)
        generator = torch.Generator().manual_seed(self.seed + 3)
        z = torch.randn(self.z0.shape, generator=generator).to(self.z0)
        labels = torch.randint(0, int(self.y.max()) + 1, (z.shape[0],), generator=generator).to(self.y.device)
        try:
            with torch.no_grad():
                output.fit(z, labels)
            changed = _state_diff(before, _state(output))
            after = self._align(self.z_fixed)
        finally:
            output.load_state_dict(before, strict=False)
        if changed:
            return f"fit() changed its state ({_names(changed)}): it is estimated from data (alignment=statistical)"
        if not _equal(after, out_before):
            return "fit() changed what it computes: it is estimated from data (alignment=statistical)"
        return None

    def _unchanged_by_training(self) -> Optional[str]:
        changed = _state_diff(self.alignment_before, _state(self.rp.output))
        if changed:
            return f"training changed its state ({_names(changed)})"
        if self.alignment_out_before is not None and not _equal(self._align(self.z_fixed), self.alignment_out_before):
            return "training changed what it computes"
        return None

    def check_identity(self) -> tuple[str, str]:
        output = self.rp.output
        if _trainable(output):
            return (
                FAILED,
                f"it has trainable parameters {_names([n for n, _ in _trainable(output)])}; identity has none",
            )
        z = self.z_fixed
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
        for problem in (self._fit_changes_nothing(), self._unchanged_by_training()):
            if problem:
                return FAILED, problem
        kind = (
            "z itself"
            if scores.shape == z.shape and _equal(scores, z)
            else f"a restriction to {scores.shape[-1]} of {z.shape[-1]} outputs"
        )
        return PASSED, f"returns {kind}; no parameters, nothing fitted, unchanged by training"

    def check_rule_based(self) -> tuple[str, str]:
        output = self.rp.output
        if _trainable(output):
            return (
                FAILED,
                f"it has trainable parameters {_names([n for n, _ in _trainable(output)])}; a rule-based map has none",
            )
        for problem in (self._fit_changes_nothing(), self._unchanged_by_training()):
            if problem:
                return FAILED, problem
        if not _equal(self._align(self.z_fixed), self._align(self.z_fixed)):
            return FAILED, "it gives different outputs for the same z"
        return PASSED, "fixed map: no parameters, fit() changes nothing, training changes nothing"

    def check_statistical(self) -> tuple[str, str]:
        output = self.rp.output
        if _trainable(output):
            return (
                FAILED,
                f"it has trainable parameters {_names([n for n, _ in _trainable(output)])}; a statistical map has no gradient parameters",
            )
        if not output.is_fitted:
            return FAILED, "it is not fitted after the training steps (the trainer calls fit() first)"
        saved = _state(output)
        z1, z2 = self._probe_z()
        num_classes = int(self.y.max()) + 1
        y1 = self.y
        y2 = (self.y + 1) % max(num_classes, 2)
        generator = torch.Generator().manual_seed(self.seed + 5)
        try:
            with torch.no_grad():
                output.fit(z1.float(), y1)
                first_state, first = _state(output), self._align(self.z_fixed)
                noise = torch.randn(z2.shape, generator=generator).to(z2) * float(z2.float().std().clamp_min(1e-3))
                output.fit((z2 + noise).float(), y2)
                second_state, second = _state(output), self._align(self.z_fixed)
                if _equal(first, second):  # tiny data can be degenerate: try clearly different synthetic data
                    synthetic = torch.randn(z1.shape, generator=generator).to(z1) * 3
                    output.fit(synthetic.float(), y2)
                    second_state, second = _state(output), self._align(self.z_fixed)
        finally:
            output.load_state_dict(saved, strict=False)
        if _equal(first, second):
            return (
                FAILED,
                "fit() on different data (outputs and labels) gives the same mapping: it is not estimated from data",
            )
        estimated = _state_diff(first_state, second_state)
        return PASSED, f"no gradient parameters; fit() estimates {_names(estimated) or 'its mapping'} from (z, y)"

    def check_linear(self) -> tuple[str, str]:
        output = self.rp.output
        params = _trainable(output)
        if not params:
            return FAILED, "it has no trainable parameters; a linear head W z + b has some"
        z1, z2 = self._probe_z()
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
        if self.training.complete:
            names = [f"output.{n}" for n, _ in params]
            stale = [n for n in names if not self.training.changed.get(n)]
            if stale:
                return (
                    FAILED,
                    f"its parameters {_names(stale)} did not change in {self.training.steps_done} training steps",
                )
        count = sum(p.numel() for _, p in params)
        return PASSED, f"affine in z ({count:,} trainable parameters, all updated by training)"

    # -- reproducibility ------------------------------------------------------------------------------------------
    def _learns(self) -> bool:
        """Whether training can change anything (else the second build is only built and run, not trained)."""
        if _trainable(self.rp) or self.rp.output.alignment is Alignment.STATISTICAL or self.rp.output.refit_each_epoch:
            return True
        return bool(_state_diff(self.learned_before, self.snapshot.get("state", {})))

    def check_deterministic(self) -> tuple[str, str]:
        if "error" in self.snapshot:
            return FAILED, f"the trained reprogrammer could not predict: {self.snapshot['error']}"
        other = self.target.build(self.seed)
        rp = other.reprogrammer
        if rp.frozen.fingerprint() != self.frozen.fingerprint():
            return FAILED, f"two builds with seed {self.seed} have different frozen models: the factory is not seeded"
        try:  # an untrained copy of this build is the fresh instance of the round trip
            self.fresh = copy.deepcopy(rp)
            self.fresh.frozen._snapshot_versions()
        except Exception:  # noqa: BLE001 - not every object deep-copies; the round trip builds again then
            self.fresh = None
        rp.eval()
        with torch.no_grad():  # the same call sequence as the first build: one forward before training
            rp.source_outputs(_clone(_to_device(other.inputs, rp.device)))
        if self._learns():
            training = _train(other, self.steps, self.seed)
            if not training.complete:
                return FAILED, f"the second run with the same seed failed: {training.error}"
        snapshot = self._snapshot(rp)
        if "error" in snapshot:
            return FAILED, f"the second run could not predict: {snapshot['error']}"
        diff = _state_diff(self.snapshot["state"], snapshot["state"])
        if diff:
            return FAILED, f"two runs with seed {self.seed} learned different {_names(diff)}"
        if not _equal(self.snapshot["scores"], snapshot["scores"]):
            gap = (
                _max_diff(self.snapshot["scores"], snapshot["scores"])
                if self.snapshot["scores"].shape == snapshot["scores"].shape
                else float("nan")
            )
            return FAILED, f"two runs with seed {self.seed} predict differently (max difference {gap:.3g})"
        what = (
            "built and trained"
            if self.target.from_factory
            else "copied and trained (construction not re-run: no factory)"
        )
        if not self._learns():
            what = what.replace("and trained", "(nothing to train)")
        return (
            PASSED,
            f"{what} twice with seed {self.seed}: {len(snapshot['state'])} learned tensors and ŷ bit-identical",
        )

    def check_roundtrip(self) -> tuple[str, str]:
        if self.saved is not None:
            return FAILED, f"save_learned failed: {self.saved}"
        if "error" in self.snapshot:
            return FAILED, f"the trained reprogrammer could not predict: {self.snapshot['error']}"
        fresh = getattr(self, "fresh", None) or self.target.build(self.seed).reprogrammer
        if fresh.frozen.fingerprint() != self.frozen.fingerprint():
            return FAILED, "the factory built a different frozen model on its next call with the same seed"
        fresh.load_learned(Path(self._tmp.name) / "learned")
        snapshot = self._snapshot(fresh)
        if "error" in snapshot:
            return FAILED, f"after load_learned the fresh instance cannot predict: {snapshot['error']}"
        diff = _state_diff(self.snapshot["state"], snapshot["state"])
        if diff:
            return FAILED, f"after the round trip these learned tensors differ: {_names(diff)}"
        if not _equal(self.snapshot["scores"], snapshot["scores"]):
            gap = (
                _max_diff(self.snapshot["scores"], snapshot["scores"])
                if self.snapshot["scores"].shape == snapshot["scores"].shape
                else float("nan")
            )
            return FAILED, (
                f"after the round trip a fresh instance predicts differently (max difference {gap:.3g}): some learned "
                "state is not saved (keep it in parameters or persistent buffers)"
            )
        return PASSED, f"{len(snapshot['state'])} learned tensors and ŷ reproduced bit-exactly by a fresh instance"


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
    """Run every check of :data:`CHECKS` on ``method`` and return the report (it never raises for a failure).

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
    target = _resolve(method, inputs, targets, options if isinstance(method, Reprogrammer) else {})
    if expected is not None:
        target.expected, target.expected_source = expected, "expected coordinates"
    if name:
        target.name = name
    validator = _Validator(target, steps=steps, seed=seed)
    try:
        with torch.random.fork_rng(devices=[]), _deterministic_algorithms():
            validator.validate()
    finally:
        validator.close()
    return validator.report(time.perf_counter() - start)


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
    from ..catalog.errors import CatalogError
    from ..catalog.loader import check_implementation, load_method_file

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
