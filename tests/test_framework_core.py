"""The torch parts: the frozen-model guarantee, composition, symbolic counts, persistence, errors."""

from __future__ import annotations

import pytest
import sympy as sp
import torch
from torch import nn

from reprogrammability.framework import (
    Configuration,
    FrozenModel,
    FrozenModelError,
    IdentityAlignment,
    IndexMapping,
    InputManipulation,
    InterfaceError,
    LinearAlignment,
    Location,
    NotFittedError,
    Operator,
    Reprogrammer,
    ShapeError,
    SpecError,
)
from reprogrammability.framework.baselines import FullFineTuning, LinearProbe
from reprogrammability.framework.symbolic import SymbolicForm, symbols, x
from reprogrammability.framework.training import Trainer
from reprogrammability.implementations.reprogramming.label_mapping import FrequencyLabelMapping
from reprogrammability.implementations.reprogramming.programs import PaddingProgram


def tiny_cnn(classes: int = 20) -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(8 * 16, classes),
    )


def program(canvas: int = 16, image: int = 8) -> PaddingProgram:
    return PaddingProgram(canvas, image, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def reprogrammer(output=None, model=None) -> Reprogrammer:
    return Reprogrammer(
        model or tiny_cnn(), program(), output or IndexMapping.first_k(4), paradigm="model-reprogramming"
    )


class Writer(InputManipulation):
    """A manipulation that (wrongly) writes to the frozen model it is given."""

    configuration, operator, location = Configuration.LEARNABLE, Operator.ADDITIVE, Location.INPUT

    def __init__(self, victim: nn.Module):
        super().__init__()
        self.delta = nn.Parameter(torch.zeros(3, 16, 16))
        object.__setattr__(self, "victim", victim)

    def forward(self, x):
        with torch.no_grad():
            self.victim[0].weight.add_(1.0)
        return x + self.delta

    def symbolic(self):
        C, H, W = symbols("C H W")
        return SymbolicForm(x + sp.Symbol("delta"), C * H * W, {C: 3, H: 16, W: 16})


# -- the frozen model ----------------------------------------------------------------------
def test_frozen_model_freezes_and_stays_in_eval():
    cnn = tiny_cnn()
    frozen = FrozenModel(cnn)
    assert not any(p.requires_grad for p in cnn.parameters())
    frozen.train()
    assert not cnn.training and not frozen.training
    r = reprogrammer(model=cnn)
    r.train()
    assert r.training and not cnn.training, "training the reprogrammer must not put f in train mode"


def test_reprogrammer_parameters_are_only_those_of_I_and_O():
    r = reprogrammer(output=LinearAlignment(20, 4))
    names = {n for n, _ in r.named_parameters()}
    assert names == {"inputs.0.program", "output.linear.weight", "output.linear.bias"}
    assert not any(k.startswith("_frozen") for k in r.state_dict())


def test_training_leaves_frozen_model_bit_identical_and_gradient_free():
    cnn = tiny_cnn()
    r = reprogrammer(model=cnn, output=LinearAlignment(20, 4))
    before = {k: v.clone() for k, v in {**dict(cnn.named_parameters()), **dict(cnn.named_buffers())}.items()}
    fingerprint = r.frozen.fingerprint()
    images, labels = torch.rand(32, 3, 8, 8), torch.randint(0, 4, (32,))
    program_before = r.inputs[0].program.detach().clone()
    Trainer(r, epochs=2, batch_size=8, learning_rate=0.05, progress=False).fit((images, labels))
    after = {**dict(cnn.named_parameters()), **dict(cnn.named_buffers())}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert r.frozen.fingerprint() == fingerprint and r.frozen.changed_tensors() == []
    assert all(p.grad is None for p in cnn.parameters())
    assert not torch.equal(r.inputs[0].program, program_before), "the program itself must have learned"


def test_a_manipulation_that_writes_to_f_fails_loudly():
    cnn = tiny_cnn()
    frozen = FrozenModel(cnn)
    r = Reprogrammer(frozen, Writer(cnn), IndexMapping.first_k(4), paradigm="model-reprogramming")
    with pytest.raises(FrozenModelError, match=r"parameter 0\.weight of the frozen model was written in place"):
        r(torch.rand(2, 3, 16, 16))
    assert "parameter 0.weight" in frozen.changed_tensors()
    with pytest.raises(FrozenModelError, match="the frozen model changed"):
        frozen.assert_unchanged()


def test_gradients_never_reach_f_and_re_enabled_gradients_are_caught():
    cnn = tiny_cnn()
    r = reprogrammer(model=cnn)
    r(torch.rand(2, 3, 8, 8)).sum().backward()
    assert r.inputs[0].program.grad is not None
    assert all(p.grad is None for p in cnn.parameters())
    cnn[0].weight.requires_grad_(True)
    with pytest.raises(FrozenModelError, match="must not require or hold gradients: 0.weight"):
        r.frozen.assert_no_gradients()


def test_device_moves_keep_the_guarantee():
    r = reprogrammer()
    fingerprint = r.frozen.fingerprint()
    r.to("cpu").to(torch.float32)
    r(torch.rand(1, 3, 8, 8))
    assert r.frozen.fingerprint() == fingerprint


# -- symbolic form -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "output",
    [
        IdentityAlignment(),
        IdentityAlignment([0, 3]),
        IndexMapping([[0, 1], [2, 3]]),
        LinearAlignment(20, 4),
        FrequencyLabelMapping(20, 4),
    ],
    ids=["identity", "restriction", "rule", "linear", "flm"],
)
def test_symbolic_count_equals_measured_count(output):
    r = reprogrammer(output=output)
    assert r.evaluated_parameter_count() == r.parameter_count()
    for name, form in r.symbolic_parts():
        module = r.output if name.startswith("O:") else r.inputs[0]
        assert form.evaluate_parameter_count() == module.trainable_parameters, name


