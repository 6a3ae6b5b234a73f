"""Issue 13 §4 with a real LM: OPRO and ProTeGi with SmolLM2-135M-Instruct as optimiser LM and scorer (slow)."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    pytest.importorskip("gguf")
    from reprogrammability.implementations.models.pretrained import load_smollm2

    try:
        return load_smollm2()
    except (FileNotFoundError, ModuleNotFoundError) as error:  # the registry package is not installed
        pytest.skip(f"SmolLM2 weights unavailable: {error}")


@pytest.fixture(scope="module")
def sentiment():
    from reprogrammability.implementations.data.text import load_text_task

    train = load_text_task("sentiment", "train")
    return [f"Review: {t}\nSentiment:" for t in train.inputs[:8]], train.labels[:8]


def test_opro_with_smollm2_as_optimiser_and_scorer(smollm2, sentiment):
    from reprogrammability.implementations.prompt_tuning import opro
    from reprogrammability.implementations.prompt_tuning.instruction_search import (
        LanguageModelWriter,
        instruction_score,
    )

    model, tokenizer = smollm2
    texts, labels = sentiment
    writer = LanguageModelWriter(model, tokenizer, max_new_tokens=24, temperature=1.0, seed=0)
    rp = opro.build(
        model,
        tokenizer=tokenizer,
        label_words=["negative", "positive"],
        writer=writer,
        initial_instruction="Read the review.",
        num_proposals=3,
        task="tell the sentiment of a review",
    )
    fingerprint = rp.frozen.fingerprint()
    search = rp.gradient_estimator
    best = search.search(rp, texts, labels, steps=2)
    assert writer.calls == 2
    proposals = [t for t in search.trajectory if t != "Read the review."]
    assert proposals and all(p.strip() and "\n" not in p for p in proposals)  # parsed one-line instructions
    for text, (accuracy, loss) in list(search.trajectory.items())[:3]:  # the recorded scores are f's real scores
        assert instruction_score(rp, text, texts, labels) == pytest.approx((accuracy, loss), abs=1e-5)
    assert search.ranked()[0][0] == best == rp.inputs[0].text
    assert rp.frozen.fingerprint() == fingerprint


def test_protegi_with_smollm2_writes_gradients_and_edits(smollm2, sentiment):
    from reprogrammability.implementations.prompt_tuning import protegi
    from reprogrammability.implementations.prompt_tuning.instruction_search import LanguageModelWriter

    model, tokenizer = smollm2
    texts, labels = sentiment
    writer = LanguageModelWriter(model, tokenizer, max_new_tokens=24, temperature=1.0, seed=0)
    rp = protegi.build(
        model,
        tokenizer=tokenizer,
        label_words=["negative", "positive"],
        writer=writer,
        initial_instruction="Read the review.",
        num_gradients=1,
        beam_width=2,
        selection="full",
    )
    search = rp.gradient_estimator
    search.search(rp, texts, labels, steps=1)
    assert len(search.means) > 1  # the LM's edits were scored by f
    assert search.beam[0] == rp.inputs[0].text
    assert torch.isfinite(torch.tensor([loss for _, loss in search.means.values()])).all()
