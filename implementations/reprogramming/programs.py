"""Input-space visual programs (ℓ = input).

Images enter in [0, 1] as (B, C, h, w); a program that needs a fixed size resizes them bilinearly
first (``r``). Normalisation ``N`` with the frozen model's statistics is part of each program's
formula, at the place its paper puts it:

* :class:`FullCanvasProgram`: ``N(½(pad(2x − 1) + tanh(W ⊙ M) + 1))`` (Elsayed et al. 2019; BAR 2020);
* :class:`PaddingProgram`: ``N(pad(x) + M ⊙ σ(W))`` (ILM-VP 2023, BLM 2024);
* :class:`WatermarkPrompt`: ``N(r(x)) + M_p ⊙ θ``, a border of width p (Bahng et al. 2022);
* :class:`FixedPatchPrompt` / :class:`RandomPatchPrompt`: ``N(r(x)) + M_patch ⊙ θ``, a p × p patch at the
  top-left corner / at a random place (Bahng et al. 2022);
* :class:`ShrinkPadPrompt`: ``pad(N(r_{H−2p}(x))) + M_p ⊙ θ`` (EVP, Wu et al. 2022);
* :class:`LearnableScale` then :class:`ScaledPaddingPrompt`: ``u = scale_s(x)``, ``N(u + M(s) ⊙ σ(W))``
  (AutoVP, Tsao et al. 2024);

Programs computed by a network from each input (SMM's masks, BlackVIP's coordinator, REFINE's
transformation) are in :mod:`.generated_programs`.
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reprogrammability.framework.axes import Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext, canvas_elementwise
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, odot, op, symbols, x

__all__ = [
    "Normalize",
    "resize_image",
    "VisualProgram",
    "PaddingProgram",
    "FullCanvasProgram",
    "WatermarkPrompt",
    "FixedPatchPrompt",
    "RandomPatchPrompt",
    "ShrinkPadPrompt",
    "LearnableScale",
    "ScaledPaddingPrompt",
    "conv_parameter_count",
]

_pad = op("pad")
_normalize = op("N", r"\mathcal{N}")
_sigmoid = op("sigma", r"\sigma")
_tanh = op("tanh", r"\tanh")
_resize = op("r", "r")
_clip = op("clip", r"\operatorname{clip}")


def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"{name}: expected a positive int or (height, width), got {size}")
    return size  # type: ignore[return-value]


def resize_image(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of (B, C, h, w) to ``size``; identity when the size already matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def conv_parameter_count(c_in, c_out, kernel, bias: bool = True):
    """k²·c_in·c_out (+ c_out): parameters of a 2-D convolution, as a sympy expression or an int."""
    return kernel * kernel * c_in * c_out + (c_out if bias else 0)


class Normalize(nn.Module):
    """``(x - μ) / σ`` per channel, with the frozen model's statistics (buffers, not trained)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


class VisualProgram(InputManipulation):
    """Base of the programs here: learnable, at the input; checks and resizes images."""

    configuration = Configuration.LEARNABLE
    operator = Operator.ADDITIVE
    location = Location.INPUT

    channels: int
    canvas: tuple[int, int]

    def _check(self, x: Tensor, size: tuple[int, int] | None = None, resize: bool = True) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != self.channels:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ShapeError(f"x: expected images of shape (B, {self.channels}, h, w) in [0, 1], got {shape}")
        if size is None:
            return x
        if not resize and tuple(x.shape[-2:]) != size:
            raise ShapeError(f"x: expected shape (B, {self.channels}, {size[0]}, {size[1]}), got {tuple(x.shape)}")
        return resize_image(x, size)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """An additive program on f's canvas: mask, add, normalise (3·C·H·W element-wise), no FLOPs."""
        height, width = self.canvas
        return canvas_elementwise(self.channels, height, width, operations=3)


