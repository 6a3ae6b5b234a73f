"""Tiny methods for the validator's tests: correct ones at every coordinate, and deliberately wrong ones.

Every factory returns ``(reprogrammer, inputs, targets)`` (or a ``ValidationExample``) on a tiny
random model and builds in milliseconds. Each wrong method differs from a correct one in one way,
and ``WRONG`` says which named check must catch it (``catches``), which words its reason must
contain (``because``) and which other checks may fail as a consequence (``also``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework import (
    Alignment,
    Configuration,
    FrozenModel,
    HiddenManipulation,
    IdentityAlignment,
    IndexMapping,
    InputManipulation,
    LinearAlignment,
    Location,
    Operator,
    OutputAlignment,
    Reprogrammer,
    StatisticalAlignment,
    SymbolicForm,
)
from reprogrammability.framework.cost import (
    F_QUERY,
    InferenceOverhead,
    OverheadContext,
    canvas_elementwise,
    conv_flops,
)
from reprogrammability.framework.interfaces import EmbeddingState, ModuleAdapter
from reprogrammability.framework.symbolic import concat, odot, op, symbols, x, z
from reprogrammability.framework.validation import ValidationExample

NUM_SOURCE, NUM_TARGET, BATCH, SIZE = 10, 3, 6, 8
VOCAB, LENGTH = 40, 5


# --- tiny frozen models ------------------------------------------------------------------------------


def tiny_cnn() -> nn.Module:
    """(B, 3, 8, 8) -> (B, 10): conv, relu, conv, relu, pool, linear (seeded, independent of the global RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        return nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(6, 8, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, NUM_SOURCE),
        ).eval()


def tiny_cnn_bn() -> nn.Module:
    """:func:`tiny_cnn` with a batch-norm layer after the first conv (its running statistics set, eval mode)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(6, NUM_SOURCE),
        )
        model[1].running_mean.uniform_(-0.1, 0.1)
        model[1].running_var.uniform_(0.5, 1.5)
        return model.eval()


def tiny_gpt2() -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        n_layer=2,
        n_embd=16,
        n_head=2,
        vocab_size=VOCAB,
        n_positions=64,
        bos_token_id=1,
        eos_token_id=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4321)
        return GPT2LMHeadModel(config).eval()


class CharTokenizer:
    """Characters ``a``-``z`` and space as ids 3..29 (0 pad, 1 bos); pads on the right."""

    def __call__(self, texts, padding=True, truncation=False, max_length=None, return_tensors="pt"):
        rows = [[1] + [3 + (ord(c) - 97 if "a" <= c <= "z" else 26) for c in t.lower()] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        return {"input_ids": ids, "attention_mask": mask}


def images(seed: int = 0, size: int = SIZE) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(BATCH, 3, size, size, generator=generator), torch.arange(BATCH) % NUM_TARGET


def token_ids(seed: int = 0) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB, (BATCH, LENGTH), generator=generator), torch.arange(BATCH) % NUM_TARGET


# --- correct parts -------------------------------------------------------------------------------------


class AdditiveProgram(InputManipulation):
    """x' = x + δ on the whole image; δ (C, H, W) trainable."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self, shape=(3, SIZE, SIZE)):
        super().__init__()
        self.delta = nn.Parameter(0.1 * torch.randn(*shape))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.delta

    def symbolic(self) -> SymbolicForm:
        C, H, W = symbols("C H W")
        return SymbolicForm(x + sp.Symbol(r"\delta"), C * H * W, dict(zip((C, H, W), self.delta.shape)))

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        return canvas_elementwise(*self.delta.shape)


class PaddingProgram(InputManipulation):
    """x' = N(pad(x) + M ⊙ σ(W)): the image in the centre of a larger canvas, normalised after the sum."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self, image: int = 6, canvas: int = SIZE):
        super().__init__()
        self.pad = (canvas - image) // 2
        mask = torch.ones(1, canvas, canvas)
        mask[:, self.pad : self.pad + image, self.pad : self.pad + image] = 0
        self.register_buffer("mask", mask)
        self.register_buffer("mean", torch.tensor([0.4, 0.5, 0.6]).view(3, 1, 1))
        self.register_buffer("std", torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1))
        self.program = nn.Parameter(torch.zeros(3, canvas, canvas))

    def forward(self, x: Tensor) -> Tensor:
        padded = F.pad(x, (self.pad,) * 4)
        return (padded + self.mask * torch.sigmoid(self.program) - self.mean) / self.std

    def symbolic(self) -> SymbolicForm:
        C, H, W = symbols("C H W")
        N, pad = op("N", r"\mathcal{N}"), op("pad")
        return SymbolicForm(
            N(pad(x) + odot(sp.Symbol("M"), sp.Symbol("W"))), C * H * W, dict(zip((C, H, W), self.program.shape))
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        return canvas_elementwise(*self.program.shape, operations=4)


class ConvProgram(InputManipulation):
    """x' = x + tanh(conv_θ(x)): a learned function of the input (parametric)."""

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC
    location = Location.INPUT

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + torch.tanh(self.conv(x))

    def symbolic(self) -> SymbolicForm:
        k = symbols("k")[0]
        return SymbolicForm(x + op("g", r"g_{\theta}")(x), k, {k: sum(p.numel() for p in self.conv.parameters())})

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """A 3×3 convolution 3 → 3 channels at every pixel of the (3, H, W) input."""
        _, height, width = context.input_shape or (3, SIZE, SIZE)
        return InferenceOverhead(flops=conv_flops(3, 3, 3, height * width), description="conv program")


class SoftPrompt(InputManipulation):
    """[P; E(x)]: P (L, D) trainable, prepended at the embedding."""

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE
    location = Location.EMBEDDING

    def __init__(self, length: int = 3, dim: int = 16):
        super().__init__()
        self.prompt = nn.Parameter(0.5 * torch.randn(length, dim))

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        return state.prepend(self.prompt)

    def symbolic(self) -> SymbolicForm:
        L, D = symbols("L D")
        return SymbolicForm(concat(sp.Symbol("P"), x), L * D, {L: self.prompt.shape[0], D: self.prompt.shape[1]})

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        (length,) = symbols("L_p")
        return context.extra_positions(length, {length: self.prompt.shape[0]})