def test_padding_program_formula_and_count():
    p = PaddingProgram(224, 128)
    form = p.symbolic()
    assert str(form.parameter_count) == "C*H*W" and form.evaluate_parameter_count() == 3 * 224 * 224
    r = Reprogrammer(tiny_cnn(), p, FrequencyLabelMapping(20, 10), paradigm="model-reprogramming")
    latex = r.latex()
    assert latex.startswith(r"\hat{y} = ") and r"\odot" in latex and r"\operatorname{pad}" in latex
    assert r"\omega_{\mathrm{FLM}}" in latex and "f" in latex


def test_baselines_make_the_ratio_computed():
    cnn = tiny_cnn()
    r = reprogrammer(model=cnn)
    fine_tuning = FullFineTuning(cnn, feature_dim=20, num_classes=4)
    expected = sum(p.numel() for p in cnn.parameters()) + 20 * 4 + 4
    assert fine_tuning.parameter_count() == expected
    assert LinearProbe(20, 4).parameter_count() == 84
    assert r.parameter_count() / fine_tuning.parameter_count() == pytest.approx(3 * 16 * 16 / expected)


def test_missing_shape_value_is_named():
    C, H = symbols("C H")
    with pytest.raises(ValueError, match=r"no value for shape symbol\(s\) \['H'\]"):
        SymbolicForm(x, C * H, {C: 3}).evaluate_parameter_count()


# -- persistence ---------------------------------------------------------------------------
def test_safetensors_round_trip_is_bit_exact(tmp_path):
    r = reprogrammer(output=FrequencyLabelMapping(20, 4))
    r.output.fit(torch.randn(50, 20), torch.arange(50) % 4)
    with torch.no_grad():
        r.inputs[0].program.normal_()
    r.save_learned(tmp_path)
    fresh = reprogrammer(output=FrequencyLabelMapping(20, 4))
    fresh.load_learned(tmp_path)
    for key, value in r.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key
    images = torch.rand(3, 3, 8, 8)
    assert torch.equal(r(images), fresh(images))
    from safetensors import safe_open

    with safe_open(str(tmp_path / "reprogrammer.safetensors"), "pt") as handle:
        assert set(handle.keys()) == set(r.state_dict()), "the frozen model is never saved"


def test_save_refuses_to_overwrite_and_load_checks_shapes(tmp_path):
    r = reprogrammer()
    r.save_learned(tmp_path)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        r.save_learned(tmp_path)
    r.save_learned(tmp_path, overwrite=True)
    other = Reprogrammer(tiny_cnn(), PaddingProgram(20, 8), IndexMapping.first_k(4), paradigm="model-reprogramming")
    with pytest.raises(ValueError, match=r"tensor 'inputs.0.program' has shape \(3, 16, 16\), expected \(3, 20, 20\)"):
        other.load_learned(tmp_path)
    with pytest.raises(FileNotFoundError, match="no reprogrammer.safetensors"):
        r.load_learned(tmp_path / "missing")


