"""The tutorial docs/tutorials/validate-your-own-method.md runs as written.

Its ```python blocks are executed in order in one namespace, in a temporary working directory; a
block titled ``title="file.py"`` is also written to that file (later blocks import it); every
``$ nnr validate ...`` line of a ```console block is run through the CLI and must succeed.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from reprogrammability.cli import main

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorials" / "validate-your-own-method.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in BLOCK.finditer(TUTORIAL.read_text())]


def test_tutorial_has_code_to_run():
    kinds = [kind for kind, _, _ in blocks()]
    assert kinds.count("python") >= 7 and "console" in kinds


def test_tutorial_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {"__name__": "tutorial"}
    commands = 0
    try:
        for index, (kind, info, code) in enumerate(blocks()):
            if kind == "python":
                title = re.search(r'title="([^"]+)"', info)
                if title:
                    (tmp_path / title.group(1)).write_text(code)
                exec(compile(code, f"{TUTORIAL.name}[block {index}]", "exec"), namespace)
            elif kind == "console":
                for line in code.splitlines():
                    if line.startswith("$ nnr "):
                        status = main(shlex.split(line[len("$ nnr ") :]))
                        assert status == 0, f"{line!r} exited with {status}:\n{capsys.readouterr().out[-2000:]}"
                        commands += 1
    finally:
        sys.modules.pop("my_method", None)
    assert commands == 3
    out = capsys.readouterr().out
    assert "validate example" in out
