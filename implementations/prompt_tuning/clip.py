"""Prompt learning for CLIP-like models: CoOp, CoCoOp, KgCoOp parts.

CoOp (Zhou et al., "Learning to Prompt for Vision-Language Models", IJCV 2022, arXiv 2109.01134):
the class-c text prompt is ``t_c = [SOS][V]_1 … [V]_M [CLASS_c]. [EOT]`` with M learned context
vectors, shared by all classes (unified) or one set per class (class-specific, CSC); the class
token may also sit in the middle or at the front. Prediction:
``p(y=c|x) ∝ exp(cos(g(x), h(t_c)) / τ)``.

CoCoOp (Zhou et al., "Conditional Prompt Learning for Vision-Language Models", CVPR 2022, arXiv
2203.05557): each context vector is shifted by an image-conditioned token,
``v_m(x) = v_m + π(x)``, ``π = meta-net(g(x))`` (Linear–ReLU–Linear, hidden D_img/16), so every
image has its own class prompts.

KgCoOp (Yao et al., "Visual-Language Prompt Tuning with Knowledge-guided Context Optimization",
CVPR 2023, arXiv 2303.13283): CoOp plus ``λ · (1/C) Σ_c ||ŵ_c − ŵ_c^clip||²`` between the learned
and the hand-crafted prompts' normalised text features.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import CLIPAdapter, logits_from_features
from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import BATCH, L_QUERY, ROWS, InferenceOverhead, OverheadContext, sequence_flops
from reprogrammability.framework.errors import InterfaceError, ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, symbols

from .soft_prompt import SoftPrompt, resolve_position

__all__ = [
    "ContextPrompt",
    "ImageConditionedContext",
    "ConditionalCLIPAdapter",
    "class_text_features",
    "image_feature_dim",
    "zero_shot_text_features",
    "KnowledgeGuidedLoss",
    "CLASS_TOKEN_POSITIONS",
]

CLASS_TOKEN_POSITIONS = ("end", "middle", "front")
_pi = op("pi", r"\pi_{\phi}")


class ContextPrompt(SoftPrompt):
    """CoOp's context ``[SOS][V]_1…[V]_M [CLASS]. [EOT]`` on the text tower's token embeddings.

    The class prompts fed to the model are ``"{class name}."``; the context (M, D) or, class-specific,
    (C, M, D) is inserted after the start token. ``class_token_position`` ``"middle"`` or ``"front"``
    moves each class name's ``name_lengths[c]`` tokens to the middle of the context or before it.
    (``token_positions`` stays exact for the start token and for everything after the class name,
    which includes the end-of-text token the readout uses.)
    """

    def __init__(
        self,
        init: Tensor,
        class_token_position: Literal["end", "middle", "front"] = "end",
        name_lengths: Sequence[int] | None = None,
        position: int = 1,
        tower: str | None = "text",
    ):
        super().__init__(init, position=position, tower=tower, name="V")
        if class_token_position not in CLASS_TOKEN_POSITIONS:
            raise ValueError(
                f"class_token_position: {class_token_position!r} is not one of {list(CLASS_TOKEN_POSITIONS)}"
            )
        if class_token_position != "end" and name_lengths is None:
            raise ValueError(f"name_lengths: required for class_token_position={class_token_position!r}")
        self.class_token_position = class_token_position
        lengths = torch.as_tensor(list(name_lengths) if name_lengths is not None else [], dtype=torch.long)
        self.register_buffer("name_lengths", lengths, persistent=False)

    def _order(self, rows: int, length: int, start: int, device: torch.device) -> Tensor:
        """Per-row gather index (C, T') that moves the class-name tokens into place."""
        if self.name_lengths.numel() != rows:
            raise ShapeError(f"name_lengths: {self.name_lengths.numel()} class names for {rows} class prompts")
        M = self.length
        index = torch.arange(length, device=device).repeat(rows, 1)
        for c, n in enumerate(self.name_lengths.tolist()):
            ctx = list(range(start, start + M))
            name = list(range(start + M, start + M + n))
            if self.class_token_position == "front":
                order = name + ctx
            else:
                half = M // 2
                order = ctx[:half] + name + ctx[half:]
            index[c, start : start + M + n] = torch.tensor(order, device=device)
        return index

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        start = resolve_position(self.position, state.length)
        inserted = super().forward(state)
        if self.class_token_position == "end":
            return inserted
        index = self._order(inserted.batch_size, inserted.length, start, inserted.embeds.device)
        embeds = inserted.embeds.gather(1, index.unsqueeze(-1).expand(-1, -1, inserted.embeds.shape[-1]))
        mask = None if inserted.attention_mask is None else inserted.attention_mask.gather(1, index)
        return replace(inserted, embeds=embeds, attention_mask=mask)

    def symbolic(self) -> SymbolicForm:
        form = super().symbolic()
        V, cls = sp.Symbol("V_{1..M}"), sp.Symbol("CLASS")
        sos, eot = sp.Symbol("SOS"), sp.Symbol("EOT")
        order = {"end": (V, cls), "front": (cls, V), "middle": (sp.Symbol("V_{1..M/2}"), cls, sp.Symbol("V_{M/2..M}"))}
        return SymbolicForm(
            concat(sos, *order[self.class_token_position], eot),
            form.parameter_count,
            form.shapes,
            description=f"CoOp context, class token at the {self.class_token_position}",
        )


class ImageConditionedContext(InputManipulation):
    """CoCoOp's ``v_m(x) = v_m + π(x)``: every class prompt, once per image, with the context shifted by π(x).

    Acts after a :class:`ContextPrompt` on the text tower of a :class:`ConditionalCLIPAdapter`, whose
    text state carries the (normalised) image features g(x) (B, D_img). The (C, T, D) class prompts
    become (B·C, T, D), row ``b·C + c`` for image b and class c. The meta-network π
    (D_img → D_img/r → D) is this part's only parameters: D_img·h + h + h·D + D with h = D_img/r.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC
    location = Location.EMBEDDING

    def __init__(self, context: ContextPrompt, image_dim: int, reduction: int = 16, tower: str = "text"):
        super().__init__()
        object.__setattr__(self, "context", context)  # the context vectors are the ContextPrompt's parameters
        hidden = max(1, image_dim // reduction)
        self.meta_net = nn.Sequential(nn.Linear(image_dim, hidden), nn.ReLU(), nn.Linear(hidden, context.dim))
        self.tower = tower

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        image = state.extra.get("image_features")
        if image is None:
            raise InterfaceError(
                "ImageConditionedContext: the text state carries no image features; use ConditionalCLIPAdapter"
            )
        shift = self.meta_net(image.to(self.meta_net[0].weight.dtype)).to(state.embeds.dtype)  # (B, D)
        B = shift.shape[0]
        C, T, D = state.embeds.shape
        start = resolve_position(self.context.position, state.length - self.context.length)
        stop = start + self.context.length
        embeds = state.embeds.unsqueeze(0).expand(B, -1, -1, -1)
        middle = embeds[:, :, start:stop] + shift[:, None, None, :]
        embeds = torch.cat([embeds[:, :, :start], middle, embeds[:, :, stop:]], dim=2).reshape(B * C, T, D)
        mask = None if state.attention_mask is None else state.attention_mask.repeat(B, 1)
        extra = dict(state.extra)
        for key in ("input_ids", "original_mask"):
            if key in extra:
                extra[key] = extra[key].repeat(B, 1)
        extra["images"] = B
        return replace(state, embeds=embeds, attention_mask=mask, extra=extra)

    def symbolic(self) -> SymbolicForm:
        Di, h, D = symbols("D_img h D")
        shapes = {Di: self.meta_net[0].in_features, h: self.meta_net[0].out_features, D: self.meta_net[2].out_features}
        return SymbolicForm(
            concat(sp.Symbol("SOS"), sp.Symbol("V") + _pi(sp.Symbol("g(x)")), sp.Symbol("CLASS"), sp.Symbol("EOT")),
            Di * h + h + h * D + D,
            shapes,
            description="CoCoOp meta-network: image-conditioned context shift",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The text tower encodes the C prompted class prompts once per image instead of once per batch: per image,
        ``(B − 1)·R`` more rows (R = C/B, the tower's rows per image in bare f) of ``ℓ + L_p`` positions (ℓ = L/R, the
        class prompt; L_p the context), each through every layer and the text projection (``2·D·D_img``); the
        meta-network π runs once per image: ``2·(D_img·h + h·D)``. (The image-text scores cost the same: 2·C·D_img.)"""
        d_img, h, dim, length = symbols("D_img h D L_p")
        shapes = {
            d_img: self.meta_net[0].in_features,
            h: self.meta_net[0].out_features,
            dim: self.meta_net[2].out_features,
            length: self.context.length,
            BATCH: context.batch_size,
        }
        rows = (BATCH - 1) * ROWS
        row = L_QUERY / ROWS + length
        per_row = sequence_flops(row) + 2 * dim * d_img
        return InferenceOverhead(
            tokens=rows * row,
            flops=rows * per_row + 2 * (d_img * h + h * dim),
            shapes={**context.shapes, **shapes},
            description="class prompts encoded per image; meta-network",
        )


class ConditionalCLIPAdapter(CLIPAdapter):
    """A :class:`CLIPAdapter` whose class prompts may depend on the image (CoCoOp).

    ``embed`` also runs the frozen image tower once and hands the normalised image features to the
    text state (``extra["image_features"]``). When the text state has B·C rows (one set of class
    prompts per image), the logits are ``s · cos(g(x_b), h(t_{b,c}))``; with C rows, as in CLIPAdapter.
    """

    name = "transformers-clip-conditional"

    def embed(self, model: nn.Module, x: Tensor) -> dict[str, EmbeddingState]:
        states = super().embed(model, x)
        vision = states["vision"]
        image = self.vision.forward_embedded(self._towers(model)["vision"], vision)
        states["vision"] = replace(vision, extra={**vision.extra, "features": image, "features_of": vision.embeds})
        text = states["text"]
        normalised = image / image.norm(dim=-1, keepdim=True)
        states["text"] = replace(text, extra={**text.extra, "image_features": normalised})
        return states

    def forward_embedded(self, model: nn.Module, states: dict[str, EmbeddingState], key_values=None) -> Tensor:
        if key_values:
            raise InterfaceError("ConditionalCLIPAdapter: key/value prefixes are not supported; use hidden edits")
        towers = self._towers(model)
        vision = states["vision"]
        if vision.extra.get("features_of") is vision.embeds:
            image = vision.extra["features"]
        else:  # a manipulation changed the image tokens: run the image tower on them
            image = self.vision.forward_embedded(towers["vision"], vision)
        text = self.text.forward_embedded(towers["text"], states["text"])
        classes = len(self.class_prompts)
        if text.shape[0] == classes:
            return logits_from_features(image, text, model.logit_scale)
        if text.shape[0] != image.shape[0] * classes:
            raise ShapeError(f"text: {text.shape[0]} prompts are neither {classes} nor {image.shape[0]}×{classes}")
        image = image / image.norm(dim=-1, keepdim=True)
        text = text / text.norm(dim=-1, keepdim=True)
        text = text.view(image.shape[0], classes, -1)
        return model.logit_scale.exp() * torch.einsum("bd,bcd->bc", image, text)


def image_feature_dim(frozen: Any) -> int:
    """dim g(x) of a frozen CLIP-like model: CLIP's projection width, or the adapter's answer (dual encoder)."""
    adapter, model = frozen.adapter, frozen.model
    if hasattr(adapter, "image_feature_dim"):
        return int(adapter.image_feature_dim(model))
    return int(model.visual_projection.out_features)


def _text_tower_manipulations(reprogrammer: Any) -> list[InputManipulation]:
    parts = []
    for m in reprogrammer.inputs:
        if m.tower != "text":
            continue
        if m.location is not Location.EMBEDDING or isinstance(m, ImageConditionedContext):
            raise InterfaceError(
                f"{type(m).__name__}: class text features are only defined for image-independent "
                "embedding prompts on the text tower"
            )
        parts.append(m)
    return parts


def class_text_features(reprogrammer: Any) -> Tensor:
    """h(t_c) (C, D) of a CLIP reprogrammer's current class prompts (its text-tower embedding prompts applied)."""
    frozen = reprogrammer.frozen
    adapter = frozen.adapter
    if not isinstance(adapter, CLIPAdapter):
        raise InterfaceError(f"reprogrammer: expected a CLIP model, got adapter {type(adapter).__name__}")
    tower = adapter._towers(frozen.model)["text"]
    state = adapter.text.embed(tower, adapter.class_inputs(frozen.model))
    for manipulation in _text_tower_manipulations(reprogrammer):
        state = manipulation(state)
    return adapter.text.forward_embedded(tower, state)


@torch.no_grad()
def zero_shot_text_features(frozen: Any, prompts: Sequence[str]) -> Tensor:
    """h(t) (C, D) of fixed text prompts through a frozen CLIP's text tower."""
    adapter = frozen.adapter
    tower = adapter._towers(frozen.model)["text"]
    inputs = adapter.text.prepare(tower, list(prompts))
    return adapter.text.forward_embedded(tower, adapter.text.embed(tower, inputs))


class KnowledgeGuidedLoss:
    """KgCoOp's objective ``CE(ŷ, y) + λ · (1/C) Σ_c ||ŵ_c − ŵ_c^clip||²`` (ŵ: L2-normalised text features).

    ŵ^clip are the features of the hand-crafted prompts (``template.format(name)``), computed once;
    ŵ those of the reprogrammer's current context. Use as ``Trainer(..., loss_fn=KnowledgeGuidedLoss(rp, ...))``.
    """

    def __init__(
        self, reprogrammer: Any, class_names: Sequence[str], template: str = "a photo of a {}.", weight: float = 8.0
    ):
        if weight < 0:
            raise ValueError(f"weight: expected λ ≥ 0, got {weight}")
        if "{}" not in template:
            raise ValueError(f"template: expected a '{{}}' placeholder for the class name, got {template!r}")
        self.reprogrammer, self.weight = reprogrammer, float(weight)
        clip = zero_shot_text_features(reprogrammer.frozen, [template.format(name) for name in class_names])
        self.reference = F.normalize(clip.float(), dim=-1)

    def distance(self) -> Tensor:
        """(1/C) Σ_c ||ŵ_c − ŵ_c^clip||²."""
        current = F.normalize(class_text_features(self.reprogrammer).float(), dim=-1)
        return ((current - self.reference.to(current.device)) ** 2).sum(-1).mean()

    def __call__(self, logits: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(logits, targets) + self.weight * self.distance()
