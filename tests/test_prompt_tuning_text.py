"""Text prompt-tuning parts on tiny random LMs: where the prompts go, their initialisations, the
verbalizers, prefixes, encoders, mixtures, AutoPrompt's search, BBT's CMA-ES, SPoT/PPT transfer."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("transformers")

from reprogrammability.framework.errors import InterfaceError, ShapeError  # noqa: E402
from reprogrammability.framework.frozen import FrozenModel  # noqa: E402
from reprogrammability.framework.reprogrammer import Reprogrammer  # noqa: E402
from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_masked_lm, tiny_tokenizer  # noqa: E402
from reprogrammability.implementations.prompt_tuning import (  # noqa: E402
    autoprompt,
    bbt,
    dart,
    p_tuning,
    p_tuning_v2,
    ppt,
    prefix_tuning,
    prompt_tuning,
    soft_prompt_mixture,
    spot,
    warp,
)
from reprogrammability.implementations.prompt_tuning.black_box import CMAES  # noqa: E402
from reprogrammability.implementations.prompt_tuning.discrete import AutoPromptSearch, TriggerTokens  # noqa: E402
from reprogrammability.implementations.prompt_tuning.peft_format import export_peft, import_peft  # noqa: E402
from reprogrammability.implementations.prompt_tuning.prefix import KeyValuePrompt  # noqa: E402
from reprogrammability.implementations.prompt_tuning.soft_prompt import (  # noqa: E402
    SoftPrompt,
    class_label_init,
    sampled_vocabulary_init,
    text_init,
    uniform_init,
)
from reprogrammability.implementations.prompt_tuning.verbalizer import Verbalizer  # noqa: E402

TEXTS = ["the movie was very good . it was", "bad food . it was", "great service . it was"]
LABELS = torch.tensor([1, 0, 1])


@pytest.fixture(scope="module")
def llama():
    return tiny_causal_lm("llama"), tiny_tokenizer(style="causal")


@pytest.fixture(scope="module")
def bert():
    return tiny_masked_lm(), tiny_tokenizer(style="bert")


def ids_of(tokenizer, words):
    return [tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in words]


# -- soft prompts ---------------------------------------------------------------------------------------
def test_soft_prompt_is_prepended_before_the_first_block(llama):
    model, tokenizer = llama
    rp = prompt_tuning.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=3)
    record = rp.frozen.trace(TEXTS, list(rp.inputs))
    prompt = rp.inputs[0].prompt
    first = record.hidden[0]  # Llama's first block sees the embeddings themselves
    assert first.shape[1] == 3 + tokenizer(TEXTS, padding=True, return_tensors="pt")["input_ids"].shape[1]
    assert torch.equal(first[:, :3], prompt.detach().expand(len(TEXTS), -1, -1))
    assert torch.equal(first[:, 3:], record.embedding)


def test_soft_prompt_scores_equal_the_model_on_concatenated_embeddings(llama):
    model, tokenizer = llama
    rp = prompt_tuning.build(
        model, tokenizer=tokenizer, label_words=[["bad", "terrible"], "good"], num_virtual_tokens=4
    )
    enc = tokenizer(TEXTS, padding=True, return_tensors="pt")
    embeds = torch.cat([rp.inputs[0].prompt.detach().expand(3, -1, -1), model.get_input_embeddings()(enc.input_ids)], 1)
    mask = torch.cat([torch.ones(3, 4, dtype=torch.long), enc.attention_mask], 1)
    with torch.no_grad():
        logits = model(inputs_embeds=embeds, attention_mask=mask).logits
    last = enc.attention_mask.sum(1) - 1 + 4
    z = logits[torch.arange(3), last]
    bad, terrible, good = ids_of(tokenizer, ["bad", "terrible", "good"])
    expected = torch.stack([(z[:, bad] + z[:, terrible]) / 2, z[:, good]], 1)
    with torch.no_grad():
        assert torch.allclose(rp(TEXTS), expected, atol=1e-5)


def test_soft_prompt_positions_and_errors(llama):
    model, tokenizer = llama
    frozen = FrozenModel(model, tokenizer=tokenizer, readout="sequence")
    prompt = SoftPrompt(torch.randn(2, 32), position=-1)
    state = frozen.adapter.embed(model, frozen.adapter.prepare(model, ["good bad film"]))
    out = prompt(state)
    assert torch.equal(out.embeds[0, 2:4], prompt.prompt.detach()) and out.token_positions.tolist() == [0, 1, 4]
    assert SoftPrompt(torch.randn(2, 32), position="end")(state).token_positions.tolist() == [0, 1, 2]
    with pytest.raises(ShapeError, match="prompt"):
        SoftPrompt(torch.randn(2, 16))(state)
    with pytest.raises(ValueError, match="position"):
        SoftPrompt(torch.randn(2, 32), position="middle")
    with pytest.raises(ShapeError, match="init"):
        SoftPrompt(torch.randn(32))


def test_lester_initialisations(llama):
    model, tokenizer = llama
    embedding = model.get_input_embeddings()
    u = uniform_init(50, 32, 0.5, torch.Generator().manual_seed(0))
    assert u.abs().max() <= 0.5 and u.abs().max() > 0.45
    sampled = sampled_vocabulary_init(embedding, 20, top_k=30, generator=torch.Generator().manual_seed(0))
    rows = embedding.weight[:30].detach()
    assert all(any(torch.equal(row, r) for r in rows) for row in sampled)
    text = text_init(embedding, tokenizer, "good movie", length=5)
    good, movie = ids_of(tokenizer, ["good", "movie"])
    expected = embedding.weight[[good, movie, good, movie, good]].detach()
    assert torch.equal(text, expected)
    labels = class_label_init(embedding, tokenizer, ["bad", "good"], 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(labels[:2], embedding.weight[ids_of(tokenizer, ["bad", "good"])].detach())
    rp = prompt_tuning.build(
        model,
        tokenizer=tokenizer,
        label_words=["bad", "good"],
        init="text",
        init_text="good movie",
        num_virtual_tokens=5,
    )
    assert torch.equal(rp.inputs[0].prompt.detach(), expected)
    with pytest.raises(ValueError, match="init_text"):
        prompt_tuning.build(model, tokenizer=tokenizer, label_words=["bad", "good"], init="text")
    with pytest.raises(ValueError, match="class_names"):
        prompt_tuning.build(model, tokenizer=tokenizer, label_words=["bad", "good"], init="class-label")


def test_verbalizer_words_and_scoring(llama):
    _, tokenizer = llama
    v = Verbalizer.from_words(tokenizer, [["bad", "terrible"], "good"])
    z = torch.randn(2, len(tokenizer))
    bad, terrible, good = ids_of(tokenizer, ["bad", "terrible", "good"])
    assert torch.allclose(v(z), torch.stack([(z[:, bad] + z[:, terrible]) / 2, z[:, good]], 1))
    lp = Verbalizer.from_words(tokenizer, ["bad", "good"], scoring="log_probs")(z)
    assert torch.allclose(lp, torch.log_softmax(z, -1)[:, [bad, good]])
    assert v.trainable_parameters == 0 and v.symbolic().evaluate_parameter_count() == 0
    with pytest.raises(ValueError, match="words"):
        Verbalizer.from_words(tokenizer, [])
    with pytest.raises(ValueError, match="scoring"):
        Verbalizer([1, 2], scoring="probs")


def test_training_prompt_tuning_lowers_the_loss(llama):
    from reprogrammability.framework.training import Trainer

    model, tokenizer = llama
    rp = prompt_tuning.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=4)
    before = F.cross_entropy(rp(TEXTS), LABELS).item()
    Trainer(rp, epochs=15, batch_size=3, learning_rate=0.05, progress=False, device="cpu").fit((TEXTS, LABELS))
    after = F.cross_entropy(rp(TEXTS), LABELS).item()
    assert after < before - 0.05
    rp.frozen.assert_unchanged()


# -- P-tuning -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["lstm", "mlp"])
def test_p_tuning_inserts_the_encoder_output(llama, encoder):
    model, tokenizer = llama
    rp = p_tuning.build(
        model,
        tokenizer=tokenizer,
        label_words=["bad", "good"],
        num_virtual_tokens=3,
        encoder=encoder,
        encoder_hidden_size=8,
    )
    part = rp.inputs[0]
    record = rp.frozen.trace(TEXTS, list(rp.inputs))
    assert torch.allclose(record.hidden[0][0, :3], part.prompts().detach())
    plain = Reprogrammer(rp.frozen, part.to_soft_prompt(), rp.output, paradigm="prompt-tuning")
    with torch.no_grad():
        assert torch.allclose(plain(TEXTS), rp(TEXTS), atol=1e-6)
    assert plain.parameter_count() == 3 * 32 < rp.parameter_count()


# -- prefixes -------------------------------------------------------------------------------------------
def test_prefix_shapes_follow_grouped_query_attention(llama):
    model, tokenizer = llama
    rp = prefix_tuning.build(
        model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=3, encoder_hidden_size=16
    )
    part = rp.inputs[0]
    g = part.geometry
    assert (g.num_layers, g.num_kv_heads, g.head_dim) == (2, 2, 8)  # 4 query heads share 2 key/value heads
    pairs = part.key_value_prefix(5, g)
    assert len(pairs) == 2 and all(k.shape == v.shape == (5, 2, 3, 8) for k, v in pairs)
    assert rp.frozen.trace(TEXTS, [part]).key_value_length == 3
    merged = part.merged()
    assert part.reparameterized and not merged.reparameterized
    with torch.no_grad():
        assert torch.allclose(
            Reprogrammer(rp.frozen, merged, rp.output, paradigm="prompt-tuning")(TEXTS), rp(TEXTS), atol=1e-6
        )
    assert merged.trainable_parameters == 3 * 2 * 2 * 2 * 8


def test_prefix_tuning_outputs_and_p_tuning_v2_head(llama, bert):
    model, tokenizer = llama
    full = prefix_tuning.build(model, tokenizer=tokenizer)  # identity: the whole next-token distribution
    assert full(TEXTS).shape == (3, model.config.vocab_size)
    restricted = prefix_tuning.build(model, tokenizer=tokenizer, label_words=["bad", "good"])
    with torch.no_grad():
        assert torch.allclose(restricted(TEXTS), full(TEXTS)[:, ids_of(tokenizer, ["bad", "good"])], atol=1e-6)
    with pytest.raises(ValueError, match="one label word"):
        prefix_tuning.build(model, tokenizer=tokenizer, label_words=[["bad", "terrible"], "good"])
    v2 = p_tuning_v2.build(model, tokenizer=tokenizer, num_classes=3, num_virtual_tokens=2)
    assert v2.frozen.adapter.readout_mode == "last_features" and v2(TEXTS).shape == (3, 3)
    masked, bert_tokenizer = bert
    v2_bert = p_tuning_v2.build(
        masked,
        tokenizer=bert_tokenizer,
        num_classes=2,
        num_virtual_tokens=2,
        reparameterize=True,
        encoder_hidden_size=8,
    )
    assert v2_bert.frozen.adapter.readout_mode == "cls"  # the final [CLS] state, as in the paper
    assert v2_bert(TEXTS).shape == (3, 2)


# -- heads on the LM's features -------------------------------------------------------------------------
def test_warp_class_embeddings_start_as_the_verbalizer(bert):
    model, tokenizer = bert
    texts = [t + " [MASK] ." for t in TEXTS]
    rp = warp.build(model, tokenizer=tokenizer, label_words=["bad", "good"], blocks=[(1, 2), (-1, 2)])
    frozen_scores = FrozenModel(model, tokenizer=tokenizer, readout="mask")
    with torch.no_grad():
        z = frozen_scores(texts, list(rp.inputs))
        assert torch.allclose(rp(texts), z[:, ids_of(tokenizer, ["bad", "good"])], atol=1e-5)
    first = rp.inputs[-1]  # the block at position 1 is inserted last
    assert torch.equal(first.prompt.detach()[0], model.get_input_embeddings().weight[tokenizer.mask_token_id].detach())
    assert rp.output.trainable_parameters == 2 * 32 + 2


def test_dart_label_tokens_and_fluency(bert):
    model, tokenizer = bert
    texts = [t + " [MASK] ." for t in TEXTS]
    rp = dart.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=2, position=1)
    assert rp.output.trainable_parameters == 2 * 32 and not rp.output.train_bias
    loss = dart.fluency_loss(rp, texts, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.item() > 0 and rp.inputs[0].prompt.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="rate"):
        dart.fluency_loss(rp, texts, rate=1.5)


# -- mixtures -------------------------------------------------------------------------------------------
def test_mixture_of_identical_prompts_equals_one_prompt(llama):
    model, tokenizer = llama
    two = soft_prompt_mixture.build(
        model,
        tokenizer=tokenizer,
        label_words=["bad", "good"],
        num_virtual_tokens=3,
        templates=["the review was", "the review was"],
    )
    one = soft_prompt_mixture.build(
        model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=3, templates=["the review was"]
    )
    with torch.no_grad():
        two.inputs[0].mixture_logits.copy_(torch.tensor([0.3, -1.0]))
        assert torch.allclose(two(TEXTS), one(TEXTS), atol=1e-5)
        single = prompt_tuning.build(
            model,
            tokenizer=tokenizer,
            label_words=["bad", "good"],
            num_virtual_tokens=3,
            init="text",
            init_text="the review was",
            scoring="log_probs",
        )
        assert torch.allclose(one(TEXTS), single(TEXTS), atol=1e-5)
        vocabulary = soft_prompt_mixture.build(
            model, tokenizer=tokenizer, num_virtual_tokens=3, templates=["the review was", "this film is"]
        )(TEXTS)
    assert vocabulary.shape == (3, model.config.vocab_size)  # identity: a distribution over every word
    assert torch.allclose(torch.logsumexp(vocabulary, dim=-1), torch.zeros(3), atol=1e-5)
    with pytest.raises(ValueError, match="one answer word"):
        soft_prompt_mixture.build(model, tokenizer=tokenizer, label_words=[["bad", "terrible"], "good"])


def test_mixture_weights_the_prompts(llama):
    model, tokenizer = llama
    rp = soft_prompt_mixture.build(
        model,
        tokenizer=tokenizer,
        label_words=["bad", "good"],
        num_virtual_tokens=2,
        templates=["the review was", "this film is"],
    )
    part = rp.inputs[0]
    with torch.no_grad():
        part.mixture_logits.copy_(torch.tensor([0.5, -0.5]))
        per_prompt = []
        for k in range(2):
            single = prompt_tuning.build(
                model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=2, scoring="log_probs"
            )
            single.inputs[0].prompt.copy_(part.prompt[k])
            per_prompt.append(single(TEXTS))
        log_pi = torch.log_softmax(part.mixture_logits, 0)
        expected = torch.logsumexp(torch.stack(per_prompt, 1) + log_pi.view(1, 2, 1), dim=1)
        assert torch.allclose(rp(TEXTS), expected, atol=1e-5)


# -- AutoPrompt -----------------------------------------------------------------------------------------
def test_trigger_insertion_positions(bert, llama):
    _, tokenizer = llama
    ids = {
        "input_ids": torch.tensor([[10, 11, 12, 0], [13, 14, 0, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]),
    }
    end = TriggerTokens([7, 8], position="end")
    out, places = end.insert(ids)
    assert out["input_ids"].tolist() == [[10, 11, 12, 7, 8], [13, 14, 7, 8, 0]] and places.tolist() == [[3, 4], [2, 3]]
    start = TriggerTokens([7, 8], position="start")
    assert start(ids)["input_ids"].tolist()[1] == [13, 7, 8, 14, 0]
    before = TriggerTokens([7], position="before_mask", mask_id=12)
    with pytest.raises(InterfaceError, match="mask token"):
        before(ids)
    one_mask = {"input_ids": torch.tensor([[10, 12, 11]]), "attention_mask": torch.ones(1, 3, dtype=torch.long)}
    assert before(one_mask)["input_ids"].tolist() == [[10, 7, 12, 11]]
    with pytest.raises(ValueError, match="mask_id"):
        TriggerTokens([7], position="before_mask")


def test_autoprompt_search_keeps_the_best_candidate(llama):
    model, tokenizer = llama
    rp = autoprompt.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_triggers=2)
    search = AutoPromptSearch(num_candidates=4)
    part = rp.inputs[0]
    before = part.trigger_ids().clone()
    with torch.no_grad():
        start = F.cross_entropy(rp(TEXTS), LABELS).item()
    step = search.step(rp, TEXTS, LABELS, slot=1)
    assert step["loss_after"] <= step["loss_before"] + 1e-7 and abs(step["loss_before"] - start) < 1e-6
    with torch.no_grad():
        assert abs(F.cross_entropy(rp(TEXTS), LABELS).item() - step["loss_after"]) < 1e-6
    assert part.trigger_ids()[0] == before[0]  # only slot 1 may change
    assert search.queries == 1 + 4
    assert rp.frozen.model.get_input_embeddings().weight.grad is None
    rp.frozen.assert_unchanged()


def test_autoprompt_trains_through_the_trainer_with_its_search(llama):
    from reprogrammability.framework.training import Trainer

    model, tokenizer = llama
    rp = autoprompt.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_triggers=2, num_candidates=6)
    search = rp.gradient_estimator
    assert isinstance(search, AutoPromptSearch) and not search.allowed[tokenizer.all_special_ids].any()
    with torch.no_grad():
        start = F.cross_entropy(rp(TEXTS), LABELS).item()
    result = Trainer(rp, epochs=4, batch_size=3, progress=False, device="cpu", gradient_estimator=search).fit(
        (TEXTS, LABELS)
    )
    with torch.no_grad():
        end = F.cross_entropy(rp(TEXTS), LABELS).item()
    assert end <= start and result.queries == search.queries == 4 * (1 + 6)
    assert set(rp.inputs[0].trigger_ids().tolist()).isdisjoint(tokenizer.all_special_ids)


# -- BBT ------------------------------------------------------------------------------------------------
def test_cma_es_minimises_a_quadratic():
    target = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    es = CMAES(torch.zeros(4), sigma=1.0, seed=0)
    for _ in range(80):
        candidates = es.ask()
        es.tell(candidates, [float(((c - target) ** 2).sum()) for c in candidates])
    assert es.best[0] < 1e-4 and torch.allclose(es.best[1], target, atol=1e-2)


def test_bbt_fits_z_without_gradients(llama):
    model, tokenizer = llama
    rp = bbt.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=3, subspace_dim=6)
    part = rp.inputs[0]
    assert part.trainable_parameters == 6 and part.projection.shape == (3 * 32, 6)
    with torch.no_grad():
        start = F.cross_entropy(rp(TEXTS), LABELS).item()
    result = bbt.fit_black_box(rp, TEXTS, LABELS, budget=60, population=6, sigma=2.0)
    assert result["queries"] == 60 and len(result["history"]) == 10
    with torch.no_grad():
        end = F.cross_entropy(rp(TEXTS), LABELS).item()
    assert abs(end - result["best_loss"]) < 1e-5 and end < start
    assert part.z.grad is None
    rp.frozen.assert_unchanged()


def test_bbt_evolution_strategy_gradient_points_downhill(llama):
    model, tokenizer = llama
    rp = bbt.build(
        model,
        tokenizer=tokenizer,
        label_words=["bad", "good"],
        num_virtual_tokens=3,
        subspace_dim=4,
        es_samples=64,
        es_sigma=0.05,
    )
    estimator = rp.gradient_estimator
    loss = estimator.estimate(rp, TEXTS, LABELS, F.cross_entropy)
    assert estimator.queries == 1 + 2 * 64
    estimated = rp.inputs[0].z.grad.clone()
    rp.zero_grad()
    F.cross_entropy(rp(TEXTS), LABELS).backward()  # the true gradient, for the test only
    true = rp.inputs[0].z.grad
    assert F.cosine_similarity(estimated, true, dim=0) > 0.8
    assert abs(loss.item() - F.cross_entropy(rp(TEXTS), LABELS).item()) < 1e-6


# -- SPoT, PPT and the peft format ------------------------------------------------------------------------
def test_spot_and_ppt_start_from_the_transferred_prompt(llama, tmp_path):
    model, tokenizer = llama
    source = prompt_tuning.build(model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=4)
    with torch.no_grad():
        source.inputs[0].prompt.mul_(2)
    source.save_learned(tmp_path / "ours")
    export_peft(source, tmp_path / "peft")
    for path in (tmp_path / "ours", tmp_path / "peft"):
        target = spot.build(
            model, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=4, source=str(path)
        )
        assert torch.equal(target.inputs[0].prompt.detach(), source.inputs[0].prompt.detach())
    with pytest.raises(ShapeError, match="source_prompt"):
        spot.build(
            model,
            tokenizer=tokenizer,
            label_words=["bad", "good"],
            num_virtual_tokens=5,
            source_prompt=source.inputs[0].prompt.detach(),
        )
    p = ppt.build(
        model,
        tokenizer=tokenizer,
        label_words=["bad", "good"],
        num_virtual_tokens=4,
        pretrained_prompt=source.inputs[0].prompt.detach(),
    )
    assert torch.equal(p.inputs[0].prompt.detach(), source.inputs[0].prompt.detach())
    a, b = torch.randn(4, 32), torch.randn(3, 32)
    assert spot.task_similarity(a, a) > spot.task_similarity(a, b)
    ranked = spot.rank_sources(a, {"far": b, "same": a.clone(), "scaled": 3 * a})
    assert [name for name, _ in ranked][:2] in (["same", "scaled"], ["scaled", "same"])


def test_ppt_sentence_pairs_and_pretraining(llama):
    model, tokenizer = llama
    sentences = [
        "the team won the match",
        "the player scored",
        "the market fell",
        "the stock price rose",
        "a new study",
    ]
    texts, labels = ppt.sentence_pair_task(sentences)
    assert len(texts) == 8 and labels.tolist() == [1, 0] * 4
    assert texts[0] == "the team won the match ? the player scored"
    prompt = ppt.pretrain_prompt(model, sentences, tokenizer=tokenizer, num_virtual_tokens=3, steps=3, batch_size=4)
    assert prompt.shape == (3, 32)
    with pytest.raises(ValueError, match="sentences"):
        ppt.sentence_pair_task(["one", "two"])


def test_peft_format_round_trip_without_peft(llama, tmp_path):
    model, tokenizer = llama
    rp = prefix_tuning.build(model, tokenizer=tokenizer, num_virtual_tokens=2, encoder_hidden_size=8)
    export_peft(rp, tmp_path / "prefix")
    part = import_peft(tmp_path / "prefix")
    assert isinstance(part, KeyValuePrompt) and torch.allclose(part.prefix, rp.inputs[0].flat_prefix().detach())
    shifted = SoftPrompt(torch.randn(2, 32), position=1)
    with pytest.raises(ValueError, match="position 0"):
        export_peft(shifted, tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="adapter_config"):
        import_peft(tmp_path / "missing")


# -- the feature readouts added to TextAdapter ------------------------------------------------------------
def test_feature_readouts_are_what_the_lm_head_scores(llama, bert):
    model, tokenizer = llama
    features = FrozenModel(model, tokenizer=tokenizer, readout="last_features")(TEXTS)
    scores = FrozenModel(model, tokenizer=tokenizer, readout="last")(TEXTS)
    assert features.shape == (3, 32)
    assert torch.allclose(model.get_output_embeddings()(features), scores, atol=1e-5)
    masked, bert_tokenizer = bert
    texts = [t + " [MASK] ." for t in TEXTS]
    features = FrozenModel(masked, tokenizer=bert_tokenizer, readout="mask_features")(texts)
    scores = FrozenModel(masked, tokenizer=bert_tokenizer, readout="mask")(texts)
    assert torch.allclose(masked.get_output_embeddings()(features), scores, atol=1e-5)
    cls = FrozenModel(masked, tokenizer=bert_tokenizer, readout="cls")(texts)
    enc = bert_tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = masked(**enc, output_hidden_states=True).hidden_states[-1]
    assert torch.allclose(cls, hidden[:, 0], atol=1e-6)
