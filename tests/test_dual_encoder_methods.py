"""Every CLIP-based method on the REAL dual encoder (EfficientNet-Lite0 + all-MiniLM-L6-v2 + shipped map).

Each test shows its paper's direction of effect on a fixed Fashion-MNIST subset (or, where the
effect does not appear on this backbone, records the measured gap). The frozen towers' fingerprint
is checked after each method. Prompt instruction (no training) runs in the default suite; the
training methods (CoOp, CoCoOp, KgCoOp, visual prompting, BlackVIP) are marked slow.
"""

from __future__ import annotations

import pytest
import torch

from reprogrammability.framework import FrozenModel
from reprogrammability.framework.errors import InterfaceError
from reprogrammability.implementations.data.descriptors import task_prompts
from reprogrammability.implementations.data.images import load_fashion_mnist
from reprogrammability.implementations.models.dual_encoder import IMAGENET_MEAN, IMAGENET_STD, load_dual_encoder
from reprogrammability.implementations.registry import get_method

SIZE = 112
CHANCE = 0.1


@pytest.fixture(scope="module")
def dual():
    model, tokenizer = load_dual_encoder()
    return model, tokenizer, FrozenModel(model, class_prompts=["x"], tokenizer=tokenizer).fingerprint()


@pytest.fixture(scope="module")
def task():
    return task_prompts("fashion-mnist")


def _images(split: str, count: int, seed: int):
    data = load_fashion_mnist(split=split, size=SIZE, channels=3, max_samples=count, seed=seed)
    return (data.inputs - IMAGENET_MEAN[0]) / IMAGENET_STD[0], data.labels


@pytest.fixture(scope="module")
def test_set():
    """300 Fashion-MNIST test images (fixed subset), normalised for the image tower."""
    return _images("test", 300, seed=0)


@torch.no_grad()
def accuracy(reprogrammer, images, labels) -> float:
    logits = torch.cat([reprogrammer(images[i : i + 100]) for i in range(0, len(images), 100)])
    return (logits.argmax(1) == labels).float().mean().item()


def _unchanged(dual, reprogrammer) -> None:
    model, _, fingerprint = dual
    assert reprogrammer.frozen.fingerprint() == fingerprint
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())


# ------------------------------------------------------------------------------------------------
# prompt instruction (no training)


@pytest.fixture(scope="module")
def instruction(dual, task, test_set):
    """Accuracy of each prompt-instruction method on the same 300 test images."""
    model, tokenizer, _ = dual
    images, labels = test_set
    names = task["class_names"]
    descriptors = task["descriptors"]
    templates = [task["template"], *task["templates"]]
    built = {
        "single": get_method("clip-zero-shot").build(
            model, tokenizer=tokenizer, class_names=names, template=task["template"]
        ),
        "ensemble": get_method("prompt-ensemble").build(
            model, tokenizer=tokenizer, class_names=names, templates=templates
        ),
        "dclip": get_method("dclip").build(model, tokenizer=tokenizer, class_names=names, descriptors=descriptors),
        "cupl": get_method("cupl").build(
            model,
            tokenizer=tokenizer,
            class_names=names,
            descriptions={c: [f"a photo of a {c}, which {d}." for d in ds] for c, ds in descriptors.items()},
        ),
        "zpe": get_method("zpe").build(
            model, tokenizer=tokenizer, class_names=names, templates=templates, unlabelled_images=images[:100]
        ),
    }
    results = {name: accuracy(r, images, labels) for name, r in built.items()}
    for r in built.values():
        _unchanged(dual, r)
    return results


@pytest.mark.slow
def test_one_template_zero_shot_beats_chance(instruction):
    """Measured on these 300 images: see the printed dict; 2× chance is the issue's bar (full test set:
    benchmarks/results/dual_encoder_alignment.json)."""
    print(instruction)
    assert instruction["single"] >= 2 * CHANCE - 0.02, instruction


@pytest.mark.slow
def test_template_ensemble_is_at_least_one_template(instruction):
    """Radford et al. 2021: averaging the text embeddings of several templates does not hurt (2-point tolerance
    for 300 images)."""
    assert instruction["ensemble"] >= instruction["single"] - 0.02, instruction
    assert instruction["zpe"] >= instruction["single"] - 0.02, instruction


@pytest.mark.slow
def test_descriptors_record_their_measured_effect(instruction):
    """DCLIP/CuPL: descriptors help on CLIP. Here the text tower is MiniLM mapped onto an ImageNet head,
    so the effect is only recorded: the descriptor methods stay above chance, and the gap to one template
    is printed (see the report in the module docstring of the benchmark)."""
    gap = {name: round(instruction[name] - instruction["single"], 3) for name in ("dclip", "cupl")}
    print("descriptor gain over one template:", gap)
    assert instruction["dclip"] > CHANCE + 0.03 and instruction["cupl"] > CHANCE + 0.03, instruction


