"""Key/value prefixes at every attention layer (prefix tuning, P-tuning v2).

Li & Liang ("Prefix-Tuning", ACL 2021, arXiv 2101.00190) prepend L_p learned activations to the
keys and values of every layer, ``K_ℓ' = [P^K_ℓ; K_ℓ]``, ``V_ℓ' = [P^V_ℓ; V_ℓ]``, and train them
through a reparameterisation ``P = MLP_θ(P')`` with a smaller P' (L_p, D') for stability; after
training only P is kept. Liu et al. (P-tuning v2, ACL 2022, arXiv 2110.07602) use the same deep
prompts, reparameterisation optional.

Layout. The prefix of all layers is one (L_p, N·2·H_kv·d) matrix, the last axis ordered
(layer, key/value, kv-head, head-dim): the layout of peft's prefix encoder, so learned prefixes
export to and import from peft unchanged. Grouped-query attention: H_kv key/value heads (not H).
Positions: the adapter passes the prefix as a cache of length L_p, so real tokens take positions
L_p, L_p+1, ... (with rotary embeddings the prefix keys are used as learned, un-rotated).
"""

from __future__ import annotations

from typing import Optional

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext, once_per_batch
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.interfaces import AttentionGeometry, KeyValuePrefix
from reprogrammability.framework.manipulation import HiddenManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, symbols

__all__ = ["KeyValuePrompt", "prefix_width"]

_mlp = op("MLP", r"\mathrm{MLP}_{\theta}")


def prefix_width(geometry: AttentionGeometry) -> int:
    """N·2·H_kv·d: the width of one prefix position over all layers."""
    return geometry.num_layers * 2 * geometry.num_kv_heads * geometry.head_dim


class KeyValuePrompt(HiddenManipulation):
    """Per-layer key/value prefixes of length L_p, either learned directly or as ``MLP(P')``.

    Args:
        geometry: the frozen model's attention geometry (layers N, kv heads H_kv, head size d).
        length: L_p.
        reparameterize_dim: D' of P' for the reparameterisation (``None``: learn P directly).
        hidden: the MLP's hidden size (``D' → hidden → N·2·H_kv·d``, tanh in between).
        init_std: standard deviation of the initial P (direct) or P' (reparameterised); with
            ``init_std=0`` and direct prefixes, P starts at zero.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE

    def __init__(
        self,
        geometry: AttentionGeometry,
        length: int,
        *,
        reparameterize_dim: Optional[int] = None,
        hidden: int = 512,
        init_std: float = 1.0,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if length <= 0:
            raise ValueError(f"length: expected a positive number of prefix positions, got {length}")
        self.geometry = geometry
        self.layers = tuple(range(geometry.num_layers))
        width = prefix_width(geometry)
        if reparameterize_dim is None:
            self.prefix = nn.Parameter(torch.randn(length, width, generator=generator) * init_std)
            self.reparameterization = None
        else:
            if reparameterize_dim <= 0 or hidden <= 0:
                raise ValueError(
                    f"reparameterize_dim/hidden: expected positive sizes, got {reparameterize_dim}, {hidden}"
                )
            self.prefix_embedding = nn.Parameter(
                torch.randn(length, reparameterize_dim, generator=generator) * init_std
            )
            self.reparameterization = nn.Sequential(
                nn.Linear(reparameterize_dim, hidden), nn.Tanh(), nn.Linear(hidden, width)
            )
        self.length = length

    @property
    def reparameterized(self) -> bool:
        return self.reparameterization is not None

    def flat_prefix(self) -> Tensor:
        """P: (L_p, N·2·H_kv·d) in peft's layout."""
        if self.reparameterization is None:
            return self.prefix
        return self.reparameterization(self.prefix_embedding)

    def key_value_prefix(self, batch_size: int, geometry: AttentionGeometry) -> KeyValuePrefix:
        g = self.geometry
        if (geometry.num_layers, geometry.num_kv_heads, geometry.head_dim) != (
            g.num_layers,
            g.num_kv_heads,
            g.head_dim,
        ):
            raise ShapeError(f"geometry: the prefix was built for {g}, the model has {geometry}")
        flat = self.flat_prefix()
        # (L_p, N·2·H·d) -> (2N, H, L_p, d): entry 2ℓ is layer ℓ's keys, 2ℓ+1 its values
        per_layer = flat.view(self.length, 2 * g.num_layers, g.num_kv_heads, g.head_dim).permute(1, 2, 0, 3)
        pairs = []
        for layer in range(g.num_layers):
            key = per_layer[2 * layer].unsqueeze(0).expand(batch_size, -1, -1, -1)
            value = per_layer[2 * layer + 1].unsqueeze(0).expand(batch_size, -1, -1, -1)
            pairs.append((key, value))
        return pairs

    @torch.no_grad()
    def merged(self) -> "KeyValuePrompt":
        """A direct prefix holding the current P (the reparameterisation dropped, as after training)."""
        plain = KeyValuePrompt(self.geometry, self.length, init_std=0.0)
        plain.prefix.copy_(self.flat_prefix().detach())
        return plain

    def symbolic(self) -> SymbolicForm:
        L, N, H, d = symbols("L_p N H_kv d")
        g = self.geometry
        shapes = {L: self.length, N: g.num_layers, H: g.num_kv_heads, d: g.head_dim}
        width = N * 2 * H * d
        K, V = sp.Symbol("K_ell"), sp.Symbol("V_ell")
        if self.reparameterization is None:
            prefix_k, prefix_v = sp.Symbol("P^K_ell"), sp.Symbol("P^V_ell")
        else:  # P = MLP(P'), split into every layer's keys and values
            prefix_k, prefix_v = _mlp(sp.Symbol("P'_K")), _mlp(sp.Symbol("P'_V"))
        expression = sp.Tuple(concat(prefix_k, K), concat(prefix_v, V))
        if self.reparameterization is None:
            return SymbolicForm(expression, L * width, shapes, description="key/value prefixes at every layer")
        Dp, Hm = symbols("D' H_m")
        shapes.update({Dp: self.prefix_embedding.shape[1], Hm: self.reparameterization[0].out_features})
        count = L * Dp + Dp * Hm + Hm + Hm * width + width
        return SymbolicForm(
            expression, count, shapes, description="key/value prefixes at every layer, P = MLP(P') reparameterised"
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Attention over L_p more keys in every layer; a reparameterised prefix also runs its MLP once per batch."""
        (length,) = symbols("L_p")
        overhead = context.extra_keys(length, {length: self.length}, f"{self.length} key/value prefix positions")
        if self.reparameterization is None:
            return overhead
        Dp, Hm, width = symbols("D' H_m D_kv")
        mlp = 2 * length * (Dp * Hm + Hm * width)
        shapes = {length: self.length, Dp: self.prefix_embedding.shape[1]}
        shapes |= {Hm: self.reparameterization[0].out_features, width: self.reparameterization[2].out_features}
        return overhead + once_per_batch(mlp, shapes, context, "prefix MLP, once per batch")

    def extra_repr(self) -> str:
        mode = "MLP-reparameterised" if self.reparameterized else "direct"
        return f"{super().extra_repr()}, length={self.length}, {mode}, layers={self.geometry.num_layers}"
