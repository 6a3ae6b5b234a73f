"""`InputManipulation` I_{λ,τ,ℓ}: the part that acts on one interface of the frozen model.

Subclasses declare their coordinates as class (or instance) attributes and implement

* ``forward`` for ``location=input`` (``x -> x'``) and ``location=embedding``
  (:class:`EmbeddingState` ``->`` :class:`EmbeddingState`);
* :class:`HiddenManipulation` for ``location=hidden``: ``edit_hidden(layer, h)`` and/or
  ``key_value_prefix(batch_size, geometry)``;
* ``symbolic()``: the formula in ``x`` and the parameter count in shape symbols.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Sequence

from torch import Tensor, nn

from .axes import Configuration, Location, Operator
from .cost import InferenceOverhead, OverheadContext, UndeclaredOverheadError
from .interfaces import AttentionGeometry, KeyValuePrefix
from .symbolic import SymbolicForm

__all__ = ["InputManipulation", "HiddenManipulation", "trainable_parameter_count"]


def trainable_parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class InputManipulation(nn.Module):
    """I_{λ,τ,ℓ}: declares configuration λ, operator τ and location ℓ, and acts on that interface."""

    configuration: Configuration
    operator: Operator
    location: Location

    def __init__(self) -> None:
        super().__init__()
        for field in ("configuration", "operator", "location"):
            if not hasattr(self, field):
                raise TypeError(f"{type(self).__name__} must declare {field!r} (class or instance attribute)")

    @property
    def edits_hidden(self) -> bool:
        """Whether it changes the hidden state entering a block (only a :class:`HiddenManipulation` can)."""
        return False

    @property
    def provides_key_values(self) -> bool:
        """Whether it prepends attention keys and values (only a :class:`HiddenManipulation` can)."""
        return False

    tower: str | None = None
    """For models with several towers (CLIP: ``"text"``, ``"vision"``), the one this part acts on."""

    @abstractmethod
    def symbolic(self) -> SymbolicForm:
        """Formula (in :data:`~reprogrammability.framework.symbolic.x`) and parameter count."""

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Extra cost of one query against bare f (:mod:`~reprogrammability.framework.cost`): every part
        declares it; there is no default."""
        raise UndeclaredOverheadError(
            f"{type(self).__name__}.inference_overhead: not declared; every input manipulation states its extra "
            "tokens and FLOPs against bare f (see reprogrammability.framework.cost)"
        )

    def coordinates(self) -> dict[str, Any]:
        return {"configuration": self.configuration, "operator": self.operator, "location": self.location}

    @property
    def trainable_parameters(self) -> int:
        return trainable_parameter_count(self)

    def extra_repr(self) -> str:
        return f"λ={self.configuration}, τ={self.operator}, ℓ={self.location}"


class HiddenManipulation(InputManipulation):
    """A manipulation of hidden states (``ℓ = hidden``).

    ``layers`` are the indices of the blocks it touches. Implement ``edit_hidden`` to change the
    hidden state entering a block, and/or ``key_value_prefix`` to prepend attention keys/values.
    """

    location = Location.HIDDEN
    layers: Sequence[int] = ()

    @property
    def edits_hidden(self) -> bool:
        return type(self).edit_hidden is not HiddenManipulation.edit_hidden

    @property
    def provides_key_values(self) -> bool:
        return type(self).key_value_prefix is not HiddenManipulation.key_value_prefix

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        """The hidden state (B, T, D) entering block ``layer``, changed."""
        raise NotImplementedError

    def key_value_prefix(self, batch_size: int, geometry: AttentionGeometry) -> KeyValuePrefix:
        """One (key, value) pair per layer, each (B, num_kv_heads, P, head_dim)."""
        raise NotImplementedError

    def forward(self, hidden: Tensor) -> Tensor:  # pragma: no cover - hidden manipulations act through hooks
        raise TypeError(f"{type(self).__name__} acts through edit_hidden/key_value_prefix, not forward")
