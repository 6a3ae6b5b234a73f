"""CLIP prompting (template, ensembles, descriptors, ZPE) and visual markers (issue 7)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reprogrammability.framework.errors import InterfaceError, NotFittedError
from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.implementations.prompt_instruction import (
    clip_zero_shot,
    cupl,
    dclip,
    fgvp,
    prompt_ensemble,
    red_circle,
    set_of_mark,
    zpe,
)
from reprogrammability.implementations.prompt_instruction.common import tiny_clip_model
from reprogrammability.implementations.prompt_instruction.markers import (
    BlurOutside,
    MarkAlignment,
    NumberedMarks,
    VisualMarker,
    digit_glyph,
    gaussian_blur,
)

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="module")
def clip():
    return tiny_clip_model()


@pytest.fixture(scope="module")
def images():
    return torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def text_features(model, tokenizer, prompts):
    enc = tokenizer(prompts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    return F.normalize(
        out if isinstance(out, torch.Tensor) else out.pooler_output, dim=-1
    )  # transformers 5: an output object


def image_features(model, images):
    with torch.no_grad():
        out = model.get_image_features(pixel_values=images)
    return F.normalize(out if isinstance(out, torch.Tensor) else out.pooler_output, dim=-1)


def test_template_prompting_equals_transformers_and_the_clip_adapter(clip, images):
    model, tokenizer = clip
    r = clip_zero_shot.build(model, tokenizer=tokenizer, class_names=CLASSES, template="a photo of a {}.")
    prompts = [f"a photo of a {c}." for c in CLASSES]
    enc = tokenizer(prompts, padding=True, return_tensors="pt")
    with torch.no_grad():
        direct = model(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=images
        ).logits_per_image
        adapter = FrozenModel(model, class_prompts=prompts, tokenizer=tokenizer)(images)
    torch.testing.assert_close(r(images), direct, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(adapter, direct, atol=1e-5, rtol=1e-5)
    assert r.parameter_count() == 0 == r.evaluated_parameter_count()


def test_prompt_ensemble_is_the_mean_of_normalised_text_embeddings(clip, images):
    model, tokenizer = clip
    templates = ["a photo of a {}.", "a drawing of a {}.", "a blurry photo of a {}."]
    r = prompt_ensemble.build(model, tokenizer=tokenizer, class_names=CLASSES, templates=templates)
    weights = torch.stack(
        [
            F.normalize(text_features(model, tokenizer, [t.format(c) for t in templates]).mean(0), dim=-1)
            for c in CLASSES
        ]
    )
    expected = model.logit_scale.exp() * image_features(model, images) @ weights.t()
    torch.testing.assert_close(r(images), expected, atol=1e-4, rtol=1e-5)
    single = clip_zero_shot.build(model, tokenizer=tokenizer, class_names=CLASSES, template=templates[0])
    assert (r(images) - single(images)).abs().max() > 1e-4


def test_cupl_ensembles_descriptions_and_dclip_averages_descriptor_scores(clip, images):
    model, tokenizer = clip
    descriptions = {c: [f"a {c} with a tail.", f"a small {c}."] for c in CLASSES}
    r = cupl.build(model, tokenizer=tokenizer, class_names=CLASSES, descriptions=descriptions)
    weights = torch.stack(
        [F.normalize(text_features(model, tokenizer, descriptions[c]).mean(0), dim=-1) for c in CLASSES]
    )
    torch.testing.assert_close(
        r(images), model.logit_scale.exp() * image_features(model, images) @ weights.t(), atol=1e-4, rtol=1e-5
    )
    generated = cupl.build(model, tokenizer=tokenizer, class_names=CLASSES, describe=lambda c: descriptions[c])
    torch.testing.assert_close(generated(images), r(images))

    descriptors = {
        "cat": ["has whiskers"],
        "dog": ["has a wet nose", "barks"],
        "bird": ["has feathers", "can fly", "sings"],
    }
    d = dclip.build(model, tokenizer=tokenizer, class_names=CLASSES, descriptors=descriptors)
    img = image_features(model, images)
    expected = torch.stack(
        [
            (
                model.logit_scale.exp()
                * img
                @ text_features(model, tokenizer, [f"{c}, which {x}" for x in descriptors[c]]).t()
            ).mean(1)
            for c in CLASSES
        ],
        dim=1,
    )
    z = d.source_outputs(images)
    assert z.shape == (3, 3, 3) and torch.isnan(z[:, 0, 1:]).all()
    torch.testing.assert_close(d(images), expected, atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match="descriptors"):
        dclip.build(model, tokenizer=tokenizer, class_names=CLASSES, descriptors={"cat": ["x"]})


def test_zpe_weights_follow_the_normalised_max_logit_score(clip, images):
    model, tokenizer = clip
    templates = ["a photo of a {}.", "a drawing of a {}.", "art of the {}."]
    r = zpe.build(model, tokenizer=tokenizer, class_names=CLASSES, templates=templates)
    with pytest.raises(NotFittedError):
        r(images)
    unlabelled = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    weights = zpe.fit_weights(r, unlabelled)
    z = r.source_outputs(unlabelled)  # (N, C, M)
    scores = (z - z.mean(0, keepdim=True)).max(dim=1).values.mean(0)
    torch.testing.assert_close(weights, torch.softmax(scores, 0))
    assert weights.sum().item() == pytest.approx(1.0)
    torch.testing.assert_close(r(images), (r.source_outputs(images) * weights).sum(-1))
    assert r.spec.alignment[0].value == "statistical" and r.parameter_count() == 0


def test_clip_prompt_adapter_needs_prompts(clip, images):
    model, tokenizer = clip
    r = clip_zero_shot.build(model, tokenizer=tokenizer, class_names=CLASSES)
    with pytest.raises(InterfaceError, match="PromptedImages"):
        r.frozen(images)
    with pytest.raises(ValueError, match="placeholder"):
        prompt_ensemble.build(model, tokenizer=tokenizer, class_names=CLASSES, templates=["no slot"])


# -- markers -------------------------------------------------------------------------------------------


def test_red_circle_draws_only_on_the_ellipse():
    x = torch.full((1, 3, 32, 32), 0.5)
    marker = VisualMarker("circle", thickness=2.0, alpha=1.0, mean=None, std=None)  # the paper's opaque stroke
    out = marker({"images": x, "boxes": torch.tensor([[8.0, 8.0, 24.0, 24.0]])})
    changed = (out != x).any(1)[0]
    assert changed[8:25, 15:17].any() and not changed[14:18, 14:18].any() and not changed[0:4, 0:4].any()
    ys, xs = torch.nonzero(changed, as_tuple=True)
    assert torch.allclose(out[0, :, ys[0], xs[0]], torch.tensor([1.0, 0.0, 0.0]))
    box = VisualMarker("box", thickness=1.0, mean=None, std=None)(
        {"images": x, "boxes": torch.tensor([[4.0, 4.0, 12.0, 12.0]])}
    )
    assert (box != x).any(1)[0, 4, 4:12].all() and not (box != x).any(1)[0, 8, 8]
    assert marker.trainable_parameters == 0 and marker.symbolic().parameter_count == 0
    # the default semi-transparent stroke is an affine overlay x' = a ⊙ x + δ with a ≠ 0 everywhere
    overlay = VisualMarker("circle", mean=None, std=None)
    boxes = torch.tensor([[8.0, 8.0, 24.0, 24.0]])
    u1, u2 = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    o1, o2 = overlay({"images": u1, "boxes": boxes}), overlay({"images": u2, "boxes": boxes})
    scale = (o1 - o2) / (u1 - u2)
    assert scale.min() > 0.1
    torch.testing.assert_close(o1 - scale * u1, o2 - scale * u2, atol=1e-5, rtol=0)


def test_blur_outside_keeps_the_region_sharp():
    x = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    blur = BlurOutside(sigma=2.0, mean=None, std=None)
    out = blur({"images": x, "boxes": torch.tensor([[6.0, 6.0, 14.0, 14.0]] * 2)})
    assert torch.equal(out[:, :, 7:14, 7:14], x[:, :, 7:14, 7:14])
    torch.testing.assert_close(out[:, :, 0:4, 0:4], gaussian_blur(x, 2.0)[:, :, 0:4, 0:4])
    assert out[:, :, 0:4, 0:4].std() < x[:, :, 0:4, 0:4].std()
    masks = torch.zeros(2, 24, 24, dtype=torch.bool)
    masks[:, 2:5, 2:5] = True
    torch.testing.assert_close(blur({"images": x, "masks": masks})[:, :, 2:5, 2:5], x[:, :, 2:5, 2:5])
    const = torch.full((1, 3, 16, 16), 0.3)
    torch.testing.assert_close(gaussian_blur(const, 3.0), const)


def test_numbered_marks_and_mark_alignment():
    assert digit_glyph(1).shape == (5, 3) and digit_glyph(12, 2).shape == (10, 14)
    assert digit_glyph(8).sum() == 13 and digit_glyph(1).sum() == 8
    x = torch.zeros(1, 3, 48, 48)
    boxes = torch.tensor([[[2.0, 2.0, 20.0, 20.0], [26.0, 26.0, 46.0, 46.0]]])
    out = NumberedMarks(tint=0.5, mean=None, std=None, mark_alpha=1.0)({"images": x, "boxes": boxes})
    assert out[0, :, 40, 30].sum() > 0 and out[0, :, 23, 23].sum() == 0  # tinted region 2, gap untouched
    assert (out[0].amax(0) == 1.0).any()  # white label glyph
    align = MarkAlignment(2, mark_to_region=[1, 0])
    assert align(["I pick mark 2", "none", "9"]).tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    torch.testing.assert_close(align(torch.tensor([[0.1, 0.9]])), torch.tensor([[0.9, 0.1]]))


@pytest.mark.parametrize("module", [red_circle, fgvp, set_of_mark])
def test_marker_methods_equal_clip_on_the_marked_image(clip, module):
    model, tokenizer = clip
    names = ["1", "2"] if module is set_of_mark else CLASSES
    r = module.build(model, tokenizer=tokenizer, class_names=names)
    x = {
        "images": torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)),
        "boxes": torch.tensor([[[2.0, 2.0, 14.0, 14.0], [16.0, 16.0, 30.0, 30.0]]] * 2)
        if module is set_of_mark
        else torch.tensor([[4.0, 4.0, 20.0, 20.0]] * 2),
    }
    marked = r.inputs[0](x)
    template = "a photo of mark {}." if module is set_of_mark else "a photo of a {}."
    enc = tokenizer([template.format(c) for c in names], padding=True, return_tensors="pt")
    with torch.no_grad():
        direct = model(
            input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=marked
        ).logits_per_image
    torch.testing.assert_close(r(x), direct, atol=1e-5, rtol=1e-5)
    assert r.spec.configuration[0].value == "fixed" and r.parameter_count() == 0
