"""Natural-language instructions searched by an optimiser language model, scored by the frozen model.

Parts shared by OPRO (:mod:`.opro`) and ProTeGi (:mod:`.protegi`):

* :class:`InstructionPrompt`: the instruction, a learned *discrete* input manipulation
  ``x' = [instruction; x]`` (or ``[x; instruction]``). Its token ids are an ``nn.Parameter`` of
  ``max_tokens`` entries (float32 holding integers, −1 for unused slots), so the framework counts,
  saves and reloads it like any learned part; gradients never reach it.
* :class:`Writer`: the injectable "optimiser LM", ``writer(prompt, count) -> list[str]`` (any callable).
  :class:`LanguageModelWriter` samples continuations from a causal LM (SmolLM2 in the slow tests);
  the deterministic default search steps in OPRO/ProTeGi use word edits instead (no LM needed).
* :func:`instruction_score`: the score of an instruction, the frozen model's accuracy on a batch with it
  (ties broken by the lower cross-entropy), which is all the optimisers read from f;
* :class:`InstructionSearch`: the base of both searches, also the trainer's ``gradient_estimator``. A
  search step scores new candidate instructions and puts the best *new* one in force (the one the
  search is exploring now); :meth:`InstructionSearch.finish` puts the best instruction found over the
  whole search in force, which is what the papers output. :meth:`InstructionSearch.search` runs
  steps and finishes. For :class:`~reprogrammability.framework.Trainer`, a step is handed over as a
  *pseudo-gradient* ``g = θ − θ_next`` on the token ids, which SGD with learning rate 1 and no momentum
  (:data:`SEARCH_TRAINER`) turns into θ = θ_next; the search keeps its own state and re-sets the part
  before every step, so another optimiser cannot make it drift. Call ``finish`` after ``Trainer.fit``.
"""

from __future__ import annotations

import contextlib
import random
import re
from typing import Any, Callable, Iterator, Literal, Protocol, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols, x
from reprogrammability.implementations.models.tiny import seeded

__all__ = [
    "InstructionPrompt",
    "Writer",
    "LanguageModelWriter",
    "instruction_score",
    "instruction_of",
    "word_edits",
    "first_line",
    "InstructionSearch",
    "SEARCH_TRAINER",
    "search_example",
    "register_search",
]

SEARCH_TRAINER = {"optimizer": "sgd", "learning_rate": 1.0, "momentum": 0.0, "weight_decay": 0.0}
"""Trainer settings under which the pseudo-gradient of an :class:`InstructionSearch` step lands exactly."""


