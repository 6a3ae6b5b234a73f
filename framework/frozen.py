"""`FrozenModel`: the pretrained model f, frozen, with its interfaces exposed.

The frozen model is never trained: its parameters never require gradients, it stays in eval
mode, and a fingerprint of its parameters and buffers proves that nothing changed them. Any
in-place write to one of its tensors (detected through the tensors' version counters after
every forward) raises :class:`FrozenModelError` naming the tensor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Protocol, Sequence, TypeGuard

import torch
from torch import Tensor, nn

from . import checks
from .axes import Location
from .errors import FrozenModelError, InterfaceError
from .interfaces import AttentionGeometry, EmbeddingState, KeyValuePrefix, ModelAdapter, ModuleAdapter

__all__ = [
    "FrozenModel",
    "HiddenPart",
    "InterfaceTrace",
    "Part",
    "as_hidden_part",
    "auto_adapter",
    "reaches_hidden_states",
]


def auto_adapter(model: nn.Module, **options: Any) -> ModelAdapter:
    """Pick the adapter for ``model``: transformers models by class, anything else as ``f(x)``."""
    if type(model).__module__.startswith("transformers."):
        from .adapters.transformers import transformers_adapter

        return transformers_adapter(model, **options)
    if type(model).__name__ == "DualEncoder":  # implementations.models.dual_encoder
        from .adapters.dual_encoder import DualEncoderAdapter

        if "class_prompts" not in options:
            raise InterfaceError("class_prompts: a DualEncoder needs the class prompts to classify against")
        return DualEncoderAdapter(**options)
    return ModuleAdapter(**options)


class Part(Protocol):
    """What f reads of a manipulation it applies: an :class:`~reprogrammability.framework.manipulation.Part`,
    or a stand-in with the same attributes (the validator's recordings, a bank's per-row parts)."""

    @property
    def location(self) -> Location: ...
    @property
    def tower(self) -> str | None: ...
    @property
    def edits_hidden(self) -> bool: ...
    @property
    def provides_key_values(self) -> bool: ...
    def __call__(self, value: Any) -> Any: ...


class HiddenPart(Part, Protocol):
    """A part that edits hidden states or prepends attention keys and values (``edits_hidden`` or
    ``provides_key_values``), as :class:`~reprogrammability.framework.manipulation.HiddenManipulation` does."""

    @property
    def layers(self) -> Sequence[int]: ...
    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor: ...
    def key_value_prefix(self, batch_size: int, geometry: AttentionGeometry) -> KeyValuePrefix: ...


def reaches_hidden_states(part: Part) -> TypeGuard[HiddenPart]:
    """Whether ``part`` edits hidden states or prepends keys and values (then it is a :class:`HiddenPart`)."""
    return part.edits_hidden or part.provides_key_values


def as_hidden_part(part: Part) -> HiddenPart:
    """``part`` as a :class:`HiddenPart`; a TypeError when it neither edits hidden states nor provides keys and values."""
    if not reaches_hidden_states(part):
        raise TypeError(
            f"{type(part).__name__}: neither edits_hidden nor provides_key_values is set, so it has no hidden-state edit"
        )
    return part


@dataclass
class InterfaceTrace:
    """What f saw at each interface during one forward (recorded by :meth:`FrozenModel.trace`)."""

    input: Any = None
    embedding: Tensor | None = None
    hidden: dict[int, Tensor] = field(default_factory=dict)
    key_value_length: int = 0
    output: Any = None


def _apply_to_tower(manipulation: Part, states: Any) -> Any:
    """Apply an embedding manipulation to its tower's state (``manipulation.tower``; single-tower models: the state)."""
    name = type(manipulation).__name__
    if isinstance(states, EmbeddingState):
        if manipulation.tower is not None:
            raise InterfaceError(
                f"{name}.tower: {manipulation.tower!r}, but the model has a single embedding interface"
            )
        result = manipulation(states)
    else:
        if manipulation.tower not in states:
            raise InterfaceError(f"{name}.tower: {manipulation.tower!r} is not one of {sorted(states)}")
        result = dict(states)
        result[manipulation.tower] = manipulation(states[manipulation.tower])
        if not isinstance(result[manipulation.tower], EmbeddingState):
            got = type(result[manipulation.tower]).__name__
            raise TypeError(
                f"{name}.forward: an embedding-location manipulation must return an EmbeddingState, got {got}"
            )
        return result
    if not isinstance(result, EmbeddingState):
        got = type(result).__name__
        raise TypeError(f"{name}.forward: an embedding-location manipulation must return an EmbeddingState, got {got}")
    return result


