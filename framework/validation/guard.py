"""Watching f *in use*: during every forward the validator makes, f must be pristine as a function.

:class:`FrozenGuard` wraps the frozen model's run for the whole validation. At the start and the end
of every run of f, and as each of f's modules is called, it records:

* **weights**: every parameter and buffer compared bit for bit with an untouched copy taken when the
  example was built (a write through ``.data`` that is restored later is still seen while it lasts);
* **gradients**: a parameter of f that requires or holds a gradient, at the moment a module uses it;
* **mode**: a module of f running in training mode (dropout, batch statistics);
* **modifications**: hooks (module or global), parametrisations, methods patched on an instance or on a
  torch class, tensor subclasses and active torch function/dispatch modes added to f;
* **computation**: what each of f's interfaces received and returned is recorded, and an untouched copy
  of f is run on the *same* interface values (every run, except inside a method's own update rule, where
  the first two runs of each step are compared: a search may query f hundreds of times) (the parts' outputs replayed at their declared interfaces,
  the same random state): its hidden states at the declared hidden interfaces, its embedding state and
  its output must agree with what f computed (tolerance from the dtype). Anything done inside f between
  the declared interface and its output shows up here;
* **composition**: how often the FrozenModel runs for one prediction, whether a part runs the FrozenModel
  again inside a run of f, and whether a module of f is called outside any run of f (by the alignment or
  an update rule). Inside a run, a part may use f's modules itself (f as the encoder that retrieves
  demonstrations, or the first stage of a two-stage prompt), in eval mode and without gradients, which
  the other findings watch.

Each finding keeps the moment it was seen (``training step 2, before f runs``) so messages name it.
"""

from __future__ import annotations

import contextlib
import copy
import types
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules import module as _module_globals
from torch.nn.utils import parametrize

from ..axes import Location
from ..frozen import FrozenModel, Part, as_hidden_part
from ..interfaces import EmbeddingState
from .common import _names, _shape

__all__ = ["FrozenGuard", "strip_modifications", "snapshot_torch_classes"]

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
)
_GLOBAL_HOOKS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
    "_global_forward_hooks_always_called",
)
_FRAMEWORK_MODULES = ("reprogrammability.framework.frozen", "reprogrammability.framework.interfaces")
_FRAMEWORK_PACKAGES = ("reprogrammability.framework.adapters", "reprogrammability.framework.validation")

_TORCH_CLASS_FORWARD: dict[type, Any] = {}
_FUNCTIONAL = {name: getattr(F, name) for name in dir(F) if not name.startswith("_") and callable(getattr(F, name))}


def snapshot_torch_classes() -> None:
    """Remember ``forward`` of every ``nn.Module`` subclass loaded now (a later patch of one is then seen)."""
    stack = [nn.Module]
    while stack:
        cls = stack.pop()
        if cls not in _TORCH_CLASS_FORWARD:
            _TORCH_CLASS_FORWARD[cls] = cls.__dict__.get("forward")
        stack.extend(cls.__subclasses__())


snapshot_torch_classes()


def _is_framework_hook(hook: Any) -> bool:
    """Hooks the framework installs itself for the length of one run (tracing, hidden edits, readouts)."""
    module = getattr(hook, "__module__", "") or ""
    return module in _FRAMEWORK_MODULES or module.startswith(_FRAMEWORK_PACKAGES)