class EmbeddingOffset(InputManipulation):
    """E(x) + δ with δ (T, D) trainable (one offset per position)."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.EMBEDDING

    def __init__(self, length: int = LENGTH, dim: int = 16):
        super().__init__()
        self.delta = nn.Parameter(0.5 * torch.randn(length, dim))

    def forward(self, state: EmbeddingState) -> EmbeddingState:
        return state.with_embeds(state.embeds + self.delta)

    def symbolic(self) -> SymbolicForm:
        T, D = symbols("T D")
        return SymbolicForm(x + sp.Symbol(r"\delta"), T * D, {T: self.delta.shape[0], D: self.delta.shape[1]})

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        T, D = symbols("T D")
        return InferenceOverhead(elementwise=T * D, shapes={T: self.delta.shape[0], D: self.delta.shape[1]})


class KeyValuePrefix(HiddenManipulation):
    """Prefix tuning: trainable keys and values (L, H, P, d) prepended in every attention layer."""

    configuration = Configuration.LEARNABLE
    operator = Operator.CONCATENATIVE

    def __init__(self, layers: int = 2, heads: int = 2, length: int = 2, head_dim: int = 8):
        super().__init__()
        self.keys = nn.Parameter(0.5 * torch.randn(layers, heads, length, head_dim))
        self.values = nn.Parameter(0.5 * torch.randn(layers, heads, length, head_dim))

    def key_value_prefix(self, batch_size, geometry):
        return [
            (k.unsqueeze(0).expand(batch_size, -1, -1, -1), v.unsqueeze(0).expand(batch_size, -1, -1, -1))
            for k, v in zip(self.keys, self.values)
        ]

    def symbolic(self) -> SymbolicForm:
        n = symbols("n")[0]
        return SymbolicForm(concat(sp.Symbol("P_{kv}"), x), 2 * n, {n: self.keys.numel()})

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        (length,) = symbols("P")
        return context.extra_keys(length, {length: self.keys.shape[2]})


class ActivationAddition(HiddenManipulation):
    """h_ℓ + c·v at block 1: a fixed steering vector (a buffer)."""

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE
    layers = (1,)

    def __init__(self, dim: int = 16):
        super().__init__()
        generator = torch.Generator().manual_seed(7)
        self.register_buffer("vector", torch.randn(dim, generator=generator))

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        return hidden + 2.0 * self.vector

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(x + sp.Symbol("c") * sp.Symbol("v"))

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        (D,) = symbols("D")
        return InferenceOverhead(elementwise=D, shapes={D: self.vector.numel()}, description="added at each position")


class HiddenOffset(HiddenManipulation):
    """h + δ entering a CNN block (ModuleAdapter layers), δ (C, H, W) trainable."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    layers = (0,)

    def __init__(self, shape=(6, SIZE, SIZE)):
        super().__init__()
        self.delta = nn.Parameter(0.1 * torch.randn(*shape))

    def edit_hidden(self, layer: int, hidden: Tensor) -> Tensor:
        return hidden + self.delta

    def symbolic(self) -> SymbolicForm:
        n = symbols("n")[0]
        return SymbolicForm(x + sp.Symbol(r"\delta"), n, {n: self.delta.numel()})

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        (n,) = symbols("n")
        return InferenceOverhead(elementwise=n, shapes={n: self.delta.numel()})


class Template(InputManipulation):
    """'review: {x} sentiment' (a fixed text template)."""

    configuration = Configuration.FIXED
    operator = Operator.CONCATENATIVE
    location = Location.INPUT

    def forward(self, texts):
        return [f"review {t} sentiment" for t in texts]

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(concat(sp.Symbol("t_{1}"), x, sp.Symbol("t_{2}")))

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """'review ' and ' sentiment': 17 more positions (CharTokenizer: one token per character)."""
        (length,) = symbols("L_T")
        return context.extra_positions(length, {length: len("review ") + len(" sentiment")})


class FrequencyMapping(StatisticalAlignment):
    """ω[s, t] = share of target class t among the inputs f predicts as s (soft frequency map)."""

    def estimate(self, source_outputs: Tensor, targets: Tensor) -> Tensor:
        counts = torch.zeros(self.num_source, self.num_target)
        counts.index_put_((source_outputs.argmax(1).cpu(), targets.cpu()), torch.ones(len(targets)), accumulate=True)
        return (counts + 0.1) / (counts + 0.1).sum(1, keepdim=True)


class SPSA:
    """A zeroth-order estimator: ĝ = (L(θ + cΔ) − L(θ − cΔ)) / 2c · Δ with Rademacher Δ (seeded)."""

    def __init__(self, c: float = 0.01, seed: int = 0):
        self.c, self.queries = c, 0
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def estimate(self, reprogrammer, inputs, targets, loss_fn):
        params = [p for p in reprogrammer.parameters() if p.requires_grad]
        deltas = [torch.where(torch.rand(p.shape, generator=self.generator) < 0.5, -1.0, 1.0) for p in params]
        for p, d in zip(params, deltas):
            p.add_(self.c * d)
        plus = loss_fn(reprogrammer(inputs), targets)
        for p, d in zip(params, deltas):
            p.sub_(2 * self.c * d)
        minus = loss_fn(reprogrammer(inputs), targets)
        for p, d in zip(params, deltas):
            p.add_(self.c * d)
            p.grad = (plus - minus) / (2 * self.c) * d
        self.queries += 2 * len(targets)
        return (plus + minus) / 2


# --- correct methods ----------------------------------------------------------------------------------


def additive_input_rule_based():
    rp = Reprogrammer(
        tiny_cnn(),
        AdditiveProgram(),
        IndexMapping.first_k(NUM_TARGET),
        paradigm="model-reprogramming",
        modality="vision",
    )
    return (rp, *images())


def padding_statistical():
    x, y = images(size=6)
    rp = Reprogrammer(
        tiny_cnn(), PaddingProgram(), FrequencyMapping(NUM_SOURCE, NUM_TARGET), paradigm="model-reprogramming"
    )
    return rp, x, y


def parametric_input_linear():
    rp = Reprogrammer(
        tiny_cnn(), ConvProgram(), LinearAlignment(NUM_SOURCE, NUM_TARGET), paradigm="model-reprogramming"
    )
    return (rp, *images())


def zeroth_order_additive():
    rp = Reprogrammer(
        tiny_cnn(),
        AdditiveProgram(),
        IndexMapping.first_k(NUM_TARGET),
        paradigm="model-reprogramming",
        access="zeroth-order",
    )
    x, y = images()
    return ValidationExample(rp, x, y, gradient_estimator=SPSA(), trainer_config={"learning_rate": 0.05})


