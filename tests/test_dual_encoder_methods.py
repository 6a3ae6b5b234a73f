"""Every CLIP-based method on the REAL dual encoder (EfficientNet-Lite0 + all-MiniLM-L6-v2 + shipped map).

Each test shows its paper's direction of effect on a fixed Fashion-MNIST subset (or, where the
effect does not appear on this backbone, records the measured gap). The frozen towers' fingerprint
is checked after each method. The default suite runs the builds that need no scoring of the test set
(MaPLe's and UPT's refusals of the CNN image tower, Set-of-Mark); everything that scores 300 test images or
trains (prompt instruction, markers, CoOp, CoCoOp, KgCoOp, visual prompting, EVP, BlackVIP, AttrVR, DVP) is
marked slow. The measured numbers are in each test's docstring.
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


def _clip_normalised(pixels):
    """Pixels in [0, 1] normalised as the marker methods do (CLIP's statistics), to compare like with like."""
    from reprogrammability.implementations.prompt_instruction.markers import CLIP_MEAN, CLIP_STD

    return (pixels - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]


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
    for 300 images). Measured: one template 19.0 %, the 9-template ensemble 19.0 %, ZPE's weighted ensemble
    19.0 %: no gain here, and no loss."""
    assert instruction["ensemble"] >= instruction["single"] - 0.02, instruction
    assert instruction["zpe"] >= instruction["single"] - 0.02, instruction


@pytest.mark.slow
def test_descriptors_record_their_measured_effect(instruction):
    """DCLIP/CuPL: descriptors help on CLIP. Here the text tower is MiniLM mapped onto an ImageNet head,
    and they help too: the gap to one template is printed and must exceed 2 points. Measured on these 300 images: DCLIP 25.7 %, CuPL 24.7 % against one template 19.0 %
    (+6.7 and +5.7 points: descriptors do help here)."""
    gap = {name: round(instruction[name] - instruction["single"], 3) for name in ("dclip", "cupl")}
    print("descriptor gain over one template:", gap)
    assert instruction["dclip"] > CHANCE + 0.03 and instruction["cupl"] > CHANCE + 0.03, instruction
    assert min(gap.values()) > 0.02, gap  # measured +5.7 and +6.7 points


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
    with torch.no_grad():  # the unmarked image under the markers' own (CLIP) normalisation
        before = plain(_clip_normalised(pixels))
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
@pytest.mark.timeout(2400)  # minutes of training on a loaded 2-core machine
@pytest.mark.parametrize("method", ["coop", "cocoop", "kgcoop"])
def test_learned_context_beats_the_fixed_template(dual, task, test_set, train_set, instruction, method):
    """CoOp / CoCoOp / KgCoOp: learned context beats the hand-written template it starts from. Measured here
    (160 training images, 15 steps of 32, Adam 2e-2; 300 test images): CoOp 40.7 %, CoCoOp 56.7 %,
    KgCoOp 52.0 % against 19.0 % for one template. The bar, +10 points, is under half the smallest gain."""
    model, tokenizer, _ = dual
    images, labels = test_set
    reprogrammer = get_method(method).build(
        model, tokenizer=tokenizer, class_names=task["class_names"], context_init="a photo of a"
    )
    options = {}
    if method == "kgcoop":
        from reprogrammability.implementations.prompt_tuning.clip import KnowledgeGuidedLoss

        options["loss_fn"] = KnowledgeGuidedLoss(reprogrammer, task["class_names"], weight=1.0)
    _fit(reprogrammer, train_set, steps=15, learning_rate=2e-2, **options)  # the case study's budget
    learned = accuracy(reprogrammer, images, labels)
    print(method, learned, "fixed template", instruction["single"])
    assert learned >= instruction["single"] + 0.1, (learned, instruction["single"])
    _unchanged(dual, reprogrammer)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # minutes of training on a loaded 2-core machine
@pytest.mark.parametrize("method", ["visual-prompting", "evp"])
def test_an_image_program_beats_no_program(dual, task, test_set, train_set, instruction, method):
    """The image side only (identity ω over the fixed class prompts): a learned program beats the bare image.
    Measured (15 steps, 300 test images; bare image, one template: 19.0 %): visual prompting 47.7 %,
    EVP 28.3 % (its border surrounds a 64 px image)."""
    programmed = _trained_program(method, dual, task, test_set, train_set)
    print(method, programmed, "no program", instruction["single"])
    assert programmed > instruction["single"], (programmed, instruction["single"])


# ------------------------------------------------------------------------------------------------
# the other CLIP-based implementations: UPT (refused), Set-of-Mark, EVP, AttrVR, DVP


def test_upt_refuses_the_cnn_image_tower_clearly(dual, task):
    """UPT appends visual prompt tokens to the image tower (as VPT does): a CNN has no token sequence, so the
    build says so instead of faking it (a real CLIP runs it: tests/test_prompt_tuning*.py)."""
    model, tokenizer, _ = dual
    with pytest.raises(InterfaceError, match="UPT's visual prompt tokens cannot be placed.*no image tokens"):
        get_method("upt").build(model, tokenizer=tokenizer, class_names=task["class_names"])


def test_set_of_mark_runs_on_the_dual_encoder_and_its_marks_change_the_scores(dual, test_set):
    """Set-of-Mark's effect (grounding by reading numbered marks) is a GPT-4V effect; a contrastive encoder
    reads no numbers, so here the test checks the CLIP-based build only: two regions (left and right half),
    the mark prompts' scores change when the marks are drawn, one score per region, f stays frozen."""
    model, tokenizer, _ = dual
    images, _ = test_set
    pixels = (images[:8] * IMAGENET_STD[0] + IMAGENET_MEAN[0]).clamp(0, 1)
    boxes = torch.tensor([[[0.0, 0.0, 56.0, 112.0], [56.0, 0.0, 112.0, 112.0]]]).repeat(8, 1, 1)
    marks = get_method("set-of-mark").build(model, tokenizer=tokenizer, num_regions=2, boxes=boxes)
    plain = FrozenModel(model, class_prompts=["a photo of mark 1.", "a photo of mark 2."], tokenizer=tokenizer)
    with torch.no_grad():
        before = plain(_clip_normalised(pixels))
        after = marks(pixels)
    assert after.shape == (8, 2) and torch.isfinite(after).all()
    assert not torch.allclose(after, before, atol=1e-3)
    _unchanged(dual, marks)


