"""Prompt templates and fixed concatenative input manipulations on strings.

A :class:`Template` turns one example into text; :class:`FewShotPrompt` is the fixed input
manipulation ``x' = [I; T(d_1, y_1); ...; T(d_k, y_k); T(x)]`` (instruction I, demonstrations
``(d_i, y_i)`` written with their label words, then the query). It returns a :class:`PromptBatch`: a
``list`` of the full prompt strings (so any text adapter can tokenise it) that also remembers the
split into a *prefix* (instruction + demonstrations) and a *query*, which
:class:`~.scoring.CausalLMScorer` uses to encode a shared prefix once.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import sympy as sp
from pydantic import BaseModel, ConfigDict

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext, text_prefix_overhead
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, op, x

from .selection import Pool, order_demonstrations, select_demonstrations

__all__ = ["Template", "PromptBatch", "FewShotPrompt", "as_text_list", "CONTENT_FREE"]

CONTENT_FREE: tuple[str, ...] = ("N/A", "", "[MASK]")
"""The content-free inputs of Zhao et al. (2021)."""

_T = op("T", "T")


class Template(BaseModel):
    """How one example becomes text.

    ``input`` formats the example (``{text}``, or the keys of a dict example); ``output`` formats the
    answer appended after it (``{label}``: the label word; its leading characters are the
    target delimiter, as in lm-evaluation-harness' ``" {choice}"``); ``separator`` joins
    demonstrations; ``instruction`` opens the prompt.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str = ""
    input: str = "{text}"
    output: str = " {label}"
    separator: str = "\n\n"
    instruction_separator: str = "\n\n"

    def format_input(self, example: Any) -> str:
        fields = example if isinstance(example, dict) else {"text": example}
        try:
            return self.input.format(**fields)
        except KeyError as error:
            raise KeyError(
                f"template.input: field {error} is missing from the example (fields: {sorted(fields)})"
            ) from None

    def format_output(self, label_word: str) -> str:
        return self.output.format(label=label_word)

    def demonstration(self, example: Any, label_word: str) -> str:
        return self.format_input(example) + self.format_output(label_word)

    def prefix(self, demonstrations: Sequence[str]) -> str:
        """``I + sep + d_1 + sep + ... + d_k + sep`` (empty parts omitted)."""
        text = self.instruction + (self.instruction_separator if self.instruction else "")
        if demonstrations:
            text += self.separator.join(demonstrations) + self.separator
        return text

    def candidates(self, label_words: Sequence[str]) -> list[str]:
        """The continuations scored for each class: ``output`` filled with each label word."""
        return [self.format_output(w) for w in label_words]


class PromptBatch(list):
    """A batch of prompt strings ``prefix_b + query_b`` that remembers the split.

    It *is* the list of full strings; ``prefixes`` and ``queries`` hold the two parts.
    """

    def __init__(self, prefixes: Sequence[str], queries: Sequence[str]):
        if len(prefixes) != len(queries):
            raise ValueError(f"prefixes/queries: lengths differ ({len(prefixes)} vs {len(queries)})")
        super().__init__(p + q for p, q in zip(prefixes, queries))
        self.prefixes = list(prefixes)
        self.queries = list(queries)

    def __getitem__(self, index):  # slicing keeps the split
        if isinstance(index, slice):
            return PromptBatch(self.prefixes[index], self.queries[index])
        return super().__getitem__(index)


def as_text_list(x: Any, field: str = "x") -> list:
    """One example or a sequence of examples (strings or dicts) as a list."""
    if isinstance(x, (str, dict)):
        return [x]
    if isinstance(x, Sequence) and not isinstance(x, PromptBatch):
        return list(x)
    raise TypeError(f"{field}: expected a string, a dict or a sequence of them, got {type(x).__name__}")


class FewShotPrompt(InputManipulation):
    """``x' = [I; T(d_σ(1), y_σ(1)); ...; T(d_σ(k), y_σ(k)); T(x)]``: fixed, concatenative, at the input.

    Args:
        template: how examples are written.
        label_words: the verbalizer, one word per class (``y`` indexes it).
        pool: the labelled examples demonstrations are drawn from (``(texts, labels)``).
        k: number of demonstrations (0: zero-shot, just the template).
        selection: ``"fixed"`` (``indices``), ``"random"`` (one seeded draw shared by every query),
            ``"random-per-query"`` (a fresh draw for each query, as Brown et al. 2020) or
            ``"nearest"`` (the k most similar by ``embedder``, Liu et al. 2022).
        ordering: ``"given"``, ``"random"``, ``"similar-last"`` (most similar next to the query) or
            ``"similar-first"``.
        embedder: texts → (N, D) tensor, for ``nearest`` and the similarity orderings.
    """

    configuration = Configuration.FIXED
    operator = Operator.CONCATENATIVE
    location = Location.INPUT

    def __init__(
        self,
        template: Template | None = None,
        label_words: Sequence[str] = (),
        pool: Pool | tuple[Sequence[Any], Sequence[int]] | None = None,
        k: int = 0,
        selection: str = "random",
        ordering: str = "given",
        indices: Sequence[int] | None = None,
        embedder: Callable[[list[str]], Any] | None = None,
        seed: int = 0,
        balanced: bool = False,
    ):
        super().__init__()
        self.template = template or Template()
        self.label_words = list(label_words)
        if k < 0:
            raise ValueError(f"k: expected a number of demonstrations >= 0, got {k}")
        self.pool = None if pool is None else pool if isinstance(pool, Pool) else Pool(*pool)
        if k > 0 and self.pool is None:
            raise ValueError("pool: k > 0 demonstrations need a pool of labelled examples")
        if self.pool is not None and self.pool.labels and max(self.pool.labels) >= len(self.label_words):
            raise ValueError(
                f"label_words: pool labels go up to {max(self.pool.labels)} but only {len(self.label_words)} label words given"
            )
        self.k, self.selection, self.ordering = int(k), selection, ordering
        self.indices, self.embedder, self.seed, self.balanced = indices, embedder, int(seed), bool(balanced)
        # validate the names now (clear errors at build time)
        from .selection import ORDERINGS, SELECTIONS

        if selection not in SELECTIONS:
            raise ValueError(f"selection: {selection!r} is not one of {list(SELECTIONS)}")
        if ordering not in ORDERINGS:
            raise ValueError(f"ordering: {ordering!r} is not one of {list(ORDERINGS)}")
        if (selection == "nearest" or ordering.startswith("similar")) and embedder is None:
            raise ValueError(
                f"embedder: selection={selection!r}/ordering={ordering!r} need an embedder (texts -> (N, D))"
            )
        self._shared: str | None = None

    def demonstrations_for(self, queries: list) -> list[list[int]]:
        """Indices into the pool of the demonstrations of each query, in prompt order."""
        if self.k == 0:
            return [[] for _ in queries]
        query_texts = [self.template.format_input(q) if isinstance(q, dict) else q for q in queries]
        chosen = select_demonstrations(
            self.pool, query_texts, self.k, self.selection, self.indices, self.embedder, self.seed, self.balanced
        )
        return order_demonstrations(self.pool, query_texts, chosen, self.ordering, self.embedder, self.seed)

    def prefix_text(self, indices: Sequence[int]) -> str:
        demos = [
            self.template.demonstration(self.pool.texts[i], self.label_words[self.pool.labels[i]]) for i in indices
        ]
        return self.template.prefix(demos)

    def forward(self, x: Any) -> PromptBatch:
        queries = as_text_list(x)
        orders = self.demonstrations_for(queries)
        cache: dict[tuple[int, ...], str] = {}
        prefixes = []
        for order in orders:
            key = tuple(order)
            if key not in cache:
                cache[key] = self.prefix_text(order)
            prefixes.append(cache[key])
        return PromptBatch(prefixes, [self.template.format_input(q) for q in queries])

    def symbolic(self) -> SymbolicForm:
        instruction, demos = sp.Symbol("I"), [sp.Symbol(f"D_{i + 1}") for i in range(min(self.k, 3))]
        if self.k > 3:
            demos = demos[:2] + [sp.Symbol(r"\dots"), sp.Symbol(f"D_{self.k}")]
        parts = ([instruction] if self.template.instruction else []) + demos + [_T(x)]
        expression = concat(*parts) if len(parts) > 1 else _T(x)
        return SymbolicForm(expression=expression, description=f"fixed {self.k}-shot prompt (no parameters)")

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """``k·L_d + L_I`` more tokens (k demonstrations of L_d tokens each, separators included, and the
        instruction's L_I): more positions through f, or, when f's adapter caches the encoded prefix, attention
        over that many more keys per layer."""
        return text_prefix_overhead(
            context, self.instruction_text(), self.demonstration_texts(), self.k, self.template.input
        )

    def instruction_text(self) -> str:
        """The instruction with its separator ('' when there is none)."""
        return self.template.prefix([])

    def demonstration_texts(self) -> list[str]:
        """Each demonstration as it enters the prompt (with its separator): the shared draw for ``fixed``/``random``
        selections, the whole pool for per-query selections (whose mean length is the expected one)."""
        if self.k == 0 or self.pool is None:
            return []
        if self.selection in ("fixed", "random"):
            chosen = self.demonstrations_for(["query"])[0]
        else:
            chosen = list(range(len(self.pool.texts)))
        return [
            self.template.demonstration(self.pool.texts[i], self.label_words[self.pool.labels[i]])
            + self.template.separator
            for i in chosen
        ]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, k={self.k}, selection={self.selection}, ordering={self.ordering}"
