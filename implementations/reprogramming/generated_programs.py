"""Visual programs computed by a network from the input (ℓ = input): the program depends on x.

* :class:`SampleSpecificMaskProgram`: ``N(r(x) + f_mask(r(x)) ⊙ δ)`` (SMM, Cai et al. 2024);
* :class:`CoordinatorPrompt`: ``N(clip(r(x) + ε · g_dec([g_enc(x); φ])))`` (BlackVIP, Oh et al. 2023);
* :class:`InputTransformation`: ``N(σ(g_θ(r(x))))``, an encoder-decoder (REFINE, Chen et al. 2025).

The programs that add the same learned pattern to every image are in :mod:`.programs`.
"""

from __future__ import annotations

import math
from typing import Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.axes import Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext, conv_flops
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.symbolic import SymbolicForm, odot, op, symbols, x

from .programs import (
    Normalize,
    VisualProgram,
    _clip,
    _normalize,
    _pair,
    _resize,
    _sigmoid,
    conv_parameter_count,
    resize_image,
)

__all__ = ["MaskGenerator", "SampleSpecificMaskProgram", "Coordinator", "CoordinatorPrompt", "InputTransformation"]


class MaskGenerator(nn.Module):
    """SMM's lightweight mask network: ``widths`` 3×3 conv-BN-ReLU layers, the first ``pools`` each followed
    by 2×2 max-pooling, then a 3×3 conv to C channels; the (H/2^l, W/2^l) output is expanded back to (H, W)
    by patch-wise interpolation (each value fills its 2^l × 2^l patch).
    """

    def __init__(self, channels: int = 3, widths: Sequence[int] = (8, 16, 32, 64), pools: int = 3):
        super().__init__()
        if pools > len(widths):
            raise ValueError(f"pools: at most one pooling per hidden layer ({len(widths)}), got {pools}")
        layers: list[nn.Module] = []
        c_in = channels
        for index, width in enumerate(widths):
            layers += [nn.Conv2d(c_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            if index < pools:
                layers.append(nn.MaxPool2d(2))
            c_in = width
        layers.append(nn.Conv2d(c_in, channels, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.channels, self.widths, self.pools = int(channels), tuple(int(w) for w in widths), int(pools)

    @property
    def patch(self) -> int:
        return 2**self.pools

    def forward(self, x: Tensor) -> Tensor:
        H, W = x.shape[-2:]
        if H % self.patch or W % self.patch:
            raise ShapeError(f"x: height and width must be multiples of the patch size {self.patch}, got {H}x{W}")
        small = self.net(x)
        return small.repeat_interleave(self.patch, dim=2).repeat_interleave(self.patch, dim=3)

    def symbolic_count(self) -> tuple[sp.Expr, dict]:
        C = symbols("C")[0]
        widths = symbols(" ".join(f"c_{i + 1}" for i in range(len(self.widths))))
        count, previous = sp.Integer(0), C
        for width in widths:
            count += conv_parameter_count(previous, width, 3, bias=False) + 2 * width  # conv + BN affine
            previous = width
        count += conv_parameter_count(previous, C, 3, bias=True)
        shapes = {C: self.channels, **{w: v for w, v in zip(widths, self.widths)}}
        return count, shapes


class SampleSpecificMaskProgram(VisualProgram):
    """SMM (Cai, Ye, Feng, Qi, Liu, "Sample-specific Masks for Visual Reprogramming-based Prompting",
    ICML 2024, arXiv:2406.03150): ``x' = N(r(x) + f_mask(r(x)) ⊙ δ)``.

    r resizes the image to the whole canvas (no padding), δ (C, H, W) is the shared pattern, f_mask the
    :class:`MaskGenerator` giving a sample-specific C-channel mask. Trainable: |f_mask| + C·H·W.
    The result is added to the image and depends on the input through a network: τ = additive + parametric.
    """

    operator = (Operator.ADDITIVE, Operator.PARAMETRIC)

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        channels: int = 3,
        widths: Sequence[int] = (8, 16, 32, 64),
        pools: int = 3,
    ):
        super().__init__()
        self.canvas, self.channels = _pair(canvas_size, "canvas_size"), int(channels)
        self.mask_generator = MaskGenerator(channels, widths, pools)
        self.program = nn.Parameter(torch.zeros(channels, *self.canvas))
        self.normalize = Normalize(mean, std)

    def forward(self, x: Tensor) -> Tensor:
        x = self._check(x, self.canvas)
        return self.normalize(x + self.mask_generator(x) * self.program.to(x.dtype))

    def symbolic(self) -> SymbolicForm:
        count, shapes = self.mask_generator.symbolic_count()
        C = symbols("C")[0]
        H, W = symbols("H W")
        delta = sp.Symbol(r"\delta")
        return SymbolicForm(
            expression=_normalize(_resize(x) + odot(op("f_mask", r"f_{\mathrm{mask}}")(_resize(x)), delta)),
            parameter_count=count + C * H * W,
            shapes={**shapes, H: self.canvas[0], W: self.canvas[1]},
            description="sample-specific multi-channel mask times a shared pattern",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """f_mask's 3×3 convolutions, each at the resolution left by the poolings before it."""
        generator = self.mask_generator
        C, H, W = symbols("C H W")
        widths = symbols(" ".join(f"c_{i + 1}" for i in range(len(generator.widths))))
        flops, previous = sp.Integer(0), C
        for index, width in enumerate(widths):
            flops += conv_flops(previous, width, 3, H * W / 4 ** min(index, generator.pools))
            previous = width
        flops += conv_flops(previous, C, 3, H * W / 4 ** min(len(widths), generator.pools))
        shapes = {C: self.channels, H: self.canvas[0], W: self.canvas[1]}
        shapes.update({w: v for w, v in zip(widths, generator.widths)})
        return InferenceOverhead(flops=flops, elementwise=3 * C * H * W, shapes=shapes, description="mask network")


class Coordinator(nn.Module):
    """BlackVIP's coordinator: a frozen encoder g_enc and a trainable decoder g_dec with a prompt trigger φ.

    g_enc: the given image encoder (B, C, H, W) → (B, F, h, w), kept frozen (the paper uses a pretrained
    self-supervised encoder; by default a fixed random conv stack stands in); φ (T,) is broadcast over
    (h, w) and concatenated to the features; g_dec: transposed 2× up-sampling convs back to (B, C, H, W),
    tanh output in (-1, 1).
    """

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        channels: int = 3,
        encoder: nn.Module | None = None,
        feature_channels: int = 16,
        trigger_size: int = 8,
        decoder_widths: Sequence[int] = (16, 8),
        seed: int = 0,
    ):
        super().__init__()
        H, W = _pair(canvas_size, "canvas_size")
        stages = len(decoder_widths) + 1
        if H % 2**stages or W % 2**stages:
            raise ValueError(f"canvas_size: {H}x{W} must be divisible by 2^{stages} for {stages} up-sampling stages")
        if encoder is None:
            generator = torch.Generator().manual_seed(seed)
            encoder = nn.Sequential()
            c_in = channels
            for _ in range(stages):
                conv = nn.Conv2d(c_in, feature_channels, 3, stride=2, padding=1)
                with torch.no_grad():
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) / math.sqrt(9 * c_in))
                    conv.bias.zero_()
                encoder.append(conv)
                encoder.append(nn.ReLU())
                c_in = feature_channels
        encoder.requires_grad_(False)
        self.encoder = encoder
        self.trigger = nn.Parameter(torch.zeros(trigger_size))
        layers: list[nn.Module] = []
        c_in = feature_channels + trigger_size
        for width in decoder_widths:
            layers += [nn.ConvTranspose2d(c_in, width, 4, stride=2, padding=1), nn.ReLU()]
            c_in = width
        layers.append(nn.ConvTranspose2d(c_in, channels, 4, stride=2, padding=1))
        self.decoder = nn.Sequential(*layers)
        self.canvas, self.channels = (H, W), int(channels)
        self.feature_channels, self.trigger_size = feature_channels, trigger_size
        self.decoder_widths = tuple(decoder_widths)

    def train(self, mode: bool = True) -> "Coordinator":
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            features = self.encoder(x)
        trigger = self.trigger.to(features.dtype).view(1, -1, 1, 1).expand(features.shape[0], -1, *features.shape[-2:])
        prompt = torch.tanh(self.decoder(torch.cat([features, trigger], dim=1)))
        if tuple(prompt.shape[-2:]) != tuple(x.shape[-2:]):
            prompt = resize_image(prompt, tuple(x.shape[-2:]))
        return prompt

    def symbolic_count(self) -> tuple[sp.Expr, dict]:
        C, F_, T = symbols("C F T")
        widths = symbols(" ".join(f"d_{i + 1}" for i in range(len(self.decoder_widths))))
        count, previous = T, F_ + T
        for width in widths:
            count += conv_parameter_count(previous, width, 4)
            previous = width
        count += conv_parameter_count(previous, C, 4)
        shapes = {C: self.channels, F_: self.feature_channels, T: self.trigger_size}
        shapes.update({w: v for w, v in zip(widths, self.decoder_widths)})
        return count, shapes


class CoordinatorPrompt(VisualProgram):
    """BlackVIP (Oh, Hwang, Park, Jang, Kim, Kim, Yun, CVPR 2023, arXiv:2303.14773): an input-dependent
    prompt from the coordinator, ``x' = N(clip(r(x) + ε · g_dec([g_enc(r(x)); φ]), 0, 1))``.

    Only g_dec and φ are trainable (by zeroth-order SPSA-GC in the paper). Trainable: |g_dec| + T.
    The prompt is added to the image and generated from it by a network: τ = additive + parametric.
    """

    operator = (Operator.ADDITIVE, Operator.PARAMETRIC)

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        channels: int = 3,
        epsilon: float = 1.0,
        **coordinator_options,
    ):
        super().__init__()
        self.canvas, self.channels, self.epsilon = _pair(canvas_size, "canvas_size"), int(channels), float(epsilon)
        self.coordinator = Coordinator(self.canvas, channels, **coordinator_options)
        self.normalize = Normalize(mean, std)

    def forward(self, x: Tensor) -> Tensor:
        x = self._check(x, self.canvas)
        return self.normalize((x + self.epsilon * self.coordinator(x)).clamp(0.0, 1.0))

    def symbolic(self) -> SymbolicForm:
        count, shapes = self.coordinator.symbolic_count()
        eps, phi = sp.Symbol(r"\epsilon"), sp.Symbol(r"\phi")
        g_dec, g_enc = op("g_dec", r"g_{\mathrm{dec}}"), op("g_enc", r"g_{\mathrm{enc}}")
        return SymbolicForm(
            expression=_normalize(_clip(_resize(x) + eps * g_dec(g_enc(_resize(x)), phi))),
            parameter_count=count,
            shapes=shapes,
            description="coordinator-generated, input-dependent prompt",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """g_enc's stride-2 3×3 convolutions, then g_dec's 4×4 transposed convolutions back up."""
        coordinator = self.coordinator
        C, F_, T, H, W = symbols("C F T H W")
        widths = symbols(" ".join(f"d_{i + 1}" for i in range(len(coordinator.decoder_widths))))
        stages = len(widths) + 1
        flops, previous = sp.Integer(0), C
        for stage in range(1, stages + 1):  # encoder: output at H/2^stage
            flops += conv_flops(previous, F_, 3, H * W / 4**stage)
            previous = F_
        previous = F_ + T
        for stage, width in zip(range(stages, 0, -1), list(widths) + [C]):  # decoder: input at H/2^stage
            flops += conv_flops(previous, width, 4, H * W / 4**stage)
            previous = width
        if len(widths) + 1 != stages:  # pragma: no cover - the loop pairs every stage with a width
            raise AssertionError("decoder stages")
        shapes = {C: self.channels, F_: coordinator.feature_channels, T: coordinator.trigger_size}
        shapes.update(
            {H: self.canvas[0], W: self.canvas[1], **{w: v for w, v in zip(widths, coordinator.decoder_widths)}}
        )
        return InferenceOverhead(
            flops=flops, elementwise=4 * C * H * W, shapes=shapes, description="coordinator network"
        )


class InputTransformation(VisualProgram):
    """REFINE's input transformation module (Chen et al., ICLR 2025, arXiv:2502.18508): a small
    encoder-decoder g_θ that rewrites the image, ``x' = N(σ(g_θ(r(x))))`` (same size, values in (0, 1)).

    Encoder: two stride-2 3×3 convs (C → w → 2w, ReLU); decoder: two 4×4 transposed convs (2w → w → C) with a
    skip connection from the first encoder stage. Trainable: 9Cw + w + 18w² + 2w + 32w² + w + 16wC + C.
    """

    operator = Operator.PARAMETRIC

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        channels: int = 3,
        width: int = 16,
    ):
        super().__init__()
        H, W = _pair(canvas_size, "canvas_size")
        if H % 4 or W % 4:
            raise ValueError(f"canvas_size: {H}x{W} must be divisible by 4")
        self.canvas, self.channels, self.width = (H, W), int(channels), int(width)
        self.down1 = nn.Conv2d(channels, width, 3, stride=2, padding=1)
        self.down2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1)
        self.normalize = Normalize(mean, std)

    def transform(self, x: Tensor) -> Tensor:
        """g_θ followed by σ: (B, C, H, W) → (B, C, H, W) in (0, 1); the initial state is close to the identity."""
        h1 = F.relu(self.down1(x))
        h2 = F.relu(self.down2(h1))
        u1 = F.relu(self.up1(h2)) + h1
        return torch.sigmoid(self.up2(u1) + torch.logit(x.clamp(1e-4, 1 - 1e-4)))

    def forward(self, x: Tensor) -> Tensor:
        return self.normalize(self.transform(self._check(x, self.canvas)))

    def symbolic(self) -> SymbolicForm:
        C, w = symbols("C w")
        count = (
            conv_parameter_count(C, w, 3)
            + conv_parameter_count(w, 2 * w, 3)
            + conv_parameter_count(2 * w, w, 4)
            + conv_parameter_count(w, C, 4)
        )
        g = op("g_theta", r"g_{\theta}")
        return SymbolicForm(
            expression=_normalize(_sigmoid(g(_resize(x)))),
            parameter_count=count,
            shapes={C: self.channels, w: self.width},
            description="encoder-decoder input transformation",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Two stride-2 3×3 convolutions down, two 4×4 transposed convolutions up."""
        C, w, H, W = symbols("C w H W")
        quarter, sixteenth = H * W / 4, H * W / 16
        flops = (
            conv_flops(C, w, 3, quarter)
            + conv_flops(w, 2 * w, 3, sixteenth)
            + conv_flops(2 * w, w, 4, sixteenth)
            + conv_flops(w, C, 4, quarter)
        )
        shapes = {C: self.channels, w: self.width, H: self.canvas[0], W: self.canvas[1]}
        return InferenceOverhead(flops=flops, elementwise=4 * C * H * W, shapes=shapes, description="g_θ network")
