"""Issue 13 §4, text methods: BDPL, IDPG, OPRO, ProTeGi and LLaMA-Adapter on the tiny causal LM."""

from __future__ import annotations

import itertools
import re

import pytest
import torch
import torch.nn.functional as F

from reprogrammability.framework import Trainer
from reprogrammability.implementations.prompt_tuning import bdpl
from reprogrammability.implementations.prompt_tuning.text import tiny_text_example

WORDS = ["great", "terrible", "good", "bad", "film", "food", "movie", "service"]


@pytest.fixture()
def llama():
    return tiny_text_example("llama")


def _bdpl(llama, **overrides):
    model, tokenizer, texts, labels = llama
    options = {"label_words": ["bad", "good"], "num_tokens": 1, "candidate_words": WORDS[:4], **overrides}
    return bdpl.build(model, tokenizer=tokenizer, **options), texts, labels


def _expected_loss(rp, texts, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """E_S[L(S)] under the current distributions, and L per prompt, by enumerating every prompt."""
    (part,) = bdpl.PolicyGradientEstimator.parts_of(rp)
    p = part.probabilities()
    losses, weights = [], []
    for choice in itertools.product(range(p.shape[1]), repeat=p.shape[0]):
        choice_t = torch.tensor(choice)
        with part.sampled(choice_t), torch.no_grad():
            losses.append(F.cross_entropy(rp(texts).float(), labels))
        weights.append(p[torch.arange(p.shape[0]), choice_t].prod())
    losses_t, weights_t = torch.stack(losses), torch.stack(weights)
    return (losses_t * weights_t).sum(), losses_t


class _CachedScores:
    """Stands in for the reprogrammer in the estimator: f's real scores for each prompt, computed once."""

    def __init__(self, rp, texts):
        (self.part,) = bdpl.PolicyGradientEstimator.parts_of(rp)
        self.inputs = rp.inputs
        self.scores = {}
        for index in range(self.part.candidates.numel()):
            with self.part.sampled(torch.tensor([index])), torch.no_grad():
                self.scores[index] = rp(texts)

    def __call__(self, inputs):
        return self.scores[int(self.part._sample[0])]


def test_bdpl_policy_gradient_is_the_gradient_of_the_expected_loss(llama):
    rp, texts, labels = _bdpl(llama)
    (part,) = bdpl.PolicyGradientEstimator.parts_of(rp)
    with torch.no_grad():
        part.logits.copy_(torch.tensor([[0.5, -0.3, 0.2, 0.0]]))
    cached = _CachedScores(rp, texts)
    losses = torch.stack([F.cross_entropy(cached.scores[i].float(), labels) for i in range(4)])
    assert float(losses.max() - losses.min()) > 1e-3  # the prompts really score differently
    # exact ∇_θ E_S[L(S)] = ∇_θ Σ_s p_s L(s)
    theta = part.logits.detach().clone().requires_grad_(True)
    exact = torch.autograd.grad((torch.softmax(theta, -1)[0] * losses).sum(), theta)[0]
    estimator = bdpl.PolicyGradientEstimator(num_samples=8, seed=1)
    estimates = []
    for _ in range(300):
        estimator.estimate(cached, texts, labels, F.cross_entropy)
        estimates.append(part.logits.grad.clone())
    mean = torch.stack(estimates).mean(0)
    assert estimator.queries == 300 * 8
    assert F.cosine_similarity(mean.flatten(), exact.flatten(), dim=0) > 0.95
    assert torch.allclose(mean, exact, atol=0.1 * float(exact.abs().max()))


def test_bdpl_training_lowers_the_expected_loss_and_keeps_f_frozen(llama):
    rp, texts, labels = _bdpl(llama, num_tokens=2, candidate_words=WORDS[:5], num_samples=6)
    fingerprint = rp.frozen.fingerprint()
    before, losses = _expected_loss(rp, texts, labels)
    Trainer(
        rp,
        epochs=25,
        batch_size=4,
        optimizer="sgd",
        learning_rate=300.0,
        momentum=0.0,
        progress=False,
        gradient_estimator=rp.gradient_estimator,
    ).fit((texts, labels))
    after, _ = _expected_loss(rp, texts, labels)
    assert after < before - 0.5 * (before - losses.min())  # at least halfway from uniform to the best prompt
    with torch.no_grad():  # the argmax prompt is among the best
        best = F.cross_entropy(rp(texts).float(), labels)
    assert best <= torch.quantile(losses, 0.25)
    assert rp.frozen.fingerprint() == fingerprint
    rp.frozen.assert_unchanged()


def test_bdpl_rejects_bad_candidates(llama):
    with pytest.raises(ValueError, match="candidate_ids"):
        bdpl.CategoricalPromptTokens(2, [3, 3])
    with pytest.raises(ValueError, match="num_samples"):
        bdpl.PolicyGradientEstimator(num_samples=1)


# --- IDPG ------------------------------------------------------------------------------------------------

from reprogrammability.implementations.prompt_tuning import idpg  # noqa: E402
from reprogrammability.implementations.prompt_tuning.instance_prompt import SENTENCE_FEATURES  # noqa: E402


def test_idpg_prompt_is_generated_from_the_models_own_sentence_features(llama):
    model, tokenizer, texts, labels = llama
    rp = idpg.build(model, tokenizer=tokenizer, num_classes=2, num_virtual_tokens=3, generator_hidden=4)
    (prompt,) = rp.inputs
    adapter, raw = rp.frozen.adapter, rp.frozen.model
    state = adapter.embed(raw, adapter.prepare(raw, texts + [texts[0]]))
    # M(x) is f's feature readout of the plain input (what the linear head reads without a prompt)
    with torch.no_grad():
        features = rp.frozen.adapter.forward_embedded(raw, adapter.embed(raw, adapter.prepare(raw, texts + [texts[0]])))
    assert torch.equal(state.extra[SENTENCE_FEATURES], features)
    P = prompt.prompts(state)
    assert P.shape == (5, 3, state.embeds.shape[-1])
    assert torch.equal(P[0], P[4])  # the same sentence gets the same prompt
    assert (P[0] - P[1]).abs().max() > 1e-4  # different sentences get different prompts
    out = prompt(state)
    assert torch.equal(out.embeds[:, 3:], state.embeds)  # [P(x); E(x)]: the input is kept after the prompt


def test_idpg_training_fits_the_examples_and_keeps_f_frozen(llama):
    model, tokenizer, texts, labels = llama
    rp = idpg.build(model, tokenizer=tokenizer, num_classes=2, num_virtual_tokens=2, generator_hidden=8)
    fingerprint = rp.frozen.fingerprint()
    with torch.no_grad():
        before = F.cross_entropy(rp(texts).float(), labels)
    result = Trainer(rp, epochs=40, batch_size=4, learning_rate=0.01, progress=False).fit((texts, labels))
    with torch.no_grad():
        logits = rp(texts).float()
    assert F.cross_entropy(logits, labels) < 0.5 * before
    assert (logits.argmax(-1) == labels).all()
    assert result.steps == 40
    assert rp.frozen.fingerprint() == fingerprint
    assert not any(p.requires_grad for p in rp.frozen.model.parameters())


# --- OPRO ------------------------------------------------------------------------------------------------

from reprogrammability.implementations.prompt_tuning import opro  # noqa: E402
from reprogrammability.implementations.prompt_tuning.instruction_search import (  # noqa: E402
    SEARCH_TRAINER,
    InstructionPrompt,
    first_line,
    instruction_score,
)


def test_instruction_prompt_prepends_and_round_trips_its_text(llama):
    _, tokenizer, texts, _ = llama
    part = InstructionPrompt(tokenizer, "label the review", max_tokens=6)
    assert part.text == "label the review"
    assert part(texts[:2]) == [f"label the review {t}" for t in texts[:2]]
    assert part.ids.detach().tolist()[3:] == [-1.0, -1.0, -1.0]  # unused slots
    with part.trying("very good movie"):
        assert part.text == "very good movie"
    assert part.text == "label the review"
    with pytest.raises(ValueError, match="text"):
        part.set_text("  ")
    assert first_line('  "<INS>rate the review</INS>"\nmore') == "rate the review"


def test_opro_meta_prompt_lists_scored_instructions_worst_to_best(llama):
    model, tokenizer, texts, labels = llama
    search = opro.OPROSearch(label_names=["bad", "good"], max_trajectory=2, num_exemplars=2)
    search.trajectory = {"a": (0.5, 0.7), "b": (0.75, 0.6), "c": (0.25, 0.9)}
    meta = search.meta_prompt(texts, labels)
    assert meta.index("text: a") < meta.index("text: b")  # ascending: the best comes last
    assert "text: c" not in meta  # only the top max_trajectory instructions
    assert "score: 75" in meta and "output: good" in meta and "output: bad" in meta


def test_opro_search_improves_the_instruction_on_the_frozen_scorer(llama):
    model, tokenizer, texts, labels = llama
    rp = opro.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_proposals=4, seed=0)
    fingerprint = rp.frozen.fingerprint()
    search = rp.gradient_estimator
    start = instruction_score(rp, "answer the question", texts, labels)
    best = search.search(rp, texts, labels, steps=5)
    accuracy, loss = instruction_score(rp, best, texts, labels)
    assert rp.inputs[0].text == best
    assert len(search.trajectory) >= 10 and search.queries >= len(search.trajectory)
    assert (accuracy, -loss) > (start[0], -start[1])  # strictly better than the starting instruction
    assert all((accuracy, -loss) >= (a, -l) for a, l in search.trajectory.values())
    assert rp.frozen.fingerprint() == fingerprint


