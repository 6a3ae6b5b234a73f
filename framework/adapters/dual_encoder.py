"""Adapter for a CLIP-like dual encoder whose image tower is a CNN (no image tokens).

The model must provide ``image_encoder`` (stem ``_conv_stem``/``_bn0``, ``_blocks``, head
``_conv_head``/``_bn1``: the EfficientNet layout), ``text_encoder`` (a transformers encoder),
``get_input_embeddings()``, ``text_features_from_embeddings(embeds, mask)`` and ``logit_scale``
(e.g. :class:`reprogrammability.implementations.models.dual_encoder.DualEncoder`).

Interfaces, with the semantics of :class:`~.transformers.CLIPAdapter` (towers ``"vision"``, ``"text"``):

* input: the normalised image (B, 3, H, W); the class prompts are fixed text;
* embedding, ``"text"``: token embeddings (C, T, 384) before positions are added (CoOp's context);
* embedding, ``"vision"``: the stem's output as a (B, H'·W', 32) grid of positions. Edits that keep
  the shape (additive) are allowed; prompts that add tokens (VPT, MaPLe's vision side) are refused,
  since a CNN has no token sequence to extend;
* hidden: ``layers(tower="vision")`` the 16 MBConv blocks, ``layers(tower="text")`` the 6 BERT layers;
* output: ``s · cos(g(x), A h(t_c))`` (B, C).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InterfaceError
from ..interfaces import EmbeddingState, KeyValuePrefix, ModelAdapter
from .transformers import CLIPAdapter, TextAdapter

__all__ = ["DualEncoderAdapter", "ConvVisionTowerAdapter", "EncoderTextTowerAdapter"]

NO_IMAGE_TOKENS = (
    "this dual encoder's image tower is a CNN (EfficientNet-Lite0) and has no image tokens: prompts that add "
    "tokens to the vision tower (VPT, MaPLe's vision prompts) need a ViT image tower such as a real CLIP"
)


class ConvVisionTowerAdapter(ModelAdapter):
    """The CNN image tower: embedding = stem output as (B, H'·W', C) positions; readout = pooled features."""

    name = "dual-encoder-vision"

    def embed(self, model: nn.Module, x: Tensor) -> EmbeddingState:
        net = model.image_encoder
        stem = F.relu6(net._bn0(net._conv_stem(x)))  # (B, C, H', W')
        B, C, H, W = stem.shape
        return EmbeddingState(embeds=stem.flatten(2).transpose(1, 2), extra={"grid": (H, W)})

    def forward_embedded(self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None):
        if key_values:
            raise InterfaceError(f"key/value prefixes: {NO_IMAGE_TOKENS}")
        H, W = state.extra["grid"]
        B, T, C = state.embeds.shape
        if T != H * W:
            raise InterfaceError(f"vision tower: {T} positions instead of the stem's {H}×{W}; {NO_IMAGE_TOKENS}")
        net = model.image_encoder
        x = state.embeds.transpose(1, 2).reshape(B, C, H, W)
        for block in net._blocks:
            x = block(x)
        return F.relu6(net._bn1(net._conv_head(x))).mean(dim=(2, 3))

    def forward_input(self, model: nn.Module, x: Tensor) -> Tensor:
        return model.image_features(x)

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        return list(model.image_encoder._blocks)


class EncoderTextTowerAdapter(ModelAdapter):
    """The text tower: token embeddings (B, T, D) → A·(normalised masked mean of the encoder's states)."""

    name = "dual-encoder-text"

    def __init__(self, tokenizer: Any = None):
        self.tokenizer = tokenizer
        self._text = TextAdapter(tokenizer=tokenizer, readout="output")

    def prepare(self, model: nn.Module, x: Any) -> dict[str, Tensor]:
        return self._text.prepare(model, x)

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return model.get_input_embeddings()

    def embed(self, model: nn.Module, x: dict[str, Tensor]) -> EmbeddingState:
        return EmbeddingState(
            embeds=model.get_input_embeddings()(x["input_ids"]),
            attention_mask=x["attention_mask"],
            extra={"input_ids": x["input_ids"], "original_mask": x["attention_mask"]},
        )

    def forward_input(self, model: nn.Module, x: dict[str, Tensor]) -> Tensor:
        return self.forward_embedded(model, self.embed(model, x))

    def forward_embedded(self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None):
        if key_values:
            raise InterfaceError("dual encoder text tower: key/value prefixes are not supported; use hidden edits")
        return model.text_features_from_embeddings(state.embeds, state.attention_mask)

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        return list(model.text_encoder.encoder.layer)


class DualEncoderAdapter(CLIPAdapter):
    """A CNN + text-encoder dual encoder as a classifier of images over fixed class prompts (CLIPAdapter semantics)."""

    name = "dual-encoder"

    def __init__(self, class_prompts: Any, tokenizer: Any = None):
        self.tokenizer = tokenizer
        self.vision = ConvVisionTowerAdapter()
        self.text = EncoderTextTowerAdapter(tokenizer=tokenizer)
        self.class_prompts = class_prompts

    def _towers(self, model: nn.Module) -> dict[str, nn.Module]:
        return {"vision": model, "text": model}

    def prepare(self, model: nn.Module, x: Any) -> Any:
        if not isinstance(x, Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InterfaceError(f"x: expected normalised images of shape (B, 3, H, W), got {shape}")
        return x

    def forward_input(self, model: nn.Module, x: Tensor) -> Tensor:
        from .transformers import logits_from_features

        image = self.vision.forward_input(model, x)
        text = self.text.forward_input(model, self.class_inputs(model))
        return logits_from_features(image, text, model.logit_scale)

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return model.get_input_embeddings()

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        if tower not in (None, "vision", "text"):
            raise InterfaceError(f"tower: {tower!r} is not one of ['vision', 'text']")
        return self.text.layers(model) if tower == "text" else self.vision.layers(model)
