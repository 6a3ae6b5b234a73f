"""Soft prompts and key/value prefixes of different lengths in ONE forward of a frozen transformers LM.

Each row of a mixed-task batch must equal its task's own Reprogrammer run alone. The float64 tests
compare at 1e-9; the float32 test at 1e-6 (the padded pass sums attention over a longer key axis, so
float32 rows differ from their own runs by rounding only, ~1e-7).
"""

from __future__ import annotations

import pytest
import torch

from reprogrammability.framework import FrozenModel, Reprogrammer
from reprogrammability.framework.alignment import IndexMapping, LinearAlignment
from reprogrammability.framework.errors import SavedProgramError
from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_masked_lm, tiny_tokenizer
from reprogrammability.implementations.prompt_tuning import p_tuning_v2, prompt_tuning
from reprogrammability.implementations.prompt_tuning.instruction_search import InstructionPrompt
from reprogrammability.implementations.prompt_tuning.prefix import KeyValuePrompt
from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt
from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
from reprogrammability.implementations.serving import ProgramBank, UnknownTaskError

TEXTS = [
    "the movie was great . it was",
    "bad film . it was",
    "a very long sentence about nothing at all . it was",
    "ok . it was",
    "terrible acting and a bad plot . it was",
    "fine . it was",
    "great",
    "the plot was fine but the acting was terrible . it was",
]


def _forwards(frozen: FrozenModel, run):
    calls: list[int] = []
    handle = frozen.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        result = run()
    finally:
        handle.remove()
    return result, len(calls)


def _max_difference(bank: ProgramBank, texts: list[str], names: list[str]) -> float:
    """max over rows |bank row − the row's own Reprogrammer output| (rows of a task run together, alone)."""
    rows = bank.predict(texts, names)
    worst = 0.0
    for task in set(names):
        index = [i for i, n in enumerate(names) if n == task]
        own = bank[task].program([texts[i] for i in index])
        for i, expected in zip(index, own):
            assert rows[i].shape == expected.shape and rows[i].dtype == expected.dtype
            worst = max(worst, (rows[i] - expected).abs().max().item())
    return worst


def _tasks(f: FrozenModel, dtype: torch.dtype) -> dict[str, Reprogrammer]:
    """Soft prompts of lengths 1, 3 (at index 1), 6; direct prefixes of 2 and 4 positions (P-tuning v2
    style); an MLP-reparameterised prefix of 5 (prefix tuning); a prompt + a prefix; a task with neither
    (a discrete instruction on the input strings).
    Readouts through a verbalizer, a linear head, a fitted frequency label mapping and an index mapping."""
    vocab = f.model.config.vocab_size
    geometry = f.adapter.attention_geometry(f.model)
    tokenizer = f.adapter.tokenizer
    generator = torch.Generator().manual_seed(0)

    def prompt(length, position=0):
        return SoftPrompt(torch.randn(length, geometry.hidden_size, generator=generator), position=position)

    def prefix(length, **options):
        return KeyValuePrompt(geometry, length, generator=generator, **options)

    flm = FrequencyLabelMapping(vocab, 3)
    flm.fit(torch.randn(30, vocab, generator=generator), torch.arange(30) % 3)
    tasks = {
        "verbalized_1": prompt_tuning.build(
            f, tokenizer=tokenizer, label_words=["bad", "good"], num_virtual_tokens=1, init="uniform"
        ),
        "soft_3_at_1": Reprogrammer(f, prompt(3, position=1), LinearAlignment(vocab, 3), paradigm="prompt-tuning"),
        "soft_6": Reprogrammer(f, prompt(6), flm, paradigm="prompt-tuning"),
        "prefix_2": Reprogrammer(f, prefix(2), IndexMapping.first_k(2), paradigm="prompt-tuning"),
        "prefix_4": Reprogrammer(f, prefix(4), LinearAlignment(vocab, 5), paradigm="prompt-tuning"),
        "prefix_mlp_5": Reprogrammer(
            f, prefix(5, reparameterize_dim=8, hidden=16), IndexMapping.first_k(4), paradigm="prompt-tuning"
        ),
        "soft_2_prefix_3": Reprogrammer(f, [prompt(2), prefix(3)], LinearAlignment(vocab, 2), paradigm="prompt-tuning"),
        "plain": Reprogrammer(
            f, InstructionPrompt(tokenizer, "the review"), IndexMapping.first_k(3), paradigm="prompt-tuning"
        ),
    }
    return {name: program.to(dtype) for name, program in tasks.items()}


def _bank(kind: str, dtype: torch.dtype) -> ProgramBank:
    model = tiny_causal_lm(kind).to(dtype)
    f = FrozenModel(model, tokenizer=tiny_tokenizer(style="causal"), readout="last")
    bank = ProgramBank(f)
    for name, program in _tasks(f, dtype).items():
        bank.add(name, program)
    return bank


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
def test_prompts_and_prefixes_of_different_lengths_share_one_forward(kind):
    bank = _bank(kind, torch.float64)
    names = [bank.tasks[(3 * i) % len(bank.tasks)] for i in range(16)]
    texts = [TEXTS[i % len(TEXTS)] for i in range(16)]
    assert set(names) == set(bank.tasks)
    plan = bank.plan(texts, names)
    assert len(plan.passes) == 1 and plan.passes[0].per_row and plan.reasons == []
    assert "key/value prefix length 5" in plan.explain() and "length 6" in plan.explain()
    rows, forwards = _forwards(bank.frozen, lambda: bank.predict(texts, names))
    assert forwards == 1
    classes = {"verbalized_1": 2, "soft_3_at_1": 3, "soft_6": 3, "prefix_2": 2, "prefix_4": 5, "prefix_mlp_5": 4}
    classes.update(soft_2_prefix_3=2, plain=3)
    assert [r.shape[0] for r in rows] == [classes[n] for n in names]
    assert _max_difference(bank, texts, names) <= 1e-9
    # the rows really differ between tasks (the comparison above can fail): one text, every task
    one_text = [texts[0]] * len(bank.tasks)
    by_task = bank.predict(one_text, bank.tasks)
    assert by_task[bank.tasks.index("prefix_2")][:2].sub(by_task[bank.tasks.index("plain")][:2]).abs().max() > 1e-3
    bank.assert_frozen()


