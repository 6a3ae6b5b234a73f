"""Method inputs as a careless or hostile user gives them: NaN, inf, empty, wrong dtypes, out-of-range labels and
token ids, absurd hyper-parameters. Every probe ends in a correct result or a clear error (ValueError or
TypeError) that names the argument; nothing non-finite is learned, reported or saved."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from reprogrammability.framework import FrozenModel, Reprogrammer
from reprogrammability.framework.errors import DTypeError, InputError, NonFiniteError, ShapeError
from reprogrammability.framework.training import Trainer
from reprogrammability.implementations.reprogramming.label_mapping import (
    BayesianLabelMapping,
    BayesianLabelMappingPlus,
    FrequencyLabelMapping,
    IterativeLabelMapping,
    ManyToOneLabelMapping,
    RandomLabelMapping,
    ShuffledLabelMapping,
    SimilarityLabelMapping,
    blm_omega,
    frequency_matrix,
)
from reprogrammability.implementations.reprogramming.programs import PaddingProgram

STATISTICAL = [
    FrequencyLabelMapping,
    IterativeLabelMapping,
    BayesianLabelMapping,
    BayesianLabelMappingPlus,
    ManyToOneLabelMapping,
    SimilarityLabelMapping,
]


def tiny_cnn(classes: int = 12) -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, classes)
    )


def visual(output=None) -> Reprogrammer:
    return Reprogrammer(
        tiny_cnn(), PaddingProgram(16, 8), output or FrequencyLabelMapping(12, 4), paradigm="model-reprogramming"
    )


def data(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, 8, 8, generator=generator), torch.arange(n) % 4


def trainer(r: Reprogrammer, **options) -> Trainer:
    return Trainer(r, **{"epochs": 1, "batch_size": 8, "progress": False, "device": "cpu", **options})


# -- NaN / inf: training stops with a clear error, nothing non-finite is learned or saved ---------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_one_non_finite_pixel_stops_training_before_the_program_changes(bad):
    images, labels = data()
    images[5, 1, 2, 3] = bad
    r = visual()
    before = r.inputs[0].program.detach().clone()
    with pytest.raises(NonFiniteError, match=r"x: 1 of 1536 entries are not finite"):
        trainer(r).fit((images, labels))
    assert torch.equal(r.inputs[0].program, before), "the program is untouched by a refused run"
    assert torch.isfinite(r.inputs[0].program).all()


def test_a_diverging_loss_stops_training_naming_the_learning_rate():
    r = Reprogrammer(tiny_cnn(), PaddingProgram(16, 8), paradigm="model-reprogramming")

    def exploding(logits, targets):
        return nn.functional.cross_entropy(logits, targets) * float("inf")

    with pytest.raises(NonFiniteError, match=r"loss: not finite .* epoch 1, step 1; .*lower learning_rate"):
        Trainer(r, epochs=1, batch_size=8, progress=False, device="cpu", loss_fn=exploding).fit(data())
    assert torch.isfinite(r.inputs[0].program).all(), "the non-finite step was never applied"


def test_a_program_made_non_finite_is_caught_before_f_and_never_saved(tmp_path):
    r = visual()
    images, labels = data()
    trainer(r, epochs=0).fit((images, labels))
    with torch.no_grad():
        r.inputs[0].program[0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="x after PaddingProgram"):
        r(images)
    with pytest.raises(NonFiniteError, match="learned tensor 'inputs.0.program'"):
        r.save_learned(tmp_path / "p")
    assert not (tmp_path / "p").exists()


# -- dtypes, shapes and emptiness at the frozen model's boundary ----------------------------------------------
def test_float64_and_float16_images_are_cast_to_the_models_dtype():
    r = visual()
    images, labels = data()
    trainer(r, epochs=0).fit((images, labels))
    expected = r(images)
    torch.testing.assert_close(r(images.double()), expected)
    torch.testing.assert_close(r(images.half()), expected, atol=5e-3, rtol=5e-3)
    result = trainer(visual()).fit((images.double(), labels))
    assert all(torch.isfinite(torch.tensor(v)) for v in result.final.values())


def test_uint8_images_are_a_clear_error_with_the_conversion():
    r = visual()
    images, labels = data()
    with pytest.raises(DTypeError, match=r"x: torch.uint8 is not accepted; .*x.float\(\) / 255"):
        trainer(r).fit(((images * 255).to(torch.uint8), labels))
    bare = Reprogrammer(tiny_cnn(), PaddingProgram(8, 8), IndexMappingFirst4(), paradigm="model-reprogramming")
    with pytest.raises(DTypeError, match="x: torch.uint8 is not accepted"):
        bare((images * 255).to(torch.uint8))


def IndexMappingFirst4():
    from reprogrammability.framework import IndexMapping

    return IndexMapping.first_k(4)


def test_integer_images_never_reach_a_model_without_a_token_embedding():
    frozen = FrozenModel(tiny_cnn())
    with pytest.raises(DTypeError, match="x: torch.int64 values, but the frozen model has no token embedding"):
        frozen(torch.zeros(2, 3, 8, 8, dtype=torch.long))


@pytest.mark.parametrize(
    "batch, error, message",
    [
        (torch.rand(0, 3, 8, 8), InputError, r"x: is empty \(a torch.float32 tensor of shape \(0, 3, 8, 8\)\)"),
        (torch.tensor(1.0), ShapeError, "x: expected a batch"),
        (None, DTypeError, "x: got None"),
        ([], InputError, "x: is empty"),
        (torch.rand(2, 3, 8, 8, dtype=torch.complex64), DTypeError, "x: complex tensors are not accepted"),
    ],
)
def test_empty_and_malformed_batches_are_named(batch, error, message):
    with pytest.raises(error, match=message):
        FrozenModel(tiny_cnn())(batch)


def test_token_ids_are_checked_against_the_vocabulary():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(50, 8), nn.Flatten(), nn.Linear(24, 4))
    frozen = FrozenModel(model)
    assert frozen(torch.randint(0, 50, (2, 3))).shape == (2, 4)
    with pytest.raises(
        DTypeError, match=r"x\['input_ids'\]: torch.float32 token ids or masks; expected an integer tensor"
    ):
        frozen.check_input({"input_ids": torch.ones(2, 3), "attention_mask": torch.ones(2, 3, dtype=torch.long)})


# -- labels ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "labels, message",
    [
        (torch.arange(16) % 4 - 1, r"train targets: label -1 is out of range"),
        (torch.full((16,), -100), r"train targets: label -100 is out of range"),
        (torch.arange(16) % 4 + 12, r"train targets: label 15 is out of range; the reprogrammer predicts 12 classes"),
        (torch.arange(16) % 4 + 0.5, r"targets: expected integer class labels, got non-integral"),
    ],
)
def test_out_of_range_and_fractional_labels_are_refused(labels, message):
    images, _ = data()
    r = Reprogrammer(tiny_cnn(), PaddingProgram(16, 8), paradigm="model-reprogramming")
    with pytest.raises((InputError, DTypeError), match=message):
        trainer(r).fit((images, labels))


def test_labels_beyond_the_target_classes_are_refused_by_the_label_mapping():
    images, labels = data()
    with pytest.raises(InputError, match=r"targets: label 4 is out of range; allowed class labels are 0..3"):
        trainer(visual()).fit((images, labels.clamp(max=3) + (labels == 3).long()))


def test_whole_number_float_labels_train_like_integer_labels():
    images, labels = data()
    first, second = visual(), visual()
    a = trainer(first).fit((images, labels))
    b = trainer(second).fit((images, labels.float()))
    assert a.final["loss"] == b.final["loss"] and torch.equal(first.inputs[0].program, second.inputs[0].program)


@pytest.mark.parametrize(
    "pair, error, message",
    [
        ((torch.rand(0, 3, 8, 8), torch.zeros(0, dtype=torch.long)), InputError, "data: is empty"),
        (
            (torch.rand(4, 3, 8, 8), torch.zeros(3, dtype=torch.long)),
            InputError,
            r"inputs \(4, 3, 8, 8\) and targets \(3,\)",
        ),
        (None, TypeError, "data: expected"),
    ],
)
def test_empty_and_mismatched_data_are_named(pair, error, message):
    with pytest.raises(error, match=message):
        trainer(visual()).fit(pair)


# -- label mappings: never "fitted" on nothing, on -1, or on NaN -----------------------------------------------
@pytest.mark.parametrize("cls", STATISTICAL)
def test_statistical_mappings_refuse_empty_negative_and_non_finite_inputs(cls):
    mapping = cls(12, 4)
    z, y = torch.randn(20, 12), torch.arange(20) % 4
    with pytest.raises(InputError, match=r"source_outputs: is empty \(0 samples\)"):
        mapping.fit(z[:0], y[:0])
    with pytest.raises(InputError, match="targets: label -1 is out of range; allowed class labels are 0..3"):
        mapping.fit(z, y - 1)
    with pytest.raises(InputError, match="targets: label 4 is out of range"):
        mapping.fit(z, y + 1)
    with pytest.raises(NonFiniteError, match="source_outputs: 240 of 240 entries are not finite"):
        mapping.fit(torch.full_like(z, float("nan")), y)
    with pytest.raises(NonFiniteError, match="source_outputs: 1 of 240"):
        mapping.fit(torch.where(torch.arange(240).view(20, 12) == 7, float("inf"), z), y)
    assert not mapping.is_fitted, "no failed fit marks the mapping fitted"
    mapping.fit(z, y)
    assert mapping.is_fitted and torch.isfinite(mapping(z)).all()
    with pytest.raises(
        ShapeError, match=r"z: expected the frozen model's outputs \(..., C_s\) with C_s = 12, got shape \(3, 5\)"
    ):
        mapping(torch.randn(3, 5))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: FrequencyLabelMapping(0, 0), "num_source: expected a whole number ≥ 1, got 0"),
        (lambda: FrequencyLabelMapping(10.5, 2), "num_source: expected a whole number ≥ 1, got 10.5"),
        (lambda: ShuffledLabelMapping(-1), "num_classes: expected a whole number ≥ 1, got -1"),
        (lambda: RandomLabelMapping(10, 0), "num_target: expected a whole number ≥ 1, got 0"),
        (lambda: BayesianLabelMapping(12, 4, laplace=float("nan")), "laplace: expected a finite λ ≥ 0, got nan"),
    ],
)
def test_mapping_constructors_name_the_bad_argument(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 12),
    low=st.integers(-3, 1),
    high=st.integers(0, 7),
    poison=st.sampled_from([None, float("nan"), float("inf")]),
    cls=st.sampled_from(STATISTICAL),
)
def test_fuzzed_fits_are_correct_or_a_clear_error(n, low, high, poison, cls):
    generator = torch.Generator().manual_seed(n * 31 + high)
    z = torch.randn(n, 12, generator=generator)
    y = torch.randint(low, max(low, high) + 1, (n,), generator=generator)
    if poison is not None and n:
        z[0, 0] = poison
    mapping = cls(12, 4)
    try:
        mapping.fit(z, y)
    except (ValueError, TypeError) as error:
        assert any(name in str(error) for name in ("source_outputs", "targets", "omega")), error
        assert not mapping.is_fitted
        return
    assert n > 0 and poison is None and int(y.min()) >= 0 and int(y.max()) < 4
    assert torch.isfinite(mapping.omega).all() and torch.isfinite(mapping(z)).all()


def test_pure_estimators_check_their_inputs_too():
    z, y = torch.randn(20, 12), torch.arange(20) % 4
    with pytest.raises(InputError, match="targets: label 12 is out of range"):
        frequency_matrix(z, y + 9, 12, 4)
    with pytest.raises(NonFiniteError, match="source_outputs"):
        blm_omega(z * float("nan"), y, 4)


# -- fuzzed method inputs: ok or a clear error, never a crash or a silent NaN ----------------------------------
_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.uint8, torch.int64, torch.bool]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.integers(0, 3),
    size=st.sampled_from([8, 9]),
    channels=st.sampled_from([1, 3]),
    dtype=st.sampled_from(_DTYPES),
    poison=st.sampled_from([None, float("nan"), float("inf"), 1e30]),
)
def test_fuzzed_images_end_in_a_finite_prediction_or_a_clear_error(batch, size, channels, dtype, poison):
    r = FUZZ_MODEL
    images = torch.rand(batch, channels, size, size)
    if poison is not None and batch:
        images[0, 0, 0, 0] = poison
    try:
        images = images.to(dtype)
    except RuntimeError:
        return
    try:
        scores = r(images)
    except (ValueError, TypeError) as error:
        assert str(error).startswith("x"), error
        return
    assert scores.shape == (batch, 4) and torch.isfinite(scores).all()


FUZZ_MODEL = visual(IndexMappingFirst4())
