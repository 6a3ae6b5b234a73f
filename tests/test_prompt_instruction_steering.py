"""Activation addition, task vectors, function vectors (fixed hidden edits from the frozen model's
own activations) and the registry examples of every prompt-instruction method (issue 7)."""

from __future__ import annotations

import pytest
import torch

from reprogrammability.implementations.prompt_instruction import activation_addition, function_vector, task_vector
from reprogrammability.implementations.prompt_instruction.common import TINY_SENTIMENT, tiny_lm
from reprogrammability.implementations.prompt_instruction.steering import output_projection
from reprogrammability.implementations.prompt_instruction.steering_builder import demonstration_prompts
from reprogrammability.implementations.registry import get_method, list_methods

TEXTS, LABELS = zip(*TINY_SENTIMENT["train"])
QUERIES = ["good movie :", "a bad product here :"]  # different lengths: right padding is exercised
IDS = [
    "in-context-learning",
    "kate",
    "contextual-calibration",
    "chain-of-thought",
    "zero-shot-cot",
    "self-consistency",
    "least-to-most",
    "instruction-prompting",
    "clip-zero-shot",
    "prompt-ensemble",
    "cupl",
    "dclip",
    "zpe",
    "red-circle",
    "fgvp",
    "set-of-mark",
    "activation-addition",
    "task-vector",
    "function-vector",
    "structured-prompting",
]


def layers_of(model):
    return model.model.layers if hasattr(model, "model") else model.transformer.h


def run_with_hook(model, tokenizer, prompt, layer, edit):
    """Last-token logits of one prompt with ``edit(hidden)`` applied to the input of block ``layer``."""
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])

    def hook(module, args, kwargs):
        if args:
            return (edit(args[0]),) + tuple(args[1:]), kwargs
        return args, {**kwargs, "hidden_states": edit(kwargs["hidden_states"])}

    handle = layers_of(model)[layer].register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            return model(ids).logits[0, -1]
    finally:
        handle.remove()