def hidden_additive_linear():
    frozen = FrozenModel(tiny_cnn(), adapter=ModuleAdapter(layers=["2"]))
    rp = Reprogrammer(frozen, HiddenOffset(), LinearAlignment(NUM_SOURCE, NUM_TARGET), paradigm="prompt-tuning")
    return (rp, *images())


def soft_prompt_rule_based():
    rp = Reprogrammer(
        FrozenModel(tiny_gpt2(), readout="last"),
        SoftPrompt(),
        IndexMapping([[5, 6], [7, 8], [9, 10]]),
        paradigm="prompt-tuning",
        modality="text",
    )
    return (rp, *token_ids())


def embedding_additive_linear():
    rp = Reprogrammer(
        FrozenModel(tiny_gpt2(), readout="last"),
        EmbeddingOffset(),
        LinearAlignment(VOCAB, NUM_TARGET),
        paradigm="prompt-tuning",
        modality="text",
    )
    return (rp, *token_ids())


def prefix_tuning_identity():
    rp = Reprogrammer(
        FrozenModel(tiny_gpt2(), readout="last"),
        KeyValuePrefix(),
        IdentityAlignment([11, 12, 13]),
        paradigm="prompt-tuning",
        modality="text",
    )
    return (rp, *token_ids())


def activation_addition_identity():
    rp = Reprogrammer(
        FrozenModel(tiny_gpt2(), readout="last"),
        ActivationAddition(),
        IdentityAlignment([11, 12, 13]),
        paradigm="prompt-instruction",
        modality="text",
    )
    return (rp, *token_ids())


def template_rule_based():
    texts = ["good movie", "bad film", "great plot", "dull", "fine acting", "awful"]
    rp = Reprogrammer(
        FrozenModel(tiny_gpt2(), tokenizer=CharTokenizer(), readout="last"),
        Template(),
        IndexMapping([20, 21, 22]),
        paradigm="prompt-instruction",
        modality="text",
    )
    return rp, texts, torch.arange(6) % NUM_TARGET


CORRECT: dict[str, Callable[[], Any]] = {
    "additive-input-rule-based": additive_input_rule_based,
    "padding-statistical": padding_statistical,
    "parametric-input-linear": parametric_input_linear,
    "zeroth-order-additive": zeroth_order_additive,
    "hidden-additive-linear": hidden_additive_linear,
    "soft-prompt-rule-based": soft_prompt_rule_based,
    "embedding-additive-linear": embedding_additive_linear,
    "prefix-tuning-identity": prefix_tuning_identity,
    "activation-addition-identity": activation_addition_identity,
    "template-rule-based": template_rule_based,
}
"""One correct method per family of coordinates; the validator must pass every one."""


# --- wrong parts ---------------------------------------------------------------------------------------


class ElementwiseOnly:
    """Declares an inference overhead of element-wise work only (no extra positions or FLOPs): the wrong parts
    below are wrong in another respect, and their cost declaration is right."""

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        return InferenceOverhead(description="element-wise only")


class UndeclaredProgram(AdditiveProgram):
    """A correct additive program that does not declare its inference overhead."""

    inference_overhead = InputManipulation.inference_overhead


class UnderstatedPrompt(SoftPrompt):
    """A correct soft prompt of 3 vectors whose overhead declares 1 position: 3 times too cheap."""

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        return context.extra_positions(1)


class RunsFAgain:
    """Declares one more run of f on the query (F_f FLOPs): what a part that asks f again costs."""

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        return InferenceOverhead(flops=F_QUERY, shapes=context.shapes, description="f once more")


class FixedWithParameter(AdditiveProgram):
    configuration = Configuration.FIXED


class FixedRunningMean(ElementwiseOnly, InputManipulation):
    """'fixed' x − μ, but μ is a running mean of the inputs updated in training mode."""

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self):
        super().__init__()
        self.register_buffer("mu", torch.full((3, 1, 1), 0.3))

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                self.mu.mul_(0.9).add_(0.1 * x.mean(dim=(0, 2, 3)).view(3, 1, 1))
        return x - self.mu

    def symbolic(self):
        return SymbolicForm(x - sp.Symbol(r"\mu"))


class _HoldsModel(AdditiveProgram):
    """An additive program that keeps a reference to f's module (outside its own module tree)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        object.__setattr__(self, "model", model)


class WritesFrozenWeights(_HoldsModel):
    def forward(self, x):
        with torch.no_grad():
            self.model[0].weight.add_(1e-3)
        return super().forward(x)


class WritesSameValues(_HoldsModel):
    def forward(self, x):
        with torch.no_grad():
            self.model[0].weight.mul_(1.0)
        return super().forward(x)


class ChangesFrozenSilently(_HoldsModel):
    """Changes f's weights through ``.data`` (bypassing the version counter)."""

    def forward(self, x):
        if self.training:
            self.model[0].weight.data.add_(1e-3)
        return super().forward(x)


class UnfreezesModel(_HoldsModel):
    def forward(self, x):
        self.model.requires_grad_(True)
        return super().forward(x)


class SwitchesToTrainMode(_HoldsModel):
    def forward(self, x):
        self.model.train()
        return super().forward(x)


class DetachedProgram(AdditiveProgram):
    def forward(self, x):
        return x + self.delta.detach()


class LearnableWithoutParameters(ElementwiseOnly, InputManipulation):
    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def forward(self, x):
        return x + 0.1

    def symbolic(self):
        return SymbolicForm(x + sp.Rational(1, 10))


class HookedIntoModel(ElementwiseOnly, InputManipulation):
    """Declares location=input but leaves x alone and adds δ inside f through a hook on its first layer."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self, model: nn.Module):
        super().__init__()
        self.delta = nn.Parameter(0.1 * torch.randn(6, SIZE, SIZE))
        model[0].register_forward_hook(lambda module, args, output: output + self.delta)

    def forward(self, x):
        return x

    def symbolic(self):
        n = symbols("n")[0]
        return SymbolicForm(x, n, {n: self.delta.numel()})


class SubstitutesTokens(ElementwiseOnly, InputManipulation):
    """Declares location=embedding but replaces the last token's embedding by another token's row of f's table."""

    configuration = Configuration.FIXED
    operator = Operator.PARAMETRIC
    location = Location.EMBEDDING

    def __init__(self, table: Tensor, token: int = 4):
        super().__init__()
        self.register_buffer("row", table[token].detach().clone())

    def forward(self, state):
        embeds = state.embeds.clone()
        embeds[:, -1] = self.row
        return state.with_embeds(embeds)

    def symbolic(self):
        return SymbolicForm(op("sub")(x))