# -- errors name the argument -------------------------------------------------------------
def test_wrong_shapes_and_arguments_are_named():
    r = reprogrammer()
    with pytest.raises(ShapeError, match=r"x: expected shape \(B, 3, 8, 8\), got \(2, 3, 9, 9\)"):
        r(torch.rand(2, 3, 9, 9))
    with pytest.raises(ValueError, match="image_size: 20x20 does not fit in canvas_size 16x16"):
        PaddingProgram(16, 20)
    with pytest.raises(TypeError, match="input\\[0\\]: expected an InputManipulation, got Linear"):
        Reprogrammer(tiny_cnn(), nn.Linear(2, 2), paradigm="model-reprogramming")
    with pytest.raises(ValueError, match="input: a reprogrammer needs at least one InputManipulation"):
        Reprogrammer(tiny_cnn(), [], paradigm="model-reprogramming")
    with pytest.raises(ValueError, match="paradigm: 'fine-tuning' is not one of"):
        Reprogrammer(tiny_cnn(), program(), paradigm="fine-tuning")
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        FrozenModel("resnet")
    with pytest.raises(ValueError, match="num_target: 30 target classes exceed the 20 source classes"):
        FrequencyLabelMapping(20, 30)
    with pytest.raises(ValueError, match="epochs"):
        Trainer(reprogrammer(), epochs=-1)
    with pytest.raises(ValueError, match="device: 'gpu9' is not a torch device"):
        Trainer(reprogrammer(), device="gpu9")


def test_spec_is_validated_at_construction():
    class TrainableButFixed(PaddingProgram):
        configuration = Configuration.FIXED

    with pytest.raises(SpecError, match="fixed-has-no-trainable-parameters"):
        Reprogrammer(tiny_cnn(), TrainableButFixed(16, 8), paradigm="prompt-instruction")
    with pytest.raises(SpecError, match="statistical-alignment-has-no-gradient-parameters"):
        bad = FrequencyLabelMapping(20, 4)
        bad.extra = nn.Parameter(torch.zeros(3))
        Reprogrammer(tiny_cnn(), program(), bad, paradigm="model-reprogramming")


def test_interface_not_exposed_is_rejected():
    class EmbeddingPrompt(InputManipulation):
        configuration, operator, location = Configuration.LEARNABLE, Operator.CONCATENATIVE, Location.EMBEDDING

        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros(2, 4))

        def forward(self, state):
            return state.prepend(self.p)

        def symbolic(self):
            return SymbolicForm(x, sp.Integer(8))

    with pytest.raises(InterfaceError, match=r"acts on \['embedding'\].*exposes only \['input'\]"):
        Reprogrammer(tiny_cnn(), EmbeddingPrompt(), paradigm="prompt-tuning")


def test_statistical_alignment_must_be_fitted_before_use():
    r = reprogrammer(output=FrequencyLabelMapping(20, 4))
    with pytest.raises(NotFittedError, match="call fit"):
        r(torch.rand(1, 3, 8, 8))
    with pytest.raises(ShapeError, match=r"source_outputs: expected shape \(N, 20\)"):
        r.output.fit(torch.randn(5, 19), torch.zeros(5, dtype=torch.long))


# -- trainer -------------------------------------------------------------------------------
def test_trainer_is_seeded_and_fits_statistical_alignment():
    images, labels = torch.rand(40, 3, 8, 8), torch.arange(40) % 4

    def run():
        r = reprogrammer(output=FrequencyLabelMapping(20, 4))
        result = Trainer(r, epochs=2, batch_size=10, learning_rate=0.1, seed=3, progress=False).fit(
            (images, labels), eval=(images, labels)
        )
        return r, result

    (r1, res1), (r2, res2) = run(), run()
    assert r1.output.is_fitted and r1.output.omega.sum() == 4
    assert torch.equal(r1.inputs[0].program, r2.inputs[0].program)
    assert res1.history == [{**h, "seconds": res1.history[i]["seconds"]} for i, h in enumerate(res2.history)]
    assert res1.steps == 8 and 0.0 <= res1.final["eval_accuracy"] <= 1.0


def test_refit_each_epoch_uses_the_epoch_logits_without_extra_pass():
    calls = []

    class CountingILM(FrequencyLabelMapping):
        refit_each_epoch = True

        def estimate(self, z, y):
            calls.append(z.shape[0])
            return super().estimate(z, y)

    images, labels = torch.rand(30, 3, 8, 8), torch.arange(30) % 4
    r = reprogrammer(output=CountingILM(20, 4))
    passes = []
    r.frozen.register_forward_hook(lambda *args: passes.append(1))
    Trainer(r, epochs=3, batch_size=10, progress=False).fit((images, labels))
    assert calls == [30, 30, 30, 30], "one initial fit, then one refit per epoch from the collected logits"
    assert len(passes) == 3 + 3 * 3, "one initial pass (3 batches) + 3 epochs × 3 training batches, nothing more"
