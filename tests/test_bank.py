"""The program bank: one frozen f, many task programs, mixed-task batches equal to each task's own run."""

from __future__ import annotations

import pytest
import torch

from reprogrammability.framework import FrozenModel, Reprogrammer
from reprogrammability.framework.alignment import IndexMapping, LinearAlignment
from reprogrammability.framework.errors import SavedProgramError
from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_cnn, tiny_tokenizer
from reprogrammability.implementations.prompt_tuning.prefix import KeyValuePrompt
from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt
from reprogrammability.implementations.reprogramming.label_mapping import (
    FrequencyLabelMapping,
    IterativeLabelMapping,
)
from reprogrammability.implementations.reprogramming.programs import PaddingProgram
from reprogrammability.implementations.serving import ProgramBank, UnknownTaskError

TEXTS = [
    "the movie was great",
    "bad film",
    "a very long sentence about nothing at all",
    "ok",
    "terrible acting",
    "fine",
]


def _forward_count(frozen: FrozenModel) -> tuple[list[int], object]:
    calls: list[int] = []
    handle = frozen.model.register_forward_hook(lambda *_: calls.append(1))
    return calls, handle


def _visual_task(frozen, classes, seed, mapping=FrequencyLabelMapping, canvas=32, image=16):
    generator = torch.Generator().manual_seed(seed)
    program = PaddingProgram(canvas, image)
    program.program.data = torch.randn(program.program.shape, generator=generator)
    source = frozen.model(torch.rand(8, 3, canvas, canvas, generator=generator)).shape[-1]
    output = mapping(source, classes)
    output.fit(torch.randn(8 * classes, source, generator=generator), torch.arange(8 * classes) % classes)
    return Reprogrammer(frozen, program, output, paradigm="model-reprogramming")


def _assert_rows_equal(bank, x, names, programs, take=lambda x, idx: x[idx]):
    calls, handle = _forward_count(bank.frozen)
    rows = bank.predict(x, names)
    handle.remove()
    for task, program in programs.items():
        index = [i for i, n in enumerate(names) if n == task]
        own = program(take(x, index))
        for i, expected in zip(index, own):
            assert rows[i].shape == expected.shape
            assert rows[i].dtype == expected.dtype
            assert (rows[i] - expected).abs().max().item() <= 1e-6
    return len(calls)


def test_vr_tasks_with_flm_ilm_and_different_class_counts_share_one_forward():
    frozen = FrozenModel(tiny_cnn())
    programs = {
        "three": _visual_task(frozen, 3, 1),
        "five": _visual_task(frozen, 5, 2, IterativeLabelMapping),
        "ten": _visual_task(frozen, 10, 3),
    }
    bank = ProgramBank(frozen)
    for name, program in programs.items():
        bank.add(name, program)
    x = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    names = ["three", "five", "ten", "five"] * 3
    assert _assert_rows_equal(bank, x, names, programs) == 1
    assert [r.shape[0] for r in bank.predict(x, names)[:3]] == [3, 5, 10]
    padded = bank.predict_padded(x, names)
    assert padded.shape == (12, 10) and torch.isinf(padded[0, 3:]).all() and torch.isfinite(padded[2]).all()
    assert len(bank.plan(x, names).passes) == 1
    bank.assert_frozen()


def test_different_canvases_are_grouped_into_separate_passes_and_explained():
    frozen = FrozenModel(tiny_cnn())
    programs = {"small": _visual_task(frozen, 4, 1, canvas=32), "large": _visual_task(frozen, 4, 2, canvas=40)}
    bank = ProgramBank(frozen)
    for name, program in programs.items():
        bank.add(name, program)
    x = torch.rand(6, 3, 16, 16)
    names = ["small", "large", "small", "large", "large", "small"]
    plan = bank.plan(x, names)
    assert [p.tasks for p in plan.passes] == [("small",), ("large",)]
    assert "3×32×32" in plan.explain() and "3×40×40" in plan.explain() and "why separate" in plan.explain()
    assert _assert_rows_equal(bank, x, names, programs) == 2


@pytest.fixture(scope="module")
def text_frozen():
    return FrozenModel(tiny_causal_lm("llama"), tokenizer=tiny_tokenizer(style="causal"), readout="last")


def _text_take(x, index):
    return [x[i] for i in index]


