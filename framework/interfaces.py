"""Interfaces of a frozen model, and the adapter protocol that exposes them.

An *interface* is a place where an input manipulation may act (the location axis ℓ):

* ``input``: f's raw input (pixels, waveforms, token ids or strings);
* ``embedding``: the output of f's embedding layer, an :class:`EmbeddingState`;
* ``hidden``: the input of chosen blocks (``edit_hidden``) or their attention key/value
  prefixes (``key_value_prefix``).

A :class:`ModelAdapter` knows, for one family of architectures, how to embed an input, how to run
the rest of the network from an embedding, where its blocks are and how to read the output.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from .axes import Location
from .errors import InterfaceError, ShapeError

__all__ = [
    "EmbeddingState",
    "KeyValuePrefix",
    "AttentionGeometry",
    "ModelAdapter",
    "ModuleAdapter",
]


@dataclass
class EmbeddingState:
    """The embedding interface: ``embeds`` (B, T, D) with its ``attention_mask`` (B, T).

    ``token_positions`` (T₀,) holds, for each position of the *original* sequence, where it now
    sits; concatenative manipulations shift it, so readouts find the original tokens again.
    ``extra`` carries adapter-specific tensors (for example ``input_ids`` for CLIP's EOT readout).
    """

    embeds: Tensor
    attention_mask: Tensor | None = None
    token_positions: Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.embeds.dim() != 3:
            raise ShapeError(f"embeds: expected shape (B, T, D), got {tuple(self.embeds.shape)}")
        if self.token_positions is None:
            self.token_positions = torch.arange(self.embeds.shape[1], device=self.embeds.device)

    @property
    def batch_size(self) -> int:
        return self.embeds.shape[0]

    @property
    def length(self) -> int:
        return self.embeds.shape[1]

    def insert(self, prompt: Tensor, position: int = 0) -> "EmbeddingState":
        """Insert ``prompt`` (P, D) or (B, P, D) at ``position``: ``[e_<pos; P; e_≥pos]``; the mask gets ones."""
        batch, _, dim = self.embeds.shape
        given = tuple(prompt.shape)
        if prompt.dim() == 2:
            prompt = prompt.unsqueeze(0).expand(batch, -1, -1)
        if prompt.dim() != 3 or prompt.shape[0] != batch or prompt.shape[2] != dim:
            raise ShapeError(f"prompt: expected shape (P, {dim}) or ({batch}, P, {dim}), got {given}")
        if not 0 <= position <= self.length:
            raise ValueError(f"position: expected 0..{self.length}, got {position}")
        length = prompt.shape[1]
        prompt = prompt.to(self.embeds.dtype)
        embeds = torch.cat([self.embeds[:, :position], prompt, self.embeds[:, position:]], dim=1)
        mask = self.attention_mask
        if mask is not None:
            ones = mask.new_ones(batch, length)
            mask = torch.cat([mask[:, :position], ones, mask[:, position:]], dim=1)
        positions = self.token_positions
        assert positions is not None  # set by __post_init__
        positions = positions + (positions >= position).to(positions.dtype) * length
        return replace(self, embeds=embeds, attention_mask=mask, token_positions=positions)

    def prepend(self, prompt: Tensor) -> "EmbeddingState":
        """``[P; e]``."""
        return self.insert(prompt, 0)

    def with_embeds(self, embeds: Tensor) -> "EmbeddingState":
        """Same positions and mask, new embeddings of the same shape (additive and parametric operators)."""
        if embeds.shape != self.embeds.shape:
            raise ShapeError(f"embeds: expected shape {tuple(self.embeds.shape)}, got {tuple(embeds.shape)}")
        return replace(self, embeds=embeds)


@dataclass(frozen=True)
class AttentionGeometry:
    """What a key/value prefix must look like: ``num_layers`` × (B, ``num_kv_heads``, P, ``head_dim``)."""

    num_layers: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int


KeyValuePrefix = list[tuple[Tensor, Tensor]]
"""One ``(key, value)`` pair per layer, each (B, num_kv_heads, P, head_dim)."""


class ModelAdapter(ABC):
    """Exposes the interfaces of one family of architectures.

    Subclasses implement :meth:`forward_input` and, for models with an embedding interface,
    :meth:`embed` and :meth:`forward_embedded`; :meth:`layers` lists the blocks for hidden edits.
    """

    name = "module"

    def locations(self, model: nn.Module) -> frozenset[Location]:
        """The interfaces this adapter exposes on ``model``."""
        found = {Location.INPUT}
        if type(self).embed is not ModelAdapter.embed:
            found.add(Location.EMBEDDING)
        if self.layers(model):
            found.add(Location.HIDDEN)
        return frozenset(found)

    def prepare(self, model: nn.Module, x: Any) -> Any:
        """Turn a user input into f's raw input (for text models: tokenise strings)."""
        return x

    @abstractmethod
    def forward_input(self, model: nn.Module, x: Any) -> Any:
        """Run f on its raw input and return its readout."""

    def embed(self, model: nn.Module, x: Any) -> EmbeddingState | dict[str, EmbeddingState]:
        """The embedding interface: one state, or one per tower for multi-tower models (CLIP)."""
        raise InterfaceError(f"{type(self).__name__} exposes no embedding interface; allowed locations: input, hidden")

    def forward_embedded(self, model: nn.Module, state: Any, key_values: KeyValuePrefix | None = None) -> Any:
        """Run the rest of f from (possibly manipulated) embedding state(s); return its readout."""
        raise InterfaceError(f"{type(self).__name__} exposes no embedding interface; allowed locations: input, hidden")

    def embedding_module(self, model: nn.Module) -> nn.Module | None:
        """The module whose output is the embedding interface (observed by the validator)."""
        return None

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        """The blocks whose inputs are the hidden interface, in order (of ``tower`` for multi-tower models)."""
        return ()

    def attention_geometry(self, model: nn.Module) -> AttentionGeometry | None:
        """Shapes of attention key/value prefixes, or ``None`` when the model has no attention."""
        return None

    @contextlib.contextmanager
    def hidden_edits(
        self, model: nn.Module, edits: dict[tuple[str | None, int], list[Callable[[Tensor], Tensor]]]
    ) -> Iterator[None]:
        """Apply ``edits[(tower, layer)]`` to the hidden states entering each layer, for the duration of the block."""
        handles = []
        for (tower, index), functions in edits.items():
            layers = self.layers(model, tower)
            if not 0 <= index < len(layers):
                raise InterfaceError(f"layers: index {index} out of range, the model has {len(layers)} layers")

            def hook(
                module: nn.Module,
                args: tuple[Any, ...],
                kwargs: dict[str, Any],
                functions: list[Callable[[Tensor], Tensor]] = functions,
            ) -> tuple[tuple[Any, ...], dict[str, Any]]:
                if args:
                    hidden = args[0]
                    for fn in functions:
                        hidden = fn(hidden)
                    return (hidden, *args[1:]), kwargs
                hidden = kwargs["hidden_states"]
                for fn in functions:
                    hidden = fn(hidden)
                return args, {**kwargs, "hidden_states": hidden}

            handles.append(layers[index].register_forward_pre_hook(hook, with_kwargs=True, prepend=True))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


class ModuleAdapter(ModelAdapter):
    """Any ``nn.Module`` called as ``f(x)``: a CNN, an MLP, an audio classifier.

    ``layers`` names submodules (``"layer3"``, ``"features.4"``) whose inputs form the hidden
    interface; ``embedding`` optionally names the module whose output is the embedding interface.
    """

    name = "module"

    def __init__(self, layers: Sequence[str] = ()):
        self.layer_names = tuple(layers)

    def forward_input(self, model: nn.Module, x: Any) -> Any:
        return model(x)

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        modules = dict(model.named_modules())
        missing = [name for name in self.layer_names if name not in modules]
        if missing:
            raise InterfaceError(
                f"layers: no submodule named {missing}; available: {sorted(n for n in modules if n)[:20]}"
            )
        return [modules[name] for name in self.layer_names]
