"""Output alignments and prompts for CLIP-like models whose "classes" are text descriptions.

The frozen model is a CLIP zero-shot classifier over a fixed list of D descriptions (the transformers
``CLIPAdapter`` with ``class_prompts`` = the descriptions), so its output z (B, D) holds the scaled
cosine similarities s·cos(g(x'), h(d)). The alignments turn description scores into class scores:

* :class:`DescriptionAlignment` (AttrVR, Cai et al., ICLR 2025, arXiv:2501.13982): for each class and each
  attribute group, the mean of the k highest similarities among that class's descriptions, weighted across
  groups (k-nearest attribute matching; rule-based).
* :class:`DecoupledPrompts` + :class:`DecoupledReweighting` (DVP, Cai et al., ICML 2025, arXiv:2506.01000):
  one visual prompt per description group; each description is scored on the image prompted by its own
  group's prompt, and a probabilistic reweighting matrix ω (D, C_t), estimated from data like BLM+ and
  restricted to each class's own descriptions, gives the class scores (statistical).

Text-embedding ("semantic") mapping itself, ŷ_c = s·cos(g(x'), h(t_c)) with one prompt per class, is the
``CLIPAdapter`` with identity alignment (see ``visual-prompting``).
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp
import torch
from torch import Tensor, nn

from reprogrammability.framework.alignment import OutputAlignment, StatisticalAlignment
from reprogrammability.framework.axes import Alignment, Configuration, Location, Operator
from reprogrammability.framework.cost import F_MARGINAL, L_QUERY, InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, op, symbols, z

from .programs import WatermarkPrompt

__all__ = ["DescriptionAlignment", "DecoupledPrompts", "DecoupledReweighting", "description_layout"]


def description_layout(descriptions: Sequence[Sequence[Sequence[str]]]) -> tuple[list[str], list[Tensor]]:
    """Flatten ``descriptions[group][class] = [texts...]`` into one prompt list and, per group, the (C_t, m_g)
    indices of each class's descriptions in that list (every class of a group needs the same count m_g)."""
    prompts: list[str] = []
    groups: list[Tensor] = []
    num_classes = None
    for g, per_class in enumerate(descriptions):
        if num_classes is None:
            num_classes = len(per_class)
        if len(per_class) != num_classes:
            raise ValueError(f"descriptions[{g}]: {len(per_class)} classes, expected {num_classes}")
        counts = {len(texts) for texts in per_class}
        if len(counts) != 1 or 0 in counts:
            raise ValueError(f"descriptions[{g}]: every class needs the same, non-zero number of descriptions")
        rows = []
        for texts in per_class:
            rows.append(list(range(len(prompts), len(prompts) + len(texts))))
            prompts.extend(texts)
        groups.append(torch.tensor(rows, dtype=torch.long))
    return prompts, groups


def _top_mean(scores: Tensor, k: int) -> Tensor:
    return scores.topk(min(k, scores.shape[-1]), dim=-1).values.mean(dim=-1)


class DescriptionAlignment(OutputAlignment):
    """AttrVR's k-nearest attribute matching: ``ŷ_c = Σ_g w_g · mean(top-k_{d ∈ A_g(c)} z_d)``.

    ``groups[g]`` (C_t, m_g) are the description indices of each class in attribute group g (descriptive and
    distinctive attributes in the paper), ``weights`` w_g (default equal). No parameters, no fitting.
    """

    alignment = Alignment.RULE_BASED

    def __init__(self, groups: Sequence[Tensor], top_k: int = 3, weights: Sequence[float] | None = None):
        super().__init__()
        if not groups:
            raise ValueError("groups: at least one attribute group is required")
        num_classes = groups[0].shape[0]
        for index, group in enumerate(groups):
            if group.dim() != 2 or group.shape[0] != num_classes:
                raise ShapeError(f"groups[{index}]: expected shape ({num_classes}, m), got {tuple(group.shape)}")
            self.register_buffer(f"group_{index}", torch.as_tensor(group, dtype=torch.long))
        weights = [1.0 / len(groups)] * len(groups) if weights is None else list(weights)
        if len(weights) != len(groups):
            raise ValueError(f"weights: expected {len(groups)} values, got {len(weights)}")
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32))
        self.num_groups, self.top_k, self.num_classes = len(groups), int(top_k), num_classes

    def forward(self, z: Tensor) -> Tensor:
        scores = 0.0
        for g in range(self.num_groups):
            index = getattr(self, f"group_{g}")
            scores = scores + self.weights[g].to(z.dtype) * _top_mean(z[:, index], self.top_k)
        return scores

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Averages the similarity scores of each class's descriptions: element-wise, no FLOPs."""
        return InferenceOverhead(description="mean over descriptions")

    def symbolic(self) -> SymbolicForm:
        k = sp.Symbol("k")
        return SymbolicForm(
            expression=op("kNN_attr", r"\operatorname{kNN}_{\mathrm{attr}}")(z, k),
            description="mean of the k most similar attribute descriptions per class, averaged over groups",
        )


