"""OPRO: optimisation by prompting (Yang, Wang, Lu, Liu, Le, Zhou, Chen, "Large Language Models as
Optimizers", ICLR 2024, arXiv 2309.03409), applied to instructions.

    ŷ = v(f([I; x])),   I_{t+1} ~ LLM_opt(meta-prompt(task, {(I_s, score(I_s))}_{top-K}, exemplars))
    score(I) = accuracy of v(f([I; x])) on training examples

At every step the optimiser LM reads a meta-prompt holding the best instructions found so far with
their training accuracy (ascending, so the best comes last) and a few task exemplars, and writes new
instructions; each is scored by the frozen scorer f and added to the trajectory; the best one is
kept (:meth:`OPROSearch.search`, or ``Trainer`` with ``SEARCH_TRAINER`` then ``finish``). The
optimiser LM is injectable (:class:`~.instruction_search.Writer`); without one, proposals
are one-word edits of the top instructions (a deterministic stand-in for the LM that reads the same
trajectory). f is only queried for its scores (access zeroth-order); the labels are read by a verbalizer.
"""

from __future__ import annotations

import random
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
from .text import VerbalizerFields

__all__ = ["OPROConfig", "OPROSearch", "build", "EDIT_WORDS"]

EDIT_WORDS = (
    "label",
    "the",
    "review",
    "sentiment",
    "answer",
    "is",
    "it",
    "was",
    "good",
    "bad",
    "positive",
    "negative",
    "text",
    "label",
    "this",
    "very",
    "not",
    "movie",
)
"""Words of the deterministic stand-in proposer (all in the tiny models' vocabulary)."""


class OPROSearch(InstructionSearch):
    """OPRO's optimisation loop as the reprogrammer's update rule.

    Args:
        writer: the optimiser LM (``writer(meta_prompt, count) -> texts``); ``None``: word edits.
        label_names: the class names shown in the meta-prompt's exemplars.
        num_proposals: instructions generated per step (8 in the paper).
        max_trajectory: instructions kept in the meta-prompt (20 in the paper).
        num_exemplars: task examples shown in the meta-prompt (3 in the paper).
    """

    def __init__(
        self,
        writer: Writer | None = None,
        *,
        label_names: Sequence[str] = (),
        num_proposals: int = 8,
        max_trajectory: int = 20,
        num_exemplars: int = 3,
        edit_words: Sequence[str] = EDIT_WORDS,
        task: str = "classify each text",
        seed: int = 0,
    ):
        super().__init__()
        if num_proposals < 1 or max_trajectory < 1 or num_exemplars < 0:
            raise ValueError("num_proposals/max_trajectory/num_exemplars: expected ≥ 1, ≥ 1 and ≥ 0")
        self.writer, self.label_names = writer, list(label_names)
        self.num_proposals, self.max_trajectory, self.num_exemplars = num_proposals, max_trajectory, num_exemplars
        self.edit_words, self.task = list(edit_words), task
        self.rng = random.Random(seed)
        self.trajectory: dict[str, tuple[float, float]] = {}
        """Every instruction scored so far → (accuracy, loss) on the batch it was scored on."""

    def ranked(self) -> list[tuple[str, float, float]]:
        """The trajectory, best first (higher accuracy, then lower loss)."""
        return sorted(((t, a, l) for t, (a, l) in self.trajectory.items()), key=lambda r: (-r[1], r[2]))

    def meta_prompt(self, inputs: Sequence[str], targets: torch.Tensor) -> str:
        """The optimiser LM's prompt: scored instructions in ascending order, exemplars, the request."""
        shown = self.ranked()[: self.max_trajectory][::-1]
        lines = [
            f"Your task is to write an instruction <INS> that helps a model {self.task}.",
            "Earlier instructions and their training accuracy (0-100), from worst to best:",
            "",
        ]
        for text, accuracy, _ in shown:
            lines += [f"text: {text}", f"score: {round(100 * accuracy)}", ""]
        if self.num_exemplars:
            lines.append("Examples of the task:")
            for text, target in list(zip(inputs, targets.tolist()))[: self.num_exemplars]:
                label = self.label_names[target] if target < len(self.label_names) else str(target)
                lines += [f"input: <INS> {text}", f"output: {label}", ""]
        lines.append(
            "Write one new instruction, different from all above and with a higher score. "
            "Put it between <INS> and </INS>."
        )
        return "\n".join(lines)

    def propose(self, meta_prompt: str) -> list[str]:
        if self.writer is not None:
            proposals = [first_line(t) for t in self.writer(meta_prompt, self.num_proposals)]
        else:  # edit the best few instructions, as the LM is asked to improve on them
            top = [t for t, _, _ in self.ranked()[:3]]
            proposals = []
            for index in range(self.num_proposals):
                proposals += word_edits(top[index % len(top)], self.edit_words, 1, self.rng)
        return [p for p in dict.fromkeys(proposals) if p and p not in self.trajectory]

    def next_instruction(
        self, reprogrammer: Any, inputs: Sequence[str], targets: torch.Tensor, loss_fn: Callable
    ) -> str:
        current = instruction_of(reprogrammer).text
        if current not in self.trajectory:
            self.trajectory[current] = self.score(reprogrammer, current, inputs, targets, loss_fn)
        new = {}
        for text in self.propose(self.meta_prompt(inputs, targets)):
            new[text] = self.trajectory[text] = self.score(reprogrammer, text, inputs, targets, loss_fn)
        if not new:
            return current
        return min(new, key=lambda t: (-new[t][0], new[t][1]))

    def best_instruction(self) -> str:
        if not self.trajectory:
            raise ValueError("OPROSearch: nothing was scored yet; run step() or search() first")
        return self.ranked()[0][0]


class OPROConfig(VerbalizerFields):
    """The starting instruction, proposals per step, trajectory length and exemplars of the meta-prompt."""

    initial_instruction: str = Field("answer the question", min_length=1)
    position: Literal["start", "end"] = "start"
    max_tokens: int = Field(24, ge=1, description="k, the longest instruction in tokens")
    num_proposals: int = Field(8, ge=1)
    max_trajectory: int = Field(20, ge=1)
    num_exemplars: int = Field(3, ge=0)
    task: str = "classify each text"
    edit_words: Optional[list[str]] = Field(None, description="words of the stand-in proposer (default EDIT_WORDS)")
    seed: int = 0


def _example():
    return search_example(build, num_proposals=3)


@register_search("opro", OPROConfig, _example)
def build(
    model: Any,
    config: OPROConfig | dict | None = None,
    *,
    tokenizer: Any = None,
    writer: Writer | None = None,
    **overrides: Any,
) -> Reprogrammer:
    """OPRO: an instruction written by an optimiser LM from the scored trajectory, scored by the frozen f."""
    config = resolve_config(OPROConfig, config, overrides)
    reprogrammer, names = searched_instruction_reprogrammer(model, tokenizer, config, name="opro")
    reprogrammer.gradient_estimator = OPROSearch(
        writer,
        label_names=names,
        num_proposals=config.num_proposals,
        max_trajectory=config.max_trajectory,
        num_exemplars=config.num_exemplars,
        edit_words=config.edit_words or EDIT_WORDS,
        task=config.task,
        seed=config.seed,
    )
    return reprogrammer
