"""Image transforms in plain torch (torchvision does not load against the CPU torch here).

Conventions: an image is a float tensor (C, H, W) or a batch (B, C, H, W) with values in [0, 1]
(after :func:`to_tensor`). Every function accepts both layouts and returns the same layout.
Sizes follow torchvision: ``size`` as an int means "shorter side" for :func:`resize` and "square"
for :func:`center_crop`; a pair is (height, width).

Why not kornia: ``benchmarks/transforms_kornia.py`` compares kornia 0.9's resize, centre crop and
normalise with these on the same batches (``benchmarks/results/transforms_kornia.json``). Kornia's
antialiased down-sampling (a Gaussian blur first) differs from torch's antialiased interpolation used
here by up to 0.5 on [0, 1] pixels and is ~15x slower on CPU; its centre crop warps the image (~600x
slower, 3e-5 off); normalise is the same. These functions are thin checks around ``F.interpolate``
and ``F.pad``, so the swap would remove few lines and change outputs; they stay.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "to_tensor",
    "to_rgb",
    "resize",
    "center_crop",
    "pad",
    "normalize",
    "denormalize",
    "Compose",
    "ToTensor",
    "ToRGB",
    "Resize",
    "CenterCrop",
    "Pad",
    "Normalize",
    "imagenet_eval_transform",
]

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "area", "nearest-exact")
_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _as_batch(x: Tensor, name: str = "x") -> tuple[Tensor, bool]:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor (C, H, W) or (B, C, H, W), got {type(x).__name__}")
    if x.dim() == 3:
        return x.unsqueeze(0), True
    if x.dim() == 4:
        return x, False
    raise ValueError(f"{name}: expected shape (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")


def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(size, int):
        pair = (size, size)
    elif isinstance(size, Sequence) and len(size) == 2 and all(isinstance(s, int) for s in size):
        pair = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"{name}: expected an int or a pair (height, width) of ints, got {size!r}")
    if min(pair) <= 0:
        raise ValueError(f"{name}: sizes must be positive, got {size!r}")
    return pair


def to_tensor(image: Any) -> Tensor:
    """PIL image, numpy array (H, W) / (H, W, C) or uint8 tensor → float tensor (C, H, W) in [0, 1].

    Integer inputs are divided by 255; float inputs are kept as they are (assumed in [0, 1]).
    A float tensor that is already (C, H, W) is returned as float32 unchanged.
    """
    if isinstance(image, Tensor):
        if image.dtype == torch.uint8:
            out = image.float() / 255.0
        else:
            out = image.float()
        if out.dim() == 2:
            out = out.unsqueeze(0)
        if out.dim() != 3:
            raise ValueError(f"image: expected a tensor of shape (H, W) or (C, H, W), got {tuple(image.shape)}")
        return out
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow ships with matplotlib
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB", "RGBA", "I;16", "F"):
            image = image.convert("RGB")
        image = np.asarray(image)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image: expected a PIL image, numpy array or tensor, got {type(image).__name__}")
    array = image
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"image: expected an array of shape (H, W) or (H, W, C), got {image.shape}")
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    tensor = torch.from_numpy(chw if chw.flags.writeable else chw.copy())
    if array.dtype == np.uint8:
        return tensor.float() / 255.0
    if array.dtype == np.uint16:
        return tensor.float() / 65535.0
    if np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"image: integer arrays must be uint8 or uint16, got {array.dtype}")
    return tensor.float()


def to_rgb(x: Tensor) -> Tensor:
    """Repeat a single grey channel three times: (1, H, W) → (3, H, W); RGB passes; RGBA drops alpha."""
    batch, single = _as_batch(x)
    channels = batch.shape[1]
    if channels == 1:
        batch = batch.expand(-1, 3, -1, -1).contiguous()
    elif channels == 4:
        batch = batch[:, :3]
    elif channels != 3:
        raise ValueError(f"x: expected 1, 3 or 4 channels, got {channels}")
    return batch[0] if single else batch


def resize(x: Tensor, size: int | Sequence[int], interpolation: str = "bilinear", antialias: bool = True) -> Tensor:
    """Resize to ``size``: an int sets the shorter side (aspect ratio kept), a pair is (H, W).

    Uses ``F.interpolate(..., align_corners=False, antialias=...)``; antialiasing only applies to
    bilinear/bicubic down-sampling. Bicubic output is clamped to the input's range.
    """
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation: expected one of {_INTERPOLATIONS}, got {interpolation!r}")
    batch, single = _as_batch(x)
    height, width = batch.shape[-2:]
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"size: must be positive, got {size}")
        if height <= width:
            target = (size, max(1, int(size * width / height)))
        else:
            target = (max(1, int(size * height / width)), size)
    else:
        target = _pair(size, "size")
    if target == (height, width):
        return x
    dtype = batch.dtype
    work = batch if dtype.is_floating_point else batch.float()
    kwargs: dict[str, Any] = {"size": target, "mode": interpolation}
    if interpolation in ("bilinear", "bicubic"):
        kwargs["align_corners"] = False
        kwargs["antialias"] = antialias
    out = F.interpolate(work, **kwargs)
    if interpolation == "bicubic":
        out = out.clamp(work.amin(), work.amax())
    if not dtype.is_floating_point:
        out = out.round().clamp(torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)
    return out[0] if single else out


def pad(x: Tensor, padding: int | Sequence[int], value: float = 0.0, mode: str = "constant") -> Tensor:
    """Pad the spatial borders. ``padding``: p (all sides), (left/right, top/bottom) or (left, top, right, bottom).

    The output is (C, H + top + bottom, W + left + right) with the input at rows ``top:top+H`` and
    columns ``left:left+W``.
    """
    if mode not in _PAD_MODES:
        raise ValueError(f"mode: expected one of {_PAD_MODES}, got {mode!r}")
    if isinstance(padding, int):
        left = top = right = bottom = padding
    elif isinstance(padding, Sequence) and len(padding) == 2:
        left, top = padding
        right, bottom = padding
    elif isinstance(padding, Sequence) and len(padding) == 4:
        left, top, right, bottom = padding
    else:
        raise ValueError(f"padding: expected an int, (lr, tb) or (left, top, right, bottom), got {padding!r}")
    if min(left, top, right, bottom) < 0:
        raise ValueError(f"padding: values must be non-negative, got {padding!r}")
    batch, single = _as_batch(x)
    if mode == "constant":
        out = F.pad(batch, (left, right, top, bottom), mode="constant", value=value)
    else:
        out = F.pad(batch, (left, right, top, bottom), mode=mode)
    return out[0] if single else out


def center_crop(x: Tensor, size: int | Sequence[int]) -> Tensor:
    """Crop the central (H', W') window; pads with zeros first when the image is smaller.

    Top-left corner: ``round((H − H') / 2)``, ``round((W − W') / 2)`` (torchvision's convention).
    """
    crop_h, crop_w = _pair(size, "size")
    batch, single = _as_batch(x)
    height, width = batch.shape[-2:]
    if crop_h > height or crop_w > width:
        pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
        batch = pad(batch, (pad_w // 2, pad_h // 2, (pad_w + 1) // 2, (pad_h + 1) // 2))
        height, width = batch.shape[-2:]
    top = int(round((height - crop_h) / 2.0))
    left = int(round((width - crop_w) / 2.0))
    out = batch[..., top : top + crop_h, left : left + crop_w]
    return out[0] if single else out


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(x − mean) / std per channel; ``mean`` and ``std`` have one value per channel."""
    batch, single = _as_batch(x)
    channels = batch.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean/std: expected {channels} values each, got {len(mean)} and {len(std)}")
    if any(s == 0 for s in std):
        raise ValueError(f"std: values must be non-zero, got {tuple(std)}")
    m = torch.as_tensor(mean, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    out = (batch - m) / s
    return out[0] if single else out


def denormalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Inverse of :func:`normalize`: x·std + mean."""
    batch, single = _as_batch(x)
    m = torch.as_tensor(mean, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    out = batch * s + m
    return out[0] if single else out


class Compose:
    """Apply transforms in order: ``Compose([ToTensor(), Resize(256), CenterCrop(224)])(image)``."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]):
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for transform in self.transforms:
            x = transform(x)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class ToTensor:
    """Callable form of :func:`to_tensor`."""

    def __call__(self, image: Any) -> Tensor:
        return to_tensor(image)

    def __repr__(self) -> str:
        return "ToTensor()"


class ToRGB:
    """Callable form of :func:`to_rgb`."""

    def __call__(self, x: Tensor) -> Tensor:
        return to_rgb(x)

    def __repr__(self) -> str:
        return "ToRGB()"


class Resize:
    """Callable form of :func:`resize`."""

    def __init__(self, size: int | Sequence[int], interpolation: str = "bilinear", antialias: bool = True):
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f"interpolation: expected one of {_INTERPOLATIONS}, got {interpolation!r}")
        self.size, self.interpolation, self.antialias = size, interpolation, antialias

    def __call__(self, x: Tensor) -> Tensor:
        return resize(x, self.size, self.interpolation, self.antialias)

    def __repr__(self) -> str:
        return f"Resize({self.size!r}, interpolation={self.interpolation!r})"


class CenterCrop:
    """Callable form of :func:`center_crop`."""

    def __init__(self, size: int | Sequence[int]):
        _pair(size, "size")
        self.size = size

    def __call__(self, x: Tensor) -> Tensor:
        return center_crop(x, self.size)

    def __repr__(self) -> str:
        return f"CenterCrop({self.size!r})"


class Pad:
    """Callable form of :func:`pad`."""

    def __init__(self, padding: int | Sequence[int], value: float = 0.0, mode: str = "constant"):
        if mode not in _PAD_MODES:
            raise ValueError(f"mode: expected one of {_PAD_MODES}, got {mode!r}")
        self.padding, self.value, self.mode = padding, value, mode

    def __call__(self, x: Tensor) -> Tensor:
        return pad(x, self.padding, self.value, self.mode)

    def __repr__(self) -> str:
        return f"Pad({self.padding!r}, value={self.value}, mode={self.mode!r})"


class Normalize:
    """Callable form of :func:`normalize`."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, x: Tensor) -> Tensor:
        return normalize(x, self.mean, self.std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def imagenet_eval_transform(
    size: int = 224,
    crop_fraction: float | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    interpolation: str = "bilinear",
    normalise: bool = True,
) -> Compose:
    """ImageNet evaluation preprocessing: to tensor → RGB → resize (→ centre crop) → normalise.

    ``crop_fraction=None`` (default) resizes the whole image to ``size`` x ``size`` (antialiased
    bilinear); ``crop_fraction=0.875`` is the classic protocol (shorter side to ``size / 0.875``,
    then a central ``size`` crop). Normalisation defaults to EfficientNet-Lite's mean 127/255 and
    std 128/255; ``normalise=False`` stops at [0, 1] pixels (for input-space reprogramming).
    """
    from ..models.efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD

    steps: list[Callable[[Any], Any]] = [ToTensor(), ToRGB()]
    if crop_fraction is None:
        steps.append(Resize((size, size), interpolation))
    else:
        if not 0.0 < crop_fraction <= 1.0:
            raise ValueError(f"crop_fraction: expected a value in (0, 1], got {crop_fraction}")
        steps += [Resize(int(round(size / crop_fraction)), interpolation), CenterCrop(size)]
    if normalise:
        steps.append(Normalize(mean if mean is not None else IMAGENET_MEAN, std if std is not None else IMAGENET_STD))
    return Compose(steps)
