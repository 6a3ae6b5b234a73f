"""Shared helpers of the documentation tests (no tests here): the built site, and running Markdown code.

``built_site`` builds the site once per test session (``mkdocs build --strict`` into a temporary
folder) for tests/test_docs_build.py and tests/test_docs_browser.py. ``run_markdown_code`` executes
the ```` ```python ```` blocks of a page in order, in one namespace, and checks every top-level
``print(...)  # expected`` against what it printed.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import subprocess
import sys
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


@dataclass
class BuiltSite:
    path: Path
    seconds: float
    log: str


_BUILT: dict[str, BuiltSite] = {}


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    """``mkdocs build --strict`` of the real site into a temporary folder (once per session).

    The test modules import this fixture, which registers it once per module; the memo makes the
    second module reuse the first build.
    """
    if "site" in _BUILT:
        return _BUILT["site"]
    site = tmp_path_factory.mktemp("site") / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed ({proc.returncode}) after {seconds:.0f} s:\n{log[-6000:]}")
    print(f"\nmkdocs build --strict: {seconds:.1f} s")
    _BUILT["site"] = BuiltSite(site, seconds, log)
    return _BUILT["site"]


# --- executing the code of a page ----------------------------------------------------------------------


def _trailing_comments(source: str) -> dict[int, str]:
    """Line number -> text of a comment that ends that line (``x = 1  # this``)."""
    comments: dict[int, str] = {}
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string[1:].strip()
    return comments


def _is_print(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == "print"
    )


def run_block(code: str, namespace: dict, filename: str) -> str:
    """Execute ``code`` statement by statement; a top-level ``print(...)  # text`` must print ``text``."""
    tree = ast.parse(code, filename)
    comments = _trailing_comments(code)
    output = []
    for statement in tree.body:
        module = ast.Module(body=[statement], type_ignores=[])
        compiled = compile(module, filename, "exec")
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compiled, namespace)
        printed = buffer.getvalue()
        output.append(printed)
        expected = comments.get(statement.end_lineno) if _is_print(statement) else None
        if expected is not None:
            assert printed.strip() == expected, (
                f"{filename}, line {statement.lineno}: the page says this prints {expected!r}, "
                f"it printed {printed.strip()!r}"
            )
    return "".join(output)


def python_blocks(page: Path, *, slow: bool = False) -> list:
    """The page's Python blocks ``(line, code, title)``; blocks starting with ``# slow:`` only when ``slow``."""
    from reprogrammability.docs_gen import extract_python_blocks

    blocks = extract_python_blocks(page.read_text(encoding="utf-8"))
    return [block for block in blocks if slow or not block.code.lstrip().startswith("# slow:")]


@contextlib.contextmanager
def single_thread():
    """One torch thread: the documentation examples are tiny, and two OpenMP threads on a busy
    two-core machine spin against each other (a 50x slow-down was measured)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_markdown_code(page: Path, workdir: Path, *, slow: bool = False) -> dict:
    """Run every Python block of ``page`` in order in one namespace, in ``workdir``; returns the namespace.

    As in a notebook or REPL, the working folder is importable; a block titled ``name.py`` is saved
    there (the page asks the reader to save it) instead of being run.
    """
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    previous = os.getcwd()
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    try:
        with single_thread():
            for line, code, title in python_blocks(page, slow=slow):
                if title.endswith(".py"):
                    (workdir / title).write_text(code, encoding="utf-8")
                    continue
                run_block(code, namespace, f"{page.relative_to(REPO)}:{line}")
    finally:
        os.chdir(previous)
        sys.path.remove(str(workdir))
        for name, module in list(sys.modules.items()):  # forget the page's own modules
            if str(getattr(module, "__file__", "") or "").startswith(str(workdir)):
                del sys.modules[name]
        import matplotlib.pyplot as plt

        plt.close("all")
    return namespace
