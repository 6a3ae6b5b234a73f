"""``mkdocs build --strict`` passes and writes every page the site promises (built once per session)."""

from __future__ import annotations

import html as html_module
import json
import re
import xml.etree.ElementTree as ET

from test_docs_common import DOCS, built_site  # noqa: F401  (the session fixture)

from reprogrammability.catalog import Catalog

CATALOG = Catalog.load()


def _page(site, path: str) -> str:
    return (site.path / path / "index.html").read_text(encoding="utf-8")


def test_build_is_strict_and_reports_its_time(built_site):
    assert "WARNING" not in built_site.log
    assert (built_site.path / "index.html").exists()
    print(f"build time {built_site.seconds:.1f} s")
    print("\n".join(line for line in built_site.log.splitlines() if "symbolic forms" in line or "built in" in line))


def test_every_catalog_method_has_a_page_with_its_coordinates(built_site):
    for method in CATALOG.methods.values():
        html = _page(built_site, f"methods/{method.id}")
        assert method.name.replace("&", "&amp;") in html
        for axis in ("configuration", "operator", "location", "alignment"):
            for value in getattr(method.coordinates, axis):
                assert f'href="../../axes/{axis}/#{value.value}"' in html, (method.id, axis)


def test_method_page_shows_math_count_and_snippet(built_site):
    html = _page(built_site, "methods/prompt-tuning")
    formula = re.search(r'<div class="nnr-math nnr-math-block"><math [^>]*display="block".*?</math></div>', html, re.S)
    assert formula is not None and "<mover" in formula.group(0)  # ŷ
    assert 'alttext="\\left|\\theta\\right| = D L_{p}"' in html  # the symbolic count, from sympy
    assert "arithmatex" not in html  # every formula was converted
    text = html_module.unescape(re.sub(r"<[^>]+>", "", html))
    assert 'method = get_method("prompt-tuning")' in text  # the usage snippet
    assert "soft prompt" in html  # the literature's names (tags)


def test_static_pages_and_generated_sections(built_site):
    home = _page(built_site, ".")
    assert "<math" in home and f"<strong>{len(CATALOG.methods)} methods</strong>" in home
    operator = _page(built_site, "axes/operator")
    assert 'id="concatenative"' in operator and "../../methods/prompt-tuning/" in operator
    framework = _page(built_site, "framework")
    assert "paradigm-matches-configuration" in framework
    for tutorial in (
        "reprogram-a-vision-model",
        "prompt-tune-a-language-model",
        "in-context-learning",
        "black-box-reprogramming",
        "validate-your-own-method",
    ):
        assert "<h1" in _page(built_site, f"tutorials/{tutorial}")


def test_catalog_pages(built_site):
    papers = _page(built_site, "catalog/papers")
    assert 'class="nnr-filter"' in papers and "javascripts/tables.js" in papers
    assert papers.count("<tr>") >= len(CATALOG.papers) + len(CATALOG.methods)
    glossary = _page(built_site, "catalog/glossary")
    assert 'id="soft-prompt"' in glossary
    taxonomy = _page(built_site, "catalog/taxonomy")
    assert 'src="../lineage.svg"' in taxonomy and 'src="../coordinates.svg"' in taxonomy
    for name in ("lineage.svg", "coordinates.svg"):
        ET.parse(built_site.path / "catalog" / name)
    crosscheck = _page(built_site, "catalog/crosscheck")
    assert "creativecommons.org/licenses/by/4.0" in crosscheck or "not present" in crosscheck


def test_results_page_shows_what_the_benchmarks_wrote(built_site):
    html = _page(built_site, "results")
    results = DOCS.parent / "benchmarks" / "results"
    produced = sorted(results.glob("*.json")) if results.is_dir() else []
    if not produced:
        assert "No benchmark has been run yet" in html
    for path in produced:
        assert (built_site.path / "results" / path.name).read_bytes() == path.read_bytes()
        assert f'href="{path.name}"' in html
    for path in sorted(results.glob("*.png")) if results.is_dir() else []:
        assert f'src="{path.name}"' in html


def test_api_reference_is_rendered_from_docstrings(built_site):
    framework = _page(built_site, "reference/framework")
    assert 'id="reprogrammability.framework.reprogrammer.Reprogrammer"' in framework
    assert "ŷ = O_ω(f(I_{λ,τ,ℓ}(x)))" in framework  # the class docstring
    catalog = _page(built_site, "reference/catalog")
    assert 'id="reprogrammability.catalog.loader.Catalog"' in catalog
    registry = _page(built_site, "reference/registry")
    assert 'id="reprogrammability.implementations.registry.register_method"' in registry


def test_site_needs_no_network(built_site):
    """No page loads a script, style sheet or font from elsewhere (the browser test checks requests too)."""
    external = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', re.I)
    for page in built_site.path.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not external.search(text), page
        assert "fonts.googleapis" not in text and "cdn.jsdelivr" not in text and "mathjax" not in text.lower()


def test_search_index_weights_literature_names(built_site):
    index = json.loads((built_site.path / "search" / "search_index.json").read_text(encoding="utf-8"))
    tagged = [d for d in index["docs"] if "soft prompt" in [t.lower() for t in d.get("tags", [])]]
    assert any(d["location"] == "methods/prompt-tuning/" for d in tagged)