class EditsRawInput(HiddenOffset):
    """'hidden' offset on the state entering f's very first module: that is f's raw input."""

    def __init__(self):
        super().__init__(shape=(3, SIZE, SIZE))


class AddsInsteadOfConcatenating(ElementwiseOnly, SoftPrompt):
    def __init__(self):
        super().__init__(length=LENGTH)

    def forward(self, state):
        return state.with_embeds(state.embeds + self.prompt)


class ConcatenatesInsteadOfAdding(EmbeddingOffset):
    def __init__(self):
        super().__init__(length=2)

    def forward(self, state):
        return state.prepend(self.delta)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        (length,) = symbols("L_p")
        return context.extra_positions(length, {length: self.delta.shape[0]})


class AdditiveDeclaredParametric(AdditiveProgram):
    operator = Operator.PARAMETRIC


class MultipliesDeclaredAdditive(AdditiveProgram):
    def forward(self, x):
        return x * (1 + self.delta)


class ConcatenationChangesContent(SoftPrompt):
    def forward(self, state):
        return state.with_embeds(state.embeds * 1.01).prepend(self.prompt)


class IdentityWithParameters(LinearAlignment):
    alignment = Alignment.IDENTITY


class SoftmaxIdentity(ElementwiseOnly, OutputAlignment):
    alignment = Alignment.IDENTITY

    def forward(self, z):
        return z.softmax(-1)

    def symbolic(self):
        return SymbolicForm(op("softmax")(z))


class StatisticalWithParameters(FrequencyMapping):
    def __init__(self, num_source, num_target):
        super().__init__(num_source, num_target)
        self.temperature = nn.Parameter(torch.ones(()))

    def forward(self, z):
        return super().forward(z) * self.temperature


class StatisticalIgnoresData(FrequencyMapping):
    def estimate(self, source_outputs, targets):
        return torch.eye(self.num_source, self.num_target)


class RuleThatFits(IndexMapping):
    """A 'rule-based' map that re-picks each class's source index from data in fit()."""

    def fit(self, source_outputs, targets):
        with torch.no_grad():
            for t in range(self.num_classes):
                chosen = source_outputs[targets == t]
                if len(chosen):
                    self.indices[t, 0] = int(chosen.mean(0).argmax())
        return self


class NotAffineHead(OutputAlignment):
    alignment = Alignment.LINEAR

    def __init__(self, num_source, num_target):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(num_source, 8), nn.ReLU(), nn.Linear(8, num_target))

    def forward(self, z):
        return self.net(z)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        first, second = self.net[0], self.net[2]
        return InferenceOverhead(
            flops=2 * (first.in_features * first.out_features + second.in_features * second.out_features)
        )

    def symbolic(self):
        n = symbols("n")[0]
        return SymbolicForm(op("MLP")(z), n, {n: sum(p.numel() for p in self.net.parameters())})


class WrongCount(AdditiveProgram):
    def symbolic(self):
        C, H, W = symbols("C H W")
        return SymbolicForm(x + sp.Symbol(r"\delta"), C * H * W + C, dict(zip((C, H, W), self.delta.shape)))


class UnrenderableFormula(AdditiveProgram):
    def symbolic(self):
        C, H, W = symbols("C H W")
        return SymbolicForm("x + delta", C * H * W, dict(zip((C, H, W), self.delta.shape)))  # a string, not sympy


class NoisyProgram(AdditiveProgram):
    """Adds noise from an unseeded generator while training."""

    def forward(self, x):
        if self.training:
            generator = torch.Generator()
            generator.seed()
            x = x + 0.05 * torch.randn(x.shape, generator=generator)
        return super().forward(x)


class UnsavedStatistic(AdditiveProgram):
    """Learns a running contrast in training mode and keeps it in a plain attribute (not saved)."""

    def __init__(self):
        super().__init__()
        self.contrast = 1.0

    def forward(self, x):
        if self.training:
            self.contrast = 0.5 * self.contrast + 0.5 * float(x.detach().std()) * 3
        return super().forward(x) * self.contrast


# --- wrong parts that try to evade the validator (issue 15) -----------------------------------------------


class RestoresWeightsAfterRun(_HoldsModel):
    """Writes to f's first conv through ``.data`` before f runs; the alignment restores it after f ran."""

    def forward(self, x):
        self.model[0].weight.data.add_(0.05)
        self.model._nnr_dirty = True
        return super().forward(x)


class RestoringMapping(IndexMapping):
    """A first-k label map that quietly undoes :class:`RestoresWeightsAfterRun`'s write (so f looks unchanged at rest)."""

    def __init__(self, model: nn.Module):
        super().__init__(list(range(NUM_TARGET)))
        object.__setattr__(self, "model", model)

    def forward(self, z):
        if self.model.__dict__.pop("_nnr_dirty", False):
            self.model[0].weight.data.sub_(0.05)
        return super().forward(z)


class LowRankGraft(AdditiveProgram):
    """An honest-looking additive program, plus a trained low-rank update grafted onto f's second conv by a
    forward hook (parameter-efficient fine-tuning passed off as input manipulation)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.down = nn.Parameter(0.1 * torch.randn(8, 2))
        self.up = nn.Parameter(0.1 * torch.randn(2, 8))
        model[2].register_forward_hook(
            lambda module, args, output: output + torch.einsum("bchw,cr,rd->bdhw", output, self.down, self.up)
        )

    def symbolic(self):
        C, H, W = symbols("C H W")
        return SymbolicForm(x + sp.Symbol(r"\delta"), C * H * W + 32, dict(zip((C, H, W), self.delta.shape)))


class PreHookScalesInput(AdditiveProgram):
    """Adds δ to x, and scales what enters f's second conv through a forward *pre*-hook."""

    def __init__(self, model: nn.Module):
        super().__init__()
        model[2].register_forward_pre_hook(lambda module, args: (args[0] * 1.5,))


class PatchesForward(AdditiveProgram):
    """Adds δ to x, and replaces ``forward`` of f's last layer on the instance (a monkey patch)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        original = model[6].forward
        model[6].forward = lambda z: original(z) * 1.2


class _Doubling(nn.Module):
    def forward(self, weight):
        return weight * 2.0


class Parametrizes(AdditiveProgram):
    """Adds δ to x, and puts a torch parametrisation (w ↦ 2w) on f's first conv after f was wrapped."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model_ref = [model]

    def forward(self, x):
        conv = self.model_ref[0][0]
        if not torch.nn.utils.parametrize.is_parametrized(conv):
            torch.nn.utils.parametrize.register_parametrization(conv, "weight", _Doubling())
        return super().forward(x)


