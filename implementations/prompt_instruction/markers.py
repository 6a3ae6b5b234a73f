"""Visual markers: fixed edits of the image that point a vision-language model at a region.

* :class:`VisualMarker` (Shtedritski, Rupprecht & Vedaldi 2023): a red ellipse (or box outline)
  drawn around the region, ``x' = x + α M ⊙ (c − x)`` with M the drawn stroke, c the colour.
* :class:`BlurOutside` (FGVP, Yang et al. 2023): ``x' = M ⊙ x + (1 − M) ⊙ G_σ(x)``, the image
  blurred outside the region mask M (a fixed function of x that is neither a sum nor a
  concatenation: parametric).
* :class:`NumberedMarks` (Set-of-Mark, Yang et al. 2023): each region k tinted with its colour,
  outlined and labelled with the number k + 1 at its centre (additive overlays), and
  :class:`MarkAlignment` mapping the model's answer (a mark number) back to the region.

Images are in [0, 1]; ``mean``/``std`` apply f's normalisation after the marker (CLIP's by default).
Regions are boxes ``(x0, y0, x1, y1)`` in pixels or boolean masks, per image (inputs as a dict
``{"images": (B, 3, H, W), "boxes": (B, 4) | (B, K, 4), "masks": (B, H, W) | (B, K, H, W)}``) or
fixed at construction.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from reprogrammability.framework.alignment import OutputAlignment
from reprogrammability.framework.axes import Alignment, Configuration, Location, Operator
from reprogrammability.framework.cost import InferenceOverhead, OverheadContext
from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.manipulation import InputManipulation
from reprogrammability.framework.symbolic import SymbolicForm, odot, op, symbols, x, z
from reprogrammability.implementations.reprogramming._common import CLIP_MEAN, CLIP_STD

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "box_mask",
    "ellipse_ring",
    "box_outline",
    "gaussian_blur",
    "digit_glyph",
    "VisualMarker",
    "BlurOutside",
    "NumberedMarks",
    "MarkAlignment",
]

_normalize = op("N", r"\mathcal{N}")

_DIGITS = {  # 3x5 bitmaps, rows top to bottom
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
}


def _grid(h: int, w: int, device=None) -> tuple[Tensor, Tensor]:
    ys = torch.arange(h, device=device, dtype=torch.float32)[:, None] + 0.5
    xs = torch.arange(w, device=device, dtype=torch.float32)[None, :] + 0.5
    return ys.expand(h, w), xs.expand(h, w)


def box_mask(h: int, w: int, box: Sequence[float], device=None) -> Tensor:
    """(H, W) 1 inside the box ``(x0, y0, x1, y1)``."""
    ys, xs = _grid(h, w, device)
    x0, y0, x1, y1 = (float(v) for v in box)
    return ((xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)).float()


def ellipse_ring(h: int, w: int, box: Sequence[float], thickness: float = 2.0, device=None) -> Tensor:
    """(H, W) stroke of the ellipse inscribed in the box, ``thickness`` pixels wide."""
    ys, xs = _grid(h, w, device)
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    rx, ry = max((x1 - x0) / 2, 1.0), max((y1 - y0) / 2, 1.0)
    radius = torch.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2)
    distance = (radius - 1.0).abs() * min(rx, ry)  # approximately pixels from the ellipse
    return (distance <= thickness / 2).float()


def box_outline(h: int, w: int, box: Sequence[float], thickness: float = 2.0, device=None) -> Tensor:
    """(H, W) stroke of the box's border, ``thickness`` pixels wide (drawn inside the box)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    outer = box_mask(h, w, (x0, y0, x1, y1), device)
    inner = box_mask(h, w, (x0 + thickness, y0 + thickness, x1 - thickness, y1 - thickness), device)
    return outer - outer * inner


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur (kernel radius 3σ, reflect padding) of (B, C, H, W)."""
    if sigma <= 0:
        return images
    radius = max(1, int(math.ceil(3 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    pad_h = min(radius, images.shape[2] - 1)
    pad_w = min(radius, images.shape[3] - 1)
    out = F.pad(images, (pad_w, pad_w, 0, 0), mode="reflect") if pad_w else images
    out = F.conv2d(
        out, kernel[radius - pad_w : radius + pad_w + 1].view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels
    )
    out = F.pad(out, (0, 0, pad_h, pad_h), mode="reflect") if pad_h else out
    return F.conv2d(
        out, kernel[radius - pad_h : radius + pad_h + 1].view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels
    )


def digit_glyph(number: int, scale: int = 1) -> Tensor:
    """(5s, (4n − 1)s) bitmap of the decimal digits of ``number`` (3x5 font, one column gap)."""
    text = str(int(number))
    columns = []
    for i, char in enumerate(text):
        bitmap = torch.tensor([int(b) for b in _DIGITS[char]], dtype=torch.float32).view(5, 3)
        columns.append(bitmap)
        if i < len(text) - 1:
            columns.append(torch.zeros(5, 1))
    glyph = torch.cat(columns, dim=1)
    return glyph.repeat_interleave(scale, 0).repeat_interleave(scale, 1)


def _normalise(images: Tensor, mean, std) -> Tensor:
    if mean is None:
        return images
    m = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - m) / s


def _split(x: Any, fixed_boxes, fixed_masks) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """(images, boxes, masks) from a tensor (regions fixed at construction) or a dict."""
    if isinstance(x, dict):
        images = x.get("images", x.get("pixel_values"))
        boxes, masks = x.get("boxes", fixed_boxes), x.get("masks", fixed_masks)
    else:
        images, boxes, masks = x, fixed_boxes, fixed_masks
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ShapeError(
            f"x: expected images (B, C, H, W) or a dict with 'images', got {getattr(images, 'shape', type(images).__name__)}"
        )
    if boxes is None and masks is None:
        raise ValueError("x: markers need regions: pass {'images': ..., 'boxes': ...} or fix boxes=... at construction")
    batch = images.shape[0]
    if boxes is not None:
        boxes = torch.as_tensor(boxes, dtype=torch.float32)
        if boxes.dim() == 1:
            boxes = boxes.expand(batch, -1)
        if boxes.shape[0] != batch or boxes.shape[-1] != 4:
            raise ShapeError(f"boxes: expected (B, 4) or (B, K, 4) with B={batch}, got {tuple(boxes.shape)}")
    if masks is not None:
        masks = torch.as_tensor(masks).to(images.device).float()
        if masks.dim() == 2:
            masks = masks.expand(batch, -1, -1)
        if masks.shape[0] != batch or masks.shape[-2:] != images.shape[-2:]:
            raise ShapeError(f"masks: expected (B, H, W) or (B, K, H, W) matching the images, got {tuple(masks.shape)}")
    return images, boxes, masks


class VisualMarker(InputManipulation):
    """Shtedritski et al. 2023 ("What does CLIP know about a red circle?", ICCV, arXiv 2304.06712):
    ``x' = N(x + α M ⊙ (c − x))`` with M the stroke of a circle (ellipse) or box around the region.

    ``alpha`` is the stroke's opacity. The paper draws it opaque (α = 1), which overwrites the stroke
    pixels (a masked replacement); the default α = 0.8 keeps an affine overlay ``(1 − αM) ⊙ x + αM ⊙ c``,
    additive in the framework's sense. Set α = 1 for the paper's drawing."""

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE
    location = Location.INPUT

    def __init__(
        self,
        shape: str = "circle",
        color: Sequence[float] = (1.0, 0.0, 0.0),
        thickness: float = 2.0,
        alpha: float = 0.8,
        boxes: Any = None,
        mean: Sequence[float] | None = CLIP_MEAN,
        std: Sequence[float] | None = CLIP_STD,
    ):
        super().__init__()
        if shape not in ("circle", "box"):
            raise ValueError(f"shape: {shape!r} is not one of ['circle', 'box']")
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha: expected 0 < alpha <= 1, got {alpha}")
        self.shape, self.thickness, self.alpha = shape, float(thickness), float(alpha)
        self.register_buffer("color", torch.tensor(color, dtype=torch.float32).view(1, -1, 1, 1))
        self.fixed_boxes, self.mean, self.std = boxes, mean, std

    def stroke(self, images: Tensor, boxes: Tensor) -> Tensor:
        """(B, 1, H, W) marker mask M."""
        h, w = images.shape[-2:]
        draw = ellipse_ring if self.shape == "circle" else box_outline
        regions = boxes if boxes.dim() == 3 else boxes[:, None]
        masks = [
            torch.stack([draw(h, w, box.tolist(), self.thickness, images.device) for box in row]).amax(0)
            for row in regions
        ]
        return torch.stack(masks)[:, None]

    def forward(self, x: Any) -> Tensor:
        images, boxes, _ = _split(x, self.fixed_boxes, None)
        if boxes is None:
            raise ValueError("boxes: VisualMarker draws around boxes (x0, y0, x1, y1)")
        m = self.stroke(images, boxes).to(images.dtype)
        marked = images + self.alpha * m * (self.color.to(images) - images)
        return _normalise(marked, self.mean, self.std)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Draws a marker on the image f reads at its own size: element-wise, no FLOPs."""
        return InferenceOverhead(description="marker drawn on the image")

    def symbolic(self) -> SymbolicForm:
        M, c, a = sp.Symbol("M"), sp.Symbol("c"), sp.Symbol(r"\alpha")
        return SymbolicForm(expression=_normalize(x + a * odot(M, c - x)), description=f"fixed {self.shape} marker")


