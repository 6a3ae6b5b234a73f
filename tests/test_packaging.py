"""`pip install .` and `pip install -e .` give the same package: modules and package data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LIST_CONTENTS = r"""
import importlib, json, pkgutil, sys
from importlib import resources
import reprogrammability, reprogrammability.catalog
torch_free = "torch" not in sys.modules
modules = []
for name in ("reprogrammability", "reprogrammability.framework", "reprogrammability.catalog",
             "reprogrammability.implementations"):
    package = importlib.import_module(name)
    modules.append(name)
    modules += [info.name for info in pkgutil.walk_packages(package.__path__, name + ".")]
data = []
for package in ("reprogrammability.catalog", "reprogrammability.implementations"):
    root = resources.files(package)
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.iterdir():
            if child.is_dir():
                stack.append(child)
            elif not child.name.endswith((".py", ".pyc")):
                data.append(f"{package}:{child.name}")
import reprogrammability.framework as F
print(json.dumps({"modules": sorted(set(modules)), "data": sorted(data), "framework": F.__file__,
                  "torch_free": torch_free}))
"""


def contents(python: str, env: dict | None = None) -> dict:
    out = subprocess.run([python, "-c", LIST_CONTENTS], capture_output=True, text=True, env=env, cwd="/")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.timeout(600)
def test_wheel_and_editable_installs_are_the_same(tmp_path):
    # build from a clean copy of the sources, so no stale build/ folder of the checkout can leak in
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "build",
            "site",
            "*.egg-info",
            "__pycache__",
            "docs_screenshots",
            "outputs",
            ".pytest_cache",
        ),
    )
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheel_dir.glob("reprogrammability-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "reprogrammability/framework/spec.py" in names
    assert "reprogrammability/implementations/models/imagenet_classes.txt" in names
    assert not any(n.startswith(("framework/", "catalog/", "implementations/", "tests/")) for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], capture_output=True, text=True
    )
    assert install.returncode == 0, install.stderr
    # the fresh environment borrows only the third-party dependencies of the development one
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    installed = contents(python, env)
    editable = contents(sys.executable)
    assert installed["framework"].startswith(str(venv)), installed["framework"]
    assert installed["modules"] == editable["modules"]
    assert installed["data"] == editable["data"]
    assert installed["torch_free"] and editable["torch_free"]
    entry = subprocess.run([str(venv / "bin" / "nnr"), "--version"], capture_output=True, text=True, env=env)
    assert entry.returncode == 0 and "reprogrammability" in entry.stdout
