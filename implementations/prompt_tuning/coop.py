"""CoOp: context optimisation (Zhou, Yang, Loy, Liu, "Learning to Prompt for Vision-Language Models",
IJCV 2022, arXiv 2109.01134).

    p(y = c | x) = exp(s · cos(g(x), h([SOS][V]_1 … [V]_M [CLASS_c]. [EOT]))) / Σ_c' …

M context vectors on the token embeddings of CLIP's text tower, learned with the image and text
towers frozen; the prediction is CLIP's own similarity logits (identity ω). Unified context (M, D)
or class-specific context (C, M, D); class token at the end, in the middle or at the front.
Initialised from a phrase ("a photo of a": M = its token count, which reproduces the zero-shot
prompt "a photo of a {class}." exactly) or from N(0, 0.02²).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

import torch
from pydantic import Field

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .clip import ContextPrompt
from .common import MethodConfig, clip_frozen, embed_tokens, find_tokenizer, input_embeddings, resolve_config, token_ids

__all__ = ["ContextConfig", "CoOpConfig", "build", "context_setup", "tiny_clip_example"]


class ContextConfig(MethodConfig):
    """The learned context of CoOp and its successors: class names, context length M and initialisation, seed."""

    class_names: list[str] = Field(..., min_length=1)
    context_length: Optional[int] = Field(None, ge=1, description="M; default: the init phrase's tokens, else 16")
    context_init: Optional[str] = Field(None, description="phrase whose token embeddings start the context")
    init_std: float = Field(0.02, gt=0, description="std of the random context when there is no init phrase")
    seed: int = 0


class CoOpConfig(ContextConfig):
    """Class names, context length/initialisation, class-specific context, class-token position."""

    class_specific: bool = Field(False, description="one context per class (CSC)")
    class_token_position: Literal["end", "middle", "front"] = "end"


def context_setup(
    model: Any,
    tokenizer: Any,
    config: ContextConfig,
    *,
    class_specific: bool = False,
    adapter_cls: Any = None,
) -> tuple[FrozenModel, torch.Tensor, list[int], Any]:
    """The frozen CLIP over class prompts ``"{rest} {name}."``, the initial context and each name's token count.

    With an init phrase of n tokens and M < n, the first M tokens become the context and the rest
    stays fixed text in every class prompt (MaPLe's "a photo" + "of a {class}.").
    """
    class_names, context_init, context_length = config.class_names, config.context_init, config.context_length
    init_std, seed = config.init_std, config.seed
    raw = model.model if isinstance(model, FrozenModel) else model
    tokenizer = find_tokenizer(model, tokenizer, needed_for="CLIP class prompts")
    embedding = input_embeddings(raw)
    rest = ""
    if context_init is not None:
        ids = token_ids(tokenizer, context_init)
        M = context_length or len(ids)
        if M > len(ids):
            raise ValueError(f"context_length: {M} exceeds the {len(ids)} tokens of context_init {context_init!r}")
        init = embed_tokens(embedding, ids[:M])
        rest = tokenizer.decode(ids[M:]).strip() if M < len(ids) else ""
        if class_specific:
            init = init.unsqueeze(0).repeat(len(class_names), 1, 1)
    else:
        M = context_length or 16
        D = embedding.weight.shape[1]
        generator = torch.Generator().manual_seed(seed)
        shape = (len(class_names), M, D) if class_specific else (M, D)
        init = torch.randn(*shape, generator=generator) * init_std
    prompts = [f"{rest} {name}.".strip() for name in class_names]
    frozen = clip_frozen(model, prompts, tokenizer=tokenizer, adapter_cls=adapter_cls)
    name_lengths = [len(token_ids(tokenizer, name)) for name in class_names]
    return frozen, init, name_lengths, tokenizer


def tiny_clip_example() -> tuple[Any, Any, list[str], torch.Tensor, torch.Tensor]:
    """A tiny random CLIP, its tokenizer, three class names, four 32×32 images and labels."""
    from reprogrammability.implementations.models.tiny import tiny_clip, tiny_tokenizer

    generator = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 32, 32, generator=generator)
    return tiny_clip(), tiny_tokenizer(style="clip"), ["cat", "dog", "bird"], images, torch.tensor([0, 1, 2, 0])


def _example():
    model, tokenizer, names, images, labels = tiny_clip_example()
    reprogrammer = build(model, tokenizer=tokenizer, class_names=names, context_init="a photo of a")
    return reprogrammer, images, labels


@register_method(
    "coop",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=identity",
    modality="vision-language",
    config=CoOpConfig,
    example=_example,
)
def build(
    model: Any, config: CoOpConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """CoOp: learned context vectors before (or around) each class name in CLIP's text prompts."""
    config = resolve_config(CoOpConfig, config, overrides)
    frozen, init, name_lengths, tokenizer = context_setup(
        model, tokenizer, config, class_specific=config.class_specific
    )
    context = ContextPrompt(init, config.class_token_position, name_lengths)
    return Reprogrammer(
        frozen, context, IdentityAlignment(), paradigm="prompt-tuning", modality="vision-language", name="coop"
    )
