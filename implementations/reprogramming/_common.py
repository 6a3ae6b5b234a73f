"""Shared configuration fields and helpers of the reprogramming methods (not a method)."""

from __future__ import annotations

from typing import Any, Optional, TypeVar

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.implementations.models.tiny import seeded

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CLIP_MEAN",
    "CLIP_STD",
    "MethodConfig",
    "VisualConfig",
    "make_config",
    "as_frozen",
    "source_classes",
    "TinyAudioClassifier",
    "tiny_audio_classifier",
    "tiny_pixel_classifier",
    "tiny_image_task",
    "tiny_image_example",
    "tiny_text_classifier",
    "random_tokens",
    "seeded_example",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

C = TypeVar("C", bound=BaseModel)


class MethodConfig(BaseModel):
    """Base of every method config: unknown fields are rejected with their name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_classes: int = Field(10, ge=1, description="C_t, the number of target classes")


class VisualConfig(MethodConfig):
    """Image programs: the frozen model's canvas and normalisation, and the target image size."""

    canvas_size: int = Field(224, ge=1, description="H = W, the frozen model's input size")
    image_size: int = Field(224, ge=1, description="size the target image is resized to before the program")
    channels: int = Field(3, ge=1)
    mean: tuple[float, ...] = Field(IMAGENET_MEAN, description="the frozen model's per-channel normalisation mean")
    std: tuple[float, ...] = Field(IMAGENET_STD, description="the frozen model's per-channel normalisation std")


def make_config(cls: type[C], config: Any = None, overrides: Optional[dict] = None) -> C:
    """``cls`` from ``config`` (None, a dict or an instance) with ``overrides`` applied and validated."""
    overrides = dict(overrides or {})
    if config is None:
        return cls(**overrides)
    if isinstance(config, dict):
        return cls(**{**config, **overrides})
    if isinstance(config, cls):
        return cls(**{**config.model_dump(), **overrides})
    raise TypeError(f"config: expected None, a dict or {cls.__name__}, got {type(config).__name__}")


def as_frozen(model: nn.Module, **adapter_options: Any) -> FrozenModel:
    """``model`` wrapped as a :class:`FrozenModel` (returned as is when it already is one)."""
    if isinstance(model, FrozenModel):
        return model
    return FrozenModel(model, **adapter_options)


@torch.no_grad()
def source_classes(frozen: FrozenModel, example_input: Any) -> int:
    """C_s: the size of the frozen model's readout on ``example_input`` (one forward)."""
    output = frozen(example_input)
    if not isinstance(output, Tensor):
        raise TypeError(f"model: expected a tensor readout, got {type(output).__name__}")
    return int(output.shape[-1])


class TinyAudioClassifier(nn.Module):
    """A tiny 1-D conv "acoustic model": (B, 1, T) waveform → (B, K) logits (test and example stand-in;
    no pretrained audio model ships in any registry here)."""

    def __init__(self, num_classes: int = 30, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, width, 9, stride=4, padding=4),
            nn.ReLU(),
            nn.Conv1d(width, 2 * width, 9, stride=4, padding=4),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, num_classes)
        self.num_classes = num_classes

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"x: expected a waveform of shape (B, 1, T), got {tuple(x.shape)}")
        return self.head(self.features(x).mean(dim=-1))


def tiny_audio_classifier(num_classes: int = 30, width: int = 16, seed: int = 0) -> TinyAudioClassifier:
    """A random :class:`TinyAudioClassifier` (seeded, eval mode; the global RNG is left untouched)."""
    with seeded(seed):
        model = TinyAudioClassifier(num_classes, width)
    return model.eval()


def tiny_image_task(batch: int = 8, num_classes: int = 4, size: int = 16, channels: int = 3, seed: int = 0):
    """Random images (B, C, size, size) in [0, 1] and labels 0..C_t-1 (every class present when B ≥ C_t)."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.rand(batch, channels, size, size, generator=generator)
    targets = torch.arange(batch) % num_classes
    return inputs, targets


def tiny_pixel_classifier(num_classes: int = 20, size: int = 32, channels: int = 3, seed: int = 0) -> nn.Module:
    """A random linear classifier on raw pixels, (B, C, size, size) → (B, K): unlike a random CNN its argmax
    varies from input to input, so frequency-based label mappings have something to count."""
    with seeded(seed):
        model = nn.Sequential(nn.Flatten(), nn.Linear(channels * size * size, num_classes))
    return model.eval()


def tiny_image_example(build, *, num_source: int = 20, num_classes: int = 4, fit: bool = True, **overrides):
    """``(reprogrammer, inputs, targets)`` for a method on a tiny random pixel classifier (canvas 32, images 16×16)."""
    model = tiny_pixel_classifier(num_classes=num_source, size=overrides.get("canvas_size", 32))
    options = dict(num_classes=num_classes, canvas_size=32, image_size=16)
    options.update(overrides)
    reprogrammer = build(model, **options)
    inputs, targets = tiny_image_task(num_classes=num_classes)
    return fitted_example(reprogrammer, inputs, targets) if fit else (reprogrammer, inputs, targets)


def fitted_example(reprogrammer: Any, inputs: Any, targets: Tensor) -> tuple[Any, Any, Tensor]:
    """``(reprogrammer, inputs, targets)`` with the statistical alignment ω fitted on the example's f(I(x))."""
    if not getattr(reprogrammer.output, "is_fitted", False):
        with torch.no_grad():
            reprogrammer.output.fit(reprogrammer.source_outputs(inputs).float(), targets)
    return reprogrammer, inputs, targets


def tiny_text_classifier(num_labels: int = 6, vocab_size: int | None = None, hidden_size: int = 32, seed: int = 0):
    """A random ``BertForSequenceClassification`` over :func:`tiny_tokenizer`'s vocabulary (dropout 0, eval)."""
    from transformers import BertConfig, BertForSequenceClassification

    from reprogrammability.implementations.models.tiny import tiny_vocabulary

    config = BertConfig(
        vocab_size=vocab_size or len(tiny_vocabulary()),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=128,
        num_labels=num_labels,
        pad_token_id=0,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    with seeded(seed):
        model = BertForSequenceClassification(config)
    return model.eval()


def random_tokens(batch: int, length: int, vocab_size: int, low: int = 0, seed: int = 0) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(low, vocab_size, (batch, length), generator=generator)


def seeded_example(example):
    """Make an ``example()`` deterministic: it runs under ``torch.manual_seed(0)`` on a forked RNG."""
    import functools

    @functools.wraps(example)
    def wrapper():
        with seeded(0):
            return example()

    return wrapper
