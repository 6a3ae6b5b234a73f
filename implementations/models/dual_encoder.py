"""A frozen CLIP-like dual encoder built from pretrained parts that ship offline.

* image tower ``g``: EfficientNet-Lite0 (ImageNet), pooled features (B, 1280) of a normalised
  image (B, 3, H, W) (:data:`IMAGENET_MEAN` / :data:`IMAGENET_STD`, as for the classifier);
* text tower ``h``: all-MiniLM-L6-v2, masked mean of the last hidden states, L2-normalised (B, 384),
  followed by a linear map ``A: R^384 → R^1280`` into the image feature space;
* logits ``s · cos(g(x), A h(t_c))`` with a fixed logit scale ``s`` (CLIP's 100).

The map ``A`` is fitted DeViSE-style (Frome et al., "DeViSE: A Deep Visual-Semantic Embedding
Model", NeurIPS 2013) without images and without training either tower: ridge regression from the
text embeddings of ImageNet's 1000 class names (each in every template of
:data:`ALIGNMENT_TEMPLATES`) to the rows ``W_c`` (1280,) of the image network's classifier head,
``A = argmin Σ_{c,k} ||A h(T_k(c)) + a − W_c||² + ρ ||A||²``, solved in float64 in closed form.
The result ships as ``dual_encoder_alignment.safetensors`` (384×1280 float32 + bias, ≈2 MB);
``python -m reprogrammability.implementations.models.dual_encoder --out PATH`` regenerates it
(deterministic: closed form, single thread; the seed is recorded for provenance and fixes torch's
generator, which nothing random uses).

Measured (``--evaluate 1000``: 1,000 Fashion-MNIST test images at 112 px, chance 10 %): one template
"a photo of a {}." 20.1 %; the mean embedding of the 8 :data:`ZERO_SHOT_TEMPLATES` 20.0 %; the
templates alone 17.4-22.0 %. Centring the image features on the mean of the (unlabelled) test
features raised this to 24.3 % / 24.5 % (not used: it reads the target data). On the full 10,000-image
test set: 20.19 % one template, 20.04 % ensemble; ``benchmarks/dual_encoder_alignment.py`` compares 13 other
fits (ridge, templates, intercept, target normalisation, ConSE) and keeps this one by held-out ImageNet
retrieval (results in ``benchmarks/results/dual_encoder_alignment.json``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .efficientnet_lite import IMAGENET_MEAN, IMAGENET_STD, efficientnet_lite0, imagenet_class_names
from .pretrained import load_minilm

__all__ = [
    "ALIGNMENT_PATH",
    "ALIGNMENT_TEMPLATES",
    "DualEncoder",
    "fit_alignment",
    "save_alignment",
    "load_alignment",
    "load_dual_encoder",
    "evaluate_fashion_mnist",
    "ZERO_SHOT_TEMPLATES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

ALIGNMENT_PATH = Path(__file__).with_name("dual_encoder_alignment.safetensors")
ALIGNMENT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a black and white photo of a {}.",
    "a low resolution photo of a {}.",
    "a close-up photo of a {}.",
)
"""Templates the 1000 ImageNet names are written in when fitting the map (CLIP's prompt-engineering style)."""
ALIGNMENT_TEMPLATES_ALL: tuple[str, ...] = ALIGNMENT_TEMPLATES + (
    "a photo of the {}.",
    "a bright photo of a {}.",
    "a cropped photo of a {}.",
    "a photo of a large {}.",
    "a photo of a small {}.",
    "a drawing of a {}.",
    "a blurry photo of a {}.",
    "a good photo of a {}.",
    "an image of a {}.",
    "a {}.",
    "a picture of a {}.",
    "a grayscale photo of a {}.",
)
"""The templates the alignment benchmark tries (its first four are :data:`ALIGNMENT_TEMPLATES` of the first map)."""

DEFAULT_RIDGE = 1.0
LOGIT_SCALE = math.log(100.0)


class DualEncoder(nn.Module):
    """Frozen EfficientNet-Lite0 image tower + all-MiniLM-L6-v2 text tower + fitted text→image map.

    Args:
        image_encoder: an :class:`EfficientNetLite` (``features(x)`` → (B, 1280)).
        text_encoder: a transformers ``BertModel`` (all-MiniLM-L6-v2).
        text_projection_weight: (1280, 384) map ``A``; text_projection_bias: (1280,) offset ``a``.
        logit_scale: log of the similarity scale ``s`` (a tensor, like CLIP's ``logit_scale``).
    """

    def __init__(
        self,
        image_encoder: nn.Module,
        text_encoder: nn.Module,
        text_projection_weight: Tensor,
        text_projection_bias: Tensor,
        logit_scale: float | Tensor = LOGIT_SCALE,
    ):
        super().__init__()
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        out_dim, in_dim = text_projection_weight.shape
        self.text_projection = nn.Linear(in_dim, out_dim)
        with torch.no_grad():
            self.text_projection.weight.copy_(text_projection_weight)
            self.text_projection.bias.copy_(text_projection_bias)
        self.logit_scale = nn.Parameter(torch.as_tensor(logit_scale, dtype=torch.float32).clone())

    @property
    def image_dim(self) -> int:
        """dim g(x), the width of the image features (1280)."""
        return int(self.text_projection.out_features)

    def get_input_embeddings(self) -> nn.Module:
        """The text tower's token embeddings (V, 384): where CoOp's context vectors live."""
        return self.text_encoder.get_input_embeddings()

    def image_features(self, images: Tensor) -> Tensor:
        """g(x): normalised images (B, 3, H, W) → (B, 1280)."""
        return self.image_encoder.features(images)

    def text_features_from_embeddings(self, embeds: Tensor, attention_mask: Tensor) -> Tensor:
        """A·h(t): token embeddings (B, T, 384) and mask (B, T) → (B, 1280).

        h = L2-normalised masked mean of MiniLM's last hidden states (positions are added inside).
        """
        hidden = self.text_encoder(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        sentence = F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9), dim=-1)
        return self.text_projection(sentence)

    def text_features(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """A·h(t) from token ids (B, T) → (B, 1280)."""
        return self.text_features_from_embeddings(self.get_input_embeddings()(input_ids), attention_mask)

    def forward(self, images: Tensor, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """(B, 3, H, W) images × (C, T) class prompts → (B, C) logits ``s · cos(g(x), A h(t_c))``."""
        image = F.normalize(self.image_features(images), dim=-1)
        text = F.normalize(self.text_features(input_ids, attention_mask), dim=-1)
        return self.logit_scale.exp() * image @ text.t()


def _sentence_embeddings(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 256) -> Tensor:
    from .pretrained import minilm_embed

    return torch.cat(
        [minilm_embed(model, tokenizer, list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
    )


def fit_alignment(
    templates: Sequence[str] = ALIGNMENT_TEMPLATES,
    ridge: float = DEFAULT_RIDGE,
    seed: int = 0,
    *,
    text_model: Any = None,
    tokenizer: Any = None,
    image_model: nn.Module | None = None,
) -> dict[str, Tensor]:
    """Fit ``A, a`` (ridge, closed form in float64) from K·1000 (template, ImageNet name) texts to the head rows.

    Returns ``{"weight": (1280, 384), "bias": (1280,), "logit_scale": ()}`` in float32.
    """
    if ridge < 0:
        raise ValueError(f"ridge: expected ρ ≥ 0, got {ridge}")
    if not templates or any("{}" not in t for t in templates):
        raise ValueError(f"templates: expected templates with a '{{}}' placeholder, got {list(templates)!r}")
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same float sums on every machine size
    try:
        if text_model is None:
            text_model, tokenizer = load_minilm()
        head = (image_model or efficientnet_lite0(pretrained=True))._fc.weight.detach().double()  # (1000, 1280)
        names = imagenet_class_names()
        texts = [t.format(name) for t in templates for name in names]
        X = _sentence_embeddings(text_model, tokenizer, texts).double()  # (K·1000, 384)
        Y = head.repeat(len(templates), 1)  # (K·1000, 1280)
        X1 = torch.cat([X, torch.ones(len(X), 1, dtype=X.dtype)], dim=1)
        gram = X1.T @ X1 + ridge * torch.diag(torch.cat([torch.ones(X.shape[1]), torch.zeros(1)]).double())
        solution = torch.linalg.solve(gram, X1.T @ Y)  # (385, 1280)
    finally:
        torch.set_num_threads(threads)
    return {
        "weight": solution[:-1].T.contiguous().float(),
        "bias": solution[-1].contiguous().float(),
        "logit_scale": torch.tensor(LOGIT_SCALE, dtype=torch.float32),
    }


def save_alignment(tensors: dict[str, Tensor], path: str | Path = ALIGNMENT_PATH, **metadata: Any) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    save_file(
        {k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={k: str(v) for k, v in metadata.items()}
    )
    return path


def load_alignment(path: str | Path = ALIGNMENT_PATH) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"path: no alignment file at {path}; regenerate it with "
            "python -m reprogrammability.implementations.models.dual_encoder --out PATH"
        )
    tensors = load_file(str(path))
    missing = {"weight", "bias", "logit_scale"} - set(tensors)
    if missing:
        raise KeyError(f"path: {path} lacks the tensors {sorted(missing)}")
    return tensors


def load_dual_encoder(alignment: str | Path | dict[str, Tensor] = ALIGNMENT_PATH) -> tuple[DualEncoder, Any]:
    """The shipped dual encoder (eval mode) and its text tokenizer."""
    tensors = alignment if isinstance(alignment, dict) else load_alignment(alignment)
    text_model, tokenizer = load_minilm()
    model = DualEncoder(
        efficientnet_lite0(pretrained=True).eval(),
        text_model.eval(),
        tensors["weight"],
        tensors["bias"],
        tensors["logit_scale"],
    )
    return model.eval(), tokenizer


ZERO_SHOT_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a black and white photo of a {}.",
    "a low resolution photo of a {}.",
    "a close-up photo of a {}.",
    "a photo of the {}, a type of clothing.",
    "a product photo of a {}.",
    "a grayscale photo of a {}.",
    "a photo of a small {}.",
)
"""Templates of the Fashion-MNIST zero-shot measurement (the first is the single-template baseline)."""


@torch.no_grad()
def evaluate_fashion_mnist(samples: int = 1000, size: int = 112, seed: int = 0) -> dict[str, float]:
    """Zero-shot accuracy on ``samples`` Fashion-MNIST test images: each template alone and their mean embedding."""
    from ..data.images import load_fashion_mnist

    model, tokenizer = load_dual_encoder()
    data = load_fashion_mnist(split="test", size=size, channels=3, max_samples=samples, seed=seed)
    images = (data.inputs - IMAGENET_MEAN[0]) / IMAGENET_STD[0]
    image = F.normalize(
        torch.cat([model.image_features(images[i : i + 250]) for i in range(0, len(images), 250)]), dim=-1
    )
    names = [c.lower().replace("/", " or ") for c in data.classes]
    per_template = []
    for template in ZERO_SHOT_TEMPLATES:
        batch = tokenizer([template.format(n) for n in names], padding=True, return_tensors="pt")
        per_template.append(F.normalize(model.text_features(batch["input_ids"], batch["attention_mask"]), dim=-1))
    accuracy = {
        t: ((image @ w.T).argmax(1) == data.labels).float().mean().item()
        for t, w in zip(ZERO_SHOT_TEMPLATES, per_template)
    }
    ensemble = F.normalize(torch.stack(per_template).mean(0), dim=-1)
    accuracy["ensemble"] = ((image @ ensemble.T).argmax(1) == data.labels).float().mean().item()
    return accuracy


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate the dual encoder's DeViSE-style text→image map.")
    parser.add_argument("--out", default=str(ALIGNMENT_PATH), help="where to write the safetensors file")
    parser.add_argument("--ridge", type=float, default=DEFAULT_RIDGE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--evaluate",
        type=int,
        metavar="N",
        default=0,
        help="instead: zero-shot accuracy of the shipped map on N Fashion-MNIST test images",
    )
    args = parser.parse_args(argv)
    if args.evaluate:
        for template, accuracy in evaluate_fashion_mnist(args.evaluate, seed=args.seed).items():
            print(f"{accuracy:.3f}  {template}")
        return
    tensors = fit_alignment(ridge=args.ridge, seed=args.seed)
    path = save_alignment(
        tensors,
        args.out,
        ridge=args.ridge,
        seed=args.seed,
        templates="|".join(ALIGNMENT_TEMPLATES),
        torch=torch.__version__,
    )
    print(f"wrote {path} ({', '.join(f'{k} {tuple(v.shape)}' for k, v in tensors.items())})")


if __name__ == "__main__":
    main()