class InstructionPrompt(InputManipulation):
    """``[I; x]`` (``position="start"``) or ``[x; I]`` (``"end"``) on input strings; I is a searched instruction.

    Args:
        tokenizer: turns the instruction into token ids and back.
        text: the initial instruction (non-empty).
        max_tokens: k, the most tokens an instruction may have (longer ones are cut).
    Trainable (discrete) parameters: k token slots.
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.INPUT

    def __init__(
        self,
        tokenizer: Any,
        text: str,
        *,
        max_tokens: int = 32,
        position: Literal["start", "end"] = "start",
        separator: str = " ",
    ):
        super().__init__()
        if tokenizer is None:
            raise InterfaceError("tokenizer: InstructionPrompt needs the model's tokenizer")
        if max_tokens < 1:
            raise ValueError(f"max_tokens: expected at least 1, got {max_tokens}")
        if position not in ("start", "end"):
            raise ValueError(f"position: {position!r} is not one of ['start', 'end']")
        self.tokenizer, self.position, self.separator = tokenizer, position, separator
        self.ids = nn.Parameter(torch.full((max_tokens,), -1.0), requires_grad=True)
        self.set_text(text)

    @property
    def max_tokens(self) -> int:
        return self.ids.numel()

    def encode(self, text: str) -> list[int]:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text: expected a non-empty instruction, got {text!r}")
        return list(self.tokenizer(text.strip(), add_special_tokens=False)["input_ids"])[: self.max_tokens]

    @torch.no_grad()
    def set_text(self, text: str) -> None:
        ids = self.encode(text)
        self.ids.fill_(-1.0)
        self.ids[: len(ids)] = torch.tensor(ids, dtype=self.ids.dtype, device=self.ids.device)

    @property
    def text(self) -> str:
        """The instruction: the token ids ≥ 0 decoded (ids outside the vocabulary are dropped)."""
        size = len(self.tokenizer)
        ids = [i for i in self.ids.detach().round().long().tolist() if 0 <= i < size]
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    @contextlib.contextmanager
    def trying(self, text: str) -> Iterator[None]:
        """Use instruction ``text`` for the duration (to score a candidate), then restore the current one."""
        saved = self.ids.detach().clone()
        self.set_text(text)
        try:
            yield
        finally:
            with torch.no_grad():
                self.ids.copy_(saved)

    def forward(self, x: Any) -> list[str]:
        texts = [x] if isinstance(x, str) else list(x) if isinstance(x, (list, tuple)) else None
        if texts is None or not all(isinstance(t, str) for t in texts):
            raise InterfaceError(f"x: InstructionPrompt takes strings, got {type(x).__name__}")
        instruction = self.text
        if self.position == "start":
            return [f"{instruction}{self.separator}{t}" for t in texts]
        return [f"{t}{self.separator}{instruction}" for t in texts]

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The instruction's L_p tokens: L_p more positions through every layer."""
        (length,) = symbols("L_p")
        return context.extra_positions(length, {length: int((self.ids >= 0).sum())}, "instruction tokens")

    def symbolic(self) -> SymbolicForm:
        (k,) = symbols("k")
        parts = (sp.Symbol("I"), x) if self.position == "start" else (x, sp.Symbol("I"))
        return SymbolicForm(
            concat(*parts),
            k,
            {k: self.max_tokens},
            description="a natural-language instruction of at most k tokens (searched, not back-propagated)",
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, text={self.text!r}"


def searched_instruction_reprogrammer(model: Any, tokenizer: Any, config: Any, name: str) -> tuple[Any, list[str]]:
    """``ŷ = V(f([instruction; x]))`` with the instruction as the part a search edits (OPRO, ProTeGi): the
    frozen f, an :class:`InstructionPrompt` from ``config.initial_instruction`` and the verbalizer V of
    ``config.label_words``; returns the reprogrammer and the label names the search shows the optimiser LM."""
    from reprogrammability.framework.reprogrammer import Reprogrammer

    from .text import verbalizer_frozen

    frozen, verbalizer, tokenizer = verbalizer_frozen(model, tokenizer, config)
    prompt = InstructionPrompt(
        tokenizer, config.initial_instruction, max_tokens=config.max_tokens, position=config.position
    )
    reprogrammer = Reprogrammer(
        frozen, prompt, verbalizer, paradigm="prompt-tuning", access="zeroth-order", modality="text", name=name
    )
    names = [w if isinstance(w, str) else w[0] for w in config.label_words]
    return reprogrammer, names


def register_search(method_id: str, config: type, example: Callable[[], Any]) -> Callable[[Any], Any]:
    """``@register_method`` for a searched instruction (OPRO, ProTeGi): prompt tuning of an input instruction,
    λ=learnable τ=concatenative ℓ=input ω=rule-based, trained from f's scores only (zeroth-order), text."""
    from reprogrammability.implementations.registry import register_method

    return register_method(
        method_id,
        "prompt-tuning",
        "λ=learnable τ=concatenative ℓ=input ω=rule-based",
        access="zeroth-order",
        modality="text",
        config=config,
        example=example,
    )


def search_example(build: Callable[..., Any], **options: Any) -> Any:
    """The registry example of a searched instruction: ``build(**options)`` on the tiny llama with the words
    bad/good, trained by its own search (:data:`SEARCH_TRAINER`)."""
    from reprogrammability.framework.validation import ValidationExample

    from .text import text_example

    reprogrammer, texts, labels = text_example(build, label_words=["bad", "good"], **options)
    return ValidationExample(
        reprogrammer, texts, labels, gradient_estimator=reprogrammer.gradient_estimator, trainer_config=SEARCH_TRAINER
    )


def instruction_of(reprogrammer: Any) -> InstructionPrompt:
    parts = [m for m in reprogrammer.inputs if isinstance(m, InstructionPrompt)]
    if len(parts) != 1:
        raise ValueError("reprogrammer: expected exactly one InstructionPrompt part")
    return parts[0]


@torch.no_grad()
def instruction_score(
    reprogrammer: Any,
    text: str,
    inputs: Sequence[str],
    targets: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> tuple[float, float]:
    """(accuracy, loss) of the frozen model with instruction ``text`` on ``(inputs, targets)``: one query."""
    part = instruction_of(reprogrammer)
    with part.trying(text):
        logits = reprogrammer(list(inputs)).float()
    targets = targets.to(logits.device)
    return float((logits.argmax(-1) == targets).float().mean()), float(loss_fn(logits, targets))


class Writer(Protocol):
    """The optimiser LM: continues ``prompt`` ``count`` times (texts without the prompt)."""

    def __call__(self, prompt: str, count: int) -> list[str]: ...


class LanguageModelWriter:
    """A :class:`Writer` that samples from a transformers causal LM (temperature sampling, seeded).

    OPRO samples its proposals at temperature 1.0 from the optimiser LM; ProTeGi asks the LM for
    critiques and edits the same way.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        max_new_tokens: int = 40,
        temperature: float = 1.0,
        top_k: int | None = 50,
        seed: int = 0,
    ):
        if tokenizer is None:
            raise InterfaceError("tokenizer: LanguageModelWriter needs the optimiser LM's tokenizer")
        if max_new_tokens < 1 or temperature <= 0:
            raise ValueError(f"max_new_tokens/temperature: expected ≥ 1 and > 0, got {max_new_tokens}, {temperature}")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_new_tokens, self.temperature, self.top_k, self.seed = max_new_tokens, temperature, top_k, seed
        self.calls = 0

    @torch.no_grad()
    def __call__(self, prompt: str, count: int) -> list[str]:
        device = next(self.model.parameters()).device
        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"].to(device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        with seeded(self.seed + self.calls):
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=True,
                temperature=self.temperature,
                top_k=self.top_k,
                max_new_tokens=self.max_new_tokens,
                num_return_sequences=count,
                pad_token_id=pad,
            )
        self.calls += 1
        return [self.tokenizer.decode(row[ids.shape[1] :], skip_special_tokens=True) for row in out]


def first_line(text: str, *, strip: str = " \"'`<>[]") -> str:
    """The first non-empty line of a generation, without quotes or tags (``<INS>…</INS>``)."""
    text = re.sub(r"</?[A-Za-z]+>", "\n", text)
    for line in text.splitlines():
        line = line.strip().strip(strip).strip()
        if line:
            return line
    return ""


def word_edits(text: str, words: Sequence[str], count: int, rng: random.Random, *, max_words: int = 16) -> list[str]:
    """``count`` distinct one-word edits of ``text`` (insert / replace / delete a word from ``words``)."""
    tokens = text.split()
    seen, edits = {text}, []
    for _ in range(20 * count):
        if len(edits) == count:
            break
        kind = rng.choice(["insert", "replace", "delete"] if len(tokens) > 1 else ["insert", "replace"])
        new = list(tokens)
        if kind == "insert" and len(new) < max_words:
            new.insert(rng.randrange(len(new) + 1), rng.choice(list(words)))
        elif kind == "replace":
            new[rng.randrange(len(new))] = rng.choice(list(words))
        elif kind == "delete":
            del new[rng.randrange(len(new))]
        candidate = " ".join(new)
        if candidate and candidate not in seen:
            seen.add(candidate)
            edits.append(candidate)
    return edits


class InstructionSearch:
    """Base of the instruction searches: one search step per trainer step, returned as a pseudo-gradient.

    Subclasses implement :meth:`next_instruction` ``(reprogrammer, inputs, targets, loss_fn) -> text`` (the
    best new candidate of the step) and :meth:`best_instruction` (the best over the whole search).
    ``queries`` counts evaluations of f (each scores one instruction on one batch).
    """

    def __init__(self) -> None:
        self.queries = 0
        self.current: str | None = None

    def score(
        self, reprogrammer: Any, text: str, inputs: Sequence[str], targets: Tensor, loss_fn: Callable = F.cross_entropy
    ) -> tuple[float, float]:
        self.queries += 1
        return instruction_score(reprogrammer, text, inputs, targets, loss_fn)

    def next_instruction(self, reprogrammer: Any, inputs: Sequence[str], targets: Tensor, loss_fn: Callable) -> str:
        raise NotImplementedError

    def best_instruction(self) -> str:
        raise NotImplementedError

    def step(
        self, reprogrammer: Any, inputs: Sequence[str], targets: Tensor, loss_fn: Callable = F.cross_entropy
    ) -> str:
        """One search step; the part holds the step's best new instruction afterwards, which is returned."""
        part = instruction_of(reprogrammer)
        if self.current is not None:
            part.set_text(self.current)
        self.current = self.next_instruction(reprogrammer, list(inputs), targets, loss_fn)
        part.set_text(self.current)
        return self.current

    def finish(self, reprogrammer: Any) -> str:
        """Put the best instruction of the whole search in force; returns it."""
        self.current = self.best_instruction()
        instruction_of(reprogrammer).set_text(self.current)
        return self.current

    def search(
        self, reprogrammer: Any, inputs: Sequence[str], targets: Tensor, steps: int, loss_fn: Callable = F.cross_entropy
    ) -> str:
        """``steps`` search steps on ``(inputs, targets)``, then :meth:`finish`."""
        if steps < 1:
            raise ValueError(f"steps: expected at least 1, got {steps}")
        for _ in range(steps):
            self.step(reprogrammer, inputs, targets, loss_fn)
        return self.finish(reprogrammer)

    def estimate(self, reprogrammer: Any, inputs: Sequence[str], targets: Tensor, loss_fn: Callable) -> Tensor:
        """The trainer's hook: the step as the pseudo-gradient ``θ − θ_next`` (apply with :data:`SEARCH_TRAINER`)."""
        part = instruction_of(reprogrammer)
        if self.current is not None:
            part.set_text(self.current)
        before = part.ids.detach().clone()
        text = self.step(reprogrammer, inputs, targets, loss_fn)
        after = part.ids.detach().clone()
        with torch.no_grad():
            part.ids.copy_(before)
        part.ids.grad = before - after
        _, loss = self.score(reprogrammer, text, list(inputs), targets, loss_fn)
        return torch.tensor(loss)
