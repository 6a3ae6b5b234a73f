"""The `nnr` command line: version, help, and a fast start."""

from __future__ import annotations

import subprocess
import sys

from reprogrammability import __version__
from reprogrammability.cli import build_parser, main


def nnr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reprogrammability", *args], capture_output=True, text=True)


def test_version():
    result = nnr("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"nnr (reprogrammability) {__version__}"


def test_help_lists_the_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "usage: nnr" in out
    subcommands = build_parser()._subparsers._group_actions[0].choices
    assert "demo" in subcommands


def test_unknown_subcommand_is_an_error():
    result = nnr("fly")
    assert result.returncode == 2 and "invalid choice: 'fly'" in result.stderr


def test_building_the_parser_does_not_import_torch():
    code = "import sys; from reprogrammability.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
