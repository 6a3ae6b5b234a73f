"""ProTeGi / APO: prompt optimisation with textual gradients (Pryzant, Iter, Li, Lee, Zhu, Zeng, "Automatic
Prompt Optimization with 'Gradient' Descent and Beam Search", EMNLP 2023, arXiv 2305.03495).

    ŷ = v(f([p; x]))
    e = {(x, y) ∈ D_mini : ŷ(x) ≠ y}                    errors of the current prompt p
    g_1..g_m = LLM_∇(p, e)                              "textual gradients": what is wrong with p
    p'_ij = LLM_δ(p, g_i, e),  p''_ijk = LLM_mc(p'_ij)  edits against each gradient, and paraphrases
    B_{t+1} = Select_b(B_t ∪ {p', p''})                 beam of b by a UCB bandit on sampled minibatches

A beam search over natural-language prompts: each prompt of the beam is expanded by criticising it on
its errors and editing it to answer the critique (plus Monte-Carlo paraphrases), and the next beam is
picked by best-arm identification with an upper-confidence-bound bandit, each pull scoring one candidate
on a random sample of the training batch. The LM is injectable (:class:`~.instruction_search.Writer`);
without one, a deterministic stand-in criticises by naming the misclassified examples' gold labels
and edits by inserting words of that critique (word edits for the paraphrases). Only f's scores are read
(access zeroth-order); labels come from a verbalizer.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any, Callable, Literal, Optional, Sequence

import torch
from pydantic import Field

from reprogrammability.framework.reprogrammer import Reprogrammer

from .common import resolve_config
from .instruction_search import (
    InstructionSearch,
    Writer,
    first_line,
    instruction_of,
    register_search,
    search_example,
    searched_instruction_reprogrammer,
    word_edits,
)
from .opro import EDIT_WORDS
from .text import VerbalizerFields

__all__ = ["ProTeGiConfig", "ProTeGiSearch", "build"]

GRADIENT_REQUEST = (
    "A model was given this prompt:\n{prompt}\nIt got these examples wrong:\n{errors}\n"
    "Give one reason why the prompt led to these mistakes.\nReason:"
)
EDIT_REQUEST = (
    "A model was given this prompt:\n{prompt}\nIt got these examples wrong:\n{errors}\n"
    "A problem with the prompt: {gradient}\nWrite an improved prompt that fixes this problem, "
    "between <INS> and </INS>.\n<INS>"
)
PARAPHRASE_REQUEST = (
    "Write a variation of this instruction that keeps its meaning, between <INS> and </INS>.\n{prompt}\n<INS>"
)


class ProTeGiSearch(InstructionSearch):
    """ProTeGi's expansion and bandit selection as the reprogrammer's update rule.

    Args:
        writer: the LM for gradients, edits and paraphrases (``writer(request, count) -> texts``); ``None``:
            the deterministic stand-in.
        label_names: class names used to show errors to the LM.
        beam_width: b; num_gradients: m critiques per prompt; edits_per_gradient: q; paraphrases: p per edit.
        max_errors: errors shown per critique; selection: ``ucb`` (the paper's bandit) or ``full`` (score
            every candidate on the whole batch); pulls: bandit evaluations per step; sample_size: examples
            per pull; exploration: c of the UCB bonus c·sqrt(ln t / n_i).
    """

    def __init__(
        self,
        writer: Writer | None = None,
        *,
        label_names: Sequence[str] = (),
        beam_width: int = 4,
        num_gradients: int = 2,
        edits_per_gradient: int = 1,
        paraphrases: int = 1,
        max_errors: int = 4,
        selection: Literal["ucb", "full"] = "ucb",
        pulls: int = 24,
        sample_size: int = 4,
        exploration: float = 1.0,
        edit_words: Sequence[str] = EDIT_WORDS,
        seed: int = 0,
    ):
        super().__init__()
        if min(beam_width, num_gradients, edits_per_gradient, max_errors, pulls, sample_size) < 1 or paraphrases < 0:
            raise ValueError("beam_width/num_gradients/edits_per_gradient/max_errors/pulls/sample_size: expected ≥ 1")
        if selection not in ("ucb", "full"):
            raise ValueError(f"selection: {selection!r} is not one of ['ucb', 'full']")
        self.writer, self.label_names = writer, list(label_names)
        self.beam_width, self.num_gradients, self.edits_per_gradient = beam_width, num_gradients, edits_per_gradient
        self.paraphrases, self.max_errors, self.selection = paraphrases, max_errors, selection
        self.pulls, self.sample_size, self.exploration = pulls, sample_size, exploration
        self.edit_words = list(edit_words)
        self.rng = random.Random(seed)
        self.beam: list[str] = []
        self.seen: set[str] = set()
        self.means: dict[str, tuple[float, float]] = {}
        """Mean (accuracy, loss) of every prompt at its last selection."""

    # -- expansion --------------------------------------------------------------------------------------------
    def _label(self, target: int) -> str:
        return self.label_names[target] if target < len(self.label_names) else str(target)

    @torch.no_grad()
    def errors(
        self, reprogrammer: Any, prompt: str, inputs: Sequence[str], targets: torch.Tensor
    ) -> list[tuple[str, int]]:
        """The examples ``prompt`` gets wrong (if none, those with the largest loss): one query."""
        part = instruction_of(reprogrammer)
        self.queries += 1
        with part.trying(prompt):
            logits = reprogrammer(list(inputs)).float()
        targets = targets.to(logits.device)
        wrong = (logits.argmax(-1) != targets).nonzero().flatten().tolist()
        if not wrong:
            losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
            wrong = losses.argsort(descending=True).tolist()
        return [(inputs[i], int(targets[i])) for i in wrong[: self.max_errors]]

    def _shown(self, errors: list[tuple[str, int]]) -> str:
        return "\n".join(f"input: {text}\nlabel: {self._label(y)}" for text, y in errors)

    def gradients(self, prompt: str, errors: list[tuple[str, int]]) -> list[str]:
        """m textual gradients: reasons why ``prompt`` fails on ``errors``."""
        if self.writer is not None:
            replies = self.writer(
                GRADIENT_REQUEST.format(prompt=prompt, errors=self._shown(errors)), self.num_gradients
            )
            return [r.strip() for r in replies if r.strip()]
        by_label: dict[int, list[str]] = {}
        for text, y in errors:
            by_label.setdefault(y, []).append(text)
        critiques = [
            f"the prompt does not make the model answer {self._label(y)} for: {' ; '.join(texts)}"
            for y, texts in by_label.items()
        ]
        return critiques[: self.num_gradients]

    def edits(self, prompt: str, gradient: str, errors: list[tuple[str, int]]) -> list[str]:
        """q prompts edited against one gradient."""
        if self.writer is not None:
            request = EDIT_REQUEST.format(prompt=prompt, errors=self._shown(errors), gradient=gradient)
            return [first_line(r) for r in self.writer(request, self.edits_per_gradient)]
        words = [w for w in re.findall(r"\w+", gradient.lower()) if w in self.edit_words or w in self.label_names]
        return word_edits(prompt, words or self.edit_words, self.edits_per_gradient, self.rng)

    def paraphrase(self, prompt: str) -> list[str]:
        """p Monte-Carlo successors with the same meaning."""
        if not self.paraphrases:
            return []
        if self.writer is not None:
            return [first_line(r) for r in self.writer(PARAPHRASE_REQUEST.format(prompt=prompt), self.paraphrases)]
        return word_edits(prompt, self.edit_words, self.paraphrases, self.rng)

    def expand(self, reprogrammer: Any, prompt: str, inputs: Sequence[str], targets: torch.Tensor) -> list[str]:
        errors = self.errors(reprogrammer, prompt, inputs, targets)
        found = []
        for gradient in self.gradients(prompt, errors):
            for edited in self.edits(prompt, gradient, errors):
                found += [edited, *self.paraphrase(edited)] if edited else []
        return [p for p in dict.fromkeys(found) if p and p not in self.seen]

    # -- selection --------------------------------------------------------------------------------------------
    def select(
        self, reprogrammer: Any, candidates: list[str], inputs: Sequence[str], targets: torch.Tensor, loss_fn: Callable
    ) -> list[str]:
        """The b best candidates: UCB best-arm identification on sampled minibatches, or full evaluation."""
        if self.selection == "full":
            for c in candidates:
                self.means[c] = self.score(reprogrammer, c, inputs, targets, loss_fn)
        else:
            totals = {c: [0, 0.0, 0.0] for c in candidates}  # pulls, Σ accuracy, Σ loss
            n = len(inputs)
            for t in range(1, self.pulls + 1):

                def bound(c):
                    pulls, acc, _ = totals[c]
                    return math.inf if pulls == 0 else acc / pulls + self.exploration * math.sqrt(math.log(t) / pulls)

                arm = max(candidates, key=bound)
                rows = self.rng.sample(range(n), min(self.sample_size, n))
                accuracy, loss = self.score(reprogrammer, arm, [inputs[i] for i in rows], targets[rows], loss_fn)
                totals[arm][0] += 1
                totals[arm][1] += accuracy
                totals[arm][2] += loss
            for c, (pulls, acc, loss) in totals.items():
                if pulls:
                    self.means[c] = (acc / pulls, loss / pulls)
        ranked = sorted((c for c in candidates if c in self.means), key=lambda c: (-self.means[c][0], self.means[c][1]))
        return ranked[: self.beam_width]

    def next_instruction(
        self, reprogrammer: Any, inputs: Sequence[str], targets: torch.Tensor, loss_fn: Callable
    ) -> str:
        if not self.beam:
            self.beam = [instruction_of(reprogrammer).text]
            self.seen.update(self.beam)
        new: list[str] = []
        for prompt in self.beam:
            new += [p for p in self.expand(reprogrammer, prompt, inputs, targets) if p not in new]
        self.seen.update(new)
        self.beam = self.select(reprogrammer, list(dict.fromkeys(self.beam + new)), inputs, targets, loss_fn)
        ranked_new = [p for p in self.beam if p in new] or [p for p in new if p in self.means]
        return ranked_new[0] if ranked_new else self.beam[0]

    def best_instruction(self) -> str:
        if not self.beam:
            raise ValueError("ProTeGiSearch: the beam is empty; run step() or search() first")
        return self.beam[0]


class ProTeGiConfig(VerbalizerFields):
    """The starting prompt; beam width, gradients, edits, paraphrases; the bandit's budget."""

    initial_instruction: str = Field("answer the question", min_length=1)
    position: Literal["start", "end"] = "start"
    max_tokens: int = Field(24, ge=1)
    beam_width: int = Field(4, ge=1)
    num_gradients: int = Field(2, ge=1)
    edits_per_gradient: int = Field(1, ge=1)
    paraphrases: int = Field(1, ge=0)
    max_errors: int = Field(4, ge=1)
    selection: Literal["ucb", "full"] = "ucb"
    pulls: int = Field(24, ge=1)
    sample_size: int = Field(4, ge=1)
    exploration: float = Field(1.0, ge=0)
    edit_words: Optional[list[str]] = None
    seed: int = 0


def _example():
    return search_example(build, beam_width=2, pulls=8)


@register_search("protegi", ProTeGiConfig, _example)
def build(
    model: Any,
    config: ProTeGiConfig | dict | None = None,
    *,
    tokenizer: Any = None,
    writer: Writer | None = None,
    **overrides: Any,
) -> Reprogrammer:
    """ProTeGi: a prompt improved by textual gradients and edits, with beam search and bandit selection."""
    config = resolve_config(ProTeGiConfig, config, overrides)
    reprogrammer, names = searched_instruction_reprogrammer(model, tokenizer, config, name="protegi")
    reprogrammer.gradient_estimator = ProTeGiSearch(
        writer,
        label_names=names,
        beam_width=config.beam_width,
        num_gradients=config.num_gradients,
        edits_per_gradient=config.edits_per_gradient,
        paraphrases=config.paraphrases,
        max_errors=config.max_errors,
        selection=config.selection,
        pulls=config.pulls,
        sample_size=config.sample_size,
        exploration=config.exploration,
        edit_words=config.edit_words or EDIT_WORDS,
        seed=config.seed,
    )
    return reprogrammer
