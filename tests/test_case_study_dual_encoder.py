"""The frozen dual encoder (EfficientNet-Lite0 + all-MiniLM-L6-v2 + shipped DeViSE-style map) and its adapter."""

from __future__ import annotations

import pytest
import torch

from reprogrammability.framework import FrozenModel
from reprogrammability.framework.adapters.dual_encoder import DualEncoderAdapter
from reprogrammability.framework.adapters.transformers import CLIPAdapter
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.implementations.data.images import load_fashion_mnist
from reprogrammability.implementations.models.dual_encoder import (
    ALIGNMENT_PATH,
    IMAGENET_MEAN,
    IMAGENET_STD,
    fit_alignment,
    load_alignment,
    load_dual_encoder,
)

IMAGE_SIZE = 112


@pytest.fixture(scope="module")
def dual():
    return load_dual_encoder()


@pytest.fixture(scope="module")
def fashion():
    """200 Fashion-MNIST test images (fixed subset), normalised for the image tower, and their class names."""
    data = load_fashion_mnist(split="test", size=IMAGE_SIZE, channels=3, max_samples=200, seed=0)
    images = (data.inputs - IMAGENET_MEAN[0]) / IMAGENET_STD[0]
    names = [c.lower().replace("/", " or ") for c in data.classes]
    return images, data.labels, names


def test_shipped_alignment_is_small_float32_of_the_right_shape():
    tensors = load_alignment()
    assert tensors["weight"].shape == (1280, 384) and tensors["weight"].dtype == torch.float32
    assert tensors["bias"].shape == (1280,)
    assert torch.isfinite(tensors["weight"]).all()
    assert ALIGNMENT_PATH.stat().st_size < 3_000_000


@pytest.mark.slow
def test_alignment_regenerates_bit_identically():
    shipped = load_alignment()
    again = fit_alignment(seed=0)
    for name in ("weight", "bias", "logit_scale"):
        assert torch.equal(again[name], shipped[name]), name


def test_zero_shot_is_well_above_chance_and_f_stays_frozen(dual, fashion):
    """One template: 20.1 % on 1,000 test images (2.0× chance; 19.5 % on these 200). Chance is 10 %:
    34 of 200 correct by chance has probability < 0.2 %."""
    model, tokenizer = dual
    images, labels, names = fashion
    frozen = FrozenModel(model, class_prompts=[f"a photo of a {n}." for n in names], tokenizer=tokenizer)
    assert isinstance(frozen.adapter, DualEncoderAdapter)
    before = frozen.fingerprint()
    with torch.no_grad():
        logits = torch.cat([frozen(images[i : i + 100]) for i in range(0, len(images), 100)])
    assert logits.shape == (len(images), 10)
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.17, accuracy
    assert frozen.fingerprint() == before
    assert all(not p.requires_grad for p in frozen.model.parameters())


def test_embedding_path_equals_input_path(dual, fashion):
    """Running through the text tower's token-embedding interface gives the same logits as the plain forward."""
    model, tokenizer = dual
    images, _, names = fashion
    frozen = FrozenModel(model, class_prompts=[f"a photo of a {n}." for n in names], tokenizer=tokenizer)
    adapter = frozen.adapter
    with torch.no_grad():
        direct = adapter.forward_input(model, images[:4])
        embedded = adapter.forward_embedded(model, adapter.embed(model, images[:4]))
    torch.testing.assert_close(embedded, direct, rtol=1e-4, atol=1e-4)


def test_token_prompts_on_the_cnn_image_tower_are_refused_clearly(dual, fashion):
    from reprogrammability.implementations.prompt_tuning.soft_prompt import SoftPrompt

    model, tokenizer = dual
    images, _, names = fashion
    frozen = FrozenModel(model, class_prompts=names, tokenizer=tokenizer)
    vpt = SoftPrompt(torch.zeros(4, 32), tower="vision")
    with pytest.raises(InterfaceError, match="no image tokens"):
        frozen(images[:2], manipulations=[vpt])


def test_coop_runs_on_the_dual_encoder_and_f_is_unchanged(dual, fashion):
    from reprogrammability.framework import Trainer
    from reprogrammability.implementations.prompt_tuning.coop import build

    model, tokenizer = dual
    images, labels, names = fashion
    frozen = FrozenModel(model, class_prompts=names, tokenizer=tokenizer)
    before = frozen.fingerprint()
    reprogrammer = build(frozen, tokenizer=tokenizer, class_names=names, context_init="a photo of a")
    assert isinstance(reprogrammer.frozen.adapter, DualEncoderAdapter)
    train_x, train_y = images[:96], labels[:96]
    with torch.no_grad():
        loss_before = torch.nn.functional.cross_entropy(reprogrammer(train_x), train_y).item()
    Trainer(reprogrammer, epochs=3, batch_size=32, learning_rate=2e-3, progress=False).fit((train_x, train_y))
    with torch.no_grad():
        loss_after = torch.nn.functional.cross_entropy(reprogrammer(train_x), train_y).item()
    assert loss_after < loss_before
    assert reprogrammer.frozen.fingerprint() == before
    assert all(p.grad is None for p in model.parameters())
    assert reprogrammer.parameter_count() == 4 * 384  # "a photo of a": 4 MiniLM tokens of width 384


def test_a_real_clip_saved_locally_stays_a_drop_in(tmp_path):
    """A CLIPModel loaded with from_pretrained(local folder) still gets the CLIP adapter and runs CoOp."""
    from reprogrammability.implementations.models.pretrained import from_pretrained
    from reprogrammability.implementations.prompt_tuning.coop import build, tiny_clip_example

    model, tokenizer, names, images, _ = tiny_clip_example()
    model.save_pretrained(tmp_path)
    loaded = from_pretrained(tmp_path, task="clip")
    assert type(loaded).__name__ == "CLIPModel"
    reprogrammer = build(loaded, tokenizer=tokenizer, class_names=names, context_init="a photo of a")
    assert type(reprogrammer.frozen.adapter) is CLIPAdapter
    original = build(model, tokenizer=tokenizer, class_names=names, context_init="a photo of a")
    with torch.no_grad():
        torch.testing.assert_close(reprogrammer(images), original(images))


def test_padding_visual_reprogramming_trains_the_program_only(dual, fashion):
    """Model reprogramming on the same frozen model: a padding program on the image, identity ω over class prompts."""
    from reprogrammability.framework import Reprogrammer, Trainer
    from reprogrammability.framework.alignment import IdentityAlignment
    from reprogrammability.implementations.data.images import prepare_images
    from reprogrammability.implementations.reprogramming.programs import PaddingProgram

    model, tokenizer = dual
    images, labels, names = fashion
    small = prepare_images(images[:32] * IMAGENET_STD[0] + IMAGENET_MEAN[0], size=64)  # [0, 1] pixels, 64 px
    frozen = FrozenModel(model, class_prompts=[f"a photo of a {n}." for n in names], tokenizer=tokenizer)
    before = frozen.fingerprint()
    program = PaddingProgram(IMAGE_SIZE, 64, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    reprogrammer = Reprogrammer(frozen, program, IdentityAlignment(), paradigm="model-reprogramming")
    initial = [p.detach().clone() for p in program.parameters()]
    Trainer(reprogrammer, epochs=1, batch_size=16, progress=False).fit((small, labels[:32]))
    assert any(not torch.equal(a, p) for a, p in zip(initial, program.parameters()))
    assert frozen.fingerprint() == before
    assert all(p.grad is None for p in model.parameters())
