"""Zero-shot prompting of CLIP-like models: class-prompt templates, ensembles, descriptors, weights.

The task input x is an image batch; the fixed manipulation writes each class name c into text
prompts ``t_{c,m} = T_m(c)`` (concatenative, at the text input of f): :class:`ClassPromptTemplate`
turns x into :class:`PromptedImages` ``(x, {t_{c,m}})``. f is CLIP seen through
:class:`CLIPPromptAdapter`:

* ``combine="mean-embedding"`` (Radford et al. 2021 ensembling): the class embedding is the mean of
  the L2-normalised text embeddings of its prompts, renormalised; ``z = s · cos(g(x), h̄_c)`` (B, C);
* ``combine="per-prompt"``: ``z_{b,c,m} = s · cos(g(x_b), h(t_{c,m}))`` (B, C, M), NaN where a
  class has fewer prompts (descriptor averaging, prompt weighting).

With one template per class both are the standard zero-shot classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.adapters.transformers import CLIPAdapter
from reprogrammability.framework.alignment import OutputAlignment
from reprogrammability.framework.axes import Alignment, Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import InterfaceError, NotFittedError, ShapeError
from reprogrammability.framework.interfaces import EmbeddingState
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, concat, x

__all__ = [
    "PromptedImages",
    "ClassPromptTemplate",
    "CLIPPromptAdapter",
    "DescriptorMean",
    "ZeroShotPromptWeights",
    "IMAGENET_TEMPLATES_SHORT",
    "COMBINE_MODES",
    "descriptor_prompt",
]

COMBINE_MODES = ("mean-embedding", "per-prompt")

IMAGENET_TEMPLATES_SHORT: tuple[str, ...] = (
    "a photo of a {}.",
    "a blurry photo of a {}.",
    "a photo of the large {}.",
    "a photo of the small {}.",
    "a drawing of a {}.",
    "a close-up photo of a {}.",
    "a bright photo of a {}.",
)
"""A few of the CLIP-style templates (Radford et al. 2021 list 80 for ImageNet)."""


def descriptor_prompt(class_name: str, descriptor: str) -> str:
    """Menon & Vondrick's prompt: ``"{class}, which (is/has/etc) {descriptor}"``, written as ``"{class}, which {descriptor}"``."""
    return f"{class_name}, which {descriptor}"


@dataclass
class PromptedImages:
    """f's input after prompting: images (B, C, H, W) and, per class, its text prompts."""

    images: Tensor
    prompts: list[list[str]]

    def detach(self) -> "PromptedImages":
        return self

    def clone(self) -> "PromptedImages":
        return PromptedImages(self.images.clone(), [list(p) for p in self.prompts])