class PaddingProgram(VisualProgram):
    """Padding visual program (ILM-VP, BLM): ``x' = N(pad(x) + M ⊙ σ(W))``.

    The target image x (B, C, h, w) in [0, 1] is zero-padded to the model's canvas (C, H, W); W
    (C, H, W) is the program, M the fixed mask that is 1 on the padded frame and 0 over the image,
    σ the sigmoid, N the frozen model's normalisation. Trainable parameters: C·H·W.
    With ``resize_input`` images of another size are first resized bilinearly to ``image_size``.
    """

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        image_size: int | tuple[int, int],
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        channels: int = 3,
        resize_input: bool = False,
    ):
        super().__init__()
        H, W = _pair(canvas_size, "canvas_size")
        h, w = _pair(image_size, "image_size")
        if h > H or w > W:
            raise ValueError(f"image_size: {h}x{w} does not fit in canvas_size {H}x{W}")
        self.canvas, self.image = (H, W), (h, w)
        self.channels, self.resize_input = int(channels), bool(resize_input)
        top, left = (H - h + 1) // 2, (W - w + 1) // 2
        self.padding = (left, W - w - left, top, H - h - top)  # F.pad order: left, right, top, bottom
        mask = torch.ones(1, H, W)
        mask[:, top : top + h, left : left + w] = 0
        self.register_buffer("mask", mask)
        self.program = nn.Parameter(torch.zeros(channels, H, W))
        self.normalize = Normalize(mean, std)

    def delta(self) -> Tensor:
        """The visual program as it is added to the padded image: M ⊙ σ(W), (C, H, W) in [0, 1]."""
        return self.mask * torch.sigmoid(self.program)

    def forward(self, x: Tensor) -> Tensor:
        x = self._check(x, self.image, resize=self.resize_input)
        padded = F.pad(x, self.padding, value=0.0)
        return self.normalize(padded + self.delta().to(x.dtype))

    def symbolic(self) -> SymbolicForm:
        C, H, W = symbols("C H W")
        M, Wp = sp.Symbol("M"), sp.Symbol("W")
        return SymbolicForm(
            expression=_normalize(_pad(x) + odot(M, _sigmoid(Wp))),
            parameter_count=C * H * W,
            shapes={C: self.program.shape[0], H: self.canvas[0], W: self.canvas[1]},
            description="padding program: sigmoid program on the padded frame, normalisation after",
        )


class FullCanvasProgram(PaddingProgram):
    """Adversarial program (Elsayed, Goodfellow, Sohl-Dickstein, ICLR 2019, arXiv:1806.11146, Eq. 1-2).

    In the network's [-1, 1] pixel range: ``X̃ = pad(2x − 1)`` (zeros around the centred target image),
    ``P = tanh(W ⊙ M)`` with W (C, H, W) over the whole canvas and M = 0 over the image, 1 elsewhere,
    ``X_adv = X̃ + P``; mapped back to [0, 1] and normalised for the frozen model:
    ``x' = N(½(X_adv + 1))``. Trainable parameters: C·H·W (the whole canvas, as in the paper; the entries
    under the image get no gradient). Used unchanged by BAR (Tsai et al., ICML 2020).
    """

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        image_size: int | tuple[int, int],
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        channels: int = 3,
        resize_input: bool = True,
        init_std: float = 0.0,
    ):
        super().__init__(canvas_size, image_size, mean, std, channels, resize_input)
        if init_std:
            nn.init.normal_(self.program, std=init_std)

    def delta(self) -> Tensor:
        """P = tanh(W ⊙ M), (C, H, W) in (-1, 1)."""
        return torch.tanh(self.program * self.mask)

    def forward(self, x: Tensor) -> Tensor:
        x = self._check(x, self.image, resize=self.resize_input)
        padded = F.pad(2.0 * x - 1.0, self.padding, value=0.0)
        adversarial = padded + self.delta().to(x.dtype)
        return self.normalize((adversarial + 1.0) / 2.0)

    def symbolic(self) -> SymbolicForm:
        C, H, W = symbols("C H W")
        M, Wp = sp.Symbol("M"), sp.Symbol("W")
        return SymbolicForm(
            expression=_normalize(_pad(x) + _tanh(odot(Wp, M))),
            parameter_count=C * H * W,
            shapes={C: self.program.shape[0], H: self.canvas[0], W: self.canvas[1]},
            description="adversarial program tanh(W ⊙ M) around the centred image ([-1, 1] pixel range)",
        )


def _border_mask(height: int, width: int, pad: int) -> Tensor:
    mask = torch.ones(1, height, width)
    mask[:, pad : height - pad, pad : width - pad] = 0
    return mask