def test_float32_rows_equal_their_own_runs_within_1e_6():
    bank = _bank("llama", torch.float32)
    names = list(bank.tasks) * 2
    texts = (TEXTS * 2)[: len(names)]
    _, forwards = _forwards(bank.frozen, lambda: bank.predict(texts, names))
    assert forwards == 1
    assert _max_difference(bank, texts, names) <= 1e-6


def test_rows_read_their_own_positions_without_the_per_row_layout_they_would_not():
    """Padding without per-row positions is wrong: the prefix rows' tokens would sit at other positions."""
    bank = _bank("llama", torch.float64)
    texts, names = TEXTS[:4], ["prefix_2", "prefix_4", "prefix_mlp_5", "soft_6"]
    right = bank.predict(texts, names)
    from reprogrammability.framework.adapters import transformers as adapters

    original = adapters.RowLayout.position_ids
    try:
        adapters.RowLayout.position_ids = lambda self, length: (  # type: ignore[method-assign]
            torch.arange(length).unsqueeze(0) + self.prefix_lengths.max()
        ).expand(len(self.prefix_lengths), -1)
        wrong = bank.predict(texts, names)
    finally:
        adapters.RowLayout.position_ids = original  # type: ignore[method-assign]
    assert (right[0] - wrong[0]).abs().max() > 1e-6  # P_0 = 2 < max P = 5: shifted positions change the row
    assert (right[2] - wrong[2]).abs().max() <= 1e-9  # the longest prefix is unaffected
    assert _max_difference(bank, texts, names) <= 1e-9


def test_p_tuning_v2_heads_on_features_with_different_prefix_lengths():
    f = FrozenModel(tiny_causal_lm("llama").double(), tokenizer=tiny_tokenizer(style="causal"), readout="last_features")
    bank = ProgramBank(f)
    for length, classes in ((1, 2), (3, 4), (7, 3)):
        program = p_tuning_v2.build(f, num_classes=classes, num_virtual_tokens=length, seed=length).double()
        assert program.frozen is f
        bank.add(f"v2_{length}", program)
    names = ["v2_1", "v2_7", "v2_3", "v2_7", "v2_1", "v2_3"]
    texts = TEXTS[:6]
    _, forwards = _forwards(f, lambda: bank.predict(texts, names))
    assert forwards == 1
    assert _max_difference(bank, texts, names) <= 1e-9


def test_masked_lm_soft_prompts_of_different_lengths_at_the_mask_token():
    tokenizer = tiny_tokenizer(style="bert")
    f = FrozenModel(tiny_masked_lm().double(), tokenizer=tokenizer, readout="mask")
    hidden = f.model.config.hidden_size
    generator = torch.Generator().manual_seed(3)
    bank = ProgramBank(f)
    for length in (1, 4, 9):
        prompt = SoftPrompt(torch.randn(length, hidden, generator=generator), position=1)  # after [CLS]
        bank.add(f"soft_{length}", Reprogrammer(f, prompt, IndexMapping.first_k(3), paradigm="prompt-tuning").double())
    texts = [t.replace(" it was", " it was [MASK] .") for t in TEXTS[:6]]
    names = ["soft_1", "soft_9", "soft_4", "soft_4", "soft_9", "soft_1"]
    _, forwards = _forwards(f, lambda: bank.predict(texts, names))
    assert forwards == 1
    assert _max_difference(bank, texts, names) <= 1e-9


def test_without_per_row_layout_lengths_are_grouped_and_explained(monkeypatch):
    bank = _bank("llama", torch.float64)
    monkeypatch.setattr(bank.frozen.adapter, "per_row_layout", False)
    names = ["soft_6", "prefix_2", "prefix_4", "soft_6", "plain"]
    plan = bank.plan(TEXTS[:5], names)
    assert len(plan.passes) == 4
    assert "prompt and prefix lengths" in plan.explain()
    assert _max_difference(bank, TEXTS[:5], names) <= 1e-9


def test_text_bank_errors_name_the_task_and_the_fingerprint():
    bank = _bank("llama", torch.float32)
    with pytest.raises(UnknownTaskError, match=r"tasks\[2\]: unknown task 'topic'"):
        bank.predict(TEXTS[:3], ["soft_6", "plain", "topic"])
    other = FrozenModel(tiny_causal_lm("llama", seed=1), tokenizer=tiny_tokenizer(style="causal"), readout="last")
    foreign = Reprogrammer(other, SoftPrompt(torch.zeros(2, 32)), IndexMapping.first_k(2), paradigm="prompt-tuning")
    with pytest.raises(SavedProgramError, match="frozen_model_fingerprint: task 'foreign'"):
        bank.add("foreign", foreign)
    twin = FrozenModel(bank.frozen.model, tokenizer=bank.frozen.adapter.tokenizer, readout="last_features")
    features = Reprogrammer(twin, SoftPrompt(torch.zeros(2, 32)), LinearAlignment(32, 2), paradigm="prompt-tuning")
    with pytest.raises(
        ValueError, match=r"program: task 'features' reads f through TextAdapter\(readout='last_features'\)"
    ):
        bank.add("features", features)
    assert "foreign" not in bank and "features" not in bank
