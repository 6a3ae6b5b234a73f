"""``nnr predict``: a bank from a factory file, a manifest of images and their tasks, one prediction per image."""

from __future__ import annotations

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
    assert lines[0] == "file,task,prediction"
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
