"""Every prompt-tuning method of the catalog: registered with its coordinates, a runnable tiny example,
symbolic parameter counts equal to the measured ones, the frozen model untouched by training, and
learned parts that save and load."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("transformers")

from reprogrammability.framework.reprogrammer import Reprogrammer  # noqa: E402
from reprogrammability.implementations.registry import get_method, list_methods  # noqa: E402

PROMPT_TUNING_IDS = (
    "prompt-tuning",
    "p-tuning",
    "prefix-tuning",
    "p-tuning-v2",
    "spot",
    "ppt",
    "dart",
    "soft-prompt-mixture",
    "autoprompt",
    "bbt",
    "warp",
    "coop",
    "cocoop",
    "kgcoop",
    "maple",
    "vpt-shallow",
    "vpt-deep",
    "activation-prompt",
    "gpf",
    "gpf-plus",
)

# coordinates as in the catalog (catalog/methods/*.yaml, which records the reasons), notably for
# p-tuning (the encoder never reads x: concatenative), dart (trained label embeddings: linear) and
# soft-prompt-mixture (the mixed prediction is the answer: identity)
EXPECTED = {
    "prompt-tuning": ("concatenative", "embedding", "rule-based"),
    "p-tuning": ("concatenative", "embedding", "rule-based"),
    "prefix-tuning": ("concatenative", "hidden", "identity"),
    "p-tuning-v2": ("concatenative", "hidden", "linear"),
    "spot": ("concatenative", "embedding", "rule-based"),
    "ppt": ("concatenative", "embedding", "rule-based"),
    "dart": ("concatenative", "embedding", "linear"),
    "soft-prompt-mixture": ("concatenative", "embedding", "identity"),
    "autoprompt": ("concatenative", "input", "rule-based"),
    "bbt": ("concatenative", "embedding", "rule-based"),
    "warp": ("concatenative", "embedding", "linear"),
    "coop": ("concatenative", "embedding", "identity"),
    "cocoop": ("concatenative+parametric", "embedding", "identity"),
    "kgcoop": ("concatenative", "embedding", "identity"),
    "maple": ("concatenative", "embedding+hidden", "identity"),
    "vpt-shallow": ("concatenative", "embedding", "linear"),
    "vpt-deep": ("concatenative", "embedding+hidden", "linear"),
    "activation-prompt": ("additive", "hidden", "linear"),
    "gpf": ("additive", "input", "linear"),
    "gpf-plus": ("additive+parametric", "input", "linear"),
}


def _joined(values) -> str:
    return "+".join(str(v) for v in values)


def test_every_prompt_tuning_id_is_registered_from_its_module():
    registered = set(list_methods())
    assert set(PROMPT_TUNING_IDS) <= registered
    for method_id in PROMPT_TUNING_IDS:
        info = get_method(method_id)
        module = method_id.replace("-", "_")
        assert info.import_path == f"reprogrammability.implementations.prompt_tuning.{module}:build"
        # WARP calls itself adversarial reprogramming; the catalog files it there
        assert str(info.spec.paradigm) == ("model-reprogramming" if method_id == "warp" else "prompt-tuning")
        operator, location, alignment = EXPECTED[method_id]
        assert (_joined(info.spec.operator), _joined(info.spec.location), _joined(info.spec.alignment)) == (
            operator,
            location,
            alignment,
        ), method_id
        assert str(info.spec.access) == ("zeroth-order" if method_id == "bbt" else "gradient")
        assert info.config is not None and info.example is not None


@pytest.mark.parametrize("method_id", PROMPT_TUNING_IDS)
def test_example_matches_its_registration_counts_and_keeps_f_frozen(method_id, tmp_path):
    info = get_method(method_id)
    reprogrammer, inputs, targets = info.example()
    assert isinstance(reprogrammer, Reprogrammer) and reprogrammer.name == method_id
    spec = reprogrammer.spec
    assert spec.same_coordinates(info.spec), (spec.coordinates_str(), info.spec.coordinates_str())
    assert (spec.access, spec.modality) == (info.spec.access, info.spec.modality)

    # symbolic counts, evaluated at the real shapes, equal the measured ones, part by part
    for part in [*reprogrammer.inputs, reprogrammer.output]:
        form = part.symbolic()
        assert form.evaluate_parameter_count() == part.trainable_parameters, type(part).__name__
    assert reprogrammer.evaluated_parameter_count() == reprogrammer.parameter_count() > 0
    assert reprogrammer.latex().startswith(r"\hat{y} = ")

    frozen = reprogrammer.frozen
    fingerprint = frozen.fingerprint()
    optimizer = torch.optim.SGD([p for p in reprogrammer.parameters() if p.requires_grad], lr=0.1)
    scores = reprogrammer(inputs)
    assert scores.dim() == 2 and scores.shape[0] == targets.shape[0] and scores.shape[1] > int(targets.max())
    loss = F.cross_entropy(scores, targets)
    if method_id == "autoprompt":  # AutoPrompt's trigger ids are searched, never differentiated
        assert not loss.requires_grad
    else:
        loss.backward()
        trained = [n for n, p in reprogrammer.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        assert trained, "no gradient reached the learned parts"
    optimizer.step()
    frozen.assert_unchanged()
    assert frozen.fingerprint() == fingerprint

    # learned parts round-trip through save_learned / load_learned into a fresh instance
    with torch.no_grad():
        for p in reprogrammer.parameters():
            p.add_(torch.randint_like(p, 3, 9) if method_id == "autoprompt" else 0.01 * torch.randn_like(p))
        expected = reprogrammer(inputs)
    reprogrammer.save_learned(tmp_path)
    fresh, _, _ = info.example()
    fresh.load_learned(tmp_path)
    with torch.no_grad():
        assert torch.allclose(fresh(inputs), expected, atol=1e-6)


@pytest.mark.parametrize("method_id", ["prompt-tuning", "coop", "vpt-shallow", "gpf"])
def test_config_errors_name_the_field(method_id):
    info = get_method(method_id)
    reprogrammer, _, _ = info.example()
    with pytest.raises(Exception) as error:
        info.build(reprogrammer.frozen, not_a_field=1)
    assert "not_a_field" in str(error.value)