def test_opro_uses_an_injected_optimiser_lm(llama):
    model, tokenizer, texts, labels = llama
    prompts = []

    def writer(meta_prompt, count):
        prompts.append(meta_prompt)
        return ["<INS>the review is good</INS>", "<INS>the review is bad</INS>", "  "][:count]

    rp = opro.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_proposals=3, writer=writer)
    rp.gradient_estimator.search(rp, texts, labels, steps=1)
    assert "text: answer the question" in prompts[0] and "score:" in prompts[0]
    assert set(rp.gradient_estimator.trajectory) == {"answer the question", "the review is good", "the review is bad"}


def test_opro_through_the_trainer_applies_the_search_step_exactly(llama):
    model, tokenizer, texts, labels = llama
    rp = opro.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_proposals=3)
    Trainer(rp, epochs=3, batch_size=4, progress=False, gradient_estimator=rp.gradient_estimator, **SEARCH_TRAINER).fit(
        (texts, labels)
    )
    search = rp.gradient_estimator
    assert rp.inputs[0].text == search.current  # θ ← θ − 1·(θ − θ_next) landed on the step's instruction
    assert search.finish(rp) == search.ranked()[0][0] == rp.inputs[0].text


# --- ProTeGi ---------------------------------------------------------------------------------------------

from reprogrammability.implementations.prompt_tuning import protegi  # noqa: E402