def test_soft_prompts_and_prefixes_per_row_equal_their_own_reprogrammers(text_frozen):
    f = text_frozen
    vocab = f.model.config.vocab_size
    geometry = f.adapter.attention_geometry(f.model)
    torch.manual_seed(0)
    programs = {
        "soft_a": Reprogrammer(f, SoftPrompt(torch.randn(4, 32)), LinearAlignment(vocab, 2), paradigm="prompt-tuning"),
        "soft_b": Reprogrammer(f, SoftPrompt(torch.randn(4, 32)), LinearAlignment(vocab, 3), paradigm="prompt-tuning"),
        "soft_short": Reprogrammer(
            f, SoftPrompt(torch.randn(2, 32)), IndexMapping.first_k(4), paradigm="prompt-tuning"
        ),
        "prefix_a": Reprogrammer(f, KeyValuePrompt(geometry, 3), IndexMapping.first_k(2), paradigm="prompt-tuning"),
        "prefix_b": Reprogrammer(f, KeyValuePrompt(geometry, 3), LinearAlignment(vocab, 5), paradigm="prompt-tuning"),
        "prefix_long": Reprogrammer(f, KeyValuePrompt(geometry, 5), IndexMapping.first_k(2), paradigm="prompt-tuning"),
    }
    bank = ProgramBank(f)
    for name, program in programs.items():
        bank.add(name, program)
    texts = TEXTS * 2
    names = ["soft_a", "soft_b", "soft_short", "prefix_a", "prefix_b", "prefix_long"]
    names = names + names[::-1]
    passes = _assert_rows_equal(bank, texts, names, programs, take=_text_take)
    plan = bank.plan(texts, names)
    # prompt lengths 4 and 2, prefix lengths 3 and 5: one pass, padded and masked per row
    assert passes == len(plan.passes) == 1 and plan.passes[0].per_row
    assert set(plan.passes[0].tasks) == set(programs)
    # two soft-prompt tasks of one length share a pass: one forward
    calls, handle = _forward_count(f)
    bank.predict(texts[:4], ["soft_a", "soft_b", "soft_b", "soft_a"])
    handle.remove()
    assert len(calls) == 1


def test_unknown_task_and_wrong_row_count_are_clear_errors():
    frozen = FrozenModel(tiny_cnn())
    bank = ProgramBank(frozen)
    bank.add("digits", _visual_task(frozen, 3, 1))
    x = torch.rand(3, 3, 16, 16)
    with pytest.raises(UnknownTaskError, match=r"tasks\[1\]: unknown task 'fashion'.*'digits'"):
        bank.predict(x, ["digits", "fashion", "digits"])
    with pytest.raises(ValueError, match="tasks: 2 task names for a batch of 3 rows"):
        bank.predict(x, ["digits", "digits"])
    with pytest.raises(ValueError, match="already in the bank"):
        bank.add("digits", _visual_task(frozen, 3, 2))
    bank.remove("digits")
    assert bank.tasks == []
    with pytest.raises(UnknownTaskError, match="unknown task 'digits'; the bank holds: none yet"):
        bank.remove("digits")


def test_program_for_another_f_is_refused_and_same_fingerprint_is_shared(tmp_path):
    frozen = FrozenModel(tiny_cnn(seed=0))
    other = FrozenModel(tiny_cnn(seed=1))
    bank = ProgramBank(frozen)
    with pytest.raises(SavedProgramError, match="frozen_model_fingerprint"):
        bank.add("x", _visual_task(other, 3, 1))
    twin = FrozenModel(tiny_cnn(seed=0))
    program = _visual_task(twin, 3, 1)
    bank.add("twin", program)
    assert program.frozen is bank.frozen  # f held once
    # a saved program made on another f: load refuses it by fingerprint
    foreign = _visual_task(other, 3, 1)
    foreign.save_learned(tmp_path / "foreign")

    def build(f):
        return Reprogrammer(f, PaddingProgram(32, 16), FrequencyLabelMapping(10, 3), paradigm="model-reprogramming")

    with pytest.raises(SavedProgramError, match="frozen_model_fingerprint"):
        bank.load("foreign", tmp_path / "foreign", build)
    assert "foreign" not in bank


