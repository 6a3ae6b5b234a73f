"""The layers of ``.importlinter`` hold on the sources, and a forbidden import breaks them.

import-linter reads a package from one folder; setup.py maps framework/, catalog/ and implementations/
into ``reprogrammability``, so the contracts are checked on an importable copy of the sources (as
``scripts/lint.sh`` does). The broken cases add one module with a forbidden import to a copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprogrammability.docs_gen.import_graph import REPO_ROOT, importable_copy

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts(tree: Path) -> tuple[int, str]:
    """lint-imports' exit status and its report, with line wrapping undone."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPO_ROOT / ".importlinter")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    return importable_copy(tmp_path_factory.mktemp("sources"))


def with_module(sources: Path, target: Path, module: str, code: str) -> Path:
    """A copy of ``sources`` in ``target`` with ``reprogrammability/<module>.py`` holding ``code``."""
    shutil.copytree(sources, target)
    path = target / "reprogrammability" / Path(*module.split(".")).with_suffix(".py")
    path.write_text(code, encoding="utf-8")
    return target


def test_the_layers_hold(sources):
    status, report = contracts(sources)
    assert status == 0, report
    assert "3 kept, 0 broken" in report


def test_the_catalog_importing_torch_breaks_its_contract(sources, tmp_path):
    tree = with_module(sources, tmp_path / "tree", "catalog._forbidden", "import torch\n")
    status, report = contracts(tree)
    assert status == 1, report
    assert "the catalog never imports torch (the command line starts without it) BROKEN" in report
    assert "reprogrammability.catalog._forbidden -> torch" in report


def test_the_framework_importing_implementations_breaks_the_layers(sources, tmp_path):
    code = "from reprogrammability.implementations.registry import get_method\n"
    tree = with_module(sources, tmp_path / "tree", "framework._forbidden", code)
    status, report = contracts(tree)
    assert status == 1, report
    assert "framework <- catalog <- implementations <- command line / bench / docs BROKEN" in report
    assert "reprogrammability.framework._forbidden -> reprogrammability.implementations.registry" in report
