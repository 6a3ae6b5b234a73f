"""``nnr predict``: a bank from a factory file, a manifest of images and their tasks, one prediction per image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from reprogrammability.cli import main

FACTORY = """
import torch
from reprogrammability.framework import FrozenModel, Reprogrammer
from reprogrammability.framework.alignment import IndexMapping
from reprogrammability.implementations.models.tiny import tiny_cnn
from reprogrammability.implementations.reprogramming.programs import PaddingProgram
from reprogrammability.implementations.serving import ProgramBank


def make_bank():
    torch.manual_seed(0)
    frozen = FrozenModel(tiny_cnn())
    bank = ProgramBank(frozen)
    for name, classes in (("colours", 3), ("shapes", 4)):
        program = PaddingProgram(32, 16)
        program.program.data = torch.randn(program.program.shape)
        bank.add(name, Reprogrammer(frozen, program, IndexMapping.first_k(classes), paradigm="model-reprogramming"),
                 labels=[f"{name}{i}" for i in range(classes)])
    return bank
"""


def _setup(tmp_path):
    (tmp_path / "bank.py").write_text(FACTORY)
    rng = np.random.default_rng(0)
    files = []
    for i in range(4):
        name = f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / name)
        files.append(name)
    return files


def test_predict_runs_each_image_through_its_task(tmp_path, capsys):
    files = _setup(tmp_path)
    tasks = ["colours", "shapes", "shapes", "colours"]
    (tmp_path / "manifest.csv").write_text("file,task\n" + "".join(f"{f},{t}\n" for f, t in zip(files, tasks)))
    assert main(["predict", f"{tmp_path / 'bank.py'}:make_bank", "--manifest", str(tmp_path / "manifest.csv")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "input,task,prediction"
    # the same bank, asked directly
    namespace: dict = {}
    exec(FACTORY, namespace)
    bank = namespace["make_bank"]()
    images = torch.stack(
        [torch.from_numpy(np.asarray(Image.open(tmp_path / f), dtype=np.float32) / 255).permute(2, 0, 1) for f in files]
    )
    expected = bank.labels(images, tasks)
    assert lines[1:] == [f"{f},{t},{p}" for f, t, p in zip(files, tasks, expected)]
    assert all(p.startswith(t) for t, p in zip(tasks, expected))


def test_predict_names_an_unknown_task_in_the_manifest(tmp_path, capsys):
    files = _setup(tmp_path)
    (tmp_path / "manifest.json").write_text(f'[{{"file": "{files[0]}", "task": "weather"}}]')
    code = main(["predict", f"{tmp_path / 'bank.py'}:make_bank", "--manifest", str(tmp_path / "manifest.json")])
    assert code == 2
    error = capsys.readouterr().err
    assert "entry 1 (img0.png) names unknown task 'weather'" in error and "colours, shapes" in error


# -- a bank from saved program files: --model + --program TASK=PATH, or a bank folder -----------------------------
MODELS = """
import torch
from reprogrammability.framework import FrozenModel
from reprogrammability.implementations.models.tiny import tiny_causal_lm, tiny_cnn, tiny_tokenizer


def make_lm():
    return FrozenModel(tiny_causal_lm("llama", seed=SEED), tokenizer=tiny_tokenizer(style="causal"), readout="last")


def make_cnn():
    torch.manual_seed(SEED)
    return tiny_cnn()