@pytest.mark.slow
def test_markers_run_on_the_dual_encoder_and_change_its_scores(dual, task, test_set):
    """Red circle / FGVP mark a region of the image; on a CNN the marker must change the logits (it is
    drawn on the pixels) while f stays frozen. (No object boxes exist for Fashion-MNIST: the box is the
    whole centred garment, which is what the marker papers circle.)"""
    model, tokenizer, _ = dual
    images, _ = test_set
    pixels = (images[:8] * IMAGENET_STD[0] + IMAGENET_MEAN[0]).clamp(0, 1)
    box = torch.tensor([[16.0, 16.0, 96.0, 96.0]]).repeat(8, 1)
    plain = get_method("clip-zero-shot").build(model, tokenizer=tokenizer, class_names=task["class_names"])
    with torch.no_grad():
        before = plain(images[:8])
    for method in ("red-circle", "fgvp"):
        marked = get_method(method).build(model, tokenizer=tokenizer, class_names=task["class_names"], boxes=box)
        with torch.no_grad():
            after = marked(pixels)
        assert after.shape == before.shape
        assert not torch.allclose(after, before, atol=1e-3), method
        _unchanged(dual, marked)


def test_maple_text_side_runs_and_vision_side_is_refused(dual, task, test_set):
    from reprogrammability.framework import Reprogrammer
    from reprogrammability.framework.alignment import IdentityAlignment
    from reprogrammability.implementations.prompt_tuning.clip import ContextPrompt
    from reprogrammability.implementations.prompt_tuning.common import clip_frozen
    from reprogrammability.implementations.prompt_tuning.deep import DeepPrompts

    model, tokenizer, _ = dual
    images, _ = test_set
    names = task["class_names"]
    with pytest.raises(InterfaceError, match="no image tokens"):
        get_method("maple").build(model, tokenizer=tokenizer, class_names=names)
    frozen = clip_frozen(model, [f"{n}." for n in names], tokenizer=tokenizer)
    context = ContextPrompt(torch.randn(2, 384) * 0.02, tower="text")
    deep = DeepPrompts(torch.randn(2, 2, 384) * 0.02, [1, 2], start=1, tower="text")
    language_side = Reprogrammer(frozen, [context, deep], IdentityAlignment(), paradigm="prompt-tuning")
    logits = language_side(images[:4])
    assert logits.shape == (4, len(names)) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert context.parameters().__next__().grad is not None
    _unchanged(dual, language_side)


# ------------------------------------------------------------------------------------------------
# prompt tuning and model reprogramming (training: slow)


@pytest.fixture(scope="module")
def train_set():
    return _images("train", 160, seed=1)


def _fit(reprogrammer, train_set, steps: int, learning_rate: float, **trainer_options) -> None:
    from reprogrammability.framework import Trainer

    images, labels = train_set
    epochs = max(1, steps * 32 // len(images))
    Trainer(
        reprogrammer, epochs=epochs, batch_size=32, learning_rate=learning_rate, progress=False, **trainer_options
    ).fit((images, labels))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["coop", "cocoop", "kgcoop"])
def test_learned_context_beats_the_fixed_template(dual, task, test_set, train_set, instruction, method):
    model, tokenizer, _ = dual
    images, labels = test_set
    reprogrammer = get_method(method).build(
        model, tokenizer=tokenizer, class_names=task["class_names"], context_init="a photo of a"
    )
    options = {}
    if method == "kgcoop":
        from reprogrammability.implementations.prompt_tuning.clip import KnowledgeGuidedLoss

        options["loss_fn"] = KnowledgeGuidedLoss(reprogrammer, task["class_names"], weight=1.0)
    _fit(reprogrammer, train_set, steps=40, learning_rate=2e-3, **options)
    learned = accuracy(reprogrammer, images, labels)
    print(method, learned, "fixed template", instruction["single"])
    assert learned >= instruction["single"] + 0.1, (learned, instruction["single"])
    _unchanged(dual, reprogrammer)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["visual-prompting", "blackvip"])
def test_an_image_program_beats_no_program(dual, task, test_set, train_set, instruction, method):
    """The image side only (identity ω over the fixed class prompts): a learned program beats the bare image."""
    model, tokenizer, _ = dual
    images, labels = test_set
    frozen = FrozenModel(
        model, class_prompts=[task["template"].format(n) for n in task["class_names"]], tokenizer=tokenizer
    )
    options = {"canvas_size": SIZE, "image_size": SIZE, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    reprogrammer = get_method(method).build(frozen, **options)
    train_images, train_labels = train_set
    pixels = lambda x: (x * IMAGENET_STD[0] + IMAGENET_MEAN[0]).clamp(0, 1)  # noqa: E731
    options = {}
    if method == "blackvip":  # zeroth-order: SPSA-GC from output queries only
        options = {"optimizer": "sgd", "gradient_estimator": reprogrammer.gradient_estimator}
    _fit(reprogrammer, (pixels(train_images), train_labels), steps=40, learning_rate=0.05, **options)
    programmed = accuracy(reprogrammer, pixels(images), labels)
    print(method, programmed, "no program", instruction["single"])
    assert programmed > instruction["single"], (programmed, instruction["single"])
    _unchanged(dual, reprogrammer)