class ClassPromptTemplate(InputManipulation):
    """``x ↦ (x, {T_m(c)})``: every class name written into every template (or given per-class prompts).

    Args:
        class_names: the target classes.
        templates: strings with ``{}`` for the class name (one: zero-shot; several: an ensemble).
        class_prompts: instead of templates, explicit prompts per class (CuPL descriptions, DCLIP
            descriptors), a list aligned with ``class_names`` or a dict by name.
    """

    configuration = Configuration.FIXED
    operator = Operator.CONCATENATIVE
    location = Location.INPUT

    def __init__(
        self,
        class_names: Sequence[str],
        templates: Sequence[str] | None = ("a photo of a {}.",),
        class_prompts: Sequence[Sequence[str]] | Mapping[str, Sequence[str]] | None = None,
    ):
        super().__init__()
        self.class_names = [str(c) for c in class_names]
        if not self.class_names:
            raise ValueError("class_names: give at least one class")
        prompts: list[list[str]] = [[] for _ in self.class_names]
        if templates:
            bad = [t for t in templates if "{}" not in t]
            if bad:
                raise ValueError(f"templates: {bad} have no '{{}}' placeholder for the class name")
            self.templates = list(templates)
            for c, name in enumerate(self.class_names):
                prompts[c] += [t.format(name) for t in templates]
        else:
            self.templates = []
        if class_prompts is not None:
            if isinstance(class_prompts, Mapping):
                missing = [c for c in self.class_names if c not in class_prompts]
                if missing:
                    raise ValueError(f"class_prompts: no prompts for classes {missing}")
                extra = [list(class_prompts[c]) for c in self.class_names]
            else:
                extra = [list(p) for p in class_prompts]
                if len(extra) != len(self.class_names):
                    raise ValueError(f"class_prompts: {len(extra)} lists for {len(self.class_names)} classes")
            for c in range(len(self.class_names)):
                prompts[c] += extra[c]
        empty = [self.class_names[c] for c, p in enumerate(prompts) if not p]
        if empty:
            raise ValueError(f"templates/class_prompts: classes {empty} have no prompt")
        self.prompts = prompts

    def forward(self, x: Any) -> PromptedImages:
        if isinstance(x, PromptedImages):
            x = x.images
        if not isinstance(x, Tensor) or x.dim() != 4:
            raise ShapeError(f"x: expected images (B, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
        return PromptedImages(x, self.prompts)

    def validation_view(self, received: Any, returned: PromptedImages) -> tuple[list[str], list[str]]:
        """Where the concatenation happens: each class name (before) inside each of its prompts (after)."""
        before = [name for name, group in zip(self.class_names, returned.prompts) for _ in group]
        return before, [p for group in returned.prompts for p in group]

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Rewrites the class prompts' words: the C class prompts are encoded once per task, with or without the template, so an image query costs nothing more."""
        return InferenceOverhead(description="class-prompt text, encoded once per task")

    def symbolic(self) -> SymbolicForm:
        c = sp.Symbol("c")
        prompt = concat(sp.Symbol("P_m"), c)
        return SymbolicForm(
            expression=sp.Tuple(x, prompt),
            description=f"{sum(map(len, self.prompts))} fixed class prompts (no parameters)",
        )


class CLIPPromptAdapter(CLIPAdapter):
    """A ``CLIPModel`` scoring images against the class prompts carried by :class:`PromptedImages`."""

    name = "transformers-clip-prompts"

    def __init__(self, tokenizer: Any, combine: str = "mean-embedding"):
        super().__init__(class_prompts=None, tokenizer=tokenizer)
        if combine not in COMBINE_MODES:
            raise ValueError(f"combine: {combine!r} is not one of {list(COMBINE_MODES)}")
        if tokenizer is None:
            raise InterfaceError("tokenizer: CLIPPromptAdapter needs the CLIP tokenizer")
        self.combine = combine
        self._text_cache: dict[tuple, Tensor] = {}

    def prepare(self, model: nn.Module, x: Any) -> PromptedImages:
        if not isinstance(x, PromptedImages):
            raise InterfaceError(
                "x: CLIPPromptAdapter needs PromptedImages; put a ClassPromptTemplate in the reprogrammer's input"
            )
        return x

    def embed(self, model: nn.Module, x: PromptedImages) -> dict[str, EmbeddingState]:
        flat = [p for group in x.prompts for p in group]
        towers = self._towers(model)
        text = self.text.embed(towers["text"], self.text.prepare(towers["text"], flat))
        text.extra["groups"] = [len(group) for group in x.prompts]
        device = next(model.parameters()).device
        return {"vision": self.vision.embed(towers["vision"], x.images.to(device)), "text": text}

    def forward_input(self, model: nn.Module, x: PromptedImages) -> Tensor:
        return self.forward_embedded(model, self.embed(model, x))

    def forward_embedded(self, model: nn.Module, states: dict[str, EmbeddingState], key_values=None) -> Tensor:
        if key_values:
            raise InterfaceError("CLIPPromptAdapter: key/value prefixes are not supported; use hidden edits")
        towers = self._towers(model)
        image = F.normalize(self.vision.forward_embedded(towers["vision"], states["vision"]), dim=-1)
        text = F.normalize(self.text.forward_embedded(towers["text"], states["text"]), dim=-1)
        groups = states["text"].extra["groups"]
        scale = model.logit_scale.exp()
        chunks = torch.split(text, groups)
        if self.combine == "mean-embedding":
            classes = torch.stack([F.normalize(chunk.mean(0), dim=-1) for chunk in chunks])
            return scale * image @ classes.t()
        width = max(groups)
        out = image.new_full((image.shape[0], len(groups), width), float("nan"))
        for c, chunk in enumerate(chunks):
            out[:, c, : chunk.shape[0]] = scale * image @ chunk.t()
        return out


class DescriptorMean(OutputAlignment):
    """Rule-based (Menon & Vondrick 2023): ``ŷ_c = (1/|D_c|) Σ_{d ∈ D_c} z_{c,d}``, the mean score of a
    class's descriptor prompts; ``z`` (B, C, M) with NaN padding."""

    alignment = Alignment.RULE_BASED

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 3:
            raise ShapeError(f"z: expected per-prompt scores (B, C, M), got {tuple(z.shape)}")
        return z.nanmean(dim=-1)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Averages each class's descriptor scores: element-wise, no FLOPs."""
        return InferenceOverhead(description="mean over descriptors")

    def symbolic(self) -> SymbolicForm:
        d, c = sp.Symbol("d"), sp.Symbol("c")
        D = sp.Symbol("|D_c|")
        return SymbolicForm(
            expression=sp.Sum(sp.Indexed(sp.IndexedBase("z"), c, d), (d, 1, D)) / D,
            description="mean over each class's descriptors",
        )


class ZeroShotPromptWeights(OutputAlignment):
    """Zero-shot prompt ensembling (Allingham et al. 2023): ``ŷ_c = Σ_m w_m z_{c,m}``.

    ``w = softmax(s / τ)`` over the M templates, with the unlabelled score
    ``s_m = mean_x max_c (z_{x,c,m} − z̄_{c,m})``: each prompt's confidence on the task images after
    removing its per-class mean logit ``z̄_{c,m}`` over a reference image set (the bias correction;
    the task images themselves unless ``reference`` outputs are given to :meth:`fit`). Estimated
    from unlabelled outputs of f: statistical, no gradients. The weighted sum of logits equals
    scoring with the weighted mean of the normalised text embeddings (before renormalisation).
    """

    alignment = Alignment.STATISTICAL

    def __init__(self, num_prompts: int, temperature: float = 1.0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature: expected > 0, got {temperature}")
        self.temperature = float(temperature)
        self.register_buffer("weights", torch.full((num_prompts,), 1.0 / num_prompts))
        self.register_buffer("scores", torch.zeros(num_prompts))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, source_outputs: Tensor, targets: Tensor | None = None, reference: Tensor | None = None):
        """``source_outputs`` (N, C, M) per-prompt logits of unlabelled task images; ``targets`` unused."""
        if source_outputs.dim() != 3 or source_outputs.shape[2] != self.weights.shape[0]:
            raise ShapeError(
                f"source_outputs: expected (N, C, {self.weights.shape[0]}), got {tuple(source_outputs.shape)}"
            )
        reference = source_outputs if reference is None else reference
        normalised = source_outputs - reference.mean(0, keepdim=True)
        self.scores.copy_(normalised.max(dim=1).values.mean(0))
        self.weights.copy_(torch.softmax(self.scores / self.temperature, dim=0))
        self.fitted.fill_(True)
        return self

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    def forward(self, z: Tensor) -> Tensor:
        if not self.is_fitted:
            raise NotFittedError("ZeroShotPromptWeights: call fit(per-prompt logits of unlabelled images) first")
        if z.dim() != 3:
            raise ShapeError(f"z: expected per-prompt scores (B, C, M), got {tuple(z.shape)}")
        return (z * self.weights.to(z)).sum(-1)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """A weighted sum over the M templates' scores: element-wise, no FLOPs."""
        return InferenceOverhead(description="template weighting")

    def symbolic(self) -> SymbolicForm:
        m = sp.Symbol("m")
        return SymbolicForm(
            expression=sp.Sum(
                sp.Indexed(sp.IndexedBase("w"), m) * sp.Indexed(sp.IndexedBase("z"), m), (m, 1, sp.Symbol("M"))
            ),
            description="prompt weights estimated from unlabelled images (buffers)",
        )
