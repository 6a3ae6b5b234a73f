"""Generation with a frozen LM, reasoning prompts and answer-extraction rules.

* :class:`GenerationAdapter`: f as a text generator (greedy or sampled); a deterministic
  ``generator`` callable can stand in for the model (tests).
* :class:`ExemplarPrompt`: ``x' = [I; T(q_1) a_1; ...; T(q_k) a_k; T(x)]`` with free-form answers
  (chain-of-thought rationales, Wei et al. 2022).
* :class:`ZeroShotCoTPrompt`: Kojima et al. 2022's two stages: reasoning extraction with
  "Let's think step by step.", then the answer trigger after the generated reasoning.
* :class:`LeastToMostPrompt`: Zhou et al. 2023: decompose into sub-questions, answer them in turn.
* :class:`AnswerExtraction` (rule-based) and :class:`MajorityVote` (self-consistency) alignments:
  ``"#### n"``, ``"The answer is n"``, the first or last number; commas, spaces and currency signs
  are stripped.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Callable, Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import TextAdapter
from reprogrammability.framework.alignment import OutputAlignment
from reprogrammability.framework.axes import Alignment, Configuration, Location, Operator
from reprogrammability.framework.cost import (
    DECODE_STEPS,
    L_QUERY,
    ROWS,
    InferenceOverhead,
    OverheadContext,
    text_prefix_overhead,
)
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, f, op, x, z

from .templates import PromptBatch, as_text_list

__all__ = [
    "GenerationAdapter",
    "Reasoner",
    "ExemplarPrompt",
    "ZeroShotCoTPrompt",
    "LeastToMostPrompt",
    "AnswerExtraction",
    "MajorityVote",
    "extract_answer",
    "parse_number",
    "EXTRACTION_RULES",
    "ARITHMETIC_EXEMPLARS",
]

EXTRACTION_RULES = ("hash", "answer-is", "last-number", "first-number", "auto")
_CURRENCY = "$€£¥₹"
_NUMBER = rf"-?\s?[{_CURRENCY}]?\s?-?\d(?:[\d,]*\d)?(?:\.\d+)?"


def parse_number(text: str) -> float:
    """``"$1,234.50"`` → 1234.5 (commas, spaces, currency signs stripped); NaN when it is no number."""
    cleaned = re.sub(rf"[\s,{_CURRENCY}]", "", text)
    if cleaned.startswith("--"):
        cleaned = cleaned[1:]
    try:
        return float(cleaned)
    except ValueError:
        return math.nan


def extract_answer(text: str, rule: str = "auto") -> float:
    """The numeric answer in ``text`` by ``rule`` (NaN when none).

    ``hash``: the number after ``####`` (GSM8K's format); ``answer-is``: after "the answer is"
    (Wei et al.'s exemplars); ``last-number`` / ``first-number``; ``auto``: hash, then answer-is,
    then the last number.
    """
    if rule not in EXTRACTION_RULES:
        raise ValueError(f"rule: {rule!r} is not one of {list(EXTRACTION_RULES)}")
    if rule == "auto":
        for sub in ("hash", "answer-is", "last-number"):
            value = extract_answer(text, sub)
            if not math.isnan(value):
                return value
        return math.nan
    if rule == "hash":
        found = re.search(rf"####\s*({_NUMBER})", text)
    elif rule == "answer-is":
        statements = list(re.finditer(rf"answer\s+is\s*:?\s*({_NUMBER})", text, flags=re.IGNORECASE))
        found = statements[-1] if statements else None  # the last statement of the answer wins
    else:
        numbers = list(re.finditer(_NUMBER, text))
        found = (numbers[-1] if rule == "last-number" else numbers[0]) if numbers else None
    return parse_number(found.group(1) if rule in ("hash", "answer-is") else found.group(0)) if found else math.nan


# --------------------------------------------------------------------------------------------
# f as a generator


class GenerationAdapter(TextAdapter):
    """A causal LM that continues each prompt: ``z`` = the generated texts (``list[str]``, or
    ``list[list[str]]`` with ``num_samples > 1``); with ``answer_rule`` f reads the final answer of
    each generated path instead, a float tensor (B,) or (B, m) (NaN where there is none).

    Prompts are generated one at a time (no padding, so positions are exact). ``stop`` strings cut
    the continuation. ``generator(prompts, num_samples) -> texts`` replaces the model (tests).
    """

    name = "causal-lm-generation"

    def __init__(
        self,
        tokenizer: Any = None,
        max_new_tokens: int = 128,
        do_sample: bool = False,
        temperature: float = 0.7,
        top_k: int | None = 40,
        num_samples: int = 1,
        stop: Sequence[str] = ("\n\nQ:", "\nQ:", "\n\n\n"),
        generator: Callable[[list[str], int], list] | None = None,
        seed: int = 0,
        answer_rule: str | None = None,
    ):
        super().__init__(tokenizer=tokenizer, readout="output")
        if answer_rule is not None and answer_rule not in EXTRACTION_RULES:
            raise ValueError(f"answer_rule: {answer_rule!r} is not one of {list(EXTRACTION_RULES)}")
        self.answer_rule = answer_rule
        if generator is None and tokenizer is None:
            raise InterfaceError("tokenizer: GenerationAdapter needs a tokenizer (or a generator callable)")
        if max_new_tokens < 1 or num_samples < 1:
            raise ValueError(f"max_new_tokens/num_samples: expected >= 1, got {max_new_tokens}/{num_samples}")
        if num_samples > 1 and not do_sample and generator is None:
            raise ValueError("num_samples: several samples need do_sample=True")
        self.max_new_tokens, self.do_sample, self.temperature, self.top_k = (
            max_new_tokens,
            do_sample,
            temperature,
            top_k,
        )
        self.num_samples, self.stop, self.generator, self.seed = num_samples, tuple(stop), generator, seed

    def prepare(self, model: nn.Module, x: Any) -> list[str]:
        if isinstance(x, str):
            return [x]
        if isinstance(x, (list, tuple)) and all(isinstance(t, str) for t in x):
            return list(x)
        raise InterfaceError(f"x: GenerationAdapter takes prompt strings, got {type(x).__name__}")

    def cut(self, text: str) -> str:
        for stop in self.stop:
            if stop and stop in text:
                text = text[: text.index(stop)]
        return text.strip()

    @torch.no_grad()
    def forward_input(self, model: nn.Module, prompts: list[str]) -> list:
        if self.generator is not None:
            raw = self.generator(list(prompts), self.num_samples)
        else:
            raw = [self._generate(model, p) for p in prompts]
            raw = [r[0] for r in raw] if self.num_samples == 1 else raw
        texts = [self.cut(t) for t in raw] if self.num_samples == 1 else [[self.cut(t) for t in row] for row in raw]
        if self.answer_rule is None:
            return texts
        rows = [[t] for t in texts] if self.num_samples == 1 else texts
        answers = torch.tensor(
            [[extract_answer(t, self.answer_rule) for t in row] for row in rows], dtype=torch.float64
        )
        return answers[:, 0] if self.num_samples == 1 else answers

    def _generate(self, model: nn.Module, prompt: str) -> list[str]:
        device = next(model.parameters()).device
        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"].to(device)
        options: dict[str, Any] = dict(
            max_new_tokens=self.max_new_tokens,
            do_sample=self.do_sample,
            num_return_sequences=self.num_samples,
            pad_token_id=self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id,
        )
        if self.do_sample:
            options.update(temperature=self.temperature, top_k=self.top_k)
            torch.manual_seed(self.seed)
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **options)
        return [self.tokenizer.decode(row[ids.shape[1] :], skip_special_tokens=True) for row in out]

    def embed(self, model, x):  # generation starts from token ids only
        raise InterfaceError("GenerationAdapter: embedding-location manipulations are not supported")


class Reasoner:
    """Intermediate generation by the frozen model inside a prompt (zero-shot CoT's first stage).

    Calls the frozen model's own weights with its own :class:`GenerationAdapter`, without gradients,
    and checks afterwards that nothing was written to f.
    """

    def __init__(self, frozen: Any, adapter: GenerationAdapter):
        self.frozen, self.adapter = frozen, adapter

    def __call__(self, prompts: list[str]) -> list[str]:
        model = self.frozen.model
        out = self.adapter.forward_input(model, self.adapter.prepare(model, prompts))
        self.frozen.check_writes()
        return out


# --------------------------------------------------------------------------------------------
# prompts

ARITHMETIC_EXEMPLARS: tuple[tuple[str, str, str], ...] = (
    (
        "Mia has 3 boxes with 4 pencils in each box. She gives away 5 pencils. How many pencils does she have left?",
        "Mia starts with 3 * 4 = 12 pencils. After giving away 5 she has 12 - 5 = 7.",
        "7",
    ),
    (
        "A baker makes 20 rolls in the morning and 15 in the afternoon. He sells 28. How many rolls remain?",
        "He makes 20 + 15 = 35 rolls. After selling 28 there are 35 - 28 = 7 left.",
        "7",
    ),
    (
        "Tom reads 6 pages a day for 5 days, then 10 pages on the sixth day. How many pages did he read?",
        "In five days he reads 6 * 5 = 30 pages. Adding 10 gives 30 + 10 = 40.",
        "40",
    ),
    (
        "A ticket costs $8. How much do 4 tickets and a $5 snack cost together?",
        "Four tickets cost 4 * 8 = 32 dollars. With the snack the total is 32 + 5 = 37 dollars.",
        "37",
    ),
)
"""Chain-of-thought exemplars (question, rationale, answer), written for this package."""


class FixedTextPrompt(InputManipulation):
    """A text prompt with no parameters placed next to the input: λ=fixed, τ=concatenative, ℓ=input."""

    configuration = Configuration.FIXED
    operator = Operator.CONCATENATIVE
    location = Location.INPUT


class TwoStagePrompt(FixedTextPrompt):
    """A fixed prompt that f helps to write: ``reasoner`` (which runs the frozen f) generates part of x' first."""

    def __init__(self, reasoner: Callable[[list[str]], list[str]]):
        super().__init__()
        object.__setattr__(self, "reasoner", reasoner)  # uses f; never a submodule


def _counter(context: OverheadContext, part: object) -> Callable[[str], int]:
    if context.count_tokens is None:
        raise InterfaceError(
            f"context.count_tokens: {type(part).__name__}'s prompt length needs f's tokenizer; f has none"
        )
    return context.count_tokens


def _prompt_row(context: OverheadContext) -> sp.Expr:
    """ℓ: the bare query's prompt length in positions (a generating f's decode steps left out)."""
    return L_QUERY / ROWS - (DECODE_STEPS if context.generates else 0)


def _reasoner_steps(reasoner: object) -> int:
    """Decode steps of one stage-one generation: the reasoner's ``max_new_tokens`` − 1 (at most; EOS stops earlier)."""
    adapter = getattr(reasoner, "adapter", None)
    return max(0, int(getattr(adapter, "max_new_tokens", 1)) - 1)


def _template_extra(count: Callable[[str], int], template: str) -> int:
    """Tokens of ``template`` around its ``{text}``."""
    before, _, after = template.partition("{text}")
    return sum(count(piece) for piece in (before, after) if piece.strip())


def _mean_extra(count: Callable[[str], int], prompts: Sequence[tuple[str, str]]) -> sp.Rational:
    """Mean tokens of each prompt beyond its question's own, over ``(prompt, question)`` pairs."""
    if not prompts:
        return sp.Integer(0)
    return sp.Rational(sum(count(p) - count(q) for p, q in prompts), len(prompts))


def _scaled(overhead: InferenceOverhead, factor: sp.Expr) -> InferenceOverhead:
    return InferenceOverhead(
        tokens=factor * overhead.tokens,
        keys=overhead.keys,
        flops=factor * overhead.flops,
        elementwise=factor * overhead.elementwise,
        shapes=overhead.shapes,
        description=overhead.description,
    )


class ExemplarPrompt(FixedTextPrompt):
    """``x' = [I; T_in(q_1) T_out(a_1); ...; T_in(q_k) T_out(a_k); T_in(x)]`` with free-form answers.

    Chain-of-thought (Wei et al. 2022): ``a_i`` = rationale + "The answer is n." Fixed, concatenative, input.
    """

    def __init__(
        self,
        exemplars: Sequence[tuple[str, str]] = (),
        input_template: str = "Q: {text}\nA:",
        output_template: str = " {answer}",
        separator: str = "\n\n",
        instruction: str = "",
    ):
        super().__init__()
        self.exemplars = [(str(q), str(a)) for q, a in exemplars]
        self.input_template, self.output_template = input_template, output_template
        self.separator, self.instruction = separator, instruction
        demos = [self.input_template.format(text=q) + self.output_template.format(answer=a) for q, a in self.exemplars]
        self.prefix = (instruction + separator if instruction else "") + "".join(d + separator for d in demos)

    def forward(self, x: Any) -> PromptBatch:
        queries = [self.input_template.format(text=q) for q in as_text_list(x)]
        return PromptBatch([self.prefix] * len(queries), queries)

    def symbolic(self) -> SymbolicForm:
        demos = [sp.Symbol(f"E_{i + 1}") for i in range(len(self.exemplars))]
        return SymbolicForm(expression=concat(*demos, op("T", "T")(x)), description="fixed exemplars (no parameters)")

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """``k·L_d + L_I + L_T`` more prompt positions in every generated path (k exemplars of mean length L_d with
        their separators, the instruction's L_I, the L_T template tokens around the query): each path's prefill is
        that much longer and each of its G decode steps attends to that many more keys."""
        _counter(context, self)
        instruction = self.instruction + self.separator if self.instruction else ""
        demos = [
            self.input_template.format(text=q) + self.output_template.format(answer=a) + self.separator
            for q, a in self.exemplars
        ]
        return text_prefix_overhead(context, instruction, demos, len(demos), self.input_template)


class ZeroShotCoTPrompt(TwoStagePrompt):
    """Kojima et al. 2022: ``x' = [T(x); "Let's think step by step."; r; trigger]`` with
    ``r = f([T(x); "Let's think step by step."])`` generated by the frozen model itself (stage 1);
    f then completes ``x'`` (stage 2). Fixed (no parameters), concatenative, at the input."""

    def __init__(
        self,
        reasoner: Callable[[list[str]], list[str]],
        input_template: str = "Q: {text}\nA:",
        reasoning_trigger: str = "Let's think step by step.",
        answer_trigger: str = "Therefore, the answer (arabic numerals) is",
    ):
        super().__init__(reasoner)
        self.input_template, self.reasoning_trigger, self.answer_trigger = (
            input_template,
            reasoning_trigger,
            answer_trigger,
        )
        self.last_reasoning: list[str] = []

    def stage_one(self, questions: list[str]) -> list[str]:
        return [f"{self.input_template.format(text=q)} {self.reasoning_trigger}" for q in questions]

    def forward(self, x: Any) -> list[str]:
        first = self.stage_one(as_text_list(x))
        self.last_reasoning = list(self.reasoner(first))
        return [f"{p} {r}\n{self.answer_trigger}" for p, r in zip(first, self.last_reasoning)]

    def symbolic(self) -> SymbolicForm:
        t1, t2 = sp.Symbol("t_{cot}"), sp.Symbol("t_{ans}")
        stage = concat(op("T", "T")(x), t1)
        return SymbolicForm(
            expression=concat(stage, f(stage), t2), description="two-stage zero-shot CoT (no parameters)"
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Stage one is one more generation by f: a prompt of ``ℓ + L_1`` positions (the template and the reasoning
        trigger around the query's ℓ) and ``G_r`` decode steps (the reasoner's ``max_new_tokens`` − 1); stage two's
        prompt is ``L_1 + L_r + L_2`` positions longer than the query (the reasoning r, L_r tokens, and the answer
        trigger). L_r is the mean length of the reasoning written in the last forward (data-dependent, like L);
        before any forward, its bound G_r + 1."""
        count = _counter(context, self)
        l1, l2, lr, gr = sp.symbols("L_1 L_2 L_r G_r")
        stage = self.input_template + " " + self.reasoning_trigger
        steps = _reasoner_steps(self.reasoner)
        written = [" " + r for r in self.last_reasoning]
        reasoning = sp.Rational(sum(map(count, written)), len(written)) if written else sp.Integer(steps + 1)
        shapes = {l1: _template_extra(count, stage), l2: count("\n" + self.answer_trigger), lr: reasoning, gr: steps}
        first = context.generation(_prompt_row(context) + l1, gr, shapes, "stage one: f writes the reasoning")
        return first + context.extra_positions(l1 + lr + l2, shapes, "stage two: the reasoning in the prompt")


class LeastToMostPrompt(TwoStagePrompt):
    """Zhou et al. 2023: stage 1 ``f`` decomposes x into sub-questions (few-shot decomposition
    prompt); stage 2 answers them in turn, each answer appended to the context:
    ``x' = [S; x; q_1; a_1; ...; q_m; a_m; final question]`` with ``a_j = f([S; x; ...; q_j])``."""

    def __init__(
        self,
        reasoner: Callable[[list[str]], list[str]],
        decomposition_exemplars: Sequence[tuple[str, Sequence[str]]] = (),
        solution_exemplars: Sequence[tuple[str, str]] = (),
        max_subquestions: int = 4,
    ):
        super().__init__(reasoner)
        self.decomposition_prefix = "".join(
            f"Q: {q}\nA: To answer the question, we need to know: " + " ".join(f'"{s}"' for s in subs) + "\n\n"
            for q, subs in decomposition_exemplars
        )
        self.solution_prefix = "".join(f"Q: {q}\nA: {a}\n\n" for q, a in solution_exemplars)
        self.max_subquestions = int(max_subquestions)
        self.last_subquestions: list[list[str]] = []
        self.last_prompts: dict[str, list[tuple[str, str]]] = {}

    def decomposition_prompt(self, question: str) -> str:
        return f"{self.decomposition_prefix}Q: {question}\nA: To answer the question, we need to know:"

    @staticmethod
    def parse_subquestions(text: str) -> list[str]:
        """Quoted sub-questions (``"...?"``), else the sentences that end with a question mark."""
        quoted = [q.strip() for q in re.findall(r'"([^"]+)"', text) if q.strip()]
        if quoted:
            return quoted
        return [s.strip() for s in re.findall(r"[^.?!\n]*\?", text) if s.strip()]

    def forward(self, x: Any) -> list[str]:
        questions = as_text_list(x)
        decompositions = self.reasoner([self.decomposition_prompt(q) for q in questions])
        prompts, self.last_subquestions, answering = [], [], []
        for question, decomposition in zip(questions, decompositions):
            subs = self.parse_subquestions(decomposition)[: self.max_subquestions]
            self.last_subquestions.append(subs)
            context = f"{self.solution_prefix}{question}\n\n"
            for sub in subs:
                answering.append((f"{context}Q: {sub}\nA:", question))
                answer = self.reasoner([answering[-1][0]])[0]
                context += f"Q: {sub}\nA: {answer}\n\n"
            prompts.append(f"{context}Q: {question}\nA:")
        self.last_prompts = {"final": list(zip(prompts, questions)), "answering": answering}
        return prompts

    def symbolic(self) -> SymbolicForm:
        q = sp.Symbol("q_j")
        return SymbolicForm(
            expression=concat(sp.Symbol("S"), x, q, f(concat(sp.Symbol("S"), x, q))),
            description="decompose, then answer sub-questions in turn (no parameters)",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Three runs of f more than bare f: the decomposition, a generation from ``ℓ + L_d`` positions (the
        decomposition exemplars and template around the query's ℓ) with ``G_r`` decode steps; ``m`` answering
        generations per query from ``ℓ + L_s`` positions each; and a final prompt ``L_f`` positions longer than the
        query (the solution exemplars, the sub-questions with their answers, the question asked again). m, L_s and L_f
        are means over the last forward (data-dependent, like L; the attention of the m answering prompts is taken
        at their mean length); before any forward, m = 0 and L_f the templates' tokens."""
        count = _counter(context, self)
        ld, ls, lf, m, gr = sp.symbols("L_d L_s L_f m G_r")
        seen = self.last_prompts
        questions = len(seen.get("final", ())) or 1
        answering = seen.get("answering", [])
        final = seen.get("final") or [(self.solution_prefix + "Q: {text}\nA:", "{text}")]
        shapes = {
            ld: _mean_extra(count, [(self.decomposition_prompt(q), q) for _, q in final]),
            ls: _mean_extra(count, answering),
            lf: _mean_extra(count, final),
            m: sp.Rational(len(answering), questions),
            gr: _reasoner_steps(self.reasoner),
        }
        row = _prompt_row(context)
        decompose = context.generation(row + ld, gr, shapes, "f decomposes the question")
        answers = _scaled(context.generation(row + ls, gr, shapes, "f answers each sub-question"), m)
        return decompose + answers + context.extra_positions(lf, shapes, "the final prompt")


# --------------------------------------------------------------------------------------------
# alignments


class AnswerExtraction(OutputAlignment):
    """Rule-based: generated texts (B,) → numeric answers (B,) float64; ``missing`` (NaN by default)
    where no number is found."""

    alignment = Alignment.RULE_BASED

    def __init__(self, rule: str = "auto", missing: float = math.nan):
        super().__init__()
        if rule not in EXTRACTION_RULES:
            raise ValueError(f"rule: {rule!r} is not one of {list(EXTRACTION_RULES)}")
        self.rule, self.missing = rule, float(missing)

    def forward(self, z: Sequence[str]) -> Tensor:
        if isinstance(z, str):
            z = [z]
        values = [extract_answer(t, self.rule) for t in z]
        return torch.tensor([self.missing if math.isnan(v) else v for v in values], dtype=torch.float64)

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(expression=op("extract", r"\operatorname{extract}")(z), description=f"rule {self.rule!r}")

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """A rule read off the generated text: no FLOPs."""
        return InferenceOverhead(description="answer read by a rule")

    def extra_repr(self) -> str:
        return f"ω={self.alignment}, rule={self.rule}"


class MajorityVote(OutputAlignment):
    """Self-consistency (Wang et al. 2023): ``ŷ = argmax_a Σ_i 1[a_i = a]`` over the answers ``a_i`` of
    m sampled reasoning paths per question (ties: the answer seen first): the mode of the empirical
    answer distribution of f's samples. Nothing is fitted: a fixed rule (``alignment = rule-based``).

    ``z``: answers (B, m) (NaN: none; from :class:`GenerationAdapter` with ``answer_rule``) or the
    sampled texts (B lists of m strings), read with ``rule``. ``last_votes`` keeps the counts."""

    alignment = Alignment.RULE_BASED

    def __init__(self, rule: str = "auto", missing: float = math.nan):
        super().__init__()
        self.extraction = AnswerExtraction(rule)
        self.missing = float(missing)
        self.last_votes: list[dict[float, int]] = []

    def forward(self, z: Tensor | Sequence[Sequence[str]]) -> Tensor:
        answers, self.last_votes = [], []
        for samples in z:
            read = samples.tolist() if isinstance(samples, Tensor) else self.extraction(list(samples)).tolist()
            values = [v for v in read if not math.isnan(v)]
            votes = Counter(values)
            self.last_votes.append(dict(votes))
            answers.append(max(votes, key=lambda a: (votes[a], -values.index(a))) if votes else self.missing)
        return torch.tensor(answers, dtype=torch.float64)

    def symbolic(self) -> SymbolicForm:
        a, i = sp.Symbol("a"), sp.Symbol("i")
        vote = op("argmax_a", r"\operatorname{arg\,max}_{a}")(
            sp.Sum(
                op("1", r"\mathbb{1}")(
                    sp.Eq(op("extract", r"\operatorname{extract}")(sp.Indexed(sp.IndexedBase("z"), i)), a)
                ),
                (i, 1, sp.Symbol("m")),
            )
        )
        return SymbolicForm(expression=vote, description="majority vote over sampled reasoning paths")

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Counts the m paths' answers: no FLOPs. (The m sampled paths are f's own: bare f samples them too, R = m.)"""
        return InferenceOverhead(description="majority vote over the sampled answers")
