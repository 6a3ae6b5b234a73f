"""Hard prompts are points of the soft-prompt space (the soft prompt of Lester et al., EMNLP 2021).

A soft prompt P (L_p, D) initialised at the token embeddings E[t_1..t_L] of a text (the ``text`` init of
``implementations/prompt_tuning/soft_prompt.py``) gives exactly the outputs of the model fed the text's
tokens: f([E[t]; E(x)]) = f_ids([t; x]). The hard prompts are the finite set V^L inside R^{L×D}; a gradient
step moves the prompt off that set (its distance to the nearest token embedding becomes positive).
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import Tensor

from ..proposition import CheckResult
from ._common import max_abs, one_thread

TOLERANCE = 1e-12
TEXTS = ("the movie was great", "review : it was terrible .", "sports", "a very good film and a bad game")
INPUTS = ("this film is good", "the market price of the stock", "cat dog bird")


def _models(thorough: bool, seed: int) -> Iterator[tuple[str, Any, Any]]:
    from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_masked_lm, tiny_tokenizer

    tokenizer = tiny_tokenizer(style="none")
    yield "tiny-llama", tiny_causal_lm("llama", seed=seed), tokenizer
    yield "tiny-gpt2", tiny_causal_lm("gpt2", seed=seed), tokenizer
    if thorough:
        yield "tiny-bert", tiny_masked_lm(seed=seed), tokenizer
        try:
            from reprogrammability.implementations.models.pretrained import load_minilm

            model, minilm_tokenizer = load_minilm()
            yield "all-MiniLM-L6-v2", model, minilm_tokenizer
        except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - the package is optional
            return


def _output(model: Any, **inputs: Tensor) -> Tensor:
    output = model(**inputs)
    result: Tensor = output.logits if hasattr(output, "logits") else output.last_hidden_state
    return result


def check(thorough: bool = False, seed: int = 0, variant: str | None = None) -> CheckResult:
    from reprogrammability.framework.interfaces import EmbeddingState
    from reprogrammability.implementations.prompt_tuning.common import token_ids
    from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt, text_init

    worst, count, moved, untouched = 0.0, 0, float("inf"), True
    per_model: dict[str, float] = {}
    texts = TEXTS if thorough else TEXTS[:2]
    with one_thread():
        for name, model, tokenizer in _models(thorough, seed):
            model = model.double().eval().requires_grad_(False)  # float32 weights are exact in float64; f stays frozen
            before = [parameter.detach().clone() for parameter in model.parameters()]
            embedding = model.get_input_embeddings()
            model_worst = 0.0
            for text in texts:
                prompt_ids = token_ids(tokenizer, text)
                init = text_init(embedding, tokenizer, text)
                if variant == "reversed-prompt":  # the text's embeddings in the wrong order
                    init = init.flip(0)
                soft = SoftPrompt(init, position=0).double()
                for sentence in INPUTS:
                    ids = torch.tensor([token_ids(tokenizer, sentence)])
                    with torch.no_grad():
                        state = soft(EmbeddingState(embeds=embedding(ids)))
                        soft_output = _output(model, inputs_embeds=state.embeds)
                        hard_output = _output(model, input_ids=torch.cat([torch.tensor([prompt_ids]), ids], dim=1))
                    model_worst = max(model_worst, max_abs(soft_output, hard_output))
                    count += 1
                # one gradient step of prompt tuning leaves the set of hard prompts
                ids = torch.tensor([token_ids(tokenizer, INPUTS[0])])
                loss = _output(model, inputs_embeds=soft(EmbeddingState(embeds=embedding(ids))).embeds)[
                    0, -1
                ].logsumexp(-1)
                loss.backward()  # type: ignore[no-untyped-call]
                grad = soft.prompt.grad
                assert grad is not None, "the soft prompt received no gradient"
                with torch.no_grad():
                    stepped = soft.prompt - 1e-2 * grad / grad.norm()
                    nearest = torch.cdist(stepped, embedding.weight).min(dim=1).values.max()
                moved = min(moved, float(nearest))
            per_model[f"{name}_max_abs_difference"] = model_worst
            drift = max(float((p - b).abs().max()) for p, b in zip(model.parameters(), before))
            untouched &= drift == 0.0 and all(p.grad is None for p in model.parameters())
            worst = max(worst, model_worst)
    return CheckResult(
        passed=worst <= TOLERANCE and moved > 0 and untouched,
        quantity="max |f(soft prompt at E[text]; x) − f(text; x)|",
        value=worst,
        criterion=(
            f"≤ {TOLERANCE:g}; after one gradient step the prompt is off every token embedding; f unchanged and "
            "without gradients"
        ),
        measurements={
            **per_model,
            "distance_to_nearest_token_after_one_step": moved,
            "frozen_model_unchanged_without_gradients": untouched,
        },
        instances=count,
        thorough=thorough,
        seed=seed,
        variant=variant,
    )