class TogglesRequiresGrad(_HoldsModel):
    """Turns f's gradients on inside the step and off again in its own gradient hook, clearing f's .grad there."""

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.delta.register_hook(self._refreeze)

    def _refreeze(self, grad):
        for p in self.model.parameters():
            p.grad = None
        self.model.requires_grad_(False)
        return grad

    def forward(self, x):
        if self.training:
            self.model.requires_grad_(True)
        return super().forward(x)


class BatchNormToTrainMode(_HoldsModel):
    """Switches f's batch-norm layer to training mode in its forward (batch statistics leak across items)."""

    def forward(self, x):
        self.model[1].train()
        return super().forward(x)


class TrainsFrozenWithOwnOptimizer(_HoldsModel):
    """Fine-tunes f with its own optimiser inside every training forward (and says nothing)."""

    def __init__(self, model: nn.Module):
        super().__init__(model)
        object.__setattr__(self, "optimizer", torch.optim.SGD(model.parameters(), lr=0.1))

    def forward(self, x):
        if self.training:
            with torch.enable_grad():
                self.model.requires_grad_(True)
                self.model(x.detach()).logsumexp(-1).mean().backward()
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.model.requires_grad_(False)
        return super().forward(x)


class BatchMeanProgram(ConvProgram):
    """A parametric program that also adds the batch mean of its inputs (items leak into each other)."""

    def forward(self, x):
        return super().forward(x) + x.mean(dim=0, keepdim=True)


class PerPositionProgram(ConvProgram):
    """A parametric program with one learned offset per position in the batch (memorises the batch order)."""

    def __init__(self):
        super().__init__()
        self.per_item = nn.Parameter(0.5 * torch.randn(BATCH, 3, 1, 1))

    def forward(self, x):
        return super().forward(x) + self.per_item[: x.shape[0]]

    def symbolic(self):
        k = symbols("k")[0]
        return SymbolicForm(x + op("g", r"g_{\theta}")(x), k, {k: sum(p.numel() for p in self.parameters())})


class ConstantProgram(ElementwiseOnly, InputManipulation):
    """A 'parametric' program that ignores its input: f always sees the same learned image."""

    configuration = Configuration.LEARNABLE
    operator = Operator.PARAMETRIC
    location = Location.INPUT

    def __init__(self):
        super().__init__()
        self.image = nn.Parameter(torch.rand(3, SIZE, SIZE))

    def forward(self, x):
        return self.image.expand(x.shape[0], -1, -1, -1) + 0 * x.detach()

    def symbolic(self):
        n = symbols("n")[0]
        return SymbolicForm(sp.Symbol("P"), n, {n: self.image.numel()})


class BiasOnlyHead(ElementwiseOnly, OutputAlignment):
    """A 'linear' head W·0 + b: affine, trained, and blind to f's output."""

    alignment = Alignment.LINEAR

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(NUM_TARGET))

    def forward(self, z):
        return self.bias.expand(z.shape[0], -1) + 0 * z[..., :NUM_TARGET]

    def symbolic(self):
        n = symbols("n")[0]
        return SymbolicForm(sp.Symbol("b"), n, {n: NUM_TARGET})


class FixedOffsetInAttribute(ElementwiseOnly, InputManipulation):
    """'fixed' x + c, but c is a plain float attribute nudged by every training forward."""

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self):
        super().__init__()
        self.offset = 0.1

    def forward(self, x):
        if self.training:
            self.offset = self.offset + 0.05 * float(x.detach().mean())
        return x + self.offset

    def symbolic(self):
        return SymbolicForm(x + sp.Symbol("c"))


def _counter():
    state = {"calls": 0}

    def step(training: bool) -> int:
        if training:
            state["calls"] += 1
        return state["calls"]

    return step


class FixedOffsetInClosure(ElementwiseOnly, InputManipulation):
    """'fixed' x + 0.1·n, with n counted in a closure by every training forward."""

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(self):
        super().__init__()
        self.count = _counter()

    def forward(self, x):
        return x + 0.1 * (1 + self.count(self.training))

    def symbolic(self):
        return SymbolicForm(x + sp.Symbol("c"))


class FixedOffsetInClassAttribute(ElementwiseOnly, InputManipulation):
    """'fixed' x + Σ history, with the history kept in a class-level list grown by every training forward."""

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE
    location = Location.INPUT
    history: list = []

    def forward(self, x):
        if self.training:
            type(self).history.append(0.05)
        return x + 0.1 + sum(type(self).history)

    def symbolic(self):
        return SymbolicForm(x + sp.Symbol("c"))


class LearnsInAttribute(AdditiveProgram):
    """A learnable program that also learns a contrast in a plain attribute (not a parameter, not saved)."""

    def __init__(self):
        super().__init__()
        self.gain = torch.ones(())

    def forward(self, x):
        if self.training:
            self.gain = self.gain * 0.9 + 0.1 * x.detach().std()
        return super().forward(x) * self.gain


class StatisticalSteppedByHand(FrequencyMapping):
    """ω estimated by fit(), then nudged by hand in every training forward (a gradient-free update by a step)."""

    def forward(self, z):
        if self.training:
            with torch.no_grad():
                self.omega.add_(0.01 * z.detach().softmax(-1).mean(0, keepdim=True).T[:, :1])
        return super().forward(z)


class StatisticalWithMemory(FrequencyMapping):
    """fit() accumulates counts across calls: ω depends on every earlier fit, not on the data it is given."""

    def __init__(self, num_source, num_target):
        super().__init__(num_source, num_target)
        self.register_buffer("counts", torch.zeros(num_source, num_target))

    def estimate(self, source_outputs, targets):
        self.counts.index_put_(
            (source_outputs.argmax(1).cpu(), targets.cpu()), torch.ones(len(targets)), accumulate=True
        )
        return (self.counts + 0.1) / (self.counts + 0.1).sum(1, keepdim=True)


class RuleWithTemperatureAttribute(IndexMapping):
    """A 'rule-based' map whose temperature (a plain attribute) is tuned by every training forward."""

    def __init__(self, indices):
        super().__init__(indices)
        self.temperature = 1.0

    def forward(self, z):
        if self.training:
            self.temperature = self.temperature * 0.9 + 0.1 * float(z.detach().std())
        return super().forward(z) / self.temperature


_LAST_INPUT: dict[str, Tensor] = {}
"""Where :class:`RemembersInput` leaves the last input for :class:`FlipEnsemble` (outside every module)."""


