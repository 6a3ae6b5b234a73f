"""Prompt instruction with causal LMs: templates, selection, label-word scoring, cache, calibration,
structured prompting (issue 7). Tiny random models; the real SmolLM2 checks are in *_slow.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reprogrammability.framework.errors import InterfaceError, NotFittedError, ShapeError
from reprogrammability.implementations.prompt_instruction import (
    contextual_calibration,
    in_context_learning,
    instruction_prompting,
    kate,
    structured_prompting,
)
from reprogrammability.implementations.prompt_instruction.calibration import ContextualCalibration
from reprogrammability.implementations.prompt_instruction.common import TINY_SENTIMENT, tiny_lm
from reprogrammability.implementations.prompt_instruction.scoring import (
    CausalLMScorer,
    LabelWordScoring,
    accuracy,
    harness_metrics,
)
from reprogrammability.implementations.prompt_instruction.selection import (
    HashingEmbedder,
    Pool,
    order_demonstrations,
    select_demonstrations,
)
from reprogrammability.implementations.prompt_instruction.templates import FewShotPrompt, PromptBatch, Template

TEXTS, LABELS = zip(*TINY_SENTIMENT["train"])
TEST_TEXTS, TEST_LABELS = zip(*TINY_SENTIMENT["test"])
WORDS = ["negative", "positive"]
TEMPLATE = {"input_template": "review : {text} sentiment :", "output_template": " {label}"}


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def lm(request):
    return tiny_lm(request.param)


def direct_loglikelihoods(model, tokenizer, prompts, continuations):
    """log p(continuation | prompt) per token, straight from transformers (whole minus context ids)."""
    out = []
    for prompt in prompts:
        row = []
        for cont in continuations:
            context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            whole = tokenizer(prompt + cont, add_special_tokens=False)["input_ids"]
            target = whole[len(context) :]
            with torch.no_grad():
                logits = model(torch.tensor([whole])).logits[0]
            logp = F.log_softmax(logits.float(), -1)
            row.append(torch.stack([logp[len(context) - 1 + j, t] for j, t in enumerate(target)]))
        out.append(row)
    return out


# -- templates and selection -----------------------------------------------------------------


def test_template_and_few_shot_prompt_build_the_expected_text():
    template = Template(
        instruction="Classify.", input="Review: {text}\nSentiment:", output=" {label}", separator="\n\n"
    )
    prompt = FewShotPrompt(template, WORDS, (TEXTS, LABELS), k=2, selection="fixed", indices=[0, 1])
    batch = prompt(["good movie", "bad movie"])
    assert isinstance(batch, PromptBatch) and len(batch) == 2
    expected_prefix = (
        "Classify.\n\nReview: a great film\nSentiment: positive\n\nReview: a terrible film\nSentiment: negative\n\n"
    )
    assert batch.prefixes == [expected_prefix, expected_prefix]
    assert batch.queries == ["Review: good movie\nSentiment:", "Review: bad movie\nSentiment:"]
    assert batch[0] == expected_prefix + "Review: good movie\nSentiment:"
    assert template.candidates(WORDS) == [" negative", " positive"]
    assert prompt.symbolic().parameter_count == 0 and prompt.trainable_parameters == 0


def test_few_shot_prompt_rejects_bad_settings():
    with pytest.raises(ValueError, match="selection"):
        FewShotPrompt(Template(), WORDS, (TEXTS, LABELS), k=2, selection="best")
    with pytest.raises(ValueError, match="pool"):
        FewShotPrompt(Template(), WORDS, None, k=2)
    with pytest.raises(ValueError, match="embedder"):
        FewShotPrompt(Template(), WORDS, (TEXTS, LABELS), k=2, selection="nearest")
    with pytest.raises(ValueError, match="k: 20 demonstrations"):
        FewShotPrompt(Template(), WORDS, (TEXTS, LABELS), k=20)(["x"])
    with pytest.raises(ValueError, match="indices"):
        FewShotPrompt(Template(), WORDS, (TEXTS, LABELS), k=2, selection="fixed", indices=[0])(["x"])


def test_random_selection_is_seeded_and_shared_random_per_query_differs():
    pool = Pool(TEXTS, LABELS)
    a = select_demonstrations(pool, ["q1", "q2"], 3, "random", seed=1)
    b = select_demonstrations(pool, ["q1", "q2"], 3, "random", seed=1)
    assert a == b and a[0] == a[1] and len(set(a[0])) == 3
    per_query = select_demonstrations(pool, [f"q{i}" for i in range(6)], 3, "random-per-query", seed=1)
    assert len({tuple(r) for r in per_query}) > 1
    balanced = select_demonstrations(pool, ["q"], 4, "random", seed=3, balanced=True)[0]
    assert sorted(pool.labels[i] for i in balanced) == [0, 0, 1, 1]


def test_nearest_selection_and_similarity_orderings():
    pool = Pool(["red car fast", "blue sky", "red car slow", "green tree"], [0, 1, 0, 1])
    embed = HashingEmbedder(dim=256)
    chosen = select_demonstrations(pool, ["red car"], 2, "nearest", embedder=embed)
    assert sorted(chosen[0]) == [0, 2]
    sims = (embed(["red car"]) @ embed(pool.texts).t())[0]
    best = int(sims.argmax())
    last = order_demonstrations(pool, ["red car"], chosen, "similar-last", embed, 0)[0]
    first = order_demonstrations(pool, ["red car"], chosen, "similar-first", embed, 0)[0]
    assert last[-1] == best and first[0] == best and last == first[::-1]


# -- label-word scoring equals transformers ----------------------------------------------------


def test_label_word_loglikelihoods_equal_a_direct_transformers_computation(lm):
    model, tokenizer = lm
    prompts = ["review : a great film sentiment :", "review : bad service sentiment :"]
    candidates = [" positive", " very good", " not good at all"]  # 1, 2 and 4 tokens
    direct = direct_loglikelihoods(model, tokenizer, prompts, candidates)
    for use_cache in (False, True):
        scorer = CausalLMScorer(tokenizer, candidates=candidates, continuation="full", use_cache=use_cache)
        z = scorer.forward_input(model, scorer.prepare(model, prompts))
        assert z.shape == (2, 3, 4)
        for b in range(2):
            for c, ref in enumerate(direct[b]):
                torch.testing.assert_close(z[b, c, : len(ref)], ref, atol=1e-5, rtol=0)
                assert bool((z[b, c, len(ref) :] == 0).all())
    first = CausalLMScorer(tokenizer, candidates=candidates, continuation="first")
    z1 = first.forward_input(model, first.prepare(model, prompts))
    torch.testing.assert_close(
        z1[:, :, 0], torch.stack([torch.stack([r[0] for r in row]) for row in direct]), atol=1e-5, rtol=0
    )


def test_label_word_alignment_first_sum_and_normalisations():
    z = torch.tensor([[[-1.0, -2.0, 0.0], [-0.5, 0.0, 0.0]]])  # class 0: 2 tokens, class 1: 1 token
    words = ["good", "no"]
    scoring = LabelWordScoring([[5, 6], [7]], words)
    torch.testing.assert_close(scoring(z), torch.tensor([[-3.0, -0.5]]))
    torch.testing.assert_close(
        LabelWordScoring([[5, 6], [7]], words, first_token=True)(z), torch.tensor([[-1.0, -0.5]])
    )
    torch.testing.assert_close(LabelWordScoring([[5, 6], [7]], words, "token")(z), torch.tensor([[-1.5, -0.5]]))
    torch.testing.assert_close(LabelWordScoring([[5, 6], [7]], words, "char")(z), torch.tensor([[-0.75, -0.25]]))
    logits = torch.randn(3, 10)
    torch.testing.assert_close(LabelWordScoring([[5], [7]], words)(logits), F.log_softmax(logits, -1)[:, [5, 7]])
    with pytest.raises(ShapeError, match="several tokens"):
        scoring(logits)
    assert scoring.symbolic().evaluate_parameter_count() == 0 == scoring.trainable_parameters


def test_harness_metrics_follow_acc_and_acc_norm_definitions():
    # acc: arg-max of summed log-likelihood; acc_norm: divided by len(choice) in characters
    ll = torch.tensor([[-4.0, -3.0], [-10.0, -6.0], [-1.0, -2.0]])
    choices = ["a", "elephant"]  # lengths 1 and 8
    metrics = harness_metrics(ll, [0, 1, 0], choices)
    assert metrics["acc"] == pytest.approx(2 / 3)  # argmax: 1, 1, 0
    # normalised: [-4, -0.375] -> 1; [-10, -0.75] -> 1; [-1, -0.25] -> 1
    assert metrics["acc_norm"] == pytest.approx(1 / 3)
    assert accuracy(ll, torch.tensor([1, 1, 0])) == 1.0


# -- shared-prefix cache --------------------------------------------------------------------------


@pytest.mark.parametrize("continuation", ["first", "full"])
def test_cache_gives_the_same_scores_as_reencoding(lm, continuation):
    model, tokenizer = lm
    common = dict(tokenizer=tokenizer, pool=(TEXTS, LABELS), k=4, continuation=continuation, **TEMPLATE)
    cached = in_context_learning.build(model, use_cache=True, batch_size=3, **common)
    plain = in_context_learning.build(model, use_cache=False, batch_size=3, **common)
    queries = list(TEST_TEXTS) + ["a great game", "terrible"]
    z_cached, z_plain = cached.source_outputs(queries), plain.source_outputs(queries)
    torch.testing.assert_close(z_cached, z_plain, atol=1e-5, rtol=0)
    assert cached.frozen.adapter.stats["prefix_encodings"] == 1  # encoded once for 6 queries
    assert plain.frozen.adapter.stats["prefix_encodings"] == 0


def test_cache_is_not_mutated_and_queries_do_not_leak(lm):
    model, tokenizer = lm
    r = in_context_learning.build(model, tokenizer=tokenizer, pool=(TEXTS, LABELS), k=3, batch_size=2, **TEMPLATE)
    first = r.source_outputs(["good movie"])
    entry = next(iter(r.frozen.adapter._memo.values()))
    snapshot = [(k.clone(), v.clone()) for k, v in entry.key_values]
    r.source_outputs(["terrible food", "a bad product", "great team", "bad movie"])  # other queries in between
    again = r.source_outputs(["good movie"])
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    for (k0, v0), (k1, v1) in zip(snapshot, entry.key_values):
        assert torch.equal(k0, k1) and torch.equal(v0, v1)
    # the same query alone and inside a batch of different lengths scores the same
    batch = r.source_outputs(["good movie", "a very very good and great film", "bad"])
    torch.testing.assert_close(batch[:1], first, atol=1e-5, rtol=0)
    r.frozen.assert_unchanged()


def test_per_query_prefixes_are_cached_separately(lm):
    model, tokenizer = lm
    common = dict(tokenizer=tokenizer, pool=(TEXTS, LABELS), k=2, **TEMPLATE)
    cached = kate.build(model, use_cache=True, **common)
    plain = kate.build(model, use_cache=False, **common)
    torch.testing.assert_close(
        cached.source_outputs(list(TEST_TEXTS)), plain.source_outputs(list(TEST_TEXTS)), atol=1e-5, rtol=0
    )
    assert cached.frozen.adapter.stats["prefix_encodings"] > 1


def test_kate_prompts_put_the_nearest_demonstration_last():
    model, tokenizer = tiny_lm("llama")
    r = kate.build(model, tokenizer=tokenizer, pool=(TEXTS, LABELS), k=2, **TEMPLATE)
    batch = r.inputs[0](["great team spirit"])
    assert batch.prefixes[0].strip().endswith("review : great team sentiment : positive")


def test_zero_shot_uses_only_the_template():
    model, tokenizer = tiny_lm("llama")
    r = in_context_learning.build(model, tokenizer=tokenizer, k=0, **TEMPLATE)
    batch = r.inputs[0](["good movie"])
    assert batch.prefixes == [""] and batch.queries == ["review : good movie sentiment :"]
    assert r(["good movie"]).shape == (1, 2)


def test_instruction_prompt_lists_the_options():
    model, tokenizer = tiny_lm("gpt2")
    r = instruction_prompting.build(model, tokenizer=tokenizer, instruction="Classify the review.")
    batch = r.inputs[0](["good movie"])
    assert batch.prefixes[0] == "Classify the review.\n\n"
    assert batch.queries[0] == "good movie\nOPTIONS:\n- negative\n- positive\nAnswer:"


def test_scorer_rejects_bad_inputs():
    model, tokenizer = tiny_lm("llama")
    scorer = CausalLMScorer(tokenizer, candidates=[" positive"])
    with pytest.raises(InterfaceError, match="x: expected a prompt string"):
        scorer.prepare(model, 3.0)
    with pytest.raises(ValueError, match="continuation"):
        CausalLMScorer(tokenizer, continuation="last")
    with pytest.raises(ValueError, match="tokenise to nothing"):
        CausalLMScorer(tokenizer, candidates=[""])


# -- contextual calibration -------------------------------------------------------------------------


def test_contextual_calibration_estimates_w_from_content_free_inputs():
    model, tokenizer = tiny_lm("llama")
    common = dict(tokenizer=tokenizer, pool=(TEXTS, LABELS), k=2, continuation="first", **TEMPLATE)
    r = contextual_calibration.build(model, **common)
    plain = in_context_learning.build(model, **common)
    # p_cf by hand: label-word probabilities (renormalised) of the prompt filled with "N/A", "", "[MASK]"
    z_cf = plain.source_outputs(["N/A", "", "[MASK]"])
    p_cf = torch.softmax(plain.output(z_cf), -1).mean(0)
    torch.testing.assert_close(r.output.p_cf, p_cf, atol=1e-6, rtol=0)
    torch.testing.assert_close(r.output.weight, torch.diag(1 / p_cf))
    z = plain.source_outputs(list(TEST_TEXTS))
    p = torch.softmax(plain.output(z), -1)
    expected = torch.log_softmax(torch.log(p @ torch.diag(1 / p_cf)), -1)
    torch.testing.assert_close(r(list(TEST_TEXTS)), expected, atol=1e-5, rtol=0)
    # calibration makes the content-free prompt's prediction uniform
    torch.testing.assert_close(torch.softmax(r.output(z_cf), -1).mean(0), torch.full((2,), 0.5), atol=0.1, rtol=0)
    assert r.spec.alignment[0].value == "statistical" and r.parameter_count() == 0


def test_calibration_needs_fit():
    scoring = LabelWordScoring([[5], [7]], WORDS)
    with pytest.raises(NotFittedError, match="fit"):
        ContextualCalibration(scoring, 2)(torch.randn(2, 10))


# -- structured prompting ---------------------------------------------------------------------------


def test_structured_prompting_with_one_group_equals_in_context_learning(lm):
    model, tokenizer = lm
    group = "review : a great film sentiment : positive review : bad service sentiment : negative "
    structured = structured_prompting.build(model, tokenizer=tokenizer, groups=[group], **TEMPLATE)
    queries = [structured.template.format_input(t) for t in TEST_TEXTS]
    icl = in_context_learning.build(
        model, tokenizer=tokenizer, k=0, input_template=group + "review : {text} sentiment :"
    )
    reference = icl.source_outputs(list(TEST_TEXTS))
    torch.testing.assert_close(structured.source_outputs(queries), reference, atol=1e-5, rtol=0)


def test_structured_prompting_rescaling_makes_duplicated_groups_count_once(lm):
    model, tokenizer = lm
    group = "review : a great film sentiment : positive "
    one = structured_prompting.build(model, tokenizer=tokenizer, groups=[group], **TEMPLATE)
    queries = [one.template.format_input(t) for t in TEST_TEXTS]
    three = structured_prompting.build(model, tokenizer=tokenizer, groups=[group] * 3, **TEMPLATE)
    torch.testing.assert_close(three.source_outputs(queries), one.source_outputs(queries), atol=1e-5, rtol=0)
    plain = structured_prompting.build(model, tokenizer=tokenizer, groups=[group] * 3, rescale=False, **TEMPLATE)
    assert (plain.source_outputs(queries) - one.source_outputs(queries)).abs().max() > 1e-4
    # groups of different lengths are right-aligned: the test tokens start at the longest group's end
    mixed = structured_prompting.build(model, tokenizer=tokenizer, groups=[group, group + group], **TEMPLATE)
    assert mixed.inputs[0].length == len(tokenizer(group + group, add_special_tokens=False)["input_ids"])
    assert torch.isfinite(mixed.source_outputs(queries)).all()
