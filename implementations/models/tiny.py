"""Tiny random models and a word-level tokenizer for tests, examples and the validator.

Every factory is deterministic under ``seed`` (it draws from a forked RNG, so the caller's global
torch RNG is left untouched), builds in well under a second, needs no hub, and returns the model
in eval mode. The transformers models use local configurations only.

=====================  =============================================  ==========================
factory                model                                          input → output
=====================  =============================================  ==========================
``tiny_cnn``           :class:`TinyCNN` (2 conv blocks + linear)      (B, 3, 32, 32) → (B, 10)
``tiny_causal_lm``     ``LlamaForCausalLM`` / ``GPT2LMHeadModel``     ids (B, T) → logits (B, T, V)
``tiny_masked_lm``     ``BertForMaskedLM``                            ids (B, T) → logits (B, T, V)
``tiny_vit``           ``ViTForImageClassification``                  (B, 3, 32, 32) → (B, 10)
``tiny_clip``          ``CLIPModel``                                  images + ids → similarities
``tiny_tokenizer``     ``PreTrainedTokenizerFast`` (WordLevel)        str → ids
=====================  =============================================  ==========================
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "SPECIAL_TOKENS",
    "TinyCNN",
    "tiny_cnn",
    "tiny_vocabulary",
    "tiny_tokenizer",
    "tiny_causal_lm",
    "tiny_masked_lm",
    "tiny_vit",
    "tiny_clip",
    "seeded",
]

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]")
"""Special tokens of :func:`tiny_tokenizer`, with ids 0..6 in this order."""

_TOKENIZER_STYLES = ("bert", "causal", "clip", "none")
_CAUSAL_KINDS = ("llama", "gpt2")

_EXTRA_WORDS = (
    "positive negative neutral good bad great terrible yes no true false sports science business world "
    "politics review sentiment topic label answer question text sentence it was is the a an this that of "
    "and or not very movie film food service product game team match player score market company stock "
    "price research study experiment planet government election minister country city one two three four "
    "five six seven eight nine ten zero cat dog bird fish car tree house red green blue black white"
).split()


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with ``torch.manual_seed(seed)`` on a forked CPU RNG (the global state is restored)."""
    if not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class TinyCNN(nn.Module):
    """conv3x3(C→w)-BN-ReLU-pool → conv3x3(w→2w)-BN-ReLU-pool → global average → linear(2w → K).

    ``forward``: (B, C, H, W) → (B, K) logits for any H, W ≥ 4. Submodules ``layer1``, ``layer2``
    and ``head`` name the hidden interface for :class:`~reprogrammability.framework.ModuleAdapter`.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: int = 16):
        super().__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.layer2 = nn.Sequential(
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(2 * width, num_classes)
        self.num_classes = num_classes

    def features(self, x: Tensor) -> Tensor:
        """(B, C, H, W) → (B, 2w) pooled features."""
        return self.layer2(self.layer1(x)).mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"x: expected shape (B, C, H, W), got {tuple(x.shape)}")
        return self.head(self.features(x))


def tiny_cnn(
    in_channels: int = 3, num_classes: int = 10, width: int = 16, seed: int = 0, pretrained: bool | None = None
) -> TinyCNN:
    """A random :class:`TinyCNN` (about 6 k parameters at the defaults), eval mode, BN statistics randomised.

    The batch-norm running statistics are drawn at random (not 0/1) so the network is not the
    identity around its convolutions: outputs differ between inputs as in a trained model.
    """
    _no_weights("tiny_cnn", pretrained)
    for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    with seeded(seed):
        model = TinyCNN(in_channels, num_classes, width)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0.0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _no_weights(name: str, pretrained: bool | None) -> None:
    if pretrained:
        raise ValueError(f"pretrained: {name} is a tiny random model with no pretrained weights; pass pretrained=False")


# --------------------------------------------------------------------------------------------
# tokenizer


@functools.lru_cache(maxsize=1)
def _dataset_words() -> tuple[str, ...]:
    folder = Path(__file__).resolve().parent.parent / "data" / "text"
    words: set[str] = set()
    for path in sorted(folder.glob("*.json")):
        payload = json.loads(path.read_text(encoding="utf-8"))
        for split in ("train", "test"):
            for text, _label in payload.get(split, []):
                words.update(re.findall(r"\w+|[^\w\s]+", text.lower()))
        words.update(c.lower() for c in payload.get("classes", []))
    return tuple(sorted(words))


def tiny_vocabulary() -> list[str]:
    """The fixed vocabulary: :data:`SPECIAL_TOKENS`, then every lower-cased word and punctuation mark of
    the shipped text tasks (``implementations/data/text``) and a few common words, sorted."""
    words = set(_dataset_words()) | set(_EXTRA_WORDS) | set(".,!?;:'\"()-")
    return list(SPECIAL_TOKENS) + sorted(words - set(SPECIAL_TOKENS))


def tiny_tokenizer(
    vocab: Sequence[str] | None = None, style: str = "bert", model_max_length: int = 128, padding_side: str = "right"
):
    """A word-level ``PreTrainedTokenizerFast`` over a fixed vocabulary (no hub).

    Text is lower-cased and split into words and punctuation (``\\w+|[^\\w\\s]+``); unknown words map
    to ``[UNK]``. ``style`` sets the special-token template: ``"bert"`` → ``[CLS] x [SEP]``
    (pairs ``[CLS] a [SEP] b [SEP]``), ``"clip"`` → ``[BOS] x [EOS]``, ``"causal"`` and ``"none"`` →
    no template. ``vocab`` defaults to :func:`tiny_vocabulary`; a custom one must start with the
    seven :data:`SPECIAL_TOKENS`.
    """
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    if style not in _TOKENIZER_STYLES:
        raise ValueError(f"style: expected one of {_TOKENIZER_STYLES}, got {style!r}")
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side: expected 'left' or 'right', got {padding_side!r}")
    tokens = list(vocab) if vocab is not None else tiny_vocabulary()
    if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
        raise ValueError(f"vocab: must start with the special tokens {SPECIAL_TOKENS}")
    if len(set(tokens)) != len(tokens):
        raise ValueError("vocab: tokens must be unique")
    ids = {token: index for index, token in enumerate(tokens)}
    backend = Tokenizer(WordLevel(ids, unk_token="[UNK]"))
    backend.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    if style == "bert":
        backend.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
        )
    elif style == "clip":
        backend.post_processor = processors.TemplateProcessing(
            single="[BOS] $A [EOS]",
            pair="[BOS] $A [EOS] $B:1 [EOS]:1",
            special_tokens=[("[BOS]", ids["[BOS]"]), ("[EOS]", ids["[EOS]"])],
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        bos_token="[BOS]",
        eos_token="[EOS]",
        model_max_length=model_max_length,
        padding_side=padding_side,
    )
    return tokenizer


def _special_ids() -> dict[str, int]:
    return {token: index for index, token in enumerate(SPECIAL_TOKENS)}


def _vocab_size(vocab_size: int | None) -> int:
    if vocab_size is None:
        return len(tiny_vocabulary())
    if not isinstance(vocab_size, int) or vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size: expected an int > {len(SPECIAL_TOKENS)}, got {vocab_size!r}")
    return vocab_size


def _check_heads(hidden_size: int, num_heads: int) -> None:
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size: {hidden_size} must be divisible by num_heads={num_heads}")


# --------------------------------------------------------------------------------------------
# transformers models


def tiny_causal_lm(
    kind: str = "llama",
    vocab_size: int | None = None,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    max_positions: int = 128,
    seed: int = 0,
    pretrained: bool | None = None,
    **config_overrides: Any,
):
    """A random decoder-only LM: ``kind="llama"`` (RoPE, RMSNorm, SwiGLU, grouped-query attention
    with ``num_kv_heads``) or ``"gpt2"`` (learned positions, LayerNorm, GELU, multi-head attention).

    ``vocab_size`` defaults to the size of :func:`tiny_tokenizer`'s vocabulary; special token ids
    follow that tokenizer (pad 0, bos 5, eos 6). Forward: ``input_ids`` (B, T) → ``logits`` (B, T, V).
    """
    _no_weights("tiny_causal_lm", pretrained)
    if kind not in _CAUSAL_KINDS:
        raise ValueError(f"kind: expected one of {_CAUSAL_KINDS}, got {kind!r}")
    _check_heads(hidden_size, num_heads)
    size = _vocab_size(vocab_size)
    special = _special_ids()
    if kind == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        if num_heads % num_kv_heads:
            raise ValueError(f"num_kv_heads: {num_kv_heads} must divide num_heads={num_heads}")
        options: dict[str, Any] = dict(
            vocab_size=size,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            num_key_value_heads=num_kv_heads,
            max_position_embeddings=max_positions,
            pad_token_id=special["[PAD]"],
            bos_token_id=special["[BOS]"],
            eos_token_id=special["[EOS]"],
            tie_word_embeddings=False,
        )
        options.update(config_overrides)
        config, cls = LlamaConfig(**options), LlamaForCausalLM
    else:
        from transformers import GPT2Config, GPT2LMHeadModel

        options = dict(
            vocab_size=size,
            n_embd=hidden_size,
            n_layer=num_layers,
            n_head=num_heads,
            n_positions=max_positions,
            n_inner=2 * hidden_size,
            pad_token_id=special["[PAD]"],
            bos_token_id=special["[BOS]"],
            eos_token_id=special["[EOS]"],
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
        options.update(config_overrides)
        config, cls = GPT2Config(**options), GPT2LMHeadModel
    with seeded(seed):
        model = cls(config)
    return model.eval()


def tiny_masked_lm(
    vocab_size: int | None = None,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 128,
    seed: int = 0,
    pretrained: bool | None = None,
    **config_overrides: Any,
):
    """A random ``BertForMaskedLM`` matching :func:`tiny_tokenizer` (``style="bert"``; pad 0, [MASK] 4).

    Forward: ``input_ids`` (B, T) → ``logits`` (B, T, V); dropout is 0.
    """
    from transformers import BertConfig, BertForMaskedLM

    _no_weights("tiny_masked_lm", pretrained)
    _check_heads(hidden_size, num_heads)
    options: dict[str, Any] = dict(
        vocab_size=_vocab_size(vocab_size),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=max_positions,
        type_vocab_size=2,
        pad_token_id=_special_ids()["[PAD]"],
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    options.update(config_overrides)
    with seeded(seed):
        model = BertForMaskedLM(BertConfig(**options))
    return model.eval()


def tiny_vit(
    image_size: int = 32,
    patch_size: int = 8,
    num_channels: int = 3,
    num_labels: int = 10,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 4,
    seed: int = 0,
    pretrained: bool | None = None,
    **config_overrides: Any,
):
    """A random ``ViTForImageClassification``: ``pixel_values`` (B, C, S, S) → ``logits`` (B, num_labels).

    (S / P)² patches plus a class token; dropout is 0.
    """
    from transformers import ViTConfig, ViTForImageClassification

    _no_weights("tiny_vit", pretrained)
    _check_heads(hidden_size, num_heads)
    if image_size % patch_size:
        raise ValueError(f"image_size: {image_size} must be divisible by patch_size={patch_size}")
    options: dict[str, Any] = dict(
        image_size=image_size,
        patch_size=patch_size,
        num_channels=num_channels,
        num_labels=num_labels,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    options.update(config_overrides)
    with seeded(seed):
        model = ViTForImageClassification(ViTConfig(**options))
    return model.eval()


def tiny_clip(
    vocab_size: int | None = None,
    image_size: int = 32,
    patch_size: int = 8,
    hidden_size: int = 32,
    projection_dim: int = 16,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 32,
    seed: int = 0,
    pretrained: bool | None = None,
):
    """A random ``CLIPModel`` (both towers tiny) matching :func:`tiny_tokenizer` with ``style="clip"``.

    The text tower's ``eos_token_id`` is ``[EOS]`` (6), so its pooled output is the state at the
    first ``[EOS]``. ``model(input_ids=..., pixel_values=...)`` gives ``logits_per_image`` (B_img, B_txt).
    """
    from transformers import CLIPConfig, CLIPModel

    _no_weights("tiny_clip", pretrained)
    _check_heads(hidden_size, num_heads)
    special = _special_ids()
    text_config = dict(
        vocab_size=_vocab_size(vocab_size),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        max_position_embeddings=max_positions,
        pad_token_id=special["[PAD]"],
        bos_token_id=special["[BOS]"],
        eos_token_id=special["[EOS]"],
        projection_dim=projection_dim,
    )
    vision_config = dict(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        projection_dim=projection_dim,
    )
    config = CLIPConfig(text_config=text_config, vision_config=vision_config, projection_dim=projection_dim)
    with seeded(seed):
        model = CLIPModel(config)
    return model.eval()
