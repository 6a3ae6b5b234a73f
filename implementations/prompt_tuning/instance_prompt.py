"""Instance-dependent prompts: a light generator turns each input's representation into its own soft prompt.

IDPG (Wu et al., NAACL 2022, arXiv 2204.04497)::

    P(x) = W₂ σ(W₁ M(x) + b₁) + b₂ ∈ R^{L_p × D},   x' = [P(x); E(x)]

M(x) (B, D) is the sentence representation of x read from the frozen model itself in a first pass
without the prompt: :class:`RepresentingTextAdapter` runs it while embedding and hands it to the
embedding state (``extra["sentence_features"]``), as CoCoOp's adapter hands over image features. The
generator's bottleneck is the only trainable part of the input manipulation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import TextAdapter
from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import F_QUERY, L_QUERY, InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, symbols, x

__all__ = ["GeneratedPrompt", "RepresentingTextAdapter", "representing_frozen", "SENTENCE_FEATURES"]

SENTENCE_FEATURES = "sentence_features"

_generator = op("G", "G")


class RepresentingTextAdapter(TextAdapter):
    """A :class:`TextAdapter` whose embedding state also carries M(x) = f's readout of the unprompted input.

    ``embed`` runs f once on the plain token embeddings (no gradient) and stores the result (B, D) in
    ``extra["sentence_features"]``; everything else is as in TextAdapter.
    """

    name = "transformers-text-representing"

    def embed(self, model: nn.Module, x: dict[str, Tensor]) -> EmbeddingState:
        state = super().embed(model, x)
        with torch.no_grad():
            features = super().forward_embedded(model, state)
        state.extra[SENTENCE_FEATURES] = features.detach()
        return state


def representing_frozen(frozen: FrozenModel) -> FrozenModel:
    """The same model behind a :class:`RepresentingTextAdapter` with the old adapter's settings."""
    adapter = frozen.adapter
    if isinstance(adapter, RepresentingTextAdapter):
        return frozen
    return FrozenModel(
        frozen.model,
        adapter=RepresentingTextAdapter(adapter.tokenizer, readout=adapter.readout_mode, max_length=adapter.max_length),
    )


class GeneratedPrompt(InputManipulation):
    """``[G(M(x)); E(x)]`` with G: D → h → L_p·D a two-layer bottleneck MLP.

    M(x) is read from the state's ``extra["sentence_features"]`` (:class:`RepresentingTextAdapter`).

    Args:
        dim: D, the embedding size; length: L_p; hidden: h, the bottleneck size.
    Trainable parameters: D·h + h + h·L_p·D + L_p·D.
    """

    configuration = Configuration.LEARNABLE
    operator = (Operator.CONCATENATIVE, Operator.PARAMETRIC)  # inserted, and computed from the input
    location = Location.EMBEDDING

    def __init__(self, dim: int, length: int, hidden: int = 16, activation: str = "relu"):
        super().__init__()
        if min(dim, length, hidden) < 1:
            raise ValueError(f"dim/length/hidden: expected positive sizes, got {dim}, {length}, {hidden}")
        activations = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}
        if activation not in activations:
            raise ValueError(f"activation: {activation!r} is not one of {sorted(activations)}")
        self.dim, self.length = dim, length
        self.generator = nn.Sequential(
            nn.Linear(dim, hidden), activations[activation](), nn.Linear(hidden, length * dim)
        )

    def prompts(self, state: EmbeddingState) -> Tensor:
        """P(x) (B, L_p, D) for the sequences of ``state``."""
        sentence = state.extra.get(SENTENCE_FEATURES)
        if sentence is None:
            raise InterfaceError(
                "GeneratedPrompt: the state carries no sentence features M(x); use RepresentingTextAdapter"
            )
        if sentence.shape != (state.batch_size, self.dim):
            raise ShapeError(
                f"sentence_features: expected M(x) of shape ({state.batch_size}, {self.dim}), got {tuple(sentence.shape)}"
            )
        weight = self.generator[0].weight
        return self.generator(sentence.to(weight.dtype)).view(-1, self.length, self.dim)

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        if state.embeds.shape[-1] != self.dim:
            raise ShapeError(f"state: embedding size {state.embeds.shape[-1]} does not match D={self.dim}")
        return state.prepend(self.prompts(state).to(state.embeds.dtype))

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """One more run of f on the query for its sentence features M(x) (``L`` positions, ``F_f`` FLOPs), L_p more
        positions, and the generator MLP per query: ``2·(D·H + H·L_p·D)`` FLOPs."""
        length, D, H = symbols("L_p D H_g")
        shapes = {length: self.length, D: self.dim, H: self.generator[0].out_features}
        generator = InferenceOverhead(
            tokens=L_QUERY, flops=F_QUERY + 2 * (D * H + H * length * D), shapes={**context.shapes, **shapes}
        )
        return context.extra_positions(length, shapes, "generated prompt positions") + generator

    def symbolic(self) -> SymbolicForm:
        D, h, L = symbols("D h L_p")
        shapes = {D: self.dim, h: self.generator[0].out_features, L: self.length}
        return SymbolicForm(
            concat(_generator(op("M", "M")(x)), x),
            D * h + h + h * L * D + L * D,
            shapes,
            description="instance-dependent prompt from a bottleneck generator",
        )