class BlurOutside(InputManipulation):
    """FGVP (Yang, Wang, Zhou, Zhao, Wang & Xu, "Fine-Grained Visual Prompting", NeurIPS 2023,
    arXiv 2306.04356): ``x' = N(M ⊙ x + (1 − M) ⊙ G_σ(x))``, Gaussian blur outside the region M."""

    configuration = Configuration.FIXED
    operator = Operator.PARAMETRIC
    location = Location.INPUT

    def __init__(
        self,
        sigma: float = 3.0,
        boxes: Any = None,
        masks: Any = None,
        mean: Sequence[float] | None = CLIP_MEAN,
        std: Sequence[float] | None = CLIP_STD,
    ):
        super().__init__()
        if sigma < 0:
            raise ValueError(f"sigma: expected >= 0, got {sigma}")
        self.sigma, self.fixed_boxes, self.fixed_masks, self.mean, self.std = float(sigma), boxes, masks, mean, std

    def region(self, images: Tensor, boxes: Tensor | None, masks: Tensor | None) -> Tensor:
        """(B, 1, H, W) region mask M (union of the given regions)."""
        if masks is not None:
            return (masks if masks.dim() == 3 else masks.amax(1)).to(images)[:, None]
        h, w = images.shape[-2:]
        regions = boxes if boxes.dim() == 3 else boxes[:, None]
        return torch.stack(
            [torch.stack([box_mask(h, w, b.tolist(), images.device) for b in row]).amax(0) for row in regions]
        )[:, None]

    def forward(self, x: Any) -> Tensor:
        images, boxes, masks = _split(x, self.fixed_boxes, self.fixed_masks)
        m = self.region(images, boxes, masks)
        return _normalise(m * images + (1 - m) * gaussian_blur(images, self.sigma), self.mean, self.std)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """The separable Gaussian blur G_σ: two depthwise 1-D convolutions of k_w and k_h taps (radius 3σ, cut to
        the image) over the (C, H, W) image, ``2·C·H·W·(k_w + k_h)`` FLOPs; the blend is element-wise."""
        import math

        C, H, W, k_w, k_h = symbols("C H W k_w k_h")
        if context.input_shape is None or len(context.input_shape) != 3 or self.sigma <= 0:
            return InferenceOverhead(description="no blur")
        channels, height, width = context.input_shape
        radius = max(1, int(math.ceil(3 * self.sigma)))
        shapes = {C: channels, H: height, W: width}
        shapes |= {k_w: 2 * min(radius, width - 1) + 1, k_h: 2 * min(radius, height - 1) + 1}
        return InferenceOverhead(
            flops=2 * C * H * W * (k_w + k_h), elementwise=4 * C * H * W, shapes=shapes, description="Gaussian blur"
        )

    def symbolic(self) -> SymbolicForm:
        M = sp.Symbol("M")
        G = op("G_sigma", r"G_{\sigma}")
        return SymbolicForm(
            expression=_normalize(odot(M, x) + odot(1 - M, G(x))), description="blur outside the region"
        )