def hidden_at(model, tokenizer, prompt, layer):
    kept = {}
    run_with_hook(
        model,
        tokenizer,
        prompt,
        layer,
        lambda h: kept.setdefault("h", h.clone()) if False else kept.update(h=h.clone()) or h,
    )
    return kept["h"][0]


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_activation_addition_adds_the_contrast_difference_at_the_front(kind):
    model, tokenizer = tiny_lm(kind)
    r = activation_addition.build(
        model, tokenizer=tokenizer, positive="great", negative="terrible", layer=1, coefficient=4.0
    )
    steer = hidden_at(model, tokenizer, "great", 1) - hidden_at(model, tokenizer, "terrible", 1)
    torch.testing.assert_close(r.inputs[0].steering, steer, atol=1e-5, rtol=0)
    out = r(QUERIES)
    for b, q in enumerate(QUERIES):

        def edit(h):
            h = h.clone()
            h[:, : steer.shape[0]] += 4.0 * steer
            return h

        torch.testing.assert_close(out[b], run_with_hook(model, tokenizer, q, 1, edit), atol=1e-4, rtol=0)
    assert r.parameter_count() == 0 == r.evaluated_parameter_count()
    r.frozen.assert_unchanged()


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_task_vector_is_the_mean_last_token_state_and_is_patched_in(kind):
    model, tokenizer = tiny_lm(kind)
    options = dict(
        tokenizer=tokenizer,
        pool=(TEXTS, LABELS),
        label_words=["negative", "positive"],
        k=2,
        num_prompts=3,
        input_template="{text} :",
        layer=1,
    )
    r = task_vector.build(model, **options)
    prompts, _ = demonstration_prompts(task_vector.TaskVectorConfig(**options))
    theta = torch.stack([hidden_at(model, tokenizer, p, 1)[-1] for p in prompts]).mean(0)
    torch.testing.assert_close(r.inputs[0].theta, theta, atol=1e-5, rtol=0)
    ids = [
        tokenizer(" negative", add_special_tokens=False)["input_ids"][0],
        tokenizer(" positive", add_special_tokens=False)["input_ids"][0],
    ]
    out = r(QUERIES)
    for b, q in enumerate(QUERIES):

        def patch(h):
            h = h.clone()
            h[:, -1] = theta
            return h

        torch.testing.assert_close(out[b], run_with_hook(model, tokenizer, q, 1, patch)[ids], atol=1e-4, rtol=0)


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_function_vector_sums_projected_head_means_and_adds_them(kind):
    model, tokenizer = tiny_lm(kind)
    options = dict(
        tokenizer=tokenizer,
        pool=(TEXTS, LABELS),
        label_words=["negative", "positive"],
        k=2,
        num_prompts=3,
        input_template="{text} :",
        layer=1,
        heads=[(0, 1), (1, 2)],
    )
    r = function_vector.build(model, **options)
    prompts, _ = demonstration_prompts(function_vector.FunctionVectorConfig(**options))
    dim = model.config.hidden_size // model.config.num_attention_heads
    expected = 0
    for layer, head in [(0, 1), (1, 2)]:
        proj = output_projection(layers_of(model)[layer])
        kept = []
        handle = proj.register_forward_pre_hook(lambda m, a: kept.append(a[0][0, -1].clone()))
        for p in prompts:
            with torch.no_grad():
                model(torch.tensor([tokenizer(p, add_special_tokens=False)["input_ids"]]))
        handle.remove()
        mean = torch.stack(kept).mean(0)
        only = torch.zeros_like(mean)
        only[head * dim : (head + 1) * dim] = mean[head * dim : (head + 1) * dim]
        with torch.no_grad():
            expected = expected + proj(only[None, None])[0, 0] - proj(torch.zeros_like(only)[None, None])[0, 0]
    torch.testing.assert_close(r.inputs[0].vector, expected, atol=1e-5, rtol=0)
    out = r.source_outputs(QUERIES)
    for b, q in enumerate(QUERIES):

        def add(h):
            h = h.clone()
            h[:, -1] += expected
            return h

        torch.testing.assert_close(out[b], run_with_hook(model, tokenizer, q, 1, add), atol=1e-4, rtol=0)


def test_function_vector_selects_heads_by_indirect_effect():
    model, tokenizer = tiny_lm("llama")
    r = function_vector.build(
        model,
        tokenizer=tokenizer,
        pool=(TEXTS, LABELS),
        label_words=["negative", "positive"],
        k=2,
        num_prompts=2,
        num_heads=3,
        input_template="{text} :",
        layer=1,
    )
    heads = r.inputs[0].heads
    assert len(heads) == 3 and len(set(heads)) == 3
    assert all(0 <= l < 2 and 0 <= h < model.config.num_attention_heads for l, h in heads)


def test_every_catalog_id_of_the_family_is_registered():
    registered = set(list_methods())
    assert set(IDS) <= registered


@pytest.mark.parametrize("method_id", IDS)
def test_example_runs_and_matches_its_declaration(method_id):
    info = get_method(method_id)
    reprogrammer, inputs, targets = info.example()
    with torch.no_grad():
        out = reprogrammer(inputs)
    assert len(out) == len(targets)
    spec = reprogrammer.spec
    for axis in ("configuration", "operator", "location", "alignment", "paradigm", "access", "modality"):
        assert getattr(spec, axis) == getattr(info.spec, axis), axis
    # every part is fixed: symbolic count evaluated at the real shapes == measured == 0
    assert reprogrammer.evaluated_parameter_count() == reprogrammer.parameter_count() == 0
    assert reprogrammer.latex().startswith(r"\hat{y} = ")
    assert info.config is not None and "config" in info.factory.__code__.co_varnames
    reprogrammer.frozen.assert_unchanged()