def test_protegi_textual_gradient_names_the_errors_and_edits_answer_it(llama):
    model, tokenizer, texts, labels = llama
    rp = protegi.build(model, tokenizer=tokenizer, label_words=["bad", "good"])
    search = rp.gradient_estimator
    errors = search.errors(rp, "answer the question", texts, labels)
    with torch.no_grad():
        predicted = rp(texts).argmax(-1)
    wrong = [(t, int(y)) for t, y, p in zip(texts, labels, predicted) if p != y]
    if wrong:
        assert errors == wrong
    (gradient, *_) = search.gradients("answer the question", errors)
    y = errors[0][1]
    assert ["bad", "good"][y] in gradient and errors[0][0] in gradient
    edits = search.edits("answer the question", gradient, errors)
    assert edits and all(e != "answer the question" for e in edits)
    critique_words = set(re.findall(r"\w+", gradient))
    for edit in edits:  # a one-word edit with a word of the critique (or a deletion)
        added = set(edit.split()) - set("answer the question".split())
        assert added <= critique_words


def test_protegi_beam_search_improves_the_prompt(llama):
    model, tokenizer, texts, labels = llama
    rp = protegi.build(
        model, tokenizer=tokenizer, label_words=["bad", "good"], selection="full", beam_width=3, paraphrases=1
    )
    fingerprint = rp.frozen.fingerprint()
    start = instruction_score(rp, "answer the question", texts, labels)
    best = rp.gradient_estimator.search(rp, texts, labels, steps=4)
    accuracy, loss = instruction_score(rp, best, texts, labels)
    assert (accuracy, -loss) > (start[0], -start[1])
    assert len(rp.gradient_estimator.beam) <= 3 and best == rp.gradient_estimator.beam[0]
    assert rp.frozen.fingerprint() == fingerprint


def test_protegi_ucb_selection_finds_the_best_arms():
    search = protegi.ProTeGiSearch(beam_width=2, pulls=300, sample_size=1, exploration=0.5, seed=0)
    truth = {"a": 0.2, "b": 0.8, "c": 0.5, "d": 0.1}
    pulls = dict.fromkeys(truth, 0)
    rng = torch.Generator().manual_seed(0)

    def score(rp, text, inputs, targets, loss_fn):  # Bernoulli rewards with the true means
        pulls[text] += 1
        return float(torch.rand(1, generator=rng) < truth[text]), 0.0

    search.score = score
    beam = search.select(None, list(truth), ["x"] * 4, torch.zeros(4, dtype=torch.long), None)
    assert beam == ["b", "c"]
    assert pulls["b"] > pulls["a"] > 0 and pulls["b"] > pulls["d"]


