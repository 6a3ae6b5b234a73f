"""PPT: pre-trained prompt tuning (Gu, Han, Liu, Huang, "PPT: Pre-trained Prompt Tuning for Few-shot
Learning", ACL 2022, arXiv 2109.04332).

    P₀ = argmin_P  L_self-supervised(v(f([P; E(pair)])))      then      ŷ = v(f([P; E(x)])),  P ← P₀

Soft prompts are first pre-trained on a self-supervised task cast in the same format as the
downstream task, then used to initialise prompt tuning. :func:`sentence_pair_task` builds PPT's
sentence-pair task from unlabelled sentences (label ``yes`` when the second sentence follows the
first, ``no`` for a random sentence; the paper's third, "same document", class needs documents and
is left out); :func:`pretrain_prompt` learns P₀ on it.
"""

from __future__ import annotations

import random
from typing import Any, Optional, Sequence

import torch
from pydantic import Field
from torch import Tensor

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import resolve_config
from .text import SoftPromptFields, VerbalizerFields
from .transferred_prompt import transfer_example, transferred_prompt_tuning

__all__ = ["PPTConfig", "build", "sentence_pair_task", "pretrain_prompt"]


class PPTConfig(SoftPromptFields, VerbalizerFields):
    """The pre-trained prompt (a file/folder; or pass ``pretrained_prompt=`` a tensor to ``build``)."""

    pretrained: Optional[str] = Field(
        None, description="file or folder holding the pre-trained prompt (see transferred_prompt.load_prompt)"
    )


def sentence_pair_task(
    sentences: Sequence[str], template: str = "{first} ? {second}", seed: int = 0
) -> tuple[list[str], Tensor]:
    """Texts and labels of the next-sentence task: for each consecutive pair, the true next sentence
    (label 1) and a random other sentence (label 0), formatted with ``template``."""
    if len(sentences) < 3:
        raise ValueError(f"sentences: need at least 3 sentences in order, got {len(sentences)}")
    if "{first}" not in template or "{second}" not in template:
        raise ValueError(f"template: expected '{{first}}' and '{{second}}' placeholders, got {template!r}")
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(len(sentences) - 1):
        texts.append(template.format(first=sentences[i], second=sentences[i + 1]))
        labels.append(1)
        j = rng.choice([k for k in range(len(sentences)) if k not in (i, i + 1)])
        texts.append(template.format(first=sentences[i], second=sentences[j]))
        labels.append(0)
    return texts, torch.tensor(labels)


def pretrain_prompt(
    model: Any,
    sentences: Sequence[str],
    *,
    tokenizer: Any = None,
    label_words: Sequence[str] = ("no", "yes"),
    template: str = "{first} ? {second}",
    steps: int = 50,
    batch_size: int = 16,
    learning_rate: float = 0.3,
    seed: int = 0,
    **prompt_options: Any,
) -> Tensor:
    """P₀ (L_p, D): prompt tuning on :func:`sentence_pair_task` for ``steps`` steps (Adam)."""
    from reprogrammability.framework.training import Trainer

    from .prompt_tuning import build as prompt_tuning

    texts, labels = sentence_pair_task(sentences, template, seed)
    reprogrammer = prompt_tuning(model, tokenizer=tokenizer, label_words=list(label_words), seed=seed, **prompt_options)
    Trainer(
        reprogrammer,
        epochs=max(1, -(-steps * batch_size // len(texts))),
        max_steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        progress=False,
        device="cpu",
    ).fit((texts, labels))
    return reprogrammer.inputs[0].prompt.detach().clone()


def _example():
    return transfer_example(build, "pretrained_prompt", seed=2)


@register_method(
    "ppt",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
    modality="text",
    config=PPTConfig,
    example=_example,
)
def build(
    model: Any,
    config: PPTConfig | dict | None = None,
    *,
    tokenizer: Any = None,
    pretrained_prompt: Tensor | None = None,
    **overrides: Any,
) -> Reprogrammer:
    """PPT: prompt tuning initialised from a prompt pre-trained on a self-supervised task."""
    config = resolve_config(PPTConfig, config, overrides)
    return transferred_prompt_tuning(
        model,
        config,
        tokenizer,
        pretrained_prompt,
        config.pretrained,
        names=("pretrained", "pretrained_prompt"),
        name="ppt",
    )
