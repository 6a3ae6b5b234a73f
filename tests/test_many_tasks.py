"""The forgetting script (benchmarks/many_tasks.py) and the "Many tasks, one model" page's API example."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("many_tasks_script", ROOT / "benchmarks" / "many_tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_report(report: dict, setting: str, tasks: list[str]) -> None:
    assert report["setting"] == setting and report["mode"] == "quick"
    assert report["settings"]["tasks"] == tasks
    assert report["f_fingerprint_unchanged"] is True and len(report["f_fingerprint"]) >= 16
    rca = report["accuracy_after_each_task"]["rca"]
    for method in ("rca", "finetune", "lora"):
        table = report["accuracy_after_each_task"][method]
        assert list(table) == tasks  # a row after each task ...
        for k, after in enumerate(tasks):
            assert list(table[after]) == tasks[: k + 1]  # ... with every task learned so far
            assert all(0.0 <= value <= 1.0 for value in table[after].values())
        assert set(report["drop"][method]) == set(tasks)
    # RCA: an earlier task's accuracy never changes, to the last digit
    for task in tasks:
        assert {rca[after][task] for after in tasks[tasks.index(task) :]} == {rca[task][task]}
        assert report["drop"]["rca"][task] == 0.0
    for key in ("platform", "threads"):
        assert key in report["machine"]
    assert {"torch", "peft"} <= set(report["versions"])


def test_text_forgetting_quick_on_a_tiny_lm(tmp_path):
    output = _script().main(["--setting", "text", "--quick", "--model", "tiny", "--output", str(tmp_path / "t.json")])
    report = json.loads(Path(output).read_text())
    _check_report(report, "text", ["sentiment", "topic", "length"])
    assert report["model"].startswith("tiny")
    # the final evaluation ran every task's rows (prompt lengths 8, 12, 4) in one mixed batch per chunk
    assert report["settings"]["prompt_lengths"] == {"sentiment": 8, "topic": 12, "length": 4}
    assert report["mixed_batch_max_difference"] <= 1e-6


@pytest.mark.slow
def test_vision_forgetting_quick_on_efficientnet(tmp_path):
    output = _script().main(["--quick", "--output", str(tmp_path / "v.json")])
    report = json.loads(Path(output).read_text())
    _check_report(report, "vision", ["digits", "fashion", "parity"])


def test_the_length_task_is_derived_from_the_shipped_sentences():
    data, median = _script().text_tasks(train=200, test=200)
    texts, labels = data["length"][0]
    words = [len(t.split("\n")[0].split()) - 1 for t in texts]  # minus "Sentence:"
    assert labels.tolist() == [int(w >= median) for w in words]
    assert 0.4 < labels.float().mean().item() < 0.7  # both classes, roughly balanced


def test_page_api_example_runs(tmp_path, monkeypatch, capsys):
    """The code block on the page, executed as written (real EfficientNet-Lite0, 8 digits images), then the page's
    command line on the bank folder it saved."""
    import shlex

    import numpy as np
    import torch
    from PIL import Image

    from reprogrammability.cli import main
    from reprogrammability.docs_gen.pages.many_tasks import API_EXAMPLE, CLI_EXAMPLE
    from reprogrammability.implementations.serving import load_bank

    code = re.fullmatch(r"```python\n(.*)```", API_EXAMPLE, re.S)
    assert code is not None
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code.group(1), "many-tasks.md", "exec"), namespace)
    assert "1 forward pass(es) of f" in capsys.readouterr().out
    assert [row.shape[0] for row in namespace["scores"]] == [10, 2, 2, 10]
    names = namespace["names"]
    assert names[1] in ("even", "odd") and names[2] in ("even", "odd") and isinstance(names[0], int)
    bank = namespace["bank"]
    assert bank.tasks == ["digits"]
    bank.assert_frozen()
    namespace["f"].assert_unchanged()

    folder, tasks = namespace["folder"], namespace["tasks"]
    (tmp_path / "inputs").mkdir()
    files = []
    for index, image in enumerate(namespace["images"][:4]):
        pixels = (image.expand(3, -1, -1).permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(tmp_path / "inputs" / f"{index}.png")
        files.append(f"{index}.png")
    (tmp_path / "inputs" / "manifest.csv").write_text(
        "file,task\n" + "".join(f"{f},{t}\n" for f, t in zip(files, tasks))
    )
    command = re.search(r"```bash\n(.*?)\n", CLI_EXAMPLE)
    assert command is not None
    argv = shlex.split(command.group(1).replace("FOLDER", folder))
    assert argv[0] == "nnr"
    assert main(argv[1:]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    pngs = torch.stack(
        [
            torch.from_numpy(
                np.asarray(Image.open(tmp_path / "inputs" / f).convert("RGB"), dtype=np.float32) / 255
            ).permute(2, 0, 1)
            for f in files
        ]
    )
    expected = load_bank(namespace["f"], f"{folder}/bank").labels(pngs, tasks)
    assert lines == ["input,task,prediction"] + [f"{f},{t},{p}" for f, t, p in zip(files, tasks, expected)]


def test_page_renders_the_text_forgetting_table_and_plot(tmp_path):
    from types import SimpleNamespace

    from reprogrammability.docs_gen.pages.many_tasks import PAGE, pages

    table = {"s": {"s": 0.75}, "t": {"s": 0.5, "t": 0.25}}
    report = {
        "setting": "text",
        "mode": "default",
        "model": "SmolLM2-135M-Instruct",
        "settings": {"train": 4, "test": 4, "epochs": 1, "seed": 0, "tasks": ["s", "t"]},
        "versions": {"torch": "t", "peft": "p"},
        "seconds": 120.0,
        "machine": {"threads": 1},
        "accuracy_after_each_task": {
            "rca": {"s": {"s": 0.75}, "t": {"s": 0.75, "t": 0.5}},
            "finetune": table,
            "lora": table,
        },
        "drop": {"rca": {"s": 0.0, "t": 0.0}, "finetune": {"s": 0.25, "t": 0.0}, "lora": {"s": 0.25, "t": 0.0}},
        "f_fingerprint_unchanged": True,
        "mixed_batch_max_difference": 3e-8,
    }
    report["settings"]["optimiser_steps_per_task"] = {"s": 3, "t": 5}
    (tmp_path / "many_tasks_text.json").write_text(json.dumps(report))
    out = pages(SimpleNamespace(results_dir=tmp_path))
    text = out[PAGE]
    assert "### Text" in text and "benchmarks/many_tasks.py --setting text`" in text
    assert "| sequential full fine-tuning | s | 0.7500 | 0.5000 | +0.2500 |" in text
    assert "| RCA (program bank, f frozen) | s | 0.7500 | 0.7500 | +0.0000 |" in text
    assert "Optimiser steps per task (every method): s 3, t 5." in text and "3.0e-08" in text
    assert "2 min on 1 CPU thread(s)" in text
    assert out["many-tasks-forgetting-text.svg"].lstrip().startswith(b"<?xml")
    assert "No result yet: run `.venv/bin/python benchmarks/many_tasks.py --setting vision`." in text