def _descriptions(task, groups: int) -> list[list[list[str]]]:
    """The shipped descriptors as ``descriptions[group][class]``: each class's 4 descriptors split into
    ``groups`` groups in order (one group: all four)."""
    per_group = 4 // groups
    return [
        [
            [f"a photo of a {c}, which {d}." for d in task["descriptors"][c][g * per_group : (g + 1) * per_group]]
            for c in task["class_names"]
        ]
        for g in range(groups)
    ]


_PROGRAMS: dict[str, float] = {}
"""Accuracy of each trained image program (one training per module run; the comparisons share them)."""


def _trained_program(name, dual, task, test_set, train_set) -> float:
    """Train the image program of ``name`` (15 steps of 32, Adam 0.05: the case study's budget) on 160 images;
    its accuracy on the 300 test images."""
    if name in _PROGRAMS:
        return _PROGRAMS[name]
    model, tokenizer, _ = dual
    images, labels = test_set
    names = task["class_names"]
    frozen = FrozenModel(model, class_prompts=[task["template"].format(n) for n in names], tokenizer=tokenizer)
    options = {"canvas_size": SIZE, "image_size": SIZE, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
    if name == "visual-prompting":
        reprogrammer = get_method(name).build(frozen, **options)
    elif name == "evp":
        reprogrammer = get_method(name).build(frozen, num_classes=len(names), pad=24, **options)
    else:  # attrvr (one group of descriptors), dvp (two groups, one program each)
        groups = 1 if name == "attrvr" else 2
        reprogrammer = get_method(name).build(
            model, descriptions=_descriptions(task, groups), tokenizer=tokenizer, num_classes=len(names), **options
        )
    train_images, train_labels = train_set
    _fit(reprogrammer, (_pixels(train_images), train_labels), steps=15, learning_rate=0.05)
    _PROGRAMS[name] = accuracy(reprogrammer, _pixels(images), labels)
    print(name, _PROGRAMS[name])
    _unchanged(dual, reprogrammer)
    return _PROGRAMS[name]


def _pixels(x):
    return (x * IMAGENET_STD[0] + IMAGENET_MEAN[0]).clamp(0, 1)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # minutes of training on a loaded 2-core machine
def test_blackvip_zeroth_order_program_records_its_measured_effect(dual, task, test_set, train_set, instruction):
    """BlackVIP (Oh et al. 2023) reports that a coordinator-generated prompt trained by SPSA-GC from output
    queries alone beats zero-shot CLIP. Here the effect is at most marginal. Measured (160 training images,
    15 steps of 32, 300 test images; bare image 19.0 %): with the default prompt strength ε = 1 the random
    coordinator already hurts (15.7 % before training) and SGD at 0.05 collapses it to one class (10.0 %);
    with ε = 0.1 and SGD at 0.005 the program goes from 17.0 % to 22.3 % (21.7 % in another run; +3 points
    over the bare image, about one standard error; 40 steps gave 18.3 %, SGD at 0.01 gave 20.7 %). The test asserts what holds:
    SPSA-GC improves the program over its initial prompt, and the result is not below the bare image by more
    than 3 points."""
    model, tokenizer, _ = dual
    images, labels = test_set
    frozen = FrozenModel(
        model, class_prompts=[task["template"].format(n) for n in task["class_names"]], tokenizer=tokenizer
    )
    reprogrammer = get_method("blackvip").build(
        frozen, canvas_size=SIZE, image_size=SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD, epsilon=0.1
    )
    initial = accuracy(reprogrammer, _pixels(images), labels)
    train_images, train_labels = train_set
    _fit(
        reprogrammer,
        (_pixels(train_images), train_labels),
        steps=15,
        learning_rate=0.005,
        optimizer="sgd",
        gradient_estimator=reprogrammer.gradient_estimator,  # zeroth-order: SPSA-GC from output queries only
    )
    trained = accuracy(reprogrammer, _pixels(images), labels)
    print("blackvip", initial, "->", trained, "no program", instruction["single"])
    assert trained > initial + 0.02, (initial, trained)
    assert trained >= instruction["single"] - 0.03, (trained, instruction["single"])
    _unchanged(dual, reprogrammer)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # minutes of training on a loaded 2-core machine
def test_attrvr_program_over_descriptions(dual, task, test_set, train_set, instruction):
    """AttrVR (Cai et al. 2025) reports that reading a padding program through k-nearest attribute descriptions
    beats reading the same program through class-name prompts. Not here: measured 43.7 % for AttrVR against
    47.7 % for visual prompting (same program shape, budget and data; 300 test images, so the -4.0 points are
    within about 1.4 standard errors: no gain). What holds is that the learned program lifts the descriptor
    readout well above the descriptors alone (DCLIP, no program: 25.7 %, +18 points). The test asserts that,
    and that AttrVR stays within 10 points of visual prompting (the measured relation)."""
    attributes = _trained_program("attrvr", dual, task, test_set, train_set)
    names = _trained_program("visual-prompting", dual, task, test_set, train_set)
    print("attrvr", attributes, "visual prompting", names, "descriptors alone (DCLIP)", instruction["dclip"])
    assert attributes >= instruction["dclip"] + 0.1, (attributes, instruction["dclip"])
    assert abs(attributes - names) < 0.1, (attributes, names)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # minutes of training on a loaded 2-core machine
def test_dvp_decoupled_programs_against_one_program(dual, task, test_set, train_set):
    """DVP (Cai et al. 2025): one program per description group, integrated by a reweighting matrix, beats
    one program over all descriptions (AttrVR), same descriptions, budget and data. Measured: DVP 53.3 %
    (two groups of two descriptors each), AttrVR 43.7 %: +9.7 points (300 test images)."""
    decoupled = _trained_program("dvp", dual, task, test_set, train_set)
    single = _trained_program("attrvr", dual, task, test_set, train_set)
    print("dvp", decoupled, "attrvr", single)
    assert decoupled > single, (decoupled, single)
