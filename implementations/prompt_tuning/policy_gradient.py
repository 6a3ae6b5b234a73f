"""Discrete prompts drawn from learned categorical distributions, trained by a policy gradient from losses only.

BDPL (Diao et al., "Black-box Prompt Learning for Pre-trained Language Models", TMLR 2023, arXiv 2201.08531):
each of the n prompt slots j holds a categorical distribution Cat(p_j) over N candidate tokens; a prompt
S = (s_1 … s_n), s_j ~ Cat(p_j), is inserted into the input and the black-box model is queried. The
distributions are updated with the variance-reduced policy gradient (REINFORCE with a leave-one-out
baseline over I sampled prompts)::

    ∇_p L ≈ 1/(I−1) Σ_k ∇_p log P(S^k) · (L(S^k) − 1/I Σ_j L(S^j))

Here p_j = softmax(θ_j) (the paper keeps p_j on the simplex by projection; the softmax keeps it there by
construction), so ∇_{θ_j} log P(S) = onehot(s_j) − p_j. At inference the prompt is argmax_j p_j.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, symbols, x

from .discrete import TriggerTokens

__all__ = ["CategoricalPromptTokens", "PolicyGradientEstimator"]


class CategoricalPromptTokens(InputManipulation):
    """n prompt tokens, slot j drawn from Cat(softmax(θ_j)) over N candidate token ids, inserted into the ids.

    ``θ`` (n, N) are the only trainable parameters (n·N). Without a sampled prompt in force (see
    :meth:`sampled`), the prompt is the most probable token of every slot. Inputs as for
    :class:`~.discrete.TriggerTokens` (strings with a tokenizer, id tensors, or dicts with ``input_ids``).
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.INPUT

    def __init__(
        self,
        num_tokens: int,
        candidate_ids: Sequence[int],
        *,
        position: str = "end",
        pad_id: int = 0,
        mask_id: int | None = None,
        tokenizer: Any = None,
    ):
        super().__init__()
        candidates = [int(i) for i in candidate_ids]
        if num_tokens < 1:
            raise ValueError(f"num_tokens: expected at least one prompt token, got {num_tokens}")
        if len(candidates) < 2 or len(set(candidates)) != len(candidates) or min(candidates) < 0:
            raise ValueError(f"candidate_ids: expected at least two distinct non-negative token ids, got {candidates}")
        self.logits = nn.Parameter(torch.zeros(num_tokens, len(candidates)))
        self.register_buffer("candidates", torch.tensor(candidates, dtype=torch.long))
        inserter = TriggerTokens(
            candidates[:1] * num_tokens, position=position, pad_id=pad_id, mask_id=mask_id, tokenizer=tokenizer
        )
        inserter.triggers.requires_grad_(False)
        object.__setattr__(self, "_inserter", inserter)  # a tool, not a part: its ids are set from θ or a sample
        self._sample: Tensor | None = None

    @property
    def num_tokens(self) -> int:
        return self.logits.shape[0]

    def probabilities(self) -> Tensor:
        """p (n, N), each row on the simplex."""
        return torch.softmax(self.logits.float(), dim=-1)

    def prompt_ids(self) -> Tensor:
        """The token ids (n,) in force: the sampled prompt, else argmax p_j per slot."""
        choice = self._sample if self._sample is not None else self.logits.detach().argmax(-1)
        return self.candidates[choice.to(self.candidates.device)]

    @contextlib.contextmanager
    def sampled(self, choice: Tensor) -> Iterator[None]:
        """Use the prompt whose slot j is candidate ``choice[j]`` (n,) for the duration."""
        if choice.shape != (self.num_tokens,):
            raise ValueError(f"choice: expected shape ({self.num_tokens},), got {tuple(choice.shape)}")
        self._sample = choice.long()
        try:
            yield
        finally:
            self._sample = None

    def forward(self, x: Any) -> dict[str, Tensor]:
        with torch.no_grad():
            for slot, token in enumerate(self.prompt_ids().tolist()):
                self._inserter.set_trigger(slot, token)
        return self._inserter.insert(x)[0]

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """L_p sampled prompt tokens: L_p more positions through every layer."""
        (length,) = symbols("L_p")
        return context.extra_positions(length, {length: self.num_tokens}, "sampled prompt tokens")

    def symbolic(self) -> SymbolicForm:
        n, N = symbols("n N")
        where = {
            "end": (x, sp.Symbol("S_{1..n}")),
            "start": (sp.Symbol("S_{1..n}"), x),
            "before_mask": (x, sp.Symbol("S_{1..n}"), sp.Symbol("MASK")),
        }
        return SymbolicForm(
            concat(*where[self._inserter.position]),
            n * N,
            {n: self.num_tokens, N: self.candidates.numel()},
            description="n prompt tokens, s_j ~ Cat(softmax(θ_j)) over N candidates",
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n={self.num_tokens}, N={self.candidates.numel()}"


class PolicyGradientEstimator:
    """The variance-reduced policy gradient of BDPL for every :class:`CategoricalPromptTokens` of a reprogrammer.

    Each call samples ``num_samples`` (I ≥ 2) prompts, queries the loss of each (I queries), fills
    ``θ.grad`` with the estimate above and returns the mean loss. Satisfies the trainer's
    ``gradient_estimator`` protocol (``Trainer(rp, gradient_estimator=rp.gradient_estimator)``).
    """

    def __init__(self, num_samples: int = 4, seed: int = 0):
        if num_samples < 2:
            raise ValueError(f"num_samples: the leave-one-out baseline needs I ≥ 2 samples, got {num_samples}")
        self.num_samples = int(num_samples)
        self.generator = torch.Generator().manual_seed(seed)
        self.queries = 0

    @staticmethod
    def parts_of(reprogrammer: Any) -> list[CategoricalPromptTokens]:
        parts = [m for m in reprogrammer.inputs if isinstance(m, CategoricalPromptTokens)]
        if not parts:
            raise ValueError("reprogrammer: has no CategoricalPromptTokens part to estimate a policy gradient for")
        return parts

    @torch.no_grad()
    def estimate(self, reprogrammer: Any, inputs: Any, targets: Tensor, loss_fn: Callable) -> Tensor:
        parts = self.parts_of(reprogrammer)
        probs = [part.probabilities().cpu() for part in parts]
        samples, losses = [], []
        for _ in range(self.num_samples):
            choice = [torch.multinomial(p, 1, generator=self.generator).squeeze(1) for p in probs]
            with contextlib.ExitStack() as stack:
                for part, c in zip(parts, choice):
                    stack.enter_context(part.sampled(c))
                losses.append(float(loss_fn(reprogrammer(inputs).float(), targets)))
            self.queries += 1
            samples.append(choice)
        baseline = sum(losses) / len(losses)
        for index, (part, p) in enumerate(zip(parts, probs)):
            grad = torch.zeros_like(p)
            for choice, loss in zip(samples, losses):
                score = nn.functional.one_hot(choice[index], p.shape[1]).to(p) - p  # ∇_θ log P(S)
                grad += (loss - baseline) * score
            part.logits.grad = (grad / (self.num_samples - 1)).to(part.logits)
        return torch.tensor(baseline)