"""

TEXTS = ["the movie was great . it was", "bad film . it was", "ok . it was", "a plot about nothing . it was"]


def _models(tmp_path, seed=0, name="models.py"):
    (tmp_path / name).write_text(MODELS.replace("SEED", str(seed)))
    return f"{tmp_path / name}"


def _namespace(path):
    namespace: dict = {}
    exec(Path(path).read_text(), namespace)
    return namespace


def _text_bank_on_disk(tmp_path):
    """Two prompt-tuning tasks (prompts of 2 and 5 tokens, different label words) saved with their recipes."""
    from reprogrammability.implementations.registry import create_method
    from reprogrammability.implementations.serving import ProgramBank, save_task

    models = _models(tmp_path)
    bank = ProgramBank(_namespace(models)["make_lm"]())
    configs = {
        "sentiment": {"label_words": ["bad", "good"], "num_virtual_tokens": 2},
        "size": {"label_words": ["small", "big", "huge"], "num_virtual_tokens": 5},
    }
    for seed, (task, config) in enumerate(configs.items()):
        program = create_method("prompt-tuning", bank.frozen, config)
        torch.manual_seed(seed)
        for parameter in program.parameters():
            if parameter.requires_grad:
                parameter.data.normal_()
        labels = [f"{task}-{w}" for w in config["label_words"]]
        bank.add(task, program, labels=labels)
        save_task(bank, task, tmp_path / "bank" / task, config=config)
    return bank, models


def _predict(capsys, *argv):
    code = main(["predict", *argv])
    captured = capsys.readouterr()
    return code, captured.out.strip().splitlines(), captured.err


def test_saved_text_programs_with_model_and_program_flags_match_the_bank(tmp_path, capsys):
    bank, models = _text_bank_on_disk(tmp_path)
    tasks = ["size", "sentiment", "sentiment", "size"]
    (tmp_path / "review.txt").write_text(TEXTS[3] + "\n")
    rows = [f'"{t}",{task},' for t, task in zip(TEXTS[:3], tasks)] + [f",{tasks[3]},review.txt"]
    (tmp_path / "m.csv").write_text("text,task,file\n" + "\n".join(rows) + "\n")
    programs = [
        "--program",
        f"sentiment={tmp_path / 'bank' / 'sentiment'}",
        "--program",
        f"size={tmp_path / 'bank' / 'size' / 'reprogrammer.safetensors'}",
    ]
    code, lines, err = _predict(
        capsys, "--model", f"{models}:make_lm", *programs, "--manifest", str(tmp_path / "m.csv")
    )
    assert code == 0, err
    expected = bank.labels(TEXTS, tasks)
    assert lines == ["input,task,prediction"] + [
        f'"{v}",{t},{p}' if "," in v else f"{v},{t},{p}" for v, t, p in zip(TEXTS[:3] + ["review.txt"], tasks, expected)
    ]
    assert {p.split("-")[0] for p in expected} == {"size", "sentiment"}
    # the same bank as a folder (tasks named by their subfolders); rows compared as scores, not only labels
    code, folder_lines, err = _predict(
        capsys, str(tmp_path / "bank"), "--model", f"{models}:make_lm", "--manifest", str(tmp_path / "m.csv")
    )
    assert code == 0 and folder_lines == lines, err
    from reprogrammability.implementations.serving import load_bank

    loaded = load_bank(_namespace(models)["make_lm"](), tmp_path / "bank")
    assert loaded.tasks == ["sentiment", "size"] and loaded["size"].labels == ("size-small", "size-big", "size-huge")
    for a, b in zip(loaded.predict(TEXTS, tasks), bank.predict(TEXTS, tasks)):
        assert torch.equal(a, b)
    loaded.assert_frozen()


def test_saved_image_programs_on_a_registered_method(tmp_path, capsys):
    from reprogrammability.implementations.registry import create_method
    from reprogrammability.implementations.serving import ProgramBank, save_task

    models = _models(tmp_path)
    bank = ProgramBank(_namespace(models)["make_cnn"]())
    for seed, classes in ((1, 3), (2, 5)):
        config = {"canvas_size": 32, "image_size": 16, "num_classes": classes}
        program = create_method("adversarial-reprogramming", bank.frozen, config)
        torch.manual_seed(seed)
        next(p for p in program.parameters() if p.requires_grad).data.normal_()
        bank.add(f"t{classes}", program)
        save_task(bank, f"t{classes}", tmp_path / "bank" / f"t{classes}", config=config)
    files = _setup(tmp_path)
    tasks = ["t3", "t5", "t5", "t3"]
    (tmp_path / "m.json").write_text(json.dumps([{"file": f, "task": t} for f, t in zip(files, tasks)]))
    code, lines, err = _predict(
        capsys, str(tmp_path / "bank"), "--model", f"{models}:make_cnn", "--manifest", str(tmp_path / "m.json")
    )
    assert code == 0, err
    images = torch.stack(
        [torch.from_numpy(np.asarray(Image.open(tmp_path / f), dtype=np.float32) / 255).permute(2, 0, 1) for f in files]
    )
    expected = bank.labels(images, tasks)
    assert lines[1:] == [f"{f},{t},{p}" for f, t, p in zip(files, tasks, expected)]


def test_saved_program_errors_name_the_row_the_task_and_the_fingerprint(tmp_path, capsys):
    _, models = _text_bank_on_disk(tmp_path)
    bank_folder = str(tmp_path / "bank")
    (tmp_path / "m.csv").write_text(f"text,task\n{TEXTS[0]},sentiment\n{TEXTS[1]},topic\n")
    code, _, err = _predict(capsys, bank_folder, "--model", f"{models}:make_lm", "--manifest", str(tmp_path / "m.csv"))
    assert code == 2
    assert f"entry 2 ({TEXTS[1]}) names unknown task 'topic'; the bank holds: sentiment, size" in err
    # a program saved for another f: the fingerprint check names the task and the field
    other = _models(tmp_path, seed=1, name="other.py")
    (tmp_path / "ok.csv").write_text(f"text,task\n{TEXTS[0]},sentiment\n")
    code, _, err = _predict(capsys, bank_folder, "--model", f"{other}:make_lm", "--manifest", str(tmp_path / "ok.csv"))
    assert code == 2 and "--program sentiment" in err and "frozen_model_fingerprint" in err
    # a missing program folder, a folder without a recipe, a missing model, a malformed flag
    missing = tmp_path / "nowhere"
    code, _, err = _predict(
        capsys,
        "--model",
        f"{models}:make_lm",
        "--program",
        f"sentiment={missing}",
        "--manifest",
        str(tmp_path / "ok.csv"),
    )
    assert code == 1 and f"--program sentiment: no saved program at {missing}" in err
    (tmp_path / "bank" / "size" / "recipe.json").unlink()
    code, _, err = _predict(capsys, bank_folder, "--model", f"{models}:make_lm", "--manifest", str(tmp_path / "ok.csv"))
    assert code == 1 and "--program size: no recipe.json" in err
    code, _, err = _predict(capsys, bank_folder, "--manifest", str(tmp_path / "ok.csv"))
    assert code == 2 and "--model: saved programs need the frozen model" in err
    code, _, err = _predict(
        capsys, "--model", "no_such_model", "--program", "a", "--manifest", str(tmp_path / "ok.csv")
    )
    assert code == 2 and "--program: expected TASK=PATH, got 'a'" in err


def test_save_task_checks_the_recipe_rebuilds_the_task(tmp_path):
    import pytest

    from reprogrammability.implementations.registry import create_method
    from reprogrammability.implementations.serving import ProgramBank, save_task

    bank = ProgramBank(_namespace(_models(tmp_path))["make_lm"]())
    bank.add(
        "s", create_method("prompt-tuning", bank.frozen, {"label_words": ["bad", "good"], "num_virtual_tokens": 3})
    )
    with pytest.raises(ValueError, match="config: method 'prompt-tuning' built with .* does not rebuild task 's'"):
        save_task(bank, "s", tmp_path / "s", config={"label_words": ["bad", "good"], "num_virtual_tokens": 4})
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        save_task(bank, "s", tmp_path / "s", method="nope")
    assert not (tmp_path / "s").exists()