def test_protegi_uses_an_injected_lm_for_gradients_edits_and_paraphrases(llama):
    model, tokenizer, texts, labels = llama
    requests = []

    def writer(request, count):
        requests.append(request)
        if request.endswith("Reason:"):
            return ["it never mentions the sentiment"] * count
        if "A problem with the prompt" in request:
            return ["the sentiment of the review is</INS>"] * count
        return ["the review sentiment is</INS>"] * count

    rp = protegi.build(
        model, tokenizer=tokenizer, label_words=["bad", "good"], writer=writer, num_gradients=1, selection="full"
    )
    rp.gradient_estimator.search(rp, texts, labels, steps=1)
    gradient_requests = [r for r in requests if r.endswith("Reason:")]
    assert gradient_requests and "label:" in gradient_requests[0]
    assert any("it never mentions the sentiment" in r for r in requests)
    assert set(rp.gradient_estimator.means) == {
        "answer the question",
        "the sentiment of the review is",
        "the review sentiment is",
    }


# --- LLaMA-Adapter ---------------------------------------------------------------------------------------

from reprogrammability.implementations.prompt_tuning import adaption, llama_adapter  # noqa: E402


def test_llama_adapter_starts_as_the_frozen_model_and_the_gate_learns_first(llama):
    model, tokenizer, texts, labels = llama
    rp = llama_adapter.build(model, tokenizer=tokenizer, answer_words=["bad", "good"], prompt_length=3)
    (part,) = rp.inputs
    assert part.layers == (1,)  # the top layer of two
    plain = rp.frozen(texts)[:, rp.output.indices]
    logits = rp(texts)
    assert torch.equal(logits, plain)  # zero-initialised gate: exactly f
    F.cross_entropy(logits.float(), labels).backward()
    assert part.prompts.grad.abs().max() == 0  # tanh(0) = 0: no signal to the prompts yet
    assert part.gates.grad.abs().max() > 0  # the gate opens first
    with torch.no_grad():
        part.gates.fill_(0.5)
    assert not torch.allclose(rp(texts), plain)


def test_llama_adapter_reads_the_layers_own_norm_rotary_and_projections(llama):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model, tokenizer, texts, labels = llama
    rp = llama_adapter.build(model, tokenizer=tokenizer, answer_words=["bad", "good"], prompt_length=3)
    block = model.model.layers[1]
    hidden = torch.randn(2, 5, model.config.hidden_size)
    q = torch.randn(2, 4, 5, 8)
    cos, sin = model.model.rotary_emb(hidden, torch.arange(5).unsqueeze(0).expand(2, -1))
    expected, _ = apply_rotary_pos_emb(q, q, cos, sin)
    torch.testing.assert_close(adaption._rotate(q, model.model.rotary_emb), expected)
    torch.testing.assert_close(adaption._project(block.self_attn.q_proj, hidden), block.self_attn.q_proj(hidden))
    # with all gates open and one prompt vector, every query attends to it: the term is W_o W_v p per position
    (part,) = rp.inputs
    with torch.no_grad():
        part.prompts[:, 1:] = part.prompts[:, :1]  # identical prompt vectors: softmax weights do not matter
        part.gates.fill_(10.0)
    term = part.gated_term(1, hidden)
    p = part.prompts[0, 0]
    attention = block.self_attn
    value = attention.v_proj(p).view(2, 8).repeat_interleave(2, dim=0).reshape(-1)  # GQA: 2 kv heads → 4 heads
    torch.testing.assert_close(term, (attention.o_proj(value * torch.tanh(torch.tensor(10.0)))).expand(2, 5, -1))


def test_llama_adapter_training_lowers_the_loss_and_keeps_f_frozen(llama):
    # the tiny random LM cannot separate the four sentences through one adapted layer; what the gated prompts
    # must learn is to move the answer-token scores: teach it to answer "bad" to every input
    model, tokenizer, texts, _ = llama
    targets = torch.zeros(4, dtype=torch.long)
    rp = llama_adapter.build(model, tokenizer=tokenizer, answer_words=["bad", "good"], prompt_length=4)
    fingerprint = rp.frozen.fingerprint()
    with torch.no_grad():
        before = F.cross_entropy(rp(texts).float(), targets)
    Trainer(rp, epochs=40, batch_size=4, learning_rate=0.05, progress=False).fit((texts, targets))
    with torch.no_grad():
        logits = rp(texts).float()
    assert F.cross_entropy(logits, targets) < before - 0.1
    assert (logits.argmax(-1) == 0).all()
    assert rp.inputs[0].gates.abs().max() > 0.05  # the gate opened
    assert rp.frozen.fingerprint() == fingerprint
