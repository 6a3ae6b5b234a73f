"""Chain-of-thought, zero-shot CoT, self-consistency, least-to-most: prompts, answer extraction and
the two-stage pipeline mechanics (a deterministic fake generator stands in where text matters)."""

from __future__ import annotations

import math

import pytest
import torch

from reprogrammability.implementations.prompt_instruction import (
    chain_of_thought,
    least_to_most,
    self_consistency,
    zero_shot_cot,
)
from reprogrammability.implementations.prompt_instruction.common import tiny_lm
from reprogrammability.implementations.prompt_instruction.reasoning import (
    AnswerExtraction,
    GenerationAdapter,
    LeastToMostPrompt,
    MajorityVote,
    extract_answer,
    parse_number,
)


@pytest.mark.parametrize(
    "text, rule, expected",
    [
        ("She has 3 + 4 = 7 apples.\n#### 7", "hash", 7.0),
        ("so the total is 1,234.\n#### 1,234", "hash", 1234.0),
        ("The answer is $1,250.50.", "answer-is", 1250.5),
        ("First 5 then 6. The answer is 11. Next question", "answer-is", 11.0),
        ("The answer is 3. Wait, the answer is 4.", "answer-is", 4.0),
        ("It costs €30 and then 12 more, 42", "last-number", 42.0),
        ("It costs €30 and then 12 more, 42", "first-number", 30.0),
        ("the answer is -5 degrees", "answer-is", -5.0),
        ("We get 2.5 hours", "auto", 2.5),
        ("#### 9 but the answer is 8", "auto", 9.0),
        ("The answer is 8 after 3 steps", "auto", 8.0),
        ("no numbers here", "auto", math.nan),
        ("The answer is unknown", "answer-is", math.nan),
    ],
)
def test_answer_extraction_rules(text, rule, expected):
    value = extract_answer(text, rule)
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


def test_parse_number_strips_commas_spaces_and_currency():
    assert parse_number("$ 1,000") == 1000.0 and parse_number("£12.5") == 12.5 and math.isnan(parse_number("abc"))
    with pytest.raises(ValueError, match="rule"):
        extract_answer("1", "median")


def test_answer_extraction_alignment_and_majority_vote():
    out = AnswerExtraction("answer-is")(["The answer is 4.", "nothing"])
    assert out[0] == 4.0 and math.isnan(out[1])
    assert AnswerExtraction("answer-is", missing=-1.0)(["nothing"]).tolist() == [-1.0]
    vote = MajorityVote()
    result = vote([["The answer is 4.", "The answer is 5.", "#### 5", "no idea"], ["x", "y"], ["1", "2"]])
    assert result[0] == 5.0 and math.isnan(result[1]) and result[2] == 1.0  # tie -> first seen
    assert vote.last_votes[0] == {4.0: 1, 5.0: 2}
    assert vote.symbolic().evaluate_parameter_count() == 0


def test_chain_of_thought_prompt_holds_the_exemplars_and_the_question():
    model, tokenizer = tiny_lm("llama")
    seen = []

    def fake(prompts, n):
        seen.extend(prompts)
        return ["Ann has 2 + 3 = 5 apples. The answer is 5.\n\nQ: next"] * len(prompts)

    r = chain_of_thought.build(model, tokenizer=tokenizer, generator=fake)
    answer = r(["Ann has 2 apples and buys 3 more. How many?"])
    assert answer.tolist() == [5.0]
    prompt = seen[0]
    assert prompt.startswith("Q: Mia has 3 boxes") and "The answer is 7.\n\nQ:" in prompt
    assert prompt.endswith("Q: Ann has 2 apples and buys 3 more. How many?\nA:")