class RemembersInput(AdditiveProgram):
    def forward(self, x):
        _LAST_INPUT["x"] = x.detach()
        return super().forward(x)


class FlipEnsemble(RunsFAgain, IndexMapping):
    """A first-k label map that also runs f on the flipped last input and averages: f runs twice per prediction."""

    def __init__(self, frozen: FrozenModel, part: nn.Module):
        super().__init__(list(range(NUM_TARGET)))
        object.__setattr__(self, "frozen", frozen)
        object.__setattr__(self, "part", part)

    def forward(self, z):
        flipped = self.frozen(_LAST_INPUT["x"].flip(-1), [self.part])
        return super().forward((z + flipped) / 2)


class RunsFrozenModelInside(RunsFAgain, _HoldsModel):
    """A 'parametric' program that asks the FrozenModel itself for f's prediction on x (a run inside the run)."""

    operator = Operator.PARAMETRIC

    def forward(self, x):
        with torch.no_grad():
            confidence = self.model(x).softmax(-1).max(-1).values
        return x + self.delta * confidence.view(-1, 1, 1, 1)


class EditsLaterWeightsMidRun(ElementwiseOnly, HiddenManipulation):
    """Adds δ entering f's second conv, and meanwhile scales that conv's weights through ``.data``; the next edit
    (entering the last layer) restores them bit for bit, so f looks untouched before and after every run."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    layers = (0, 1)

    def __init__(self, model: nn.Module):
        super().__init__()
        self.delta = nn.Parameter(0.1 * torch.randn(6, SIZE, SIZE))
        self.late = nn.Parameter(0.1 * torch.randn(8))
        object.__setattr__(self, "model", model)
        self._saved = None

    def edit_hidden(self, layer, hidden):
        conv = self.model[2]
        if layer == 0:
            self._saved = conv.weight.detach().clone()
            conv.weight.data.mul_(1.5)
            return hidden + self.delta
        if self._saved is not None:
            conv.weight.data.copy_(self._saved)
            self._saved = None
        return hidden + self.late

    def symbolic(self):
        n = symbols("n")[0]
        return SymbolicForm(x + sp.Symbol(r"\delta"), n, {n: self.delta.numel() + self.late.numel()})


class BackpropEstimator:
    """Calls itself zeroth-order, but takes the true gradient by back-propagating through f."""

    queries = 0

    def estimate(self, reprogrammer, inputs, targets, loss_fn):
        loss = loss_fn(reprogrammer(inputs), targets)
        loss.backward()
        return loss.detach()


# --- wrong methods -------------------------------------------------------------------------------------


def _cnn_method(part_factory, *, paradigm: str | None = None):
    """A method on the tiny CNN with a first-k label map; the paradigm follows the part's configuration."""

    def factory():
        model = tiny_cnn()
        part = part_factory(model)
        chosen = paradigm or (
            "prompt-instruction" if part.configuration is Configuration.FIXED else "model-reprogramming"
        )
        rp = Reprogrammer(model, part, IndexMapping.first_k(NUM_TARGET), paradigm=chosen)
        return (rp, *images())

    return factory


def _gpt2_method(part_factory, output_factory=lambda: IdentityAlignment([11, 12, 13]), paradigm="prompt-tuning"):
    def factory():
        model = tiny_gpt2()
        rp = Reprogrammer(
            FrozenModel(model, readout="last"),
            part_factory(model),
            output_factory(),
            paradigm=paradigm,
            modality="text",
        )
        return (rp, *token_ids())

    return factory


@dataclass(frozen=True)
class Wrong:
    """A deliberately wrong method: the check that must catch it, words its reason must contain, and the
    other checks allowed to fail as a consequence."""

    factory: Callable[[], Any]
    catches: str
    because: tuple[str, ...]
    also: frozenset[str] = field(default_factory=frozenset)


def _also(*names: str) -> frozenset[str]:
    return frozenset(names)


def _with_output(output_factory, part=lambda model: AdditiveProgram()):
    def factory():
        model = tiny_cnn()
        rp = Reprogrammer(model, part(model), output_factory(), paradigm="model-reprogramming")
        return (rp, *images())

    return factory


def _hidden_raw_input():
    frozen = FrozenModel(tiny_cnn(), adapter=ModuleAdapter(layers=["0"]))
    rp = Reprogrammer(frozen, EditsRawInput(), LinearAlignment(NUM_SOURCE, NUM_TARGET), paradigm="prompt-tuning")
    return (rp, *images())


def _zeroth_order_without_estimator():
    example = zeroth_order_additive()
    return example.reprogrammer, example.inputs, example.targets


def _paradigm_mismatch():
    rp = Reprogrammer(tiny_cnn(), AdditiveProgram(), IndexMapping.first_k(NUM_TARGET), paradigm="prompt-instruction")
    return (rp, *images())


def _rule_that_fits():
    rp = Reprogrammer(tiny_cnn(), AdditiveProgram(), RuleThatFits([[0], [1], [2]]), paradigm="model-reprogramming")
    return (rp, *images())


def _restores_weights():
    model = tiny_cnn()
    rp = Reprogrammer(model, RestoresWeightsAfterRun(model), RestoringMapping(model), paradigm="model-reprogramming")
    return (rp, *images())


def _batch_norm_to_train_mode():
    model = tiny_cnn_bn()
    rp = Reprogrammer(
        model, BatchNormToTrainMode(model), IndexMapping.first_k(NUM_TARGET), paradigm="model-reprogramming"
    )
    return (rp, *images())


def _edits_weights_mid_run():
    model = tiny_cnn()
    frozen = FrozenModel(model, adapter=ModuleAdapter(layers=["2", "6"]))
    rp = Reprogrammer(
        frozen, EditsLaterWeightsMidRun(model), LinearAlignment(NUM_SOURCE, NUM_TARGET), paradigm="prompt-tuning"
    )
    return (rp, *images())


def _flip_ensemble():
    frozen = FrozenModel(tiny_cnn())
    part = RemembersInput()
    rp = Reprogrammer(frozen, part, FlipEnsemble(frozen, part), paradigm="model-reprogramming")
    return (rp, *images())


def _runs_frozen_model_inside():
    frozen = FrozenModel(tiny_cnn())
    rp = Reprogrammer(
        frozen, RunsFrozenModelInside(frozen), IndexMapping.first_k(NUM_TARGET), paradigm="model-reprogramming"
    )
    return (rp, *images())


def _zeroth_order_with_backprop():
    example = zeroth_order_additive()
    example.gradient_estimator = BackpropEstimator()
    return example


