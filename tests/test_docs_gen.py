"""The documentation generator (reprogrammability/docs_gen/) piece by piece, without mkdocs."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reprogrammability import docs_gen
from reprogrammability.catalog import Catalog

CATALOG = Catalog.load()
REPO = Path(__file__).resolve().parents[1]


# --- math --------------------------------------------------------------------------------------------


def test_render_math_turns_arithmatex_output_into_mathml():
    html = (
        '<p>inline <span class="arithmatex">\\(x &lt; \\hat{y}_{t}\\)</span> and</p>\n'
        '<div class="arithmatex">\\[\n\\hat{y} = O_{\\omega}(f(x))\n\\]</div>'
    )
    out = docs_gen.render_math(html)
    assert "arithmatex" not in out
    assert out.count("<math") == 2
    inline, block = out.split("<math")[1:]
    assert 'display="inline"' in inline and "<mo>&#x0003C;</mo>" in inline  # the escaped < became an operator
    assert 'display="block"' in block and "<mover" in block and "<msub>" in block
    assert 'alttext="\\hat{y} = O_{\\omega}(f(x))"' in block


def test_unconvertible_latex_stays_visible_as_source():
    out = docs_gen.latex_to_mathml("a_")
    assert out == '<code class="nnr-latex">a_</code>'


def test_sphinx_roles_are_dropped():
    html = "<p>The :class:<code>Spec</code> and :py:func:<code>f</code>, not :ratio: here.</p>"
    assert docs_gen.strip_sphinx_roles(html) == "<p>The <code>Spec</code> and <code>f</code>, not :ratio: here.</p>"


def test_table_latex_has_no_pipes():
    assert "|" not in docs_gen.table_latex(r"\sum_{d=1}^{|D_c|} \|x\|")


# --- code blocks -------------------------------------------------------------------------------------


def test_extract_python_blocks():
    markdown = "\n".join(
        [
            "text",
            "```python",
            "a = 1",
            "```",
            "```bash",
            "echo no",
            "```",
            "!!! note",
            "",
            '    ```python title="mod.py"',
            "    def f():",
            "        return 2",
            "    ```",
            "~~~~py",
            "b = 3",
            "~~~~",
        ]
    )
    blocks = docs_gen.extract_python_blocks(markdown)
    assert [(b.line, b.code, b.title) for b in blocks] == [
        (3, "a = 1\n", ""),
        (11, "def f():\n    return 2\n", "mod.py"),
        (15, "b = 3\n", ""),
    ]


def test_relative_link():
    assert docs_gen.relative_link("methods/bar.md", "axes/operator.md") == "../axes/operator.md"
    assert docs_gen.relative_link("index.md", "methods/bar.md") == "methods/bar.md"
    assert docs_gen.relative_link("methods/index.md", "methods/bar.md") == "bar.md"


# --- method pages ----------------------------------------------------------------------------------------

OK_INFO = {
    "id": "prompt-tuning",
    "status": "ok",
    "message": "",
    "mismatch": "",
    "registered": {
        "coordinates": "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
        "paradigm": "prompt-tuning",
        "access": "gradient",
        "import_path": "reprogrammability.implementations.prompt_tuning.prompt_tuning:build",
        "summary": "Soft prompt tuning.",
        "config": "PromptTuningConfig",
        "config_doc": "Prompt length.",
        "config_fields": [
            {"name": "num_virtual_tokens", "type": "int", "default": "20", "description": "L_p", "required": False},
            {"name": "label_words", "type": "list", "default": "", "description": "words", "required": True},
        ],
    },
    "latex": r"\hat{y} = \omega(f([P; E(x)]))",
    "parameter_count": "D L_{p}",
    "evaluated": 128,
    "measured": 128,
    "model_parameters": 1000,
    "built_coordinates": "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
    "shapes": {"D": 32, "L_{p}": 4},
    "parts": [
        {
            "name": "I0:SoftPrompt",
            "expression": "[P; x]",
            "parameter_count": "D L_{p}",
            "evaluated": 128,
            "shapes": {"D": 32, "L_{p}": 4},
        }
    ],
    "output_shape": [4, 2],
}


def test_method_page_shows_formula_count_snippet_and_relations():
    entry = CATALOG.method("prompt-tuning")
    page = docs_gen.method_page(CATALOG, entry, OK_INFO, docs_gen.glossary_names(CATALOG))
    assert page.startswith("---\ntags:\n")  # literature names as search tags
    assert '  - "soft prompt"' in page
    assert "# Prompt tuning (PT)" in page
    assert "$$\n\\hat{y} = \\omega(f([P; E(x)]))\n$$" in page
    assert "\\left|\\theta\\right| = D L_{p}" in page
    assert "$D = 32$" in page and "128 parameters from the formula, 128 measured" in page
    assert "| `label_words` | `list` | required | words |" in page
    assert 'create_method("prompt-tuning", model, label_words=...)' in page
    assert "print(tuple(predictions.shape))  # (4, 2)" in page
    for relation in entry.relations:  # links to the methods it builds on
        assert f"]({relation.target}.md)" in page
    assert entry.paper.title in page
    assert "arXiv [2104.08691](https://arxiv.org/abs/2104.08691)" in page


def test_method_page_warns_when_catalog_and_implementation_disagree():
    info = dict(OK_INFO, mismatch="methods/x.yaml: coordinates.operator: the YAML says A but B")
    page = docs_gen.method_page(CATALOG, CATALOG.method("prompt-tuning"), info)
    assert '!!! warning "The catalog and the implementation disagree"' in page
    assert "the YAML says A but B" in page


def test_usage_snippet_names_required_options():
    snippet = docs_gen.usage_snippet("prompt-tuning", OK_INFO)
    compile(snippet, "snippet", "exec")
    assert 'get_method("prompt-tuning")' in snippet


def test_methods_index_lists_every_method():
    forms = {i: {"status": "missing", "message": "x"} for i in CATALOG.methods}
    index = docs_gen.methods_index(CATALOG, forms)
    for method_id in CATALOG.methods:
        assert f"]({method_id}.md)" in index


# --- catalog pages ---------------------------------------------------------------------------------------


def test_papers_page_lists_every_paper_with_a_filter():
    page = docs_gen.papers_page(CATALOG)
    assert 'class="nnr-filter"' in page
    rows = [line for line in page.splitlines() if line.startswith("| 19") or line.startswith("| 20")]
    assert len(rows) == len(CATALOG.methods) + len(CATALOG.papers)
    for paper in CATALOG.papers.values():
        assert docs_gen.cell(paper.title) in page
    for method in CATALOG.methods.values():
        assert docs_gen.cell(method.paper.title) in page


def test_glossary_page_has_every_term_and_valid_method_links():
    page = docs_gen.glossary_page(CATALOG)
    for term in CATALOG.glossary:
        assert f"\n## {term.term}\n" in page
    for target in __import__("re").findall(r"\]\(\.\./methods/([a-z0-9-]+)\.md\)", page):
        assert target in CATALOG.methods


def test_taxonomy_figures_are_svg_with_every_method():
    lineage = docs_gen.lineage_svg(CATALOG)
    coordinates = docs_gen.coordinates_svg(CATALOG)
    for data in (lineage, coordinates):
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
    text = lineage.decode()
    for method in CATALOG.methods.values():
        assert f'id="method-{method.id}"' in text  # one labelled node per method
        assert method.label.replace("&", "&amp;") in coordinates.decode()
    page = docs_gen.taxonomy_page(CATALOG)
    relations = sum(len(m.relations) for m in CATALOG.methods.values())
    assert (
        page.count(" | extends | ")
        + page.count(" | specialises | ")
        + page.count(" | generalises | ")
        + page.count(" | combines | ")
        + page.count(" | variant-of | ")
        == relations
    )


def test_svg_is_deterministic():
    assert docs_gen.lineage_svg(CATALOG) == docs_gen.lineage_svg(CATALOG)


def test_crosscheck_page_without_survey(monkeypatch, tmp_path):
    import importlib

    module = importlib.import_module("reprogrammability.catalog.crosscheck")
    monkeypatch.setattr(module, "default_survey_path", lambda: tmp_path / "nowhere")
    page = docs_gen.crosscheck_page(CATALOG)
    assert "not present" in page and "nnr catalog crosscheck" in page


# --- results ---------------------------------------------------------------------------------------------


def test_results_page_when_nothing_ran(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "speed.py").write_text('"""Benchmark: how fast it is."""\n')
    files = docs_gen.results_pages(tmp_path / "results", tmp_path)
    page = files["results/index.md"]
    assert "No benchmark has been run yet" in page
    assert "| `benchmarks/speed.py` | Benchmark: how fast it is. | not yet run |" in page


def test_results_page_includes_tables_plots_and_raw_data(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (tmp_path / "speed.py").write_text('"""Benchmark: how fast it is."""\n')
    (tmp_path / "other.py").write_text('"""Benchmark: another one."""\n')
    (results / "speed.md").write_text(
        "# Speed\n\n## digits\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![plot](speed.png) ![gone](missing.png)\n"
    )
    (results / "speed.json").write_text(json.dumps({"environment": {"date": "today"}, "rows": [{"a": 1}]}))
    (results / "speed.png").write_bytes(b"\x89PNG fake")
    (results / "solo.json").write_text(
        json.dumps({"environment": {"torch": "2"}, "rows": [{"method": "x", "accuracy": 0.91234}]})
    )
    files = docs_gen.results_pages(results, tmp_path)
    page = files["results/index.md"]
    assert files["results/speed.png"] == b"\x89PNG fake"
    assert "results/speed.json" in files and "results/solo.json" in files
    assert "### digits" in page and "| 1 | 2 |" in page  # headings demoted under the section
    assert "![plot](speed.png)" in page
    assert "gone (`missing.png`, not published)" in page  # a broken link would fail --strict
    assert "| x | 0.9123 |" in page  # a JSON without .md becomes a table
    assert "| `benchmarks/other.py` | Benchmark: another one. | not yet run |" in page


def test_reference_pages_name_modules_that_exist():
    import importlib.util

    pages = docs_gen.reference_pages()
    modules = [line[4:] for text in pages.values() for line in text.splitlines() if line.startswith("::: ")]
    assert "reprogrammability.framework.reprogrammer" in modules
    assert "reprogrammability.implementations.registry" in modules
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def test_api_source_tree_maps_the_folders(tmp_path):
    tree = docs_gen.api_source_tree(tmp_path)
    assert (tree / "reprogrammability" / "framework" / "reprogrammer.py").is_file()
    assert (tree / "reprogrammability" / "catalog" / "loader.py").is_file()
    assert (tree / "reprogrammability" / "__init__.py").is_file()


# --- markers ---------------------------------------------------------------------------------------------


def test_markers_expand_and_unknown_markers_fail():
    text = docs_gen.expand_markers("a\n<!-- docs-gen: axis-values location -->\nb", "axes/location.md", CATALOG)
    for value in ("input", "embedding", "hidden"):
        assert f"\n## {value}\n" in text
    assert "](../methods/prefix-tuning.md)" in text
    assert "| `fixed-has-no-trainable-parameters` |" in docs_gen.expand_markers(
        "<!-- docs-gen: spec-rules -->", "framework.md", CATALOG
    )
    with pytest.raises(ValueError, match="unknown docs-gen marker 'nope'"):
        docs_gen.expand_markers("<!-- docs-gen: nope -->", "x.md", CATALOG)


# --- the symbolic-form cache -----------------------------------------------------------------------------


def test_import_closure_follows_relative_and_lazy_free_imports():
    files = docs_gen.import_closure("reprogrammability.implementations.reprogramming.bar")
    names = {str(p.relative_to(REPO)) for p in files}
    assert {
        "implementations/reprogramming/bar.py",
        "implementations/reprogramming/_common.py",
        "implementations/reprogramming/zeroth_order.py",
        "framework/reprogrammer.py",
        "implementations/registry.py",
    } <= names
    assert "implementations/prompt_tuning/prompt_tuning.py" not in names


def test_cache_key_changes_only_with_what_the_method_imports(tmp_path):
    root = tmp_path / "repo"
    for folder in ("framework", "implementations", "catalog", "reprogrammability"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    bar, prompt = CATALOG.method("bar"), CATALOG.method("prompt-tuning")
    before = (docs_gen.method_cache_key(bar, root, {}), docs_gen.method_cache_key(prompt, root, {}))
    target = root / "implementations" / "reprogramming" / "bar.py"
    target.write_text(target.read_text() + "\n# an edit\n")
    after = (docs_gen.method_cache_key(bar, root, {}), docs_gen.method_cache_key(prompt, root, {}))
    assert after[0] != before[0]  # bar's own module changed
    assert after[1] == before[1]  # prompt tuning does not import it
    framework = root / "framework" / "spec.py"
    framework.write_text(framework.read_text() + "\n# an edit\n")
    assert docs_gen.method_cache_key(prompt, root, {}) != after[1]  # everything depends on the framework


def test_symbolic_forms_can_be_skipped():
    forms = docs_gen.symbolic_forms(CATALOG, enabled=False)
    assert set(forms) == set(CATALOG.methods)
    assert {f["status"] for f in forms.values()} == {"skipped"}
    page = docs_gen.method_page(CATALOG, CATALOG.method("bar"), forms["bar"])
    assert "not computed in this build" in page


def test_importing_the_generator_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, reprogrammability.docs_gen; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


def test_a_worker_that_runs_out_of_time_does_not_break_the_build(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROGRAMMABILITY_CACHE_DIR", str(tmp_path))
    forms = docs_gen.symbolic_forms(CATALOG, workers=1, timeout=0.5)
    assert {f["status"] for f in forms.values()} == {"error"}
    assert "timed out" in forms["bar"]["message"]
    assert (
        not (tmp_path / "docs-symbolic.json").exists()
        or json.loads((tmp_path / "docs-symbolic.json").read_text()) == {}
    )  # failures are not cached
    page = docs_gen.method_page(CATALOG, CATALOG.method("bar"), forms["bar"])
    assert '!!! failure "The example could not be built"' in page


def test_layers_come_from_importlinter_and_imports_from_the_sources():
    from reprogrammability.docs_gen.pages import layout

    layers = layout.declared_layers()
    assert layers[0] == ["framework"] and layers[1] == ["catalog"] and layers[2] == ["implementations"]
    assert {"cli", "bench", "docs_gen", "demo"} == set(layers[3])
    rows = {(r["source"], r["target"]): r for r in layout.layer_imports()}
    assert rows["implementations", "framework"]["direction"] == "down"
    assert rows["implementations", "framework"]["modules"] > 50
    assert ("framework", "bench") not in rows
    assert layout.layers_svg().startswith(b"<?xml")


def test_import_cycles_and_long_modules_are_found(tmp_path):
    from reprogrammability.docs_gen import import_graph
    from reprogrammability.docs_gen.pages import layout

    (tmp_path / "reprogrammability").mkdir()
    (tmp_path / "reprogrammability" / "__init__.py").write_text("")
    (tmp_path / "framework").mkdir()
    (tmp_path / "framework" / "__init__.py").write_text("")
    (tmp_path / "framework" / "a.py").write_text("from . import b\n" + "x = 1\n" * 30)
    (tmp_path / "framework" / "b.py").write_text("from .a import x\n")
    (tmp_path / "framework" / "c.py").write_text("def lazy():\n    from . import a\n")  # lazy: no circle
    (tmp_path / "framework" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import e\n"
    )
    (tmp_path / "framework" / "e.py").write_text("from . import d\n")
    cycles = import_graph.import_cycles(tmp_path)
    assert cycles == [["reprogrammability.framework.a", "reprogrammability.framework.b"]]
    assert layout.long_modules(tmp_path, limit=20) == [("reprogrammability.framework.a", 31)]
    assert import_graph.import_cycles() == []  # the package itself has no import circle
