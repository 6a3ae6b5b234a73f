"""Zero-initialised gated adaption prompts (LLaMA-Adapter; Zhang et al., ICLR 2024, arXiv 2303.16199).

At each of the top layers ℓ a learned adaption prompt P_ℓ (K, D) is read by that layer's own frozen
attention projections, in a softmax of its own, and its contribution is scaled by a gate g_ℓ that
starts at zero::

    S_ℓ = softmax(Q_ℓ (W_k P_ℓ)ᵀ / √d_h),   Q_ℓ = rotary(W_q RMSNorm_ℓ(h_ℓ))
    h_ℓ' = h_ℓ + W_o (tanh(g_ℓ) ⊙ S_ℓ W_v P_ℓ)            (per head; g_ℓ ∈ R^H, g_ℓ = 0 at start)

In the paper the gated term joins the attention output of block ℓ (the two softmaxes, over the prompt
and over the tokens, are separate, so the token attention is untouched); here it is added to the
residual stream entering block ℓ, through the framework's hidden interface, so block ℓ's token
attention also reads it. At g = 0 both are exactly f, which is the point of the zero-initialised gate:
training starts from the frozen model and the prompts' influence grows as the gate opens. The
official code gates with tanh(g); the prompt never enters the tokens' key/value sequence.
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Operator
from reprogrammability.framework.cost import L_QUERY, InferenceOverhead, OverheadContext, once_per_batch
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.manipulation import HiddenManipulation
from reprogrammability.framework.symbolic import SymbolicForm, op, symbols, x

__all__ = ["GatedAdaptionPrompt"]

_softmax = op("softmax", r"\mathrm{softmax}")


def _project(linear: nn.Linear, value: Tensor) -> Tensor:
    """``linear(value)`` computed from its (frozen) weights without calling the module."""
    return torch.nn.functional.linear(value, linear.weight, linear.bias)


def _rotate(q: Tensor, rotary: nn.Module) -> Tensor:
    """Rotary position embedding of queries (B, H, T, d) at positions 0..T−1, from the model's ``inv_freq``."""
    T = q.shape[2]
    positions = torch.arange(T, device=q.device, dtype=torch.float32)
    freqs = positions[:, None] * rotary.inv_freq.float()[None, :].to(q.device)
    angles = torch.cat([freqs, freqs], dim=-1)
    scale = float(getattr(rotary, "attention_scaling", 1.0))
    cos, sin = (angles.cos() * scale).to(q.dtype), (angles.sin() * scale).to(q.dtype)
    half = q.shape[-1] // 2
    rotated = torch.cat([-q[..., half:], q[..., :half]], dim=-1)
    return q * cos + rotated * sin