class WatermarkPrompt(VisualProgram):
    """Padding prompt of Bahng et al. ("Exploring Visual Prompts for Adapting Large-Scale Models",
    arXiv:2203.17274, 2022): a learned frame of width p added to the *normalised* image.

    ``x' = N(r(x)) + M_p ⊙ θ``: r resizes to the model's canvas (C, H, W), M_p is 1 on the border of
    width p; θ holds only the border pixels (top, bottom, left, right strips), initialised N(0, 1) as in
    the paper. Trainable parameters: C·(H·W − (H − 2p)(W − 2p)).
    """

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        pad: int = 30,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        channels: int = 3,
        init_std: float = 1.0,
    ):
        super().__init__()
        H, W = _pair(canvas_size, "canvas_size")
        if not 0 < 2 * pad < min(H, W):
            raise ValueError(f"pad: expected 0 < 2·pad < {min(H, W)}, got {pad}")
        self.canvas, self.pad, self.channels = (H, W), int(pad), int(channels)
        self.top = nn.Parameter(torch.randn(channels, pad, W) * init_std)
        self.bottom = nn.Parameter(torch.randn(channels, pad, W) * init_std)
        self.left = nn.Parameter(torch.randn(channels, H - 2 * pad, pad) * init_std)
        self.right = nn.Parameter(torch.randn(channels, H - 2 * pad, pad) * init_std)
        self.normalize = Normalize(mean, std)

    def prompt(self) -> Tensor:
        """M_p ⊙ θ as a (C, H, W) canvas with zeros inside the frame."""
        H, W = self.canvas
        p = self.pad
        inner = self.top.new_zeros(self.channels, H - 2 * p, W - 2 * p)
        middle = torch.cat([self.left, inner, self.right], dim=2)
        return torch.cat([self.top, middle, self.bottom], dim=1)

    def base(self, x: Tensor) -> Tensor:
        return self.normalize(self._check(x, self.canvas))

    def forward(self, x: Tensor) -> Tensor:
        base = self.base(x)
        return base + self.prompt().to(base.dtype)

    def symbolic(self) -> SymbolicForm:
        C, H, W, p = symbols("C H W p")
        M, theta = sp.Symbol("M_p"), sp.Symbol(r"\theta")
        return SymbolicForm(
            expression=_normalize(_resize(x)) + odot(M, theta),
            parameter_count=C * (H * W - (H - 2 * p) * (W - 2 * p)),
            shapes={C: self.channels, H: self.canvas[0], W: self.canvas[1], p: self.pad},
            description="border (watermark) prompt added after normalisation",
        )


class ShrinkPadPrompt(WatermarkPrompt):
    """EVP (Wu, Wang, Fu, Chen, Chen, Chang, Luo, "Unleashing the Power of Visual Prompting At the Pixel
    Level", arXiv:2212.10556, 2022): shrink the image to (H − 2p, W − 2p) so the learned border surrounds it
    instead of covering it: ``x' = pad(N(r_{H−2p}(x))) + M_p ⊙ θ``.
    Trainable parameters: C·(H·W − (H−2p)(W−2p)).
    """

    def __init__(self, *args, init_std: float = 0.0, **kwargs):
        super().__init__(*args, init_std=init_std, **kwargs)

    def base(self, x: Tensor) -> Tensor:
        H, W = self.canvas
        p = self.pad
        inner = self.normalize(self._check(x, (H - 2 * p, W - 2 * p)))
        return F.pad(inner, (p, p, p, p), value=0.0)

    def symbolic(self) -> SymbolicForm:
        form = super().symbolic()
        M, theta = sp.Symbol("M_p"), sp.Symbol(r"\theta")
        return SymbolicForm(
            expression=_pad(_normalize(_resize(x))) + odot(M, theta),
            parameter_count=form.parameter_count,
            shapes=form.shapes,
            description="shrunk image surrounded by a learned border (EVP)",
        )


class FixedPatchPrompt(VisualProgram):
    """Fixed-patch prompt (Bahng et al. 2022): a learned p × p patch at the top-left corner of the
    normalised image: ``x' = N(r(x)) + M_patch ⊙ θ``. Trainable parameters: C·p².
    """

    random_location = False

    def __init__(
        self,
        canvas_size: int | tuple[int, int],
        patch_size: int = 30,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        channels: int = 3,
        init_std: float = 1.0,
    ):
        super().__init__()
        H, W = _pair(canvas_size, "canvas_size")
        if not 0 < patch_size <= min(H, W):
            raise ValueError(f"patch_size: expected 1..{min(H, W)}, got {patch_size}")
        self.canvas, self.patch_size, self.channels = (H, W), int(patch_size), int(channels)
        self.patch = nn.Parameter(torch.randn(channels, patch_size, patch_size) * init_std)
        self.normalize = Normalize(mean, std)

    def location_of_patch(self) -> tuple[int, int]:
        return 0, 0

    def forward(self, x: Tensor) -> Tensor:
        base = self.normalize(self._check(x, self.canvas))
        H, W = self.canvas
        p = self.patch_size
        top, left = self.location_of_patch()
        padded = F.pad(self.patch.to(base.dtype), (left, W - p - left, top, H - p - top))
        return base + padded

    def symbolic(self) -> SymbolicForm:
        C, p = symbols("C p")
        M, theta = sp.Symbol(r"M_{\mathrm{patch}}"), sp.Symbol(r"\theta")
        return SymbolicForm(
            expression=_normalize(_resize(x)) + odot(M, theta),
            parameter_count=C * p**2,
            shapes={C: self.channels, p: self.patch_size},
            description=("random" if self.random_location else "fixed") + "-location patch prompt",
        )