def _tensor_digest(tensor: Tensor) -> str:
    data = tensor.detach()
    if data.device.type != "cpu":
        data = data.cpu()
    data = data.contiguous()
    if data.dtype is torch.bfloat16:
        data = data.view(torch.int16)
    return hashlib.sha256(data.numpy().tobytes()).hexdigest()


class FrozenModel(nn.Module):
    """Wrap ``model`` as the frozen f of a reprogrammer.

    Args:
        model: any ``nn.Module`` (a torch vision network, a transformers model, ...).
        adapter: how to reach its interfaces; chosen from the model's class when omitted.
        **adapter_options: passed to the automatic adapter (``readout="last"``, ``tokenizer=...``,
            ``layers=[...]``).
    """

    def __init__(self, model: nn.Module, adapter: ModelAdapter | None = None, **adapter_options: Any):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if isinstance(model, FrozenModel):
            raise TypeError("model: is already a FrozenModel; pass it to Reprogrammer directly")
        if adapter is not None and adapter_options:
            raise TypeError(f"adapter_options {sorted(adapter_options)} are only used without an explicit adapter")
        model.requires_grad_(False)
        model.eval()
        self.model = model
        self.adapter = adapter or auto_adapter(model, **adapter_options)
        self._digests = self._compute_digests()
        self._snapshot_versions()
        super().train(False)

    # -- the frozen guarantee -------------------------------------------------------------
    def _tensors(self) -> list[tuple[str, Tensor]]:
        tensors: list[tuple[str, Tensor]] = [
            (f"parameter {n}", p) for n, p in self.model.named_parameters(remove_duplicate=True)
        ]
        tensors += [(f"buffer {n}", b) for n, b in self.model.named_buffers(remove_duplicate=True)]
        return tensors

    def _compute_digests(self) -> dict[str, str]:
        return {name: _tensor_digest(t) for name, t in self._tensors()}

    def _snapshot_versions(self) -> None:
        # the watched tensors are listed once (and again after every ``_apply``): walking the module tree
        # on each forward costs about a millisecond on a 300-tensor network, reading the counters ~30 µs
        self._watched = self._tensors()
        self._versions = {name: t._version for name, t in self._watched}
        self._watched_versions = [t._version for _, t in self._watched]
        # what the boundary check needs: f's floating dtype (inputs are cast to it) and its token vocabulary
        self._input_dtype = next((t.dtype for _, t in self._watched if t.is_floating_point()), None)
        embedding = self.adapter.embedding_module(self.model) if hasattr(self, "adapter") else None
        self._vocabulary = getattr(embedding, "num_embeddings", None)
        self._takes_ids = self._vocabulary is not None or any(
            isinstance(module, (nn.Embedding, nn.EmbeddingBag)) for module in self.model.modules()
        )

    def fingerprint(self) -> str:
        """SHA-256 over the names, dtypes, shapes and bytes of every parameter and buffer."""
        digest = hashlib.sha256()
        for name, tensor in self._tensors():
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|{_tensor_digest(tensor)}".encode())
        return digest.hexdigest()

    def changed_tensors(self) -> list[str]:
        """Names of the parameters and buffers whose values differ from when the model was frozen."""
        now = self._compute_digests()
        return sorted(name for name in set(now) | set(self._digests) if now.get(name) != self._digests.get(name))

    def assert_unchanged(self) -> None:
        """Raise :class:`FrozenModelError` if any parameter or buffer differs, or a gradient reached one."""
        changed = self.changed_tensors()
        if changed:
            raise FrozenModelError(f"the frozen model changed: {', '.join(changed[:10])}")
        self.assert_no_gradients()

    def assert_no_gradients(self) -> None:
        bad = [n for n, p in self.model.named_parameters() if p.requires_grad or p.grad is not None]
        if bad:
            raise FrozenModelError(
                f"the frozen model's parameters must not require or hold gradients: {', '.join(bad[:10])}"
            )

    def check_writes(self) -> None:
        """Raise :class:`FrozenModelError` if a tensor of f was written in place since the last check."""
        for (name, tensor), version in zip(self._watched, self._watched_versions):
            if tensor._version != version:
                self._snapshot_versions()
                raise FrozenModelError(
                    f"{name} of the frozen model was written in place; the frozen model is read-only "
                    "(a manipulation or alignment must not modify f)"
                )

    def __deepcopy__(self, memo: dict[int, Any]) -> "FrozenModel":
        """A copy has fresh tensors (fresh version counters): snapshot them, keep the original digests."""
        import copy

        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update({key: copy.deepcopy(value, memo) for key, value in self.__dict__.items()})
        clone._snapshot_versions()
        return clone

    def train(self, mode: bool = True) -> "FrozenModel":
        """The frozen model stays in eval mode whatever is asked (dropout and batch-norm statistics off)."""
        return super().train(False)

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> "FrozenModel":
        super()._apply(fn, recurse)  # type: ignore[no-untyped-call]  # torch's Module._apply has no annotations
        self.model.requires_grad_(False)
        self._snapshot_versions()
        return self

    # -- interfaces -----------------------------------------------------------------------
    @property
    def locations(self) -> frozenset[Location]:
        return self.adapter.locations(self.model)

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def device(self) -> torch.device:
        for tensor in self.model.parameters():
            return tensor.device
        return torch.device("cpu")

    def check_input(self, x: Any, name: str = "x", manipulations: Sequence[Part] = ()) -> Any:
        """``x`` checked at f's boundary (:func:`~reprogrammability.framework.checks.model_input`): not empty,
        no uint8/bool images, finite (CPU tensors), token ids in range; floating tensors cast to f's dtype.
        Integer tensors reach only a model with a token embedding, or an input manipulation (token → image)."""
        takes_ids = self._takes_ids or any(m.location is Location.INPUT for m in manipulations)
        return checks.model_input(x, name, dtype=self._input_dtype, vocabulary=self._vocabulary, takes_ids=takes_ids)

    def forward(self, x: Any, manipulations: Sequence[Part] = ()) -> Any:
        """``f(I(x))``: apply each manipulation at its location, run f, return its readout."""
        x = self.check_input(x, manipulations=manipulations)
        if self.model.training:
            self.model.eval()
        try:
            return self._run(x, manipulations, trace=None)
        finally:
            self.check_writes()

    def trace(self, x: Any, manipulations: Sequence[Part] = ()) -> InterfaceTrace:
        """Run like :meth:`forward` and record what f saw at its input, embedding and hidden interfaces."""
        x = self.check_input(x, manipulations=manipulations)
        record = InterfaceTrace()
        handles = []
        embedding_module = self.adapter.embedding_module(self.model)
        if embedding_module is not None:

            def keep_embedding(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
                record.embedding = (output[0] if isinstance(output, tuple) else output).detach().clone()

            handles.append(embedding_module.register_forward_hook(keep_embedding))
        for index, layer in enumerate(self.adapter.layers(self.model)):

            def keep_hidden(
                module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], index: int = index
            ) -> None:
                hidden = args[0] if args else kwargs.get("hidden_states")
                if isinstance(hidden, Tensor):
                    record.hidden[index] = hidden.detach().clone()

            handles.append(layer.register_forward_pre_hook(keep_hidden, with_kwargs=True))
        try:
            with torch.no_grad():
                record.output = self._run(x, manipulations, trace=record)
        finally:
            for handle in handles:
                handle.remove()
            self.check_writes()
        return record

    def _run(self, x: Any, manipulations: Sequence[Part], trace: InterfaceTrace | None) -> Any:
        by_location: dict[Location, list[Part]] = {Location.INPUT: [], Location.EMBEDDING: [], Location.HIDDEN: []}
        for manipulation in manipulations:
            by_location[manipulation.location].append(manipulation)
        available = self.locations
        for location, found in by_location.items():
            if found and location not in available:
                names = ", ".join(type(m).__name__ for m in found)
                raise InterfaceError(
                    f"location: {names} acts on the {location} interface, which {type(self.adapter).__name__} "
                    f"does not expose; available: {sorted(l.value for l in available)}"
                )
        for manipulation in by_location[Location.INPUT]:
            x = manipulation(x)
        if by_location[Location.INPUT] and isinstance(x, Tensor):  # what the input manipulations hand to f
            names = ", ".join(type(m).__name__ for m in by_location[Location.INPUT])
            checks.model_input(x, f"x after {names}", vocabulary=self._vocabulary, takes_ids=self._takes_ids)
        prepared = self.adapter.prepare(self.model, x)
        if prepared is not x and not isinstance(prepared, Tensor):  # tokenised text: no empty sequences
            checks.model_input(prepared, "x (tokenised)", vocabulary=self._vocabulary)
        x = prepared
        if trace is not None:
            trace.input = x.detach().clone() if isinstance(x, Tensor) else x

        hidden = [m for m in by_location[Location.HIDDEN] if reaches_hidden_states(m)]  # the others act on nothing
        edits: dict[tuple[str | None, int], list[Callable[[Tensor], Tensor]]] = {}
        prefixes = [m for m in hidden if m.provides_key_values]
        for manipulation in hidden:
            if manipulation.edits_hidden:
                for layer in manipulation.layers:
                    edits.setdefault((manipulation.tower, layer), []).append(partial(manipulation.edit_hidden, layer))
        with self.adapter.hidden_edits(self.model, edits):
            if by_location[Location.EMBEDDING] or prefixes:
                states = self.adapter.embed(self.model, x)
                for manipulation in by_location[Location.EMBEDDING]:
                    states = _apply_to_tower(manipulation, states)
                batch = (states if isinstance(states, EmbeddingState) else next(iter(states.values()))).batch_size
                key_values = self._key_values(prefixes, batch) if prefixes else None
                if trace is not None and key_values:
                    trace.key_value_length = key_values[0][0].shape[2]
                return self.adapter.forward_embedded(self.model, states, key_values)
            return self.adapter.forward_input(self.model, x)

    def _key_values(self, prefixes: list[HiddenPart], batch_size: int) -> KeyValuePrefix | None:
        geometry = self.adapter.attention_geometry(self.model)
        if geometry is None:
            raise InterfaceError(f"{type(self.adapter).__name__}: the model has no attention keys and values")
        merged = None
        for manipulation in prefixes:
            pairs = manipulation.key_value_prefix(batch_size, geometry)
            if len(pairs) != geometry.num_layers:
                raise InterfaceError(
                    f"{type(manipulation).__name__}.key_value_prefix: expected {geometry.num_layers} layers, got {len(pairs)}"
                )
            if merged is None:
                merged = list(pairs)
            else:
                merged = [
                    (torch.cat([k0, k1], dim=2), torch.cat([v0, v1], dim=2))
                    for (k0, v0), (k1, v1) in zip(merged, pairs)
                ]
        return merged

    def extra_repr(self) -> str:
        return f"adapter={type(self.adapter).__name__}, parameters={self.parameter_count:,}"