class NumberedMarks(InputManipulation):
    """Set-of-Mark prompting (Yang, Zhang, Li, Zou, Li & Gao 2023, arXiv 2310.11441):
    ``x' = N(x + Σ_k [β R_k ⊙ (c_k − x) + γ O_k ⊙ (c_k − x) + γ L_k ⊙ (ℓ_k − x)])`` applied in turn:
    region k tinted (β), outlined (O_k) and labelled with its number (glyph L_k in white on black),
    outline and label with opacity γ = ``mark_alpha`` (< 1 keeps the overlay affine; 1 draws them opaque)."""

    configuration = Configuration.FIXED
    operator = Operator.ADDITIVE
    location = Location.INPUT

    PALETTE = ((1.0, 0.2, 0.2), (0.2, 0.6, 1.0), (0.2, 0.9, 0.3), (1.0, 0.8, 0.1), (0.8, 0.3, 1.0), (0.1, 0.9, 0.9))

    def __init__(
        self,
        tint: float = 0.3,
        thickness: float = 1.0,
        boxes: Any = None,
        masks: Any = None,
        label_scale: int | None = None,
        mean: Sequence[float] | None = CLIP_MEAN,
        std: Sequence[float] | None = CLIP_STD,
        mark_alpha: float = 0.9,
    ):
        super().__init__()
        if not 0 <= tint <= 1 or not 0 < mark_alpha <= 1:
            raise ValueError(
                f"tint/mark_alpha: expected 0 <= tint <= 1 and 0 < mark_alpha <= 1, got {tint}/{mark_alpha}"
            )
        self.mark_alpha = float(mark_alpha)
        self.tint, self.thickness, self.label_scale = float(tint), float(thickness), label_scale
        self.fixed_boxes, self.fixed_masks, self.mean, self.std = boxes, masks, mean, std

    def regions(self, images: Tensor, boxes: Tensor | None, masks: Tensor | None) -> Tensor:
        """(B, K, H, W) region masks."""
        h, w = images.shape[-2:]
        if masks is not None:
            return (masks if masks.dim() == 4 else masks[:, None]).to(images)
        boxes = boxes if boxes.dim() == 3 else boxes[:, None]
        return torch.stack([torch.stack([box_mask(h, w, b.tolist(), images.device) for b in row]) for row in boxes])

    def forward(self, x: Any) -> Tensor:
        images, boxes, masks = _split(x, self.fixed_boxes, self.fixed_masks)
        regions = self.regions(images, boxes, masks)
        out = images.clone()
        h, w = images.shape[-2:]
        scale = self.label_scale or max(1, min(h, w) // 48)
        for k in range(regions.shape[1]):
            color = torch.tensor(self.PALETTE[k % len(self.PALETTE)], dtype=images.dtype, device=images.device).view(
                1, -1, 1, 1
            )
            r = regions[:, k : k + 1]
            eroded = -F.max_pool2d(-r, 3, 1, 1)  # 3x3 erosion: the border is r − eroded
            outline = r - eroded if self.thickness > 0 else torch.zeros_like(r)
            out = out + self.tint * r * (color - out)
            out = out + self.mark_alpha * outline * (color - out)
            glyph = digit_glyph(k + 1, scale).to(images)
            gh, gw = glyph.shape
            for b in range(images.shape[0]):
                ys, xs = torch.nonzero(r[b, 0] > 0.5, as_tuple=True)
                if ys.numel() == 0:
                    continue
                cy = int(ys.float().mean()) - gh // 2
                cx = int(xs.float().mean()) - gw // 2
                cy, cx = max(0, min(h - gh - 2, cy)), max(0, min(w - gw - 2, cx))
                patch = torch.zeros(1, 1, h, w, dtype=images.dtype, device=images.device)
                patch[..., cy : cy + gh + 2, cx : cx + gw + 2] = 1.0  # black label box with a 1-pixel margin
                text = torch.zeros_like(patch)
                text[..., cy + 1 : cy + 1 + gh, cx + 1 : cx + 1 + gw] = glyph
                out[b : b + 1] = out[b : b + 1] + self.mark_alpha * patch * (text - out[b : b + 1])
        return _normalise(out, self.mean, self.std)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Draws numbered marks on the image f reads at its own size: element-wise, no FLOPs."""
        return InferenceOverhead(description="marks drawn on the image")

    def symbolic(self) -> SymbolicForm:
        k, K = sp.Symbol("k"), sp.Symbol("K")
        M, c = sp.IndexedBase("M"), sp.IndexedBase("c")
        return SymbolicForm(
            expression=_normalize(x + sp.Sum(odot(M[k], c[k] - x), (k, 1, K))),
            description="numbered region marks (fixed overlays)",
        )


class MarkAlignment(OutputAlignment):
    """Rule-based: the model's answer names a mark; map it to the region.

    ``z`` as texts: the first integer n in each answer → one-hot over regions at ``mark_to_region[n − 1]``
    (all zeros when none); ``z`` as scores (B, K) over the mark prompts "mark 1..K": reordered so
    column r scores region r.
    """

    alignment = Alignment.RULE_BASED

    def __init__(self, num_regions: int, mark_to_region: Sequence[int] | None = None):
        super().__init__()
        order = list(range(num_regions)) if mark_to_region is None else list(mark_to_region)
        if sorted(order) != list(range(num_regions)):
            raise ValueError(f"mark_to_region: expected a permutation of 0..{num_regions - 1}, got {order}")
        self.register_buffer("mark_to_region", torch.tensor(order, dtype=torch.long))
        self.num_regions = num_regions

    def forward(self, z: Any) -> Tensor:
        if isinstance(z, Tensor):
            if z.dim() != 2 or z.shape[1] != self.num_regions:
                raise ShapeError(f"z: expected mark scores (B, {self.num_regions}), got {tuple(z.shape)}")
            out = torch.empty_like(z)
            out[:, self.mark_to_region] = z
            return out
        rows = []
        for text in [z] if isinstance(z, str) else z:
            row = torch.zeros(self.num_regions)
            found = re.search(r"\d+", text)
            if found and 1 <= int(found.group(0)) <= self.num_regions:
                row[self.mark_to_region[int(found.group(0)) - 1]] = 1.0
            rows.append(row)
        return torch.stack(rows)

    def inference_overhead(self, context: OverheadContext) -> InferenceOverhead:
        """Reads the scores of the marked regions: a gather, no FLOPs."""
        return InferenceOverhead(description="gather of mark scores")

    def symbolic(self) -> SymbolicForm:
        return SymbolicForm(expression=op("mark", r"\omega_{\mathrm{mark}}")(z), description="mark number → region")