class RandomPatchPrompt(FixedPatchPrompt):
    """Random-patch prompt (Bahng et al. 2022): the p × p patch is placed at a uniformly random location,
    drawn anew at every forward (one location per batch), in training and at evaluation as in the paper.
    Pass ``generator`` for reproducible locations. Trainable parameters: C·p².
    """

    random_location = True

    def __init__(self, *args, generator: torch.Generator | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.generator = generator

    def location_of_patch(self) -> tuple[int, int]:
        H, W = self.canvas
        p = self.patch_size
        top = int(torch.randint(0, H - p + 1, (1,), generator=self.generator))
        left = int(torch.randint(0, W - p + 1, (1,), generator=self.generator))
        return top, left


class LearnableScale(VisualProgram):
    """AutoVP's input scaling (Tsao, Hsiung, Chen, Liu, Ho, ICLR 2024, arXiv:2310.08381): the image is scaled
    about the canvas centre by a learnable factor s (initialised to ``image_size / canvas``), filling the
    central s·H × s·W region of a zero canvas, sampled bilinearly so that s gets gradients:
    ``x' = scale_s(x)`` (B, C, H, W), values still in [0, 1]. Trainable parameters: 1.
    """

    operator = Operator.PARAMETRIC

    def __init__(
        self, canvas_size: int | tuple[int, int], image_size: int = 128, channels: int = 3, min_scale: float = 0.1
    ):
        super().__init__()
        H, W = _pair(canvas_size, "canvas_size")
        if not 0 < image_size <= min(H, W):
            raise ValueError(f"image_size: expected 1..{min(H, W)}, got {image_size}")
        self.canvas, self.channels, self.min_scale = (H, W), int(channels), float(min_scale)
        self.scale = nn.Parameter(torch.tensor(float(image_size) / min(H, W)))

    def current_scale(self) -> Tensor:
        return self.scale.clamp(self.min_scale, 1.0)

    def mask(self) -> Tensor:
        """M(s): 1 outside the centred s·H × s·W image region, (1, H, W) (not differentiated)."""
        H, W = self.canvas
        s = float(self.current_scale().detach())
        h, w = max(1, round(s * H)), max(1, round(s * W))
        top, left = (H - h) // 2, (W - w) // 2
        mask = torch.ones(1, H, W, device=self.scale.device)
        mask[:, top : top + h, left : left + w] = 0
        return mask

    def forward(self, x: Tensor) -> Tensor:
        x = self._check(x)
        s = self.current_scale().to(x.dtype)
        B = x.shape[0]
        theta = torch.zeros(B, 2, 3, device=x.device, dtype=x.dtype)
        theta[:, 0, 0] = 1.0 / s
        theta[:, 1, 1] = 1.0 / s
        grid = F.affine_grid(theta, [B, self.channels, *self.canvas], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(
            expression=op("scale")(x, sp.Symbol("s")),
            parameter_count=sp.Integer(1),
            description="learnable input scale s",
        )

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Bilinear resampling onto the canvas: ~4 reads per output value (4·C·H·W element-wise), no FLOPs."""
        return canvas_elementwise(self.channels, *self.canvas, operations=4)


class ScaledPaddingPrompt(VisualProgram):
    """AutoVP's prompt around the scaled image: ``x' = N(u + M(s) ⊙ σ(W))`` with M(s) the frame left free by a
    :class:`LearnableScale` (read from it, not owned), W (C, H, W). Trainable parameters: C·H·W.
    """

    def __init__(
        self, scale: LearnableScale, mean: Sequence[float] = (0.0, 0.0, 0.0), std: Sequence[float] = (1.0, 1.0, 1.0)
    ):
        super().__init__()
        object.__setattr__(self, "_scale", scale)  # the sibling part that owns s
        self.canvas, self.channels = scale.canvas, scale.channels
        self.program = nn.Parameter(torch.zeros(scale.channels, *scale.canvas))
        self.normalize = Normalize(mean, std)

    def forward(self, u: Tensor) -> Tensor:
        u = self._check(u, self.canvas, resize=False)
        delta = self._scale.mask().to(u.device, u.dtype) * torch.sigmoid(self.program).to(u.dtype)
        return self.normalize(u + delta)

    def symbolic(self) -> SymbolicForm:
        C, H, W = symbols("C H W")
        Wp = sp.Symbol("W")
        return SymbolicForm(
            expression=_normalize(x + odot(op("M")(sp.Symbol("s")), _sigmoid(Wp))),
            parameter_count=C * H * W,
            shapes={C: self.channels, H: self.canvas[0], W: self.canvas[1]},
            description="padding prompt on the frame the scaled image leaves free",
        )
