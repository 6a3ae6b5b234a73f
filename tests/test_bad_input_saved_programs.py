"""Saved programs as a careless or hostile user meets them: another method, an edited spec, another frozen
model, NaN weights, a mixed or corrupt pair, a killed overwrite. Each ends in a clear error or a correct load."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from reprogrammability.framework import Reprogrammer
from reprogrammability.framework import reprogrammer as persistence
from reprogrammability.framework.errors import NonFiniteError, SavedProgramError
from reprogrammability.implementations.reprogramming.label_mapping import (
    BayesianLabelMapping,
    BayesianLabelMappingPlus,
    IterativeLabelMapping,
)
from reprogrammability.implementations.reprogramming.programs import PaddingProgram

WEIGHTS, CONFIG = persistence.LEARNED_WEIGHTS, persistence.LEARNED_CONFIG


def tiny_cnn(seed: int = 1) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 12)
    )


def method(name: str = "ilm-vp", seed: int = 1) -> Reprogrammer:
    """A fitted, trained-looking reprogrammer named like the catalog methods whose tensors have the same names."""
    output = {"ilm-vp": IterativeLabelMapping, "blm": BayesianLabelMapping, "blm-plus": BayesianLabelMappingPlus}[name]
    r = Reprogrammer(tiny_cnn(seed), PaddingProgram(16, 8), output(12, 4), paradigm="model-reprogramming", name=name)
    torch.manual_seed(0)
    r.output.fit(torch.randn(40, 12), torch.arange(40) % 4)
    with torch.no_grad():
        r.inputs[0].program.normal_()
    return r


IMAGES = torch.rand(5, 3, 8, 8)


def test_round_trip_is_exact_and_files_are_world_readable(tmp_path):
    saved = method()
    saved.save_learned(tmp_path / "p")
    fresh = method()
    with torch.no_grad():
        fresh.inputs[0].program.zero_()
    fresh.load_learned(tmp_path / "p")
    assert torch.equal(fresh(IMAGES), saved(IMAGES))
    mask = os.umask(0)
    os.umask(mask)
    for name in (WEIGHTS, CONFIG):
        assert stat.S_IMODE((tmp_path / "p" / name).stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "p").stat().st_mode) == 0o777 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"], "no staging folder is left behind"


@pytest.mark.parametrize("other", ["blm", "blm-plus"])
def test_a_program_of_another_method_with_the_same_tensor_names_is_refused(tmp_path, other):
    method("ilm-vp").save_learned(tmp_path)
    target = method(other)
    assert set(target.state_dict()) == set(method("ilm-vp").state_dict())
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(
        SavedProgramError, match=rf"name: the program was saved by method 'ilm-vp'.*this reprogrammer is '{other}'"
    ):
        target.load_learned(tmp_path)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items()), "a refused load changes nothing"


def test_an_edited_spec_is_refused_and_names_the_field(tmp_path):
    method().save_learned(tmp_path)
    config = json.loads((tmp_path / CONFIG).read_text())
    config["spec"]["alignment"] = ["linear"]
    (tmp_path / CONFIG).write_text(json.dumps(config))
    with pytest.raises(SavedProgramError, match=r"spec\.alignment: saved \[\"linear\"\]"):
        method().load_learned(tmp_path)


def test_another_frozen_model_is_refused_unless_explicitly_allowed(tmp_path):
    saved = method(seed=1)
    saved.save_learned(tmp_path)
    other = method(seed=2)
    assert other.frozen.fingerprint() != saved.frozen.fingerprint()
    with pytest.raises(SavedProgramError, match="frozen_model_fingerprint: .*allow_fingerprint_mismatch=True"):
        other.load_learned(tmp_path)
    other.load_learned(tmp_path, allow_fingerprint_mismatch=True)
    assert torch.equal(other.inputs[0].program, saved.inputs[0].program)


def _rewrite_weights(directory, state):
    """Replace the weights and (as an attacker would) their recorded hash."""
    save_file(state, str(directory / WEIGHTS))
    config = json.loads((directory / CONFIG).read_text())
    config["weights_sha256"] = persistence._sha256(directory / WEIGHTS)
    (directory / CONFIG).write_text(json.dumps(config))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_never_load(tmp_path, bad):
    saved = method()
    saved.save_learned(tmp_path)
    state = saved.learned_state()
    state["inputs.0.program"][0, 0, 0] = bad
    _rewrite_weights(tmp_path, state)
    with pytest.raises(NonFiniteError, match=r"tensor 'inputs.0.program': 1 of 768 entries are not finite"):
        method().load_learned(tmp_path)


def test_a_wrong_dtype_in_the_weights_is_refused(tmp_path):
    saved = method()
    saved.save_learned(tmp_path)
    state = saved.learned_state()
    state["inputs.0.program"] = state["inputs.0.program"].double()
    _rewrite_weights(tmp_path, state)
    with pytest.raises(
        SavedProgramError, match=r"tensor 'inputs.0.program' has dtype torch.float64, expected torch.float32"
    ):
        method().load_learned(tmp_path)


def test_a_non_finite_program_is_never_saved(tmp_path):
    r = method()
    with torch.no_grad():
        r.inputs[0].program[1, 2, 3] = float("nan")
    with pytest.raises(NonFiniteError, match="learned tensor 'inputs.0.program'.*refusing to save"):
        r.save_learned(tmp_path / "p")
    assert not (tmp_path / "p").exists() and list(tmp_path.iterdir()) == []


def test_weights_from_one_save_beside_the_json_of_another_are_refused(tmp_path):
    first, second = method(), method()
    with torch.no_grad():
        second.inputs[0].program.add_(1)
    first.save_learned(tmp_path / "a")
    second.save_learned(tmp_path / "b")
    os.replace(tmp_path / "b" / WEIGHTS, tmp_path / "a" / WEIGHTS)
    with pytest.raises(SavedProgramError, match="not from one save"):
        method().load_learned(tmp_path / "a")


def test_a_killed_overwrite_leaves_the_old_program_whole(tmp_path, monkeypatch):
    old, new = method(), method()
    with torch.no_grad():
        new.inputs[0].program.add_(1)
    old.save_learned(tmp_path / "p")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies between writing the new files and moving them into place

    monkeypatch.setattr(persistence, "_install", killed)
    with pytest.raises(KeyboardInterrupt):
        new.save_learned(tmp_path / "p", overwrite=True)
    monkeypatch.undo()
    fresh = method()
    fresh.load_learned(tmp_path / "p")
    assert torch.equal(fresh.inputs[0].program, old.inputs[0].program)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]
    new.save_learned(tmp_path / "p", overwrite=True)
    fresh.load_learned(tmp_path / "p")
    assert torch.equal(fresh.inputs[0].program, new.inputs[0].program)


def test_overwrite_without_the_exchange_syscall_still_replaces_the_pair(tmp_path, monkeypatch):
    old, new = method(), method()
    with torch.no_grad():
        new.inputs[0].program.mul_(-1)
    old.save_learned(tmp_path / "p")
    monkeypatch.setattr(persistence, "_exchange", lambda a, b: False)
    new.save_learned(tmp_path / "p", overwrite=True)
    fresh = method()
    fresh.load_learned(tmp_path / "p")
    assert torch.equal(fresh.inputs[0].program, new.inputs[0].program)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_save_refuses_a_file_or_a_folder_of_other_files(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="directory: .* is a file"):
        method().save_learned(tmp_path / "file")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"holds other files \(notes.txt\)"):
        method().save_learned(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "config, message",
    [
        ("not json{", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "is not valid JSON"),
        ('{"name": "ilm-vp"}', "format: missing"),
        (None, "no reprogrammer.json"),
    ],
)
def test_a_broken_or_missing_json_is_a_clear_error(tmp_path, config, message):
    method().save_learned(tmp_path)
    if config is None:
        (tmp_path / CONFIG).unlink()
    else:
        (tmp_path / CONFIG).write_text(config)
    with pytest.raises(SavedProgramError, match=message):
        method().load_learned(tmp_path)


def test_corrupt_weights_are_a_clear_error(tmp_path):
    method().save_learned(tmp_path)
    (tmp_path / WEIGHTS).write_bytes(b"\xff" * 64)
    config = json.loads((tmp_path / CONFIG).read_text())
    config["weights_sha256"] = persistence._sha256(tmp_path / WEIGHTS)
    (tmp_path / CONFIG).write_text(json.dumps(config))
    with pytest.raises(SavedProgramError, match="is not a readable safetensors file"):
        method().load_learned(tmp_path)
