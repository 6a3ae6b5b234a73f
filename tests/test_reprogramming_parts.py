"""Programs and other parts of the reprogramming family: shapes, masks, formulas and parameter counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from reprogrammability.framework.errors import ShapeError
from reprogrammability.framework.manipulation import trainable_parameter_count
from reprogrammability.implementations.reprogramming.cross_modal import (
    SeriesProgram,
    TokenImageProgram,
    VocabularyRemap,
)
from reprogrammability.implementations.reprogramming.generated_programs import (
    CoordinatorPrompt,
    InputTransformation,
    SampleSpecificMaskProgram,
)
from reprogrammability.implementations.reprogramming.programs import (
    FixedPatchPrompt,
    FullCanvasProgram,
    LearnableScale,
    PaddingProgram,
    RandomPatchPrompt,
    ScaledPaddingPrompt,
    ShrinkPadPrompt,
    WatermarkPrompt,
)
from reprogrammability.implementations.reprogramming.series_language_model import (
    PatchReprogramming,
    SeriesClassifierHead,
    SeriesHead,
    SeriesTokenEncoder,
    SoftPrefix,
)
from reprogrammability.implementations.reprogramming.vision_language import DecoupledPrompts, DescriptionAlignment

MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _embedding():
    return nn.Embedding(50, 16).requires_grad_(False)


def _parts():
    emb = _embedding()
    return {
        "padding": PaddingProgram(32, 16, MEAN, STD, resize_input=True),
        "full_canvas": FullCanvasProgram(32, 16, MEAN, STD),
        "watermark": WatermarkPrompt(32, 4, MEAN, STD),
        "shrink_pad": ShrinkPadPrompt(32, 4, MEAN, STD),
        "fixed_patch": FixedPatchPrompt(32, 5, MEAN, STD),
        "random_patch": RandomPatchPrompt(32, 5, MEAN, STD),
        "learnable_scale": LearnableScale(32, 16),
        "scaled_padding": ScaledPaddingPrompt(LearnableScale(32, 16), MEAN, STD),
        "smm": SampleSpecificMaskProgram(32, MEAN, STD, widths=(4, 8, 8), pools=2),
        "coordinator": CoordinatorPrompt(32, MEAN, STD, feature_channels=6, trigger_size=3, decoder_widths=(5, 4)),
        "input_transformation": InputTransformation(32, MEAN, STD, width=6),
        "token_image": TokenImageProgram(30, 4, (3, 5), mean=MEAN, std=STD),
        "series": SeriesProgram(20, 64, channels=2),
        "vocabulary_softmax": VocabularyRemap(emb, 12, mode="softmax"),
        "vocabulary_linear": VocabularyRemap(emb, 12, mode="linear"),
        "patch_reprogramming": PatchReprogramming(emb, 8, 4, d_model=12, num_heads=3, num_prototypes=20),
        "series_tokens": SeriesTokenEncoder(emb, 8, 8, width=5),
        "soft_prefix": SoftPrefix(3, 16),
        "series_head": SeriesHead(5, 7, 4),
        "series_classifier": SeriesClassifierHead(2, 16, 3),
        "decoupled_prompts": DecoupledPrompts(3, 32, 4, MEAN, STD),
        "description_alignment": DescriptionAlignment([torch.arange(6).view(3, 2)], top_k=1),
    }


@pytest.mark.parametrize("name", sorted(_parts()))
def test_symbolic_parameter_count_equals_measured(name):
    part = _parts()[name]
    form = part.symbolic()
    assert form.evaluate_parameter_count() == trainable_parameter_count(part)
    assert form.latex()  # renders


def test_padding_program_changes_only_the_frame_and_normalises_last():
    program = PaddingProgram(32, 16, MEAN, STD)
    with torch.no_grad():
        program.program.normal_()
    x = torch.rand(2, 3, 16, 16)
    out = program(x)
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    torch.testing.assert_close(out[:, :, 8:24, 8:24], (x - mean) / std)  # the image itself is untouched
    frame = torch.sigmoid(program.program)[:, 0, 0]
    torch.testing.assert_close(out[0, :, 0, 0], (frame - mean.flatten()) / std.flatten())
    with pytest.raises(ShapeError, match="x"):
        program(torch.rand(2, 3, 20, 20))


def test_full_canvas_program_uses_tanh_in_the_minus_one_one_range():
    program = FullCanvasProgram(8, 4, (0.0,) * 3, (1.0,) * 3)
    with torch.no_grad():
        program.program.fill_(10.0)
    out = program(torch.zeros(1, 3, 4, 4))
    assert torch.allclose(out[0, :, 0, 0], torch.ones(3), atol=1e-6)  # ½(0 + tanh(10) + 1) ≈ 1 on the frame
    assert torch.allclose(out[0, :, 3, 3], torch.zeros(3))  # black image pixel: ½(−1 + 0 + 1) = 0 (masked)


def test_watermark_prompt_is_added_after_normalisation_on_the_border_only():
    prompt = WatermarkPrompt(32, 4, MEAN, STD)
    x = torch.rand(2, 3, 32, 32)
    delta = prompt(x) - prompt.normalize(x)
    assert delta[:, :, 4:28, 4:28].abs().max() == 0
    assert (delta[:, :, :4].abs() > 0).all() and (delta[:, :, :, -4:].abs() > 0).all()


def test_shrink_pad_prompt_keeps_the_whole_image_inside_the_border():
    prompt = ShrinkPadPrompt(32, 4, (0.0,) * 3, (1.0,) * 3)
    x = torch.rand(1, 3, 24, 24)
    torch.testing.assert_close(prompt(x)[:, :, 4:28, 4:28], x)


def test_random_patch_moves_and_fixed_patch_does_not():
    generator = torch.Generator().manual_seed(0)
    random_patch = RandomPatchPrompt(32, 5, generator=generator)
    locations = {random_patch.location_of_patch() for _ in range(20)}
    assert len(locations) > 5
    fixed = FixedPatchPrompt(32, 5)
    x = torch.rand(1, 3, 32, 32)
    delta = fixed(x) - fixed.normalize(x)
    assert delta[:, :, :5, :5].abs().min() > 0 and delta[:, :, 5:].abs().max() == 0


def test_learnable_scale_receives_gradients_and_frees_the_frame_for_the_prompt():
    scale = LearnableScale(32, 16)
    prompt = ScaledPaddingPrompt(scale)
    assert not any(p is scale.scale for p in prompt.parameters())  # s is owned by the scale part only
    x = torch.rand(2, 3, 20, 20)
    scaled = scale(x)
    assert scaled.shape == (2, 3, 32, 32) and scaled[:, :, :7].abs().max() == 0  # zeros outside the 16×16 centre
    prompt(scaled).pow(2).mean().backward()
    assert scale.scale.grad is not None and scale.scale.grad.abs() > 0
    assert scale.mask()[0, 16, 16] == 0 and scale.mask()[0, 0, 0] == 1
    with torch.no_grad():
        scale.scale.fill_(0.75)
    assert scale.mask()[0, 5, 16] == 0  # a larger image leaves a thinner frame


def test_sample_specific_masks_differ_between_samples():
    program = SampleSpecificMaskProgram(32, widths=(4, 8), pools=2)
    with torch.no_grad():
        program.program.fill_(1.0)
    x = torch.rand(2, 3, 32, 32)
    masks = program.mask_generator(x)
    assert masks.shape == (2, 3, 32, 32)
    assert not torch.allclose(masks[0], masks[1])
    # patch-wise interpolation: constant over each 4 × 4 patch
    assert torch.equal(masks[:, :, :4, :4], masks[:, :, :1, :1].expand(-1, -1, 4, 4))


def test_coordinator_encoder_is_frozen_and_prompt_is_input_dependent():
    prompt = CoordinatorPrompt(32, decoder_widths=(4,), feature_channels=4, trigger_size=2)
    assert all(not p.requires_grad for p in prompt.coordinator.encoder.parameters())
    with torch.no_grad():
        for p in prompt.coordinator.decoder.parameters():
            p.normal_()
    x = torch.rand(2, 3, 32, 32)
    generated = prompt.coordinator(x)
    assert generated.shape == x.shape and not torch.allclose(generated[0], generated[1])
    out = prompt(x)
    assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6  # clipped to [0, 1] (identity normalisation)


def test_input_transformation_starts_close_to_identity():
    program = InputTransformation(32, (0.0,) * 3, (1.0,) * 3, width=4)
    with torch.no_grad():
        for p in program.parameters():
            p.zero_()
    x = torch.rand(2, 3, 32, 32) * 0.9 + 0.05
    torch.testing.assert_close(program(x), x, atol=1e-4, rtol=0)


def test_token_image_program_places_token_patches_in_reading_order():
    program = TokenImageProgram(10, 2, (2, 3), mean=(0.0,) * 3, std=(1.0,) * 3)
    tokens = torch.tensor([[1, 2, 3, 4]])
    image = program(tokens)
    assert image.shape == (1, 3, 4, 6)
    expected = (torch.tanh(program.patches[3]) + 1) / 2
    torch.testing.assert_close(image[0, :, 0:2, 4:6], expected)  # third token: row 0, column 2
    pad = (torch.tanh(program.patches[0]) + 1) / 2
    torch.testing.assert_close(image[0, :, 2:4, 4:6], pad)  # past the sequence: the pad token's patch
    with pytest.raises(ShapeError):
        program(torch.zeros(1, 7, dtype=torch.long))


def test_series_program_pads_or_repeats():
    pad = SeriesProgram(4, 10)
    with torch.no_grad():
        pad.delta.fill_(1.0)
    series = torch.arange(1.0, 5.0).view(1, 4)
    assert pad(series)[0, 0].tolist() == [1, 2, 3, 4, 1, 1, 1, 1, 1, 1]
    repeat = SeriesProgram(4, 10, placement="repeat")
    assert repeat(series)[0, 0].tolist() == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]


def test_vocabulary_remap_softmax_mixes_source_embeddings_and_passes_special_tokens():
    from reprogrammability.framework.interfaces import EmbeddingState

    emb = _embedding()
    remap = VocabularyRemap(emb, 12, mode="softmax", passthrough=[0])
    ids = torch.tensor([[0, 3, 5]])
    state = EmbeddingState(embeds=emb(ids), extra={"input_ids": ids})
    out = remap(state).embeds
    torch.testing.assert_close(out[0, 0], emb.weight[0])
    torch.testing.assert_close(out[0, 1], torch.softmax(remap.theta[3], -1) @ emb.weight)
    assert not any(p is emb.weight for p in remap.parameters())  # the frozen table is not owned


def test_description_alignment_takes_top_k_per_class_and_group():
    groups = [torch.tensor([[0, 1], [2, 3]]), torch.tensor([[4, 5], [6, 7]])]
    alignment = DescriptionAlignment(groups, top_k=1, weights=[0.75, 0.25])
    z = torch.tensor([[1.0, 3.0, 0.0, 2.0, 5.0, 1.0, 0.0, 0.0]])
    assert alignment(z).tolist() == [[0.75 * 3 + 0.25 * 5, 0.75 * 2 + 0.25 * 0]]
