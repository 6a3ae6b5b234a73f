"""ReprogBERT (Melnyk, Chenthamarakshan, Chen, Das, Dhurandhar, Padhi, Das, "Reprogramming Pretrained Language
Models for Antibody Sequence Infilling", ICML 2023, arXiv:2210.07144).

    e'_i = θ[x_i] E          (amino-acid tokens as linear combinations of English token embeddings, θ: V_t × V_s)
    ŷ = W f(e')_[MASK] + b    (the masked-LM scores at the masked position projected back to V_t)

A frozen English BERT infills a masked residue: input and output vocabulary projections are the only trained
parts; special tokens ([PAD], [CLS], [SEP], [MASK], ...) keep their own embeddings.
"""

from __future__ import annotations

from pydantic import Field

from reprogrammability.framework.alignment import LinearAlignment
from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from ._common import MethodConfig, as_frozen, make_config, random_tokens, seeded_example
from .cross_modal import VocabularyRemap

__all__ = ["ReprogBERTConfig", "build"]


class ReprogBERTConfig(MethodConfig):
    num_classes: int = Field(25, ge=1, description="V_t output tokens (20 amino acids plus specials)")
    target_vocab_size: int = Field(25, ge=1, description="V_t input tokens (≤ V_s)")
    passthrough: tuple[int, ...] = Field((0, 1, 2, 3, 4, 5, 6), description="special-token ids kept as they are")
    seed: int = 0


@seeded_example
def _example():
    from reprogrammability.implementations.models.tiny import tiny_masked_lm, tiny_tokenizer

    model = tiny_masked_lm()
    frozen = as_frozen(model, tokenizer=tiny_tokenizer(), readout="mask")
    reprogrammer = build(frozen, num_classes=25, target_vocab_size=25)
    tokens = random_tokens(8, 10, 25, low=7)
    tokens[:, 0], tokens[:, -1] = 2, 3  # [CLS] ... [SEP]
    targets = tokens[:, 4].clone()
    tokens[:, 4] = 4  # [MASK]
    return reprogrammer, tokens, targets


@register_method(
    "reprogbert",
    "model-reprogramming",
    "λ=learnable τ=parametric ℓ=embedding ω=linear",
    modality="text",
    config=ReprogBERTConfig,
    example=_example,
)
def build(model, config=None, **overrides) -> Reprogrammer:
    """ReprogBERT: input and output vocabulary projections around a frozen masked LM (readout at [MASK])."""
    cfg = make_config(ReprogBERTConfig, config, overrides)
    frozen = as_frozen(model, readout="mask")
    embedding = frozen.model.get_input_embeddings()
    remap = VocabularyRemap(embedding, cfg.target_vocab_size, mode="linear", passthrough=cfg.passthrough, seed=cfg.seed)
    head = LinearAlignment(embedding.num_embeddings, cfg.num_classes)
    return Reprogrammer(
        frozen, remap, head, paradigm="model-reprogramming", modality="text", task_modality="protein", name="reprogbert"
    )