def _text_only_reading_scores():
    rp, texts, targets = template_rule_based()
    rp = Reprogrammer(
        rp.frozen,
        Template(),
        IndexMapping([20, 21, 22]),
        paradigm="prompt-instruction",
        modality="text",
        access="text-only",
    )
    return rp, texts, targets


WRONG: dict[str, Wrong] = {
    "fixed-with-trainable-parameter": Wrong(
        _cnn_method(lambda m: FixedWithParameter(), paradigm="prompt-instruction"),
        "configuration-fixed",
        ("fixed", "trainable parameters"),
        _also("example-builds", "spec-rules"),
    ),
    "fixed-changed-by-training": Wrong(
        _cnn_method(lambda m: FixedRunningMean()),
        "configuration-fixed",
        ("training changed the state", "mu"),
    ),
    "writes-frozen-weights": Wrong(
        _cnn_method(WritesFrozenWeights),
        "frozen-no-writes",
        ("written in place",),
        _also("frozen-unchanged", "forward-runs", "frozen-computes-as-copy"),
    ),
    "writes-same-values-in-place": Wrong(
        _cnn_method(WritesSameValues),
        "frozen-no-writes",
        ("written in place",),
        _also("forward-runs"),
    ),
    "changes-frozen-through-data": Wrong(
        _cnn_method(ChangesFrozenSilently),
        "frozen-unchanged",
        ("differ from an untouched copy", "0.weight"),
        _also("deterministic", "save-load-roundtrip", "frozen-computes-as-copy", "location-input"),
    ),
    "unfreezes-frozen-model": Wrong(
        _cnn_method(UnfreezesModel), "frozen-no-gradient", ("gradients reached", "0.weight")
    ),
    "switches-frozen-to-train-mode": Wrong(_cnn_method(SwitchesToTrainMode), "frozen-eval-mode", ("training mode",)),
    "learnable-without-gradient": Wrong(
        _cnn_method(lambda m: DetachedProgram()),
        "configuration-learnable",
        ("never received a gradient",),
    ),
    "learnable-without-parameters": Wrong(
        _cnn_method(lambda m: LearnableWithoutParameters()),
        "configuration-learnable",
        ("no trainable parameters",),
        _also("example-builds"),
    ),
    "zeroth-order-without-estimator": Wrong(
        _zeroth_order_without_estimator,
        "configuration-learnable",
        ("zeroth-order", "gradient estimator"),
        _also("access"),
    ),
    "input-that-acts-inside-f": Wrong(
        _cnn_method(HookedIntoModel),
        "location-input",
        ("raw input", "identical"),
        _also("operator-additive", "frozen-unmodified-modules", "frozen-computes-as-copy"),
    ),
    "embedding-that-substitutes-tokens": Wrong(
        _gpt2_method(lambda m: SubstitutesTokens(m.get_input_embeddings().weight), paradigm="prompt-instruction"),
        "location-embedding",
        ("token-embedding table", "location=input"),
    ),
    "hidden-that-edits-raw-input": Wrong(_hidden_raw_input, "location-hidden", ("raw input",)),
    "part-without-overhead-declaration": Wrong(
        _cnn_method(lambda m: UndeclaredProgram()),
        "inference-overhead",
        ("UndeclaredProgram.inference_overhead: not declared",),
    ),
    "overhead-declaration-off-by-more-than-5%": Wrong(
        _gpt2_method(lambda m: UnderstatedPrompt(), lambda: IndexMapping([[5], [6], [7]])),
        "inference-overhead",
        ("differ by more than 5%", "tokens declared 1 / measured 3.00", "I0:UnderstatedPrompt"),
    ),
    "concatenative-that-adds": Wrong(
        _gpt2_method(lambda m: AddsInsteadOfConcatenating(), lambda: IndexMapping([[5], [6], [7]])),
        "operator-concatenative",
        ("does not grow",),
    ),
    "additive-that-concatenates": Wrong(
        _gpt2_method(lambda m: ConcatenatesInsteadOfAdding(), lambda: IndexMapping([[5], [6], [7]])),
        "operator-additive",
        ("changes the shape",),
    ),
    "parametric-that-is-additive": Wrong(
        _cnn_method(lambda m: AdditiveDeclaredParametric()),
        "operator-parametric",
        ("it is additive", "operator=additive"),
    ),
    "additive-that-multiplies": Wrong(
        _cnn_method(lambda m: MultipliesDeclaredAdditive()),
        "operator-additive",
        ("only rescales", "nothing is added"),
    ),
    "concatenation-that-changes-content": Wrong(
        _gpt2_method(lambda m: ConcatenationChangesContent(), lambda: IndexMapping([[5], [6], [7]])),
        "operator-concatenative",
        ("not kept unchanged",),
    ),
    "identity-with-parameters": Wrong(
        _with_output(lambda: IdentityWithParameters(NUM_SOURCE, NUM_TARGET)),
        "alignment-identity",
        ("identity", "trainable parameters"),
        _also("example-builds"),
    ),
    "identity-that-is-not-a-restriction": Wrong(
        _with_output(lambda: SoftmaxIdentity()),
        "alignment-identity",
        ("not columns of f's output",),
    ),
    "statistical-with-gradient-parameters": Wrong(
        _with_output(lambda: StatisticalWithParameters(NUM_SOURCE, NUM_TARGET)),
        "alignment-statistical",
        ("statistical", "trainable parameters"),
        _also("example-builds"),
    ),
    "statistical-not-estimated-from-data": Wrong(
        _with_output(lambda: StatisticalIgnoresData(NUM_SOURCE, NUM_TARGET)),
        "alignment-statistical",
        ("not estimated from data",),
    ),
    "rule-based-that-fits": Wrong(_rule_that_fits, "alignment-rule-based", ("fit() changed",)),
    "linear-that-is-not-affine": Wrong(
        _with_output(lambda: NotAffineHead(NUM_SOURCE, NUM_TARGET)),
        "alignment-linear",
        ("not affine",),
    ),
    "wrong-symbolic-count": Wrong(
        _cnn_method(lambda m: WrongCount()),
        "symbolic-parameter-count",
        ("declares", "192", "195"),
    ),
    "formula-that-does-not-render": Wrong(
        _cnn_method(lambda m: UnrenderableFormula()),
        "symbolic-formula-renders",
        ("not a sympy expression",),
    ),
    "nondeterministic": Wrong(_cnn_method(lambda m: NoisyProgram()), "deterministic", ("different",)),
    "save-load-loses-state": Wrong(
        _cnn_method(lambda m: UnsavedStatistic()),
        "save-load-roundtrip",
        ("predicts differently", "not saved"),
        _also("configuration-learnable"),
    ),
    "paradigm-contradicts-configuration": Wrong(
        _paradigm_mismatch,
        "spec-rules",
        ("paradigm-matches-configuration",),
        _also("example-builds"),
    ),
    # --- evasions (issue 15): each is caught by the check about its defect -------------------------------------
    "writes-through-data-and-restores-later": Wrong(
        _restores_weights,
        "frozen-unchanged",
        ("differ from an untouched copy", "0.weight", "as f starts to run"),
        _also("frozen-computes-as-copy", "location-input", "deterministic", "save-load-roundtrip"),
    ),
    "low-rank-update-grafted-by-hook": Wrong(
        _cnn_method(LowRankGraft),
        "frozen-unmodified-modules",
        ("forward hook on 2",),
        _also("frozen-computes-as-copy", "location-input", "configuration-learnable"),
    ),
    "forward-pre-hook-inside-f": Wrong(
        _cnn_method(PreHookScalesInput),
        "frozen-unmodified-modules",
        ("forward pre hook on 2",),
        _also("frozen-computes-as-copy", "location-input"),
    ),
    "monkey-patched-forward": Wrong(
        _cnn_method(PatchesForward),
        "frozen-unmodified-modules",
        ("6.forward replaced on the instance",),
        _also("frozen-computes-as-copy", "location-input"),
    ),
    "torch-parametrization-on-f": Wrong(
        _cnn_method(Parametrizes),
        "frozen-unmodified-modules",
        ("parametrisation of 0",),
        _also(
            "forward-runs",
            "frozen-unchanged",
            "frozen-eval-mode",
            "frozen-no-writes",
            "frozen-computes-as-copy",
            "location-input",
            "deterministic",
            "save-load-roundtrip",
        ),
    ),
    "requires-grad-toggled-inside-the-step": Wrong(
        _cnn_method(TogglesRequiresGrad),
        "frozen-no-gradient",
        ("required a gradient as it ran", "training step 1"),
    ),
    "batch-norm-switched-to-train-mode": Wrong(
        _batch_norm_to_train_mode,
        "frozen-eval-mode",
        ("training mode", "1"),
        _also("forward-runs", "frozen-unchanged", "frozen-no-writes", "frozen-computes-as-copy"),
    ),
    "changes-f-between-hidden-interfaces": Wrong(
        _edits_weights_mid_run,
        "frozen-computes-as-copy",
        ("hidden state entering block 1", "differs from an untouched copy"),
        _also(
            "frozen-unchanged",
            "location-hidden",
            "operator-additive",
            "configuration-learnable",
            "deterministic",
            "save-load-roundtrip",
        ),
    ),
    "alignment-runs-f-again": Wrong(
        _flip_ensemble,
        "frozen-runs-only-in-composition",
        ("f ran 2 times for one prediction",),
        _also("alignment-rule-based"),
    ),
    "part-runs-the-frozen-model-inside-its-run": Wrong(
        _runs_frozen_model_inside,
        "frozen-runs-only-in-composition",
        ("run again from inside a run of f",),
    ),
    "trains-f-with-its-own-optimizer": Wrong(
        _cnn_method(TrainsFrozenWithOwnOptimizer),
        "frozen-unchanged",
        ("differ from an untouched copy",),
        _also(
            "training-runs",
            "frozen-no-gradient",
            "frozen-runs-only-in-composition",
            "frozen-computes-as-copy",
            "frozen-no-writes",
            "location-input",
            "deterministic",
            "save-load-roundtrip",
        ),
    ),
    "program-uses-the-batch-mean": Wrong(
        _cnn_method(lambda m: BatchMeanProgram()),
        "batch-independence",
        ("other items of the batch are replaced", "leak"),
    ),
    "program-per-batch-position": Wrong(
        _cnn_method(lambda m: PerPositionProgram()),
        "batch-independence",
        ("reversed",),
    ),
    "program-ignores-the-input": Wrong(
        _cnn_method(lambda m: ConstantProgram()),
        "input-dependence",
        ("does not depend on the input", "discards the input"),
    ),
    "linear-head-ignores-f": Wrong(
        _with_output(lambda: BiasOnlyHead()),
        "input-dependence",
        ("does not depend on the input", "alignment ignores"),
        _also("configuration-learnable"),
    ),
    "fixed-state-in-a-plain-attribute": Wrong(
        _cnn_method(lambda m: FixedOffsetInAttribute()),
        "configuration-fixed",
        ("training changed the state", "attribute offset"),
        _also("deterministic", "save-load-roundtrip"),
    ),
    "fixed-state-in-a-closure": Wrong(
        _cnn_method(lambda m: FixedOffsetInClosure()),
        "configuration-fixed",
        ("training changed the state", "attribute count"),
        _also("deterministic", "save-load-roundtrip"),
    ),
    "fixed-state-in-a-class-attribute": Wrong(
        _cnn_method(lambda m: FixedOffsetInClassAttribute()),
        "configuration-fixed",
        ("training changed the state", "class attribute"),
        _also("deterministic", "save-load-roundtrip"),
    ),
    "learnable-state-in-a-plain-attribute": Wrong(
        _cnn_method(lambda m: LearnsInAttribute()),
        "configuration-learnable",
        ("outside its parameters and buffers", "gain"),
        _also("save-load-roundtrip"),
    ),
    "statistical-stepped-by-hand": Wrong(
        _with_output(lambda: StatisticalSteppedByHand(NUM_SOURCE, NUM_TARGET)),
        "alignment-statistical",
        ("changed it after fit()", "omega"),
    ),
    "statistical-with-memory-of-earlier-fits": Wrong(
        _with_output(lambda: StatisticalWithMemory(NUM_SOURCE, NUM_TARGET)),
        "alignment-statistical",
        ("keeps memory of earlier fits",),
    ),
    "rule-based-tuned-in-an-attribute": Wrong(
        _with_output(lambda: RuleWithTemperatureAttribute([[0], [1], [2]])),
        "alignment-rule-based",
        ("training changed its state", "temperature"),
        _also("save-load-roundtrip"),
    ),
    "zeroth-order-that-back-propagates": Wrong(
        _zeroth_order_with_backprop,
        "access",
        ("declares access zeroth-order",),
    ),
    "text-only-that-reads-scores": Wrong(
        _text_only_reading_scores,
        "access",
        ("declares access text-only", "not text"),
    ),
}
"""Every way each check can fail, and the check that must say so."""