def test_save_and_load_round_trip_with_labels(tmp_path):
    frozen = FrozenModel(tiny_cnn())
    bank = ProgramBank(frozen)
    bank.add("colours", _visual_task(frozen, 3, 7), labels=["red", "green", "blue"])
    before = frozen.fingerprint()
    bank.save("colours", tmp_path / "colours")
    fresh = ProgramBank(frozen)

    def build(f):
        return Reprogrammer(f, PaddingProgram(32, 16), FrequencyLabelMapping(10, 3), paradigm="model-reprogramming")

    fresh.load("colours", tmp_path / "colours", build)
    x = torch.rand(5, 3, 16, 16)
    assert fresh["colours"].labels == ("red", "green", "blue")
    assert torch.equal(torch.stack(fresh.predict(x, "colours")), torch.stack(bank.predict(x, "colours")))
    assert fresh.labels(x, "colours") == bank.labels(x, "colours")
    assert set(fresh.labels(x, "colours")) <= {"red", "green", "blue"}
    with pytest.raises(ValueError, match="labels: 2 names for task 'bad', whose output has 3 classes"):
        fresh.add("bad", build(frozen), labels=["a", "b"])
    assert frozen.fingerprint() == before
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "colours" / "reprogrammer.safetensors"))
    assert fresh.program_bytes() == sum(t.numel() * t.element_size() for t in saved.values()) > 3 * 32 * 32 * 4


def test_efficientnet_lite0_padding_programs_in_one_forward():
    from reprogrammability.implementations.models.efficientnet_lite import (
        IMAGENET_MEAN,
        IMAGENET_STD,
        efficientnet_lite0,
    )

    frozen = FrozenModel(efficientnet_lite0(pretrained=True))
    programs = {}
    for name, classes, seed in (("digits", 10, 1), ("fashion", 10, 2), ("three", 3, 3)):
        generator = torch.Generator().manual_seed(seed)
        program = PaddingProgram(112, 56, mean=IMAGENET_MEAN, std=IMAGENET_STD)
        program.program.data = torch.randn(program.program.shape, generator=generator)
        output = FrequencyLabelMapping(1000, classes)
        output.fit(torch.randn(10 * classes, 1000, generator=generator), torch.arange(10 * classes) % classes)
        programs[name] = Reprogrammer(frozen, program, output, paradigm="model-reprogramming")
    bank = ProgramBank(frozen)
    for name, program in programs.items():
        bank.add(name, program)
    x = torch.rand(6, 3, 56, 56, generator=torch.Generator().manual_seed(0))
    names = ["digits", "fashion", "three", "three", "fashion", "digits"]
    assert _assert_rows_equal(bank, x, names, programs) == 1
    bank.assert_frozen()


def test_many_tasks_page_renders_the_committed_serving_results(tmp_path):
    import json
    from types import SimpleNamespace

    from reprogrammability.docs_gen.pages.many_tasks import FIGURE, PAGE, RESULT, pages

    empty = pages(SimpleNamespace(results_dir=tmp_path))
    assert "No result yet" in empty[PAGE] and FIGURE not in empty
    memory = {
        str(n): {"bank_bytes": 10**6 * (20 + n), "lora_bytes": 10**6 * 19, "finetuned_copies_bytes": 10**6 * 19 * n}
        for n in (1, 4)
    }
    ratio = {"name": "serving.mixed16/single", "value": 0.95, "op": ">=", "target": 0.9, "passed": True}
    report = {
        "mode": "quick",
        "machine": {},
        "suites": {"serving": {"memory": memory, "lora_rank": 8}},
        "ratios": [ratio],
    }
    (tmp_path / RESULT).parent.mkdir(parents=True)
    (tmp_path / RESULT).write_text(json.dumps(report))
    out = pages(SimpleNamespace(results_dir=tmp_path))
    assert "| 4 | 24.00 | 19.00 | 76.00 |" in out[PAGE]
    assert "| `serving.mixed16/single` | 0.950 | >= 0.9 | pass |" in out[PAGE]
    assert out[FIGURE].lstrip().startswith(b"<?xml")
    table = {"a": {"a": 0.5}, "b": {"a": 0.25, "b": 0.75}}
    forgetting = {
        "mode": "default",
        "settings": {"train": 8, "test": 8, "epochs": 1, "seed": 0, "tasks": ["a", "b"]},
        "versions": {"torch": "t", "peft": "p"},
        "accuracy_after_each_task": {"rca": table, "finetune": table, "lora": table},
        "drop": {m: {"a": 0.25, "b": 0.0} for m in ("rca", "finetune", "lora")},
        "f_fingerprint_unchanged": False,
    }
    (tmp_path / "many_tasks.json").write_text(json.dumps(forgetting))
    out = pages(SimpleNamespace(results_dir=tmp_path))
    assert "| sequential LoRA | a | 0.5000 | 0.2500 | +0.2500 |" in out[PAGE]
    assert "unchanged through RCA's run: **NO**" in out[PAGE] and "many-tasks-forgetting.svg" in out
