"""Prompt instruction with the real SmolLM2-135M-Instruct (slow: loads the packaged weights)."""

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

    return load_text_task("sentiment", "train"), load_text_task("sentiment", "test")


def test_cache_equals_reencoding_on_smollm2(smollm2, sentiment):
    from reprogrammability.implementations.prompt_instruction import in_context_learning

    model, tokenizer = smollm2
    train, test = sentiment
    common = dict(
        tokenizer=tokenizer,
        pool=(train.inputs, train.labels.tolist()),
        k=4,
        balanced=True,
        continuation="full",
        label_words=["negative", "positive"],
        input_template="Review: {text}\nSentiment:",
    )
    cached = in_context_learning.build(model, use_cache=True, **common).source_outputs(test.inputs[:6])
    plain = in_context_learning.build(model, use_cache=False, **common).source_outputs(test.inputs[:6])
    torch.testing.assert_close(cached, plain, atol=1e-4, rtol=1e-5)


def test_calibrated_few_shot_sentiment_on_smollm2(smollm2, sentiment):
    from reprogrammability.implementations.prompt_instruction import contextual_calibration

    model, tokenizer = smollm2
    train, test = sentiment
    r = contextual_calibration.build(
        model,
        tokenizer=tokenizer,
        pool=(train.inputs, train.labels.tolist()),
        k=4,
        balanced=True,
        label_words=["negative", "positive"],
        input_template="Review: {text}\nSentiment:",
    )
    with torch.no_grad():
        predictions = r(test.inputs[:20]).argmax(-1)
    assert (predictions == test.labels[:20]).float().mean() >= 0.8
