"""Shared pieces of the hidden-state methods (activation addition, task and function vectors)."""

from __future__ import annotations

import random
from typing import Any, Optional

from pydantic import Field
from torch import nn

from reprogrammability.framework.alignment import IdentityAlignment
from reprogrammability.framework.axes import Modality, Paradigm
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.reprogrammer import Reprogrammer

from .common import TINY_SENTIMENT, PromptConfig, tiny_lm, unwrap
from .scoring import CausalLMScorer, encode_segment
from .selection import Pool
from .templates import PromptBatch, Template

__all__ = [
    "SteeringConfig",
    "DemonstrationConfig",
    "steering_frozen",
    "steering_setup",
    "build_hidden_method",
    "demonstration_prompts",
]


class SteeringConfig(PromptConfig):
    """The frozen LM is read at the last query token; ``label_words`` restrict the output to their first tokens."""

    tokenizer: Any = None
    layer: Optional[int] = None
    """Block whose input is edited; default: a third of the depth."""
    label_words: list[str] = Field(default_factory=list)
    output_template: str = " {label}"


class DemonstrationConfig(SteeringConfig):
    """Demonstrations ``pool`` = (inputs, labels) written as ``input_template`` + ``output_template``."""

    pool: Any = None
    k: int = Field(4, ge=1)
    num_prompts: int = Field(8, ge=1)
    input_template: str = "{text} ->"
    separator: str = "\n"
    seed: int = 0


def steering_frozen(model: nn.Module, tokenizer: Any) -> tuple[FrozenModel, CausalLMScorer]:
    raw, tokenizer = unwrap(model, tokenizer)
    scorer = CausalLMScorer(tokenizer, candidates=None)
    return FrozenModel(raw, adapter=scorer), scorer


def default_layer(frozen: FrozenModel, layer: Optional[int]) -> int:
    count = len(frozen.adapter.layers(frozen.model))
    chosen = count // 3 if layer is None else layer
    if not 0 <= chosen < count:
        raise ValueError(f"layer: {chosen} is outside 0..{count - 1}")
    return chosen


def steering_setup(model: nn.Module, config: SteeringConfig) -> tuple[FrozenModel, CausalLMScorer, int]:
    """The frozen LM (scored at the last token), its scorer, and the layer ℓ the edit acts at (default: depth // 3)."""
    frozen, scorer = steering_frozen(model, config.tokenizer)
    return frozen, scorer, default_layer(frozen, config.layer)


def build_hidden_method(
    frozen: FrozenModel, config: SteeringConfig, manipulation: InputManipulation, name: str
) -> Reprogrammer:
    """``ŷ = z`` (next-token logits at the last query token), restricted to the label words' first tokens if given."""
    indices = None
    if config.label_words:
        tokenizer = frozen.adapter.tokenizer
        indices = [encode_segment(tokenizer, config.output_template.format(label=w))[0] for w in config.label_words]
    return Reprogrammer(
        frozen,
        input=manipulation,
        output=IdentityAlignment(indices),
        paradigm=Paradigm.PROMPT_INSTRUCTION,
        modality=Modality.TEXT,
        name=name,
    )


def demonstration_prompts(config: DemonstrationConfig, corrupt: bool = False) -> tuple[PromptBatch, list[int]]:
    """``num_prompts`` prompts of k random demonstrations + one held-out query each; the query labels.

    ``corrupt`` shuffles the demonstrations' labels (the corrupted prompts of Todd et al.).
    """
    if config.pool is None:
        raise ValueError("pool: give demonstrations (inputs, labels)")
    pool = config.pool if isinstance(config.pool, Pool) else Pool(*config.pool)
    if len(pool) < config.k + 1:
        raise ValueError(f"pool: needs more than k={config.k} examples, has {len(pool)}")
    if not config.label_words or max(pool.labels) >= len(config.label_words):
        raise ValueError("label_words: give one label word per class of the pool")
    template = Template(input=config.input_template, output=config.output_template, separator=config.separator)
    rng = random.Random(config.seed)
    prefixes, queries, answers = [], [], []
    for _ in range(config.num_prompts):
        chosen = rng.sample(range(len(pool)), config.k + 1)
        demos, query = chosen[:-1], chosen[-1]
        labels = [pool.labels[i] for i in demos]
        if corrupt:
            labels = labels[1:] + labels[:1] if len(set(labels)) > 1 else labels
            rng.shuffle(labels)
        prefixes.append(
            template.prefix(
                [template.demonstration(pool.texts[i], config.label_words[y]) for i, y in zip(demos, labels)]
            )
        )
        queries.append(template.format_input(pool.texts[query]))
        answers.append(pool.labels[query])
    return PromptBatch(prefixes, queries), answers


def demonstration_example(build: Any, **options: Any) -> tuple[Reprogrammer, list[str], Any]:
    """The registry example of a method built from demonstrations: ``build`` on the tiny llama with the tiny
    sentiment train set as pool, k=3, layer 1 and ``options``; queries are test texts written ``"{text} :"``."""
    import torch

    model, tokenizer = tiny_lm("llama")
    texts, labels = zip(*TINY_SENTIMENT["train"])
    reprogrammer = build(
        model,
        tokenizer=tokenizer,
        pool=(texts, labels),
        label_words=["negative", "positive"],
        k=3,
        input_template="{text} :",
        layer=1,
        **options,
    )
    test, test_labels = zip(*TINY_SENTIMENT["test"])
    return reprogrammer, [f"{t} :" for t in test], torch.tensor(test_labels)