def modifications(model: nn.Module, own: set[int]) -> list[str]:
    """What has been added to ``model`` besides its own code: hooks (not ``own``, not the framework's),
    parametrisations, instance-level method overrides, patched classes, tensor subclasses, global hooks and modes."""
    found = []
    for name, module in model.named_modules():
        where = name or type(model).__name__
        for attribute in _HOOK_DICTS:
            hooks = getattr(module, attribute, None) or {}
            foreign = [h for key, h in hooks.items() if key not in own and not _is_framework_hook(h)]
            if foreign:
                found.append(f"a {attribute.strip('_').replace('_', ' ')[:-1]} on {where}")
        if parametrize.is_parametrized(module):
            found.append(f"a parametrisation of {where} ({', '.join(module.parametrizations.keys())})")
        for key, value in vars(module).items():
            if key.startswith("__") or not callable(value) or isinstance(value, (nn.Module, Tensor)):
                continue
            if hasattr(type(module), key):
                found.append(f"{where}.{key} replaced on the instance")
        for cls in type(module).__mro__:
            if cls in _TORCH_CLASS_FORWARD and cls.__dict__.get("forward") is not _TORCH_CLASS_FORWARD[cls]:
                found.append(f"{cls.__name__}.forward patched on the class (used by {where})")
                break
        for key, tensor in list(module._parameters.items()) + list(module._buffers.items()):
            if tensor is not None and type(tensor) not in (nn.Parameter, Tensor):
                found.append(f"{where}.{key} is a {type(tensor).__name__} (a tensor subclass)")
    for attribute in _GLOBAL_HOOKS:
        hooks = getattr(_module_globals, attribute, None) or {}
        if any(not _is_framework_hook(h) for h in hooks.values()):
            found.append(f"a global module hook ({attribute.strip('_')})")
    patched = [n for n, fn in _FUNCTIONAL.items() if getattr(F, n, None) is not fn]
    if patched:
        found.append(f"torch.nn.functional patched: {_names(patched)}")
    if torch._C._len_torch_function_stack() > 0:
        found.append("a torch function mode is active")
    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

        if _get_current_dispatch_mode_stack():
            found.append("a torch dispatch mode is active")
    except ImportError:  # pragma: no cover - older torch
        pass
    return sorted(set(found))


def strip_modifications(model: nn.Module) -> nn.Module:
    """Remove hooks, parametrisations (keeping the original tensors) and instance overrides from ``model``."""
    for module in list(model.modules()):
        for attribute in _HOOK_DICTS + ("_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs"):
            hooks = getattr(module, attribute, None)
            if hooks is not None:
                hooks.clear()
        parametrizations = getattr(module, "parametrizations", None)
        if parametrize.is_parametrized(module) and isinstance(parametrizations, nn.ModuleDict):
            for name in list(parametrizations.keys()):
                with contextlib.suppress(Exception):
                    parametrize.remove_parametrizations(module, name, leave_parametrized=False)
        for key in [k for k, v in vars(module).items() if callable(v) and not isinstance(v, (nn.Module, Tensor))]:
            if hasattr(type(module), key) and not key.startswith("__"):
                del module.__dict__[key]
    return model


# --- tolerant comparison of what f computed ------------------------------------------------------------


def _tolerance(a: Tensor, b: Tensor) -> float:
    eps = torch.finfo(a.dtype).eps if a.is_floating_point() else 0.0
    scale = max(
        float(a.detach().abs().max()) if a.numel() else 0.0, float(b.detach().abs().max()) if b.numel() else 0.0, 1.0
    )
    return 256 * eps * scale


def difference(a: Any, b: Any, depth: int = 0) -> Optional[str]:
    """None when ``a`` and ``b`` agree (float tensors up to a dtype tolerance), else what differs."""
    if depth > 6:
        return None
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
            return f"{_shape(a)} vs {_shape(b)}"
        if a.shape != b.shape:
            return f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
        if a.is_floating_point() or a.is_complex():
            a, b = a.detach(), b.detach()
            nan_a, nan_b = torch.isnan(a), torch.isnan(b)
            if not torch.equal(nan_a, nan_b):
                return "NaN at different positions"
            a, b = torch.where(nan_a, 0, a), torch.where(nan_b, 0, b)
            gap = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
            return None if gap <= _tolerance(a, b) else f"max difference {gap:.3g}"
        return None if torch.equal(a.detach().cpu(), b.detach().cpu()) else "different values"
    if isinstance(a, EmbeddingState) and isinstance(b, EmbeddingState):
        return difference(a.embeds, b.embeds, depth + 1)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return "different keys"
        for key in a:
            found = difference(a[key], b[key], depth + 1)
            if found:
                return f"[{key!r}] {found}"
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"length {len(a)} vs {len(b)}"
        for index, (x, y) in enumerate(zip(a, b)):
            found = difference(x, y, depth + 1)
            if found:
                return f"[{index}] {found}"
        return None
    if isinstance(a, (str, bytes, int, float, bool, type(None))):
        return None if a == b else f"{a!r:.60} vs {b!r:.60}"
    if type(a) is not type(b):
        return f"{type(a).__name__} vs {type(b).__name__}"
    if hasattr(a, "__dict__"):
        return difference(vars(a), vars(b), depth + 1)
    return None


