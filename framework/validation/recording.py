"""Recording what each input manipulation receives and returns, and replaying a part alone."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor, nn

from ..axes import Location
from ..frozen import Part, as_hidden_part, reaches_hidden_states
from ..interfaces import EmbeddingState
from ..manipulation import InputManipulation
from .common import (
    _clone,
    _equal,
    _perturbed,
)


@dataclass
class _Call:
    """One application of a part: ``kind`` is input, embedding, hidden (an edit) or key_values."""

    kind: str
    input: Any
    output: Any
    layer: Optional[int] = None


class _Recorder:
    """Records every call of every input manipulation during the forwards run inside the block."""

    def __init__(self, parts: Sequence[InputManipulation]):
        self.parts = list(parts)
        self.calls: dict[int, list[_Call]] = {i: [] for i in range(len(self.parts))}
        self._handles: list[Any] = []
        self._patched: list[tuple[Part, str]] = []

    def __enter__(self) -> "_Recorder":
        for index, part in enumerate(self.parts):
            calls = self.calls[index]
            if part.location is Location.HIDDEN:
                if reaches_hidden_states(part) and part.edits_hidden:
                    self._record(part, "edit_hidden", calls, lambda layer, hidden: _Call("hidden", hidden, None, layer))
                if reaches_hidden_states(part) and part.provides_key_values:
                    self._record(
                        part,
                        "key_value_prefix",
                        calls,
                        lambda size, geometry: _Call("key_values", (size, geometry), None),
                    )
            else:
                kind = "embedding" if part.location is Location.EMBEDDING else "input"

                def hook(
                    module: nn.Module, args: tuple[Any, ...], output: Any, kind: str = kind, calls: list[_Call] = calls
                ) -> None:
                    calls.append(_Call(kind, args[0] if args else None, output))

                self._handles.append(part.register_forward_hook(hook))
        return self

    def _record(self, part: Part, method: str, calls: list[_Call], call: Callable[..., _Call]) -> None:
        """Patch ``part.method`` (``edit_hidden``, ``key_value_prefix``) on the instance so that each call is
        recorded: ``call(*args)`` says what it received, and what it returned is added."""
        original = getattr(type(part), method)

        def recorded(*args: Any) -> Any:
            output = original(part, *args)
            calls.append(dataclasses.replace(call(*args), output=output))
            return output

        object.__setattr__(part, method, recorded)
        self._patched.append((part, method))

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


def _field(value: Any, key: str) -> Any:
    """``value[key]`` of a dict, or field ``key`` of a dataclass."""
    fields = _fields(value)
    if fields is None:
        raise TypeError(f"expected a dict or a dataclass with the field {key!r}, got {type(value).__name__}")
    return fields[key]


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
            return _View(floats[key], fields_out[key], lambda t: _rebuild(u, key, t), lambda out: _field(out, key))
        return None
    if isinstance(v, Tensor):
        same = [k for k, t in floats.items() if t.shape == v.shape] or [
            k for k, t in floats.items() if t.dim() == v.dim()
        ]
        if len(same) == 1:
            key = same[0]
            return _View(floats[key], v, lambda t: _rebuild(u, key, t), lambda out: out)
    return None


def _replay_call(part: Part, call: _Call) -> Any:
    """Apply ``part`` again to exactly what it received in ``call`` (a copy of it)."""
    if call.kind == "hidden":
        hidden = as_hidden_part(part)
        return type(hidden).edit_hidden(hidden, _layer(call), _clone(call.input))
    if call.kind == "key_values":
        hidden = as_hidden_part(part)
        return type(hidden).key_value_prefix(hidden, *call.input)
    return part(_clone(call.input))


def _layer(call: _Call) -> int:
    if call.layer is None:
        raise ValueError(f"a {call.kind} call records no layer")
    return call.layer


def _replay(part: Part, call: _Call, view: _View, value: Tensor) -> Tensor:
    """The part applied to ``value`` in place of what it changed in ``call`` (the rest of its input kept)."""
    with torch.no_grad():
        if call.kind == "hidden":
            hidden = as_hidden_part(part)
            return type(hidden).edit_hidden(hidden, _layer(call), value)
        return view.extract(part(view.wrap(value)))


class _Probe:
    """What one part received and returned during the traced forward on x₁, the value it received on
    x₂ (one more forward, on first use), and replays of the part alone: on other values, and with its
    trainable parameters perturbed (the same seeded noise every time; f is not run)."""

    def __init__(
        self,
        part: InputManipulation,
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
