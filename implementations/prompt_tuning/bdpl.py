"""BDPL: black-box discrete prompt learning (Diao, Huang, Xu, Li, Lin, Zhou, Zhang, "Black-box Prompt Learning
for Pre-trained Language Models", TMLR 2023, arXiv 2201.08531).

    ŷ = v(f(x ⊕ [s_1 … s_n])),   s_j ~ Cat(p_j),   p* = argmin_p E_{S~P(p)} L(v(f(x ⊕ S)), y)

n discrete prompt tokens, each drawn from a learned categorical distribution over N candidate tokens,
are inserted into the token ids (location input, concatenative); the model is a black box queried for
its scores, and the distributions are trained with the variance-reduced policy gradient
(:class:`~.policy_gradient.PolicyGradientEstimator`, attached as ``gradient_estimator``). The labels are
read by a verbalizer. The paper selects the N candidates by pointwise mutual information over the
training set's n-grams; here they are given (``candidate_words``) or default to the first N ordinary
token ids.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer
from reprogrammability.implementations.registry import register_method

from .common import model_kind, resolve_config, token_ids
from .policy_gradient import CategoricalPromptTokens, PolicyGradientEstimator
from .text import VerbalizerFields, text_example, verbalizer_frozen

__all__ = ["BDPLConfig", "build", "PolicyGradientEstimator"]


class BDPLConfig(VerbalizerFields):
    """Prompt length n, the N candidate tokens, and I samples per policy-gradient step."""

    num_tokens: int = Field(5, ge=1, description="n, the number of discrete prompt tokens")
    candidate_words: Optional[list[str]] = Field(
        None, min_length=2, description="the candidate vocabulary (first token of each)"
    )
    num_candidates: int = Field(50, ge=2, description="N when candidate_words is not given")
    num_samples: int = Field(4, ge=2, description="I, prompts sampled per policy-gradient step")
    position: Literal["auto", "end", "before_mask", "start"] = "auto"
    seed: int = 0


def _example():
    words = ["great", "terrible", "good", "bad", "film", "food", "movie", "service"]
    return text_example(build, label_words=["bad", "good"], num_tokens=2, candidate_words=words)


@register_method(
    "bdpl",
    "prompt-tuning",
    "λ=learnable τ=concatenative ℓ=input ω=rule-based",
    access="zeroth-order",
    modality="text",
    config=BDPLConfig,
    example=_example,
)
def build(
    model: Any, config: BDPLConfig | dict | None = None, *, tokenizer: Any = None, **overrides: Any
) -> Reprogrammer:
    """BDPL: n discrete prompt tokens drawn from learned categorical distributions, trained by policy gradient."""
    config = resolve_config(BDPLConfig, config, overrides)
    frozen, verbalizer, tokenizer = verbalizer_frozen(model, tokenizer, config)
    masked = model_kind(frozen) == "masked"
    position = config.position if config.position != "auto" else ("before_mask" if masked else "end")
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    if config.candidate_words is not None:
        candidates = list(dict.fromkeys(token_ids(tokenizer, w, prefix_space=True)[0] for w in config.candidate_words))
    else:
        vocabulary = frozen.model.get_input_embeddings().weight.shape[0]
        candidates = [i for i in range(vocabulary) if i not in special][: config.num_candidates]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    prompt = CategoricalPromptTokens(
        config.num_tokens,
        candidates,
        position=position,
        pad_id=pad_id,
        mask_id=getattr(tokenizer, "mask_token_id", None),
        tokenizer=tokenizer,
    )
    reprogrammer = Reprogrammer(
        frozen, prompt, verbalizer, paradigm="prompt-tuning", access="zeroth-order", modality="text", name="bdpl"
    )
    reprogrammer.gradient_estimator = PolicyGradientEstimator(config.num_samples, seed=config.seed)
    return reprogrammer
