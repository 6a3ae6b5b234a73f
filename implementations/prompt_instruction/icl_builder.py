"""Builds label-word prompting reprogrammers: ``ŷ = O(f_LM([I; demonstrations; T(x)]))``."""

from __future__ import annotations

from typing import Any

from torch import nn

from reprogrammability.framework.axes import Modality, Paradigm
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import Reprogrammer

from .calibration import ContextualCalibration
from .common import LabelWordConfig, unwrap
from .scoring import CausalLMScorer, LabelWordScoring
from .selection import Pool
from .templates import FewShotPrompt, Template

__all__ = ["template_of", "few_shot_prompt", "scorer_frozen", "build_label_word_method"]


def template_of(config: LabelWordConfig) -> Template:
    return Template(
        instruction=config.instruction,
        input=config.input_template,
        output=config.output_template,
        separator=config.separator,
    )


def few_shot_prompt(config: LabelWordConfig) -> FewShotPrompt:
    pool = config.pool
    if pool is not None and not isinstance(pool, Pool):
        pool = Pool(*pool)
    return FewShotPrompt(
        template_of(config),
        config.label_words,
        pool,
        config.k,
        config.selection,
        config.ordering,
        config.indices,
        config.embedder,
        config.seed,
        config.balanced,
    )


def scorer_frozen(
    model: nn.Module, config: LabelWordConfig, **scorer_options: Any
) -> tuple[FrozenModel, CausalLMScorer]:
    """f: the causal LM wrapped with a :class:`CausalLMScorer` over the template's label-word continuations."""
    raw, tokenizer = unwrap(model, config.tokenizer)
    scorer = CausalLMScorer(
        tokenizer,
        candidates=template_of(config).candidates(config.label_words),
        continuation=config.continuation,
        use_cache=config.use_cache,
        batch_size=config.batch_size,
        **scorer_options,
    )
    return FrozenModel(raw, adapter=scorer), scorer


def build_label_word_method(
    model: nn.Module, config: LabelWordConfig, name: str, calibrated: bool = False, prompt: Any = None
) -> Reprogrammer:
    frozen, scorer = scorer_frozen(model, config)
    scoring = LabelWordScoring.for_scorer(scorer, config.label_words, normalization=config.normalization)
    output = ContextualCalibration(scoring, len(config.label_words)) if calibrated else scoring
    return Reprogrammer(
        frozen,
        input=prompt if prompt is not None else few_shot_prompt(config),
        output=output,
        paradigm=Paradigm.PROMPT_INSTRUCTION,
        modality=Modality.TEXT,
        name=name,
    )
