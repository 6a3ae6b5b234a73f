"""Small helpers shared by the checks: structural equality, tolerances, copies, state snapshots."""

from __future__ import annotations

import contextlib
import dataclasses
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import torch
from torch import Tensor, nn

from ..axes import Operator
from ..interfaces import EmbeddingState

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
"""A skipped check did not apply to the method (not applicable); it is not a failure."""


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


def _differences(first: dict[str, Any], second: dict[str, Any]) -> tuple[list[str], Optional[float]]:
    """What two runs' snapshots ``{"state": learned tensors, "scores": ŷ}`` disagree on: the learned tensors that
    differ, and the largest difference of ŷ (None when bit-identical; NaN when the shapes differ)."""
    a, b = first["scores"], second["scores"]
    gap = None if _equal(a, b) else _max_diff(a, b) if a.shape == b.shape else float("nan")
    return _state_diff(first["state"], second["state"]), gap


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


_MODULE_INTERNALS = frozenset(vars(nn.Module()).keys()) | {"training"}
_SIMPLE = (int, float, complex, bool, str, bytes, type(None))
_LIBRARY_OBJECTS = ("reprogrammability.", "transformers", "tokenizers", "torch", "numpy", "sklearn", "scipy")


def _snapshot_value(value: Any, depth: int = 0) -> Any:
    """A comparable copy of plain state: tensors, numbers, strings, containers of them, objects' attributes and the
    cells of closures; ``_OPAQUE`` for what cannot be compared (modules are walked separately)."""
    if depth > 4:
        return _OPAQUE
    if isinstance(value, nn.Parameter):
        return _OPAQUE  # a reference to a parameter (e.g. a cache of them): parameters are compared on their own
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, _SIMPLE):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "shape"):
        return torch.as_tensor(value.copy()) if value.dtype != object else _OPAQUE
    if isinstance(value, nn.Module):
        return _OPAQUE
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot_value(v, depth + 1) for v in value) if len(value) <= 10_000 else _OPAQUE
    if isinstance(value, (set, frozenset)):
        return frozenset(v for v in value if isinstance(v, _SIMPLE))
    if isinstance(value, dict):
        return {k: _snapshot_value(v, depth + 1) for k, v in list(value.items())[:10_000]}
    if callable(value) and getattr(value, "__closure__", None):
        cells = []
        for cell in value.__closure__:
            try:
                cells.append(_snapshot_value(cell.cell_contents, depth + 1))
            except ValueError:  # an empty cell
                cells.append(_OPAQUE)
        return ("closure", tuple(cells))
    if type(value).__module__.startswith(_LIBRARY_OBJECTS):
        return _OPAQUE  # adapters, tokenizers, library objects: their caches are not the method's learned state
    if hasattr(value, "__dict__") and not isinstance(value, type) and not callable(value):
        return {
            "__object__": type(value).__name__,
            **{k: _snapshot_value(v, depth + 1) for k, v in vars(value).items()},
        }
    return _OPAQUE


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


_OPAQUE = _Opaque()


def full_state(module: nn.Module, *, parameters: bool = True) -> dict[str, Any]:
    """Every kind of state of ``module`` and its submodules: parameters (unless ``parameters=False``), buffers
    (persistent or not), plain attributes (numbers, tensors, containers, objects, closure cells) and mutable
    class attributes of their classes. Compare two snapshots with :func:`full_state_diff`."""
    state: dict[str, Any] = {}
    for prefix, sub in module.named_modules():
        label = f"{prefix}." if prefix else ""
        if parameters:
            for name, p in sub.named_parameters(recurse=False):
                state[f"parameter {label}{name}"] = p.detach().clone()
        for name, b in sub.named_buffers(recurse=False):
            state[f"buffer {label}{name}"] = b.detach().clone()
        for name, value in vars(sub).items():
            if name in _MODULE_INTERNALS or name.startswith("__"):
                continue
            snap = _snapshot_value(value)
            if snap is not _OPAQUE:
                state[f"attribute {label}{name}"] = snap
        for name, value in vars(type(sub)).items():
            if not name.startswith("__") and isinstance(value, (list, dict, set, Tensor)):
                state[f"class attribute {type(sub).__name__}.{name}"] = _snapshot_value(value)
    return state


def full_state_diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names of the entries that differ (bit-exact for tensors), appeared or disappeared."""
    names = sorted(set(before) | set(after))
    return [n for n in names if n not in before or n not in after or not _equal(before[n], after[n])]