def _copy_value(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, EmbeddingState):
        return EmbeddingState(
            _copy_value(value.embeds),
            _copy_value(value.attention_mask),
            _copy_value(value.token_positions),
            {k: _copy_value(v) for k, v in value.extra.items()},
        )
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy_value(v) for v in value)
    return value


def _rng_state() -> tuple[Tensor, Optional[Tensor]]:
    initialised = torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]  # no annotations in torch
    cuda = torch.cuda.get_rng_state() if initialised else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[Tensor, Optional[Tensor]]) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1])


# --- what one run of f saw -------------------------------------------------------------------------------


@dataclass
class _RunRecord:
    """The interface values of one run of f: each part's calls in order, the random state once the input parts
    have run, how often each module of f ran, and f's output."""

    calls: dict[int, list[tuple[str, Any, Any, Optional[int]]]] = field(default_factory=lambda: defaultdict(list))
    rng_after_inputs: Any = None
    module_calls: Counter[str] = field(default_factory=Counter)


class _Recording:
    """Stands in for a part during a guarded run: calls the part, keeps copies of what it received and returned."""

    def __init__(self, part: Part, index: int, record: _RunRecord, last_input: bool):
        self.part, self.index, self.record, self.last_input = part, index, record, last_input
        self.location, self.tower = part.location, part.tower
        self.edits_hidden, self.provides_key_values = part.edits_hidden, part.provides_key_values
        self.layers = getattr(part, "layers", ())

    def __call__(self, value: Any) -> Any:
        received = _copy_value(value)
        output = self.part(value)
        self.record.calls[self.index].append(("call", received, _copy_value(output), None))
        if self.last_input:
            self.record.rng_after_inputs = _rng_state()
        return output

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        received = _copy_value(hidden)
        output = as_hidden_part(self.part).edit_hidden(layer, hidden)
        self.record.calls[self.index].append(("hidden", received, _copy_value(output), layer))
        return output

    def key_value_prefix(self, batch_size: int, geometry: Any) -> Any:
        output = as_hidden_part(self.part).key_value_prefix(batch_size, geometry)
        self.record.calls[self.index].append(("key_values", None, _copy_value(output), None))
        return output


class _Replay:
    """Stands in for a part when the untouched copy runs: checks that the copy delivers the same value at the
    part's interface, and returns what the part returned in the observed run."""

    def __init__(self, recording: _Recording, mismatches: list[str]):
        self.recording, self.mismatches = recording, mismatches
        self.location, self.tower = recording.location, recording.tower
        self.edits_hidden, self.provides_key_values = recording.edits_hidden, recording.provides_key_values
        self.layers = recording.layers
        self.calls = list(recording.record.calls[recording.index])
        self.position = 0

    def _next(self, kind: str, received: Any, where: str) -> Any:
        for offset in range(self.position, len(self.calls)):
            call_kind, seen, output, _ = self.calls[offset]
            if call_kind == kind:
                self.position = offset + 1
                if received is not None and seen is not None:
                    found = difference(seen, received)
                    if found:
                        self.mismatches.append(f"{where}: {found}")
                return _copy_value(output)
        raise RuntimeError(f"the part was called more often on an untouched f than in the observed run ({where})")

    def __call__(self, value: Any) -> Any:
        label = type(self.recording.part).__name__
        where = "what f's embedding gives" if self.location is Location.EMBEDDING else "the task input"
        output = self._next("call", value if self.location is Location.EMBEDDING else None, f"{where} for {label}")
        if self.recording.last_input and self.recording.record.rng_after_inputs is not None:
            _set_rng_state(self.recording.record.rng_after_inputs)
        return output

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        edited: Tensor = self._next("hidden", hidden, f"the hidden state entering block {layer}")
        return edited

    def key_value_prefix(self, batch_size: int, geometry: Any) -> Any:
        return self._next("key_values", None, "key/value prefix")