def test_zero_shot_cot_runs_two_stages():
    model, tokenizer = tiny_lm("llama")
    calls = []

    def fake(prompts, n):
        calls.append(list(prompts))
        if prompts[0].endswith("step."):
            return [f"reasoning {i}: 2 and 3 make 5." for i in range(len(prompts))]
        return [" 5, since 2 + 3 = 5." for _ in prompts]

    r = zero_shot_cot.build(model, tokenizer=tokenizer, generator=fake)
    out = r(["Q1?", "Q2?"])
    assert out.tolist() == [5.0, 5.0]  # first number of the answer stage
    stage_one, stage_two = calls
    assert stage_one == ["Q: Q1?\nA: Let's think step by step.", "Q: Q2?\nA: Let's think step by step."]
    assert stage_two[1] == (
        "Q: Q2?\nA: Let's think step by step. reasoning 1: 2 and 3 make 5.\nTherefore, the answer (arabic numerals) is"
    )
    assert r.inputs[0].last_reasoning[0] == "reasoning 0: 2 and 3 make 5."


def test_zero_shot_cot_stage_one_uses_the_frozen_model_itself():
    model, tokenizer = tiny_lm("llama")
    r = zero_shot_cot.build(model, tokenizer=tokenizer, max_new_tokens=3, reasoning_tokens=4)
    r(["Ann has 2 apples and buys 3 more. How many apples does she have?"])
    # stage one is greedy generation of the frozen model: it equals model.generate on the same prompt
    prompt = r.inputs[0].stage_one(["Ann has 2 apples and buys 3 more. How many apples does she have?"])[0]
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        generated = model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=4, do_sample=False, pad_token_id=0
        )
    expected = tokenizer.decode(generated[0, ids.shape[1] :], skip_special_tokens=True).strip()
    assert r.inputs[0].last_reasoning[0] == expected
    r.frozen.assert_unchanged()


def test_self_consistency_samples_and_votes():
    model, tokenizer = tiny_lm("llama")

    def fake(prompts, n):
        return [["The answer is 5.", "The answer is 6.", "The answer is 5."][:n] for _ in prompts]

    r = self_consistency.build(model, tokenizer=tokenizer, generator=fake, num_samples=3)
    assert r(["q"]).tolist() == [5.0]
    real = self_consistency.build(model, tokenizer=tokenizer, num_samples=2, max_new_tokens=3, exemplars=[])
    texts = real.frozen(real.inputs[0](["q"]))
    assert len(texts) == 1 and len(texts[0]) == 2
    with pytest.raises(ValueError, match="do_sample"):
        GenerationAdapter(tokenizer, num_samples=2)
    reader = GenerationAdapter(
        tokenizer,
        answer_rule="last-number",
        num_samples=2,
        generator=lambda p, n: [["so 4", "or 5 then 6"], ["none", "#### 2"]],
    )
    answers = reader.forward_input(model, ["a", "b"])
    assert answers[0].tolist() == [4.0, 6.0] and math.isnan(answers[1, 0]) and answers[1, 1] == 2.0
    torch.testing.assert_close(
        MajorityVote()(torch.tensor([[4.0, 6.0, 6.0], [float("nan")] * 3])),
        torch.tensor([6.0, float("nan")], dtype=torch.float64),
        equal_nan=True,
    )


def test_least_to_most_decomposes_then_solves_in_order():
    model, tokenizer = tiny_lm("llama")
    log = []

    def fake(prompts, n):
        log.append(prompts[0])
        if prompts[0].endswith("we need to know:"):
            return [' "How many does Ann buy?", "How many in total?"']
        if prompts[0].endswith("Q: How many does Ann buy?\nA:"):
            return ["She buys 3. The answer is 3."]
        if prompts[0].endswith("Q: How many in total?\nA:"):
            return ["2 + 3 = 5. The answer is 5."]
        return ["So the answer is 5."]

    r = least_to_most.build(model, tokenizer=tokenizer, generator=fake)
    assert r(["Ann has 2 apples and buys 3. How many?"]).tolist() == [5.0]
    assert r.inputs[0].last_subquestions == [["How many does Ann buy?", "How many in total?"]]
    final = log[-1]
    assert "Q: How many does Ann buy?\nA: She buys 3. The answer is 3.\n\nQ: How many in total?\nA: 2 + 3 = 5." in final
    assert final.endswith("Q: Ann has 2 apples and buys 3. How many?\nA:")
    assert LeastToMostPrompt.parse_subquestions("What is x? And what is y?") == ["What is x?", "And what is y?"]
