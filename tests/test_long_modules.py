"""The contributor page names every module over the length limit and says why it stays whole."""

from __future__ import annotations

from reprogrammability.docs_gen.pages import layout


def test_every_long_module_is_explained_on_the_contributor_page():
    page = (layout.REPO_ROOT / "docs" / "contributing.md").read_text(encoding="utf-8")
    why = page[page.index("Why they stay whole for now") :]
    paths = layout.all_modules(layout.REPO_ROOT)
    long = layout.long_modules()
    unexplained = [
        (module, lines) for module, lines in long if f"`{paths[module].relative_to(layout.REPO_ROOT)}`" not in why
    ]
    assert not unexplained, f"split these modules or say in docs/contributing.md why they stay whole: {unexplained}"