class GatedAdaptionPrompt(HiddenManipulation):
    """``h_ℓ + W_o(tanh(g_ℓ) ⊙ softmax(Q_ℓ K_ℓᵀ/√d) V_ℓ)`` at each of ``layers`` of a LLaMA-style decoder.

    Args:
        blocks: the model's decoder layers (each with ``input_layernorm`` and ``self_attn`` holding
            ``q_proj``/``k_proj``/``v_proj``/``o_proj``); read only, never trained.
        layers: indices of the adapted layers (the paper: the top L).
        num_heads, num_kv_heads, head_dim: attention geometry; rotary: the model's rotary embedding (or None).
        length: K, prompt vectors per layer.
    Trainable parameters: L·K·D (prompts) + L·H (gates).
    """

    configuration = Configuration.LEARNABLE
    operator = (Operator.ADDITIVE, Operator.PARAMETRIC)

    def __init__(
        self,
        blocks: Sequence[nn.Module],
        layers: Sequence[int],
        *,
        num_heads: int,
        num_kv_heads: int,
        head_dim: int,
        dim: int,
        length: int = 10,
        rotary: nn.Module | None = None,
        init_std: float = 0.02,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        layers = tuple(int(i) for i in layers)
        if not layers or len(set(layers)) != len(layers) or min(layers) < 0 or max(layers) >= len(blocks):
            raise ValueError(f"layers: expected distinct indices in 0..{len(blocks) - 1}, got {list(layers)}")
        if length < 1 or num_heads % num_kv_heads:
            raise ValueError(
                f"length/num_heads: expected K ≥ 1 and H divisible by H_kv, got {length}, {num_heads}/{num_kv_heads}"
            )
        for index in layers:
            attention = getattr(blocks[index], "self_attn", None)
            if attention is None or not hasattr(blocks[index], "input_layernorm"):
                raise InterfaceError(
                    f"blocks[{index}]: expected a LLaMA-style decoder layer (input_layernorm, self_attn)"
                )
        object.__setattr__(self, "_blocks", list(blocks))  # f's layers: read, never trained or saved
        object.__setattr__(self, "_rotary", rotary)
        self.layers = layers
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.prompts = nn.Parameter(torch.randn(len(layers), length, dim, generator=generator) * init_std)
        self.gates = nn.Parameter(torch.zeros(len(layers), num_heads))

    def gated_term(self, layer: int, hidden: Tensor) -> Tensor:
        """W_o(tanh(g) ⊙ softmax(Q Kᵀ/√d) V) (B, T, D) for the hidden state entering ``layer``."""
        slot = self.layers.index(layer)
        block = self._blocks[layer]
        attention = block.self_attn
        B, T, _ = hidden.shape
        H, Hkv, d = self.num_heads, self.num_kv_heads, self.head_dim
        norm = block.input_layernorm  # f's weights are read functionally: its modules run only inside f
        variance = hidden.float().pow(2).mean(-1, keepdim=True)
        normed = (hidden.float() * torch.rsqrt(variance + norm.variance_epsilon)).to(hidden.dtype) * norm.weight
        q = _project(attention.q_proj, normed).view(B, T, H, d).transpose(1, 2)  # (B, H, T, d)
        if self._rotary is not None:
            q = _rotate(q, self._rotary)
        prompt = self.prompts[slot].to(hidden.dtype)  # (K, D)
        K = prompt.shape[0]
        k = _project(attention.k_proj, prompt).view(K, Hkv, d).transpose(0, 1).repeat_interleave(H // Hkv, dim=0)
        v = _project(attention.v_proj, prompt).view(K, Hkv, d).transpose(0, 1).repeat_interleave(H // Hkv, dim=0)
        scores = torch.softmax((q @ k.transpose(-1, -2)) / d**0.5, dim=-1)  # (B, H, T, K)
        mixed = (scores @ v) * torch.tanh(self.gates[slot]).to(hidden.dtype).view(1, H, 1, 1)  # (B, H, T, d)
        return _project(attention.o_proj, mixed.transpose(1, 2).reshape(B, T, H * d))

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        if hidden.dim() != 3 or hidden.shape[-1] != self.prompts.shape[-1]:
            raise ShapeError(
                f"hidden: expected (B, T, {self.prompts.shape[-1]}) at layer {layer}, got {tuple(hidden.shape)}"
            )
        return hidden + self.gated_term(layer, hidden)

    def symbolic(self) -> SymbolicForm:
        L, K, D, H = symbols("L K D H")
        g, P = sp.Symbol("g_ell"), sp.Symbol("P_ell")
        expression = x + sp.tanh(g) * _softmax(sp.Symbol("Q") * sp.Symbol("W_k") * P) * sp.Symbol("W_v") * P
        shapes = {L: len(self.layers), K: self.prompts.shape[1], D: self.prompts.shape[2], H: self.num_heads}
        return SymbolicForm(
            expression,
            L * K * D + L * H,
            shapes,
            description="zero-initialised gated adaption prompts at the top layers",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """At each of the n_a adapted layers, every one of the query's L positions gets f's query projection
        (``2·D·H·d``), attention over the K prompt keys (``4·H·d·K``: scores and mixing) and f's output projection
        (``2·H·d·D``); the prompts' keys and values (``2 · 2·K·D·H_kv·d``) are projected once per batch. No position
        is added."""
        n_a, k, dim, heads, kv_heads, head_dim = symbols("n_a K D H H_kv d_h")
        shapes = {
            n_a: len(self.layers),
            k: int(self.prompts.shape[1]),
            dim: int(self.prompts.shape[2]),
            heads: self.num_heads,
            kv_heads: self.num_kv_heads,
            head_dim: self.head_dim,
        }
        per_position = 2 * dim * heads * head_dim + 4 * heads * head_dim * k + 2 * heads * head_dim * dim
        queries = InferenceOverhead(
            flops=n_a * L_QUERY * per_position,
            shapes={**context.shapes, **shapes},
            description="gated attention over the adaption prompts",
        )
        prompts = once_per_batch(n_a * 4 * k * dim * kv_heads * head_dim, shapes, context, "prompt keys and values")
        return queries + prompts
