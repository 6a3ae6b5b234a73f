"""The code of the documentation runs: every ```python block of the tutorials and of the static pages.

Blocks run in order in one namespace per page; a top-level ``print(...)  # text`` must print
``text`` exactly, so the pages cannot drift from the package. Blocks that start with ``# slow:``
(real pretrained models) run only in the slow test.
"""

from __future__ import annotations

import time

import pytest
from test_docs_common import DOCS, python_blocks, run_block, run_markdown_code

PAGES = sorted(p for p in DOCS.rglob("*.md") if python_blocks(p, slow=True))
TUTORIALS = [
    "reprogram-a-vision-model",
    "prompt-tune-a-language-model",
    "in-context-learning",
    "black-box-reprogramming",
]


def _id(page):
    return str(page.relative_to(DOCS))


def test_every_tutorial_has_code():
    found = {p.stem for p in PAGES if p.parent.name == "tutorials"}
    assert set(TUTORIALS) <= found, f"tutorials without Python code: {set(TUTORIALS) - found}"


def _vision(namespace, folder):
    """The numbers the vision tutorial talks about: the program beats the frozen model + label map."""
    assert namespace["source_accuracy"] > 0.8
    assert namespace["after"] > namespace["before"] + 0.2
    assert (folder / "reprogrammed_digits.png").stat().st_size > 1000


def _black_box(namespace, folder):
    assert namespace["result"].queries > 10_000  # trained from queries only
    assert namespace["after"] > namespace["before"]


def _prompt_tuning(namespace, folder):
    assert namespace["reprogrammer"].parameter_count() == 8 * 32


AFTERWARDS = {
    "tutorials/reprogram-a-vision-model.md": _vision,
    "tutorials/black-box-reprogramming.md": _black_box,
    "tutorials/prompt-tune-a-language-model.md": _prompt_tuning,
}


@pytest.mark.parametrize("page", PAGES, ids=_id)
def test_page_code_runs(page, tmp_path):
    start = time.perf_counter()
    namespace = run_markdown_code(page, tmp_path)
    print(f"{_id(page)}: {time.perf_counter() - start:.1f} s")
    check = AFTERWARDS.get(_id(page))
    if check is not None:
        check(namespace, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(
    "page", [p for p in PAGES if len(python_blocks(p, slow=True)) > len(python_blocks(p))], ids=_id
)
def test_page_code_runs_with_real_models(page, tmp_path):
    run_markdown_code(page, tmp_path, slow=True)


def test_printed_comments_are_checked():
    """The checker fails a page whose comment does not match what the code prints."""
    namespace: dict = {}
    run_block("x = 2\nprint(x + 1)  # 3\n", namespace, "ok.md")
    with pytest.raises(AssertionError, match="the page says this prints '4'"):
        run_block("print(x + 1)  # 4\n", namespace, "wrong.md")