class DecoupledPrompts(InputManipulation):
    """DVP's decoupled visual prompts: V border prompts, one per description group; each image is prompted V
    times, sample-major: x (B, C, h, w) → (B·V, C, H, W) with row b·V + v = x_b under prompt v.
    Trainable parameters: V·C·(H·W − (H − 2p)(W − 2p)).
    """

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(
        self, num_prompts: int, canvas_size: int, pad: int, mean, std, channels: int = 3, init_std: float = 0.0
    ):
        super().__init__()
        if num_prompts < 1:
            raise ValueError(f"num_prompts: expected ≥ 1, got {num_prompts}")
        self.prompts = nn.ModuleList(
            [WatermarkPrompt(canvas_size, pad, mean, std, channels, init_std=init_std) for _ in range(num_prompts)]
        )

    def forward(self, x: Tensor) -> Tensor:
        prompted = torch.stack([prompt(x) for prompt in self.prompts], dim=1)  # (B, V, C, H, W)
        return prompted.flatten(0, 1)

    def symbolic(self) -> SymbolicForm:
        single = self.prompts[0].symbolic()
        V = symbols("V")[0]
        return SymbolicForm(
            expression=op("stack_v", r"\operatorname{stack}_{v}")(
                single.expression.subs(sp.Symbol(r"\theta"), sp.Symbol(r"\theta_v"))
            ),
            parameter_count=V * single.parameter_count,
            shapes={**single.shapes, V: len(self.prompts)},
            description="one border prompt per description group",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """f sees each image V times, once under each group's prompt: ``(V − 1)·F_q`` more FLOPs (F_q: f's FLOPs per
        additional image, its image tower and the image's scores; the description prompts are encoded once per batch
        either way) and ``(V − 1)·L`` more positions; each prompt is an element-wise program on f's canvas."""
        (v,) = symbols("V")
        repeats = InferenceOverhead(
            tokens=(v - 1) * L_QUERY,
            flops=(v - 1) * F_MARGINAL,
            shapes={**context.shapes, v: len(self.prompts)},
            description=f"each image prompted {len(self.prompts)} times",
        )
        program = self.prompts[0].inference_overhead(context)
        return repeats + InferenceOverhead(
            elementwise=v * program.elementwise, shapes={**program.shapes, v: len(self.prompts)}
        )


class DecoupledReweighting(StatisticalAlignment):
    """DVP's probabilistic reweighting matrix over descriptions.

    z (B·V, D) from :class:`DecoupledPrompts` is read as (B, V, D); description d is scored under its own
    group's prompt, s_d = z[:, g(d), d]. ω (D, C_t) is BLM+'s estimate with the descriptions as source labels
    (top-k probabilities, Laplace λ), restricted to each class's own descriptions and column-normalised;
    ``ŷ = s ω``. Re-estimated every epoch.
    """

    symbol_latex = r"\omega_{\mathrm{PRM}}"
    refit_each_epoch = True

    def __init__(self, membership: Tensor, description_group: Tensor, top_k: int = 3, laplace: float = 1.0):
        membership = torch.as_tensor(membership, dtype=torch.float32)
        if membership.dim() != 2:
            raise ShapeError(f"membership: expected (D, C_t), got {tuple(membership.shape)}")
        super().__init__(membership.shape[0], membership.shape[1])
        group = torch.as_tensor(description_group, dtype=torch.long)
        if group.shape != (membership.shape[0],):
            raise ShapeError(f"description_group: expected shape ({membership.shape[0]},), got {tuple(group.shape)}")
        self.register_buffer("membership", membership)
        self.register_buffer("description_group", group)
        self.num_groups = int(group.max()) + 1
        self.top_k, self.laplace = int(top_k), float(laplace)

    def description_scores(self, z: Tensor) -> Tensor:
        """(B·V, D) → (B, D): each description scored on the image under its own group's prompt."""
        if z.dim() != 2 or z.shape[1] != self.num_source or z.shape[0] % self.num_groups:
            raise ShapeError(f"z: expected shape (B·{self.num_groups}, {self.num_source}), got {tuple(z.shape)}")
        grouped = z.view(-1, self.num_groups, self.num_source)
        index = self.description_group.view(1, 1, -1).expand(grouped.shape[0], 1, -1)
        return grouped.gather(1, index).squeeze(1)

    def estimate(self, scores: Tensor, targets: Tensor) -> Tensor:
        probabilities = torch.softmax(scores.double(), dim=1)
        values, index = probabilities.topk(min(self.top_k, scores.shape[1]), dim=1)
        kept = torch.zeros_like(probabilities).scatter_(1, index, values)
        counts = torch.zeros(self.num_source, self.num_target, dtype=torch.float64, device=kept.device)
        counts.index_add_(1, targets, kept.T)
        conditional = counts / (counts.sum(dim=1, keepdim=True) + self.laplace)
        conditional = conditional * self.membership.to(conditional)
        total = conditional.sum(dim=0, keepdim=True)
        fallback = self.membership.to(conditional) / self.membership.sum(0, keepdim=True).to(conditional)
        return torch.where(total > 0, conditional / total.clamp_min(1e-300), fallback)

    @torch.no_grad()
    def fit(self, source_outputs: Tensor, targets: Tensor) -> "DecoupledReweighting":
        scores = self.description_scores(source_outputs.float())
        if targets.shape != scores.shape[:1]:
            raise ShapeError(f"targets: expected shape ({scores.shape[0]},), got {tuple(targets.shape)}")
        self.omega.copy_(self.estimate(scores, targets.long()).to(self.omega))
        self.fitted.fill_(True)
        return self

    def forward(self, z: Tensor) -> Tensor:
        return super().forward(self.description_scores(z))
