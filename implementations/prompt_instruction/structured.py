"""Structured prompting (Hao, Sun, Dong, Han, Gu & Wei, "Structured Prompting: Scaling In-Context
Learning to 1,000 Examples", 2022, arXiv 2212.06713).

M groups of demonstrations are encoded *independently*, right-aligned so every group ends at the
same position L (positions ``L − L_g .. L − 1``); their keys and values are concatenated along the
sequence axis and given to the test input as a key/value prefix (fixed, concatenative, hidden).
The test tokens start at position L and attend to all groups with the demonstration attention
*rescaled* by 1/M, ``softmax([q·K_demo/√d + log(1/M); q·K_self/√d])``, realised as an additive
bias over the prefix (through :class:`~.scoring.CausalLMScorer`'s ``prefix_layout``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import sympy as sp
import torch
from torch import Tensor

from reprogrammability.framework.axes import Configuration, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.interfaces import AttentionGeometry
from reprogrammability.framework.manipulation import HiddenManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols

from .scoring import CausalLMScorer, encode_segment

__all__ = ["StructuredPrefix"]


class StructuredPrefix(HiddenManipulation):
    """Demonstration groups as a rescaled key/value prefix; buffers only (computed once from f)."""

    configuration = Configuration.FIXED
    operator = Operator.CONCATENATIVE

    def __init__(self, frozen: Any, groups: Sequence[str], rescale: bool = True):
        super().__init__()
        if not groups:
            raise ValueError("groups: give at least one group of demonstrations")
        scorer: CausalLMScorer = frozen.adapter
        if not isinstance(scorer, CausalLMScorer):
            raise TypeError("frozen: StructuredPrefix needs a FrozenModel with a CausalLMScorer adapter")
        self.num_groups, self.rescale = len(groups), bool(rescale)
        geometry = scorer.attention_geometry(frozen.model)
        self.layers = tuple(range(geometry.num_layers))
        keys, values, bias, length = self._encode(frozen, scorer, list(groups))
        for i, (k, v) in enumerate(zip(keys, values)):
            self.register_buffer(f"key_{i}", k)
            self.register_buffer(f"value_{i}", v)
        self.register_buffer("bias", bias)
        self.length = length
        scorer.prefix_layout = self.layout

    @torch.no_grad()
    def _encode(self, frozen: Any, scorer: CausalLMScorer, groups: list[str]):
        tokenizer, model = scorer.tokenizer, frozen.model
        device = next(model.parameters()).device
        bos = [tokenizer.bos_token_id] if scorer.add_bos else []
        ids = [bos + encode_segment(tokenizer, g) for g in groups]
        if any(not r for r in ids):
            raise ValueError("groups: a group tokenises to nothing")
        length = max(map(len, ids))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        batch = torch.full((len(ids), length), pad, dtype=torch.long, device=device)
        mask = torch.zeros(len(ids), length, dtype=torch.long, device=device)
        positions = torch.zeros(len(ids), length, dtype=torch.long, device=device)
        for g, r in enumerate(ids):  # right-aligned: every group ends at position length - 1
            batch[g, length - len(r) :] = torch.tensor(r, device=device)
            mask[g, length - len(r) :] = 1
            positions[g, length - len(r) :] = torch.arange(length - len(r), length, device=device)
        output = model.base_model(input_ids=batch, attention_mask=mask, position_ids=positions, use_cache=True)
        cache = output.past_key_values
        pairs = [(layer.keys, layer.values) for layer in cache.layers]
        keep = mask[:, None, :, None].to(pairs[0][0].dtype)
        keys, values = [], []
        for k, v in pairs:  # (M, H, L, d) -> (1, H, M·L, d); padded slots zeroed (they are masked out)
            k, v = torch.nan_to_num(k * keep), torch.nan_to_num(v * keep)
            keys.append(k.permute(1, 0, 2, 3).reshape(k.shape[1], -1, k.shape[3])[None].contiguous())
            values.append(v.permute(1, 0, 2, 3).reshape(v.shape[1], -1, v.shape[3])[None].contiguous())
        dtype = keys[0].dtype
        scale = math.log(1.0 / len(ids)) if self.rescale else 0.0
        bias = torch.where(
            mask.flatten() > 0, torch.tensor(scale, dtype=dtype), torch.tensor(torch.finfo(dtype).min, dtype=dtype)
        )
        return keys, values, bias.to(device), length

    def layout(self) -> tuple[Tensor, int]:
        """(bias over the prefix (M·L,), first position of the test tokens)."""
        return self.bias, self.length

    def key_value_prefix(self, batch_size: int, geometry: AttentionGeometry):
        return [
            (
                getattr(self, f"key_{i}").expand(batch_size, -1, -1, -1),
                getattr(self, f"value_{i}").expand(batch_size, -1, -1, -1),
            )
            for i in range(len(self.layers))
        ]

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The M encoded demonstration groups of L_p positions each are M·L_p more keys in every layer (encoded
        once, outside the query)."""
        groups, length = symbols("M L_p")
        shapes = {groups: self.num_groups, length: self.length}
        return context.extra_keys(groups * length, shapes, "structured demonstration keys")

    def symbolic(self) -> SymbolicForm:
        groups = [sp.Symbol(f"KV(G_{i + 1})") for i in range(min(self.num_groups, 2))]
        if self.num_groups > 2:
            groups.append(sp.Symbol(f"KV(G_{self.num_groups})"))
        return SymbolicForm(
            expression=concat(*groups, sp.Symbol("h")),
            description=f"{self.num_groups} independently encoded groups, attention rescaled by 1/M (no parameters)",
        )
