"""Adapters for a CLIP-like dual encoder whose image tower is a CNN (no image tokens).

The model must provide ``image_encoder`` (stem ``_conv_stem``/``_bn0``, ``_blocks``, head
``_conv_head``/``_bn1``: the EfficientNet layout), ``text_encoder`` (a transformers encoder),
``get_input_embeddings()``, ``image_features(x)``, ``text_features_from_embeddings(embeds, mask)``,
``image_dim`` and ``logit_scale``
(e.g. :class:`reprogrammability.implementations.models.dual_encoder.DualEncoder`).

Interfaces, with the semantics of :class:`~.transformers.CLIPAdapter` (towers ``"vision"``, ``"text"``):

* input: the normalised image (B, 3, H, W); the class prompts are fixed text;
* embedding, ``"text"``: token embeddings (C, T, 384) before positions are added (CoOp's context);
* embedding, ``"vision"``: the stem's output as a (B, H'·W', 32) grid of positions. Edits that keep
  the shape (additive) are allowed; prompts that add tokens (VPT, MaPLe's vision side) are refused,
  since a CNN has no token sequence to extend;
* hidden: ``layers(tower="vision")`` the 16 MBConv blocks, ``layers(tower="text")`` the 6 BERT layers;
* output: ``s · cos(g(x), A h(t_c))`` (B, C); ``image_feature_dim`` is dim g(x) (CoCoOp's meta-net input).

Any CLIP adapter class (CoCoOp's conditional one, the prompt-instruction one) gets the same towers
through :func:`dual_encoder_variant`.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, TypeVar, cast

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InterfaceError
from ..interfaces import EmbeddingState, KeyValuePrefix, ModelAdapter
from .transformers import CLIPAdapter, TextAdapter, logits_from_features

__all__ = [
    "DualEncoderAdapter",
    "DualEncoderTowers",
    "ConvVisionTowerAdapter",
    "EncoderTextTowerAdapter",
    "NO_IMAGE_TOKENS",
    "clip_like_adapter",
    "dual_encoder_variant",
    "is_dual_encoder",
]

NO_IMAGE_TOKENS = (
    "this dual encoder's image tower is a CNN (EfficientNet-Lite0) and has no image tokens: prompts that add "
    "tokens to the vision tower (VPT, MaPLe's vision prompts) need a ViT image tower such as a real CLIP"
)

AdapterT = TypeVar("AdapterT", bound=CLIPAdapter)


def is_dual_encoder(model: nn.Module) -> bool:
    """True for a :class:`~reprogrammability.implementations.models.dual_encoder.DualEncoder` (by class name:
    the framework does not import implementations)."""
    return type(model).__name__ == "DualEncoder"


class DualEncoderLike(Protocol):
    """What the adapters call on the dual encoder (shapes in the module docstring)."""

    logit_scale: Tensor

    @property
    def image_dim(self) -> int: ...
    def get_input_embeddings(self) -> nn.Module: ...
    def image_features(self, images: Tensor) -> Tensor: ...
    def text_features_from_embeddings(self, embeds: Tensor, attention_mask: Tensor | None) -> Tensor: ...


def _dual(model: nn.Module) -> DualEncoderLike:
    return cast(DualEncoderLike, model)


def _module(model: nn.Module, name: str) -> nn.Module:
    module = getattr(model, name)
    if not isinstance(module, nn.Module):
        raise InterfaceError(f"model: {type(model).__name__}.{name} is not a torch module")
    return module


class ConvVisionTowerAdapter(ModelAdapter):
    """The CNN image tower: embedding = stem output as (B, H'·W', C) positions; readout = pooled features."""

    name = "dual-encoder-vision"

    def embed(self, model: nn.Module, x: Tensor) -> EmbeddingState:
        net = _module(model, "image_encoder")
        stem = F.relu6(_module(net, "_bn0")(_module(net, "_conv_stem")(x)))  # (B, C, H', W')
        height, width = stem.shape[-2:]
        return EmbeddingState(embeds=stem.flatten(2).transpose(1, 2), extra={"grid": (height, width)})

    def forward_embedded(
        self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None
    ) -> Tensor:
        if key_values:
            raise InterfaceError(f"key/value prefixes: {NO_IMAGE_TOKENS}")
        height, width = state.extra["grid"]
        batch, positions, channels = state.embeds.shape
        if positions != height * width:
            raise InterfaceError(
                f"vision tower: {positions} positions instead of the stem's {height}×{width}; {NO_IMAGE_TOKENS}"
            )
        net = _module(model, "image_encoder")
        x = state.embeds.transpose(1, 2).reshape(batch, channels, height, width)
        for block in self.layers(model):
            x = block(x)
        return F.relu6(_module(net, "_bn1")(_module(net, "_conv_head")(x))).mean(dim=(2, 3))

    def forward_input(self, model: nn.Module, x: Tensor) -> Tensor:
        features: Tensor = _dual(model).image_features(x)
        return features

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        return list(_module(_module(model, "image_encoder"), "_blocks").children())


class EncoderTextTowerAdapter(ModelAdapter):
    """The text tower: token embeddings (B, T, D) → A·(normalised masked mean of the encoder's states)."""

    name = "dual-encoder-text"

    def __init__(self, tokenizer: Any = None):
        self.tokenizer = tokenizer
        self._text = TextAdapter(tokenizer=tokenizer, readout="output")

    def prepare(self, model: nn.Module, x: Any) -> dict[str, Tensor]:
        prepared: dict[str, Tensor] = self._text.prepare(model, x)
        return prepared

    def embedding_module(self, model: nn.Module) -> nn.Module:
        return _dual(model).get_input_embeddings()

    def embed(self, model: nn.Module, x: dict[str, Tensor]) -> EmbeddingState:
        return EmbeddingState(
            embeds=self.embedding_module(model)(x["input_ids"]),
            attention_mask=x["attention_mask"],
            extra={"input_ids": x["input_ids"], "original_mask": x["attention_mask"]},
        )

    def forward_input(self, model: nn.Module, x: dict[str, Tensor]) -> Tensor:
        return self.forward_embedded(model, self.embed(model, x))

    def forward_embedded(
        self, model: nn.Module, state: EmbeddingState, key_values: KeyValuePrefix | None = None
    ) -> Tensor:
        if key_values:
            raise InterfaceError("dual encoder text tower: key/value prefixes are not supported; use hidden edits")
        features: Tensor = _dual(model).text_features_from_embeddings(state.embeds, state.attention_mask)
        return features

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        encoder = _module(_module(model, "text_encoder"), "encoder")
        return list(_module(encoder, "layer").children())


class DualEncoderTowers:
    """Mixin for a :class:`CLIPAdapter` class: the same semantics on the dual encoder's two towers.

    Put it first in the bases (``class X(DualEncoderTowers, SomeCLIPAdapter)``): it replaces the
    tower adapters after the CLIP adapter's own ``__init__`` and answers the model-structure questions
    (towers, token embeddings, layers, image feature width).
    """

    tokenizer: Any
    vision: Any
    text: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vision = ConvVisionTowerAdapter()
        self.text = EncoderTextTowerAdapter(tokenizer=self.tokenizer)

    def _towers(self, model: nn.Module) -> dict[str, nn.Module]:
        return {"vision": model, "text": model}

    def embedding_module(self, model: nn.Module) -> nn.Module:
        """The text tower's token embeddings (V, 384): where CoOp's context vectors live."""
        return _dual(model).get_input_embeddings()

    def layers(self, model: nn.Module, tower: str | None = None) -> Sequence[nn.Module]:
        if tower not in (None, "vision", "text"):
            raise InterfaceError(f"tower: {tower!r} is not one of ['vision', 'text']")
        tower_adapter = self.text if tower == "text" else self.vision
        layers: Sequence[nn.Module] = tower_adapter.layers(model)
        return layers

    def image_feature_dim(self, model: nn.Module) -> int:
        """dim g(x): the width of the pooled image features (1280 for EfficientNet-Lite0)."""
        return _dual(model).image_dim


class DualEncoderAdapter(DualEncoderTowers, CLIPAdapter):
    """A CNN + text-encoder dual encoder as a classifier of images over fixed class prompts (CLIPAdapter semantics)."""

    name = "dual-encoder"

    def __init__(self, class_prompts: Any, tokenizer: Any = None):
        super().__init__(class_prompts=class_prompts, tokenizer=tokenizer)

    def prepare(self, model: nn.Module, x: Any) -> Any:
        if not isinstance(x, Tensor) or x.dim() != 4:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise InterfaceError(f"x: expected normalised images of shape (B, 3, H, W), got {shape}")
        return x

    def forward_input(self, model: nn.Module, x: Tensor) -> Tensor:
        image = self.vision.forward_input(model, x)
        text = self.text.forward_input(model, self.class_inputs(model))
        return logits_from_features(image, text, _dual(model).logit_scale)


_VARIANTS: dict[type[CLIPAdapter], type[CLIPAdapter]] = {CLIPAdapter: DualEncoderAdapter}


def dual_encoder_variant(cls: type[AdapterT]) -> type[AdapterT]:
    """``cls`` (a :class:`CLIPAdapter` subclass) with the dual encoder's towers: ``(DualEncoderTowers, cls)``."""
    if not (isinstance(cls, type) and issubclass(cls, CLIPAdapter)):
        raise InterfaceError(f"adapter_cls: expected a CLIPAdapter subclass, got {cls!r}")
    if issubclass(cls, DualEncoderTowers):
        return cls
    if cls not in _VARIANTS:
        _VARIANTS[cls] = type(
            f"DualEncoder{cls.__name__}",
            (DualEncoderTowers, cls),
            {"name": f"dual-encoder+{cls.name}", "__module__": __name__, "__doc__": cls.__doc__},
        )
    return cast("type[AdapterT]", _VARIANTS[cls])


def clip_like_adapter(model: nn.Module, adapter_cls: type[AdapterT], *args: Any, **kwargs: Any) -> AdapterT:
    """An ``adapter_cls`` instance for ``model``: itself for a CLIP, its dual-encoder variant for a DualEncoder."""
    cls = dual_encoder_variant(adapter_cls) if is_dual_encoder(model) else adapter_cls
    return cls(*args, **kwargs)