# --- the guard -----------------------------------------------------------------------------------------------


@dataclass
class Findings:
    """What the guard saw, by kind; each entry names the moment."""

    changed: list[str] = field(default_factory=list)
    gradient: list[str] = field(default_factory=list)
    train_mode: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    modified_in_update: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    differs_inside: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    runs: int = 0
    compared: int = 0


class FrozenGuard:
    """Watches ``frozen`` while active (:meth:`watching`); ``phase`` names the moment in messages."""

    def __init__(self, frozen: FrozenModel):
        self.frozen = frozen
        self.model = frozen.model
        self.findings = Findings()
        self.phase = "the first forward"
        self.in_update = False
        self.update_comparisons = 2
        """Runs of f compared with the copy per step of an update rule (a search may query f hundreds of times)."""
        self._update_compared: Counter[str] = Counter()
        self._prediction_runs: list[int] = []
        self._probing = 0
        self.depth = 0
        self._records: list[_RunRecord] = []
        self._own: set[int] = set()
        self._handles: list[Any] = []
        self.reference = self._untouched_copy()
        self._reference_tensors = dict(self._named_tensors(self.reference.model))
        self._names = {id(m): (n or type(self.model).__name__) for n, m in self.model.named_modules()}
        self.initial = modifications(self.model, set())

    def _untouched_copy(self) -> FrozenModel:
        reference = copy.deepcopy(self.frozen)
        strip_modifications(reference.model)
        reference.__dict__.pop("_run", None)
        reference.model.eval()
        return reference

    @staticmethod
    def _named_tensors(model: nn.Module) -> list[tuple[str, Tensor]]:
        found = [(f"parameter {n}", p) for n, p in model.named_parameters(remove_duplicate=False)]
        return found + [(f"buffer {n}", b) for n, b in model.named_buffers(remove_duplicate=False)]

    # -- state checks --------------------------------------------------------------------------------------
    def check_state(self, moment: str) -> None:
        """Weights bit for bit, gradients, modes and modifications of f, now."""
        where = f"{self.phase}, {moment}"
        now = dict(self._named_tensors(self.model))
        changed = sorted(set(now) ^ set(self._reference_tensors))
        for name, tensor in now.items():
            reference = self._reference_tensors.get(name)
            if reference is not None and (
                tensor.shape != reference.shape
                or tensor.dtype != reference.dtype
                or not torch.equal(tensor.detach(), reference.to(tensor.device))
            ):
                changed.append(name)
        if changed:
            self.findings.changed.append(f"{_names(sorted(set(changed)), 4)} ({where})")
        grads = [n for n, p in self.model.named_parameters() if p.requires_grad or p.grad is not None]
        if grads:
            self.findings.gradient.append(f"{_names(grads, 4)} ({where})")
        training = [n or type(self.model).__name__ for n, m in self.model.named_modules() if m.training]
        if training:
            self.findings.train_mode.append(f"{_names(training, 4)} ({where})")
        found = [m for m in modifications(self.model, self._own) if m not in self.initial]
        if found:
            (self.findings.modified_in_update if self.in_update else self.findings.modified).append(
                f"{_names(found, 4)} ({where})"
            )

    def _module_pre_hook(self, module: nn.Module, args: Any) -> None:
        name = self._names.get(id(module), type(module).__name__)
        if self.depth == 0:
            self.findings.outside.append(f"{name} ran outside a run of f ({self.phase})")
        else:
            self._records[-1].module_calls[name] += 1
        if module.training:
            self.findings.train_mode.append(f"{name} ({self.phase}, as it ran)")
        grads = [n for n, p in module.named_parameters(recurse=False) if p.requires_grad]
        if grads:
            self.findings.gradient.append(f"{name}.{_names(grads, 3)} required a gradient as it ran ({self.phase})")

    # -- the guarded run -----------------------------------------------------------------------------------
    def _guarded_run(self, original: Any, x: Any, manipulations: Any, trace: Any) -> Any:
        self.findings.runs += 1
        if self.depth > self._probing:
            self.findings.outside.append(f"f was run again from inside a run of f, by a part ({self.phase})")
        if self._prediction_runs:
            self._prediction_runs[-1] += 1
        self.check_state("as f starts to run")
        record = _RunRecord()
        manipulations = list(manipulations)
        inputs = [i for i, m in enumerate(manipulations) if m.location is Location.INPUT]
        recordings = [
            _Recording(m, i, record, last_input=bool(inputs) and i == inputs[-1]) for i, m in enumerate(manipulations)
        ]
        rng_start = _rng_state()
        if not inputs:
            record.rng_after_inputs = rng_start
        self._records.append(record)
        self.depth += 1
        try:
            output = original(x, recordings, trace)
        finally:
            self.depth -= 1
            self._records.pop()
        self.check_state("right after f ran")
        if not self.in_update or self._update_compared[self.phase] < self.update_comparisons:
            self._update_compared[self.phase] += self.in_update
            self._compare(x, recordings, record, output, rng_start)
        return output

    def _compare(self, x: Any, recordings: list[_Recording], record: _RunRecord, output: Any, rng_start: Any) -> None:
        """Run the untouched copy on the same interface values; record what differs."""
        rng_after = _rng_state()
        mismatches: list[str] = []
        replays = [_Replay(r, mismatches) for r in recordings]
        try:
            _set_rng_state(rng_start)
            with torch.no_grad():
                expected = self.reference._run(_copy_value(x), replays, None)
        except Exception as error:  # noqa: BLE001 - the copy could not follow what the method did
            self.findings.differs.append(
                f"an untouched copy of f could not run on the same interface values ({type(error).__name__}: "
                f"{str(error)[:160]}; {self.phase})"
            )
            return
        finally:
            _set_rng_state(rng_after)
        self.findings.compared += 1
        if mismatches:
            self.findings.differs_inside.append(
                f"{mismatches[0]} differs from an untouched copy of f given the same earlier interface values "
                f"({self.phase})"
            )
        found = difference(output, expected)
        if found:
            self.findings.differs.append(
                f"f's output differs from that of an untouched copy of f given the same interface values: {found} "
                f"({self.phase})"
            )

    @contextlib.contextmanager
    def probing_parts(self) -> Iterator[None]:
        """For the validator's own replays of a part alone (operator and configuration probes): what the part does
        with f there counts as inside a run of f."""
        self._records.append(_RunRecord())
        self.depth += 1
        self._probing += 1
        try:
            yield
        finally:
            self._probing -= 1
            self.depth -= 1
            self._records.pop()

    def _counted(self, original: Any) -> Any:
        """``original`` (a prediction of the reprogrammer), recording when it runs f more than once."""

        def prediction(*args: Any, **kwargs: Any) -> Any:
            self._prediction_runs.append(0)
            try:
                return original(*args, **kwargs)
            finally:
                runs = self._prediction_runs.pop()
                if runs > 1:
                    self.findings.outside.append(f"f ran {runs} times for one prediction ŷ = O(f(I(x))) ({self.phase})")

        return prediction

    @contextlib.contextmanager
    def watching(self, reprogrammer: Optional[nn.Module] = None) -> Iterator["FrozenGuard"]:
        """Guard every run of f (``forward`` and ``trace``) and every call of f's modules for the duration; with
        ``reprogrammer``, also count the runs of f in each of its predictions."""
        frozen = self.frozen
        original = frozen._run
        counted = ("forward", "forward_with_source") if reprogrammer is not None else ()
        for name in counted:
            reprogrammer.__dict__[name] = self._counted(getattr(reprogrammer, name))
        frozen.__dict__["_run"] = types.MethodType(
            lambda _self, x, manipulations, trace: self._guarded_run(original, x, manipulations, trace), frozen
        )
        for module in self.model.modules():
            handle = module.register_forward_pre_hook(self._module_pre_hook)
            self._handles.append(handle)
            self._own.add(handle.id)
        try:
            yield self
        finally:
            frozen.__dict__.pop("_run", None)
            for name in counted:
                reprogrammer.__dict__.pop(name, None)
            for handle in self._handles:
                handle.remove()
            self._handles.clear()
