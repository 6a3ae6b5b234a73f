"""Every method page's usage snippet runs, and prints what the page says it prints.

The pages are generated from :func:`reprogrammability.docs_gen.symbolic_of` (the symbolic form,
parameter counts and output shape of each method's registered example); this test computes the
same facts in-process, renders the snippet exactly as the page shows it, and executes it.
"""

from __future__ import annotations

import re

import pytest
from test_docs_common import run_block, single_thread

from reprogrammability import docs_gen
from reprogrammability.catalog import Catalog

CATALOG = Catalog.load()
METHODS = sorted(CATALOG.methods)


@pytest.mark.parametrize("method_id", METHODS)
def test_usage_snippet_runs(method_id):
    entry = CATALOG.method(method_id)
    with single_thread():
        info = docs_gen.symbolic_of(entry)
    if info["status"] in ("missing", "no-example"):
        pytest.skip(f"{method_id}: implementation pending ({info['message']})")
    assert info["status"] == "ok", info["message"]
    # the formula's parameter count, evaluated at the example's shapes, is the measured count
    assert info["evaluated"] == info["measured"] == sum(part["evaluated"] for part in info["parts"])
    snippet = docs_gen.usage_snippet(method_id, info)
    page = docs_gen.method_page(CATALOG, entry, info, docs_gen.glossary_names(CATALOG))
    assert snippet.rstrip("\n") in page
    namespace: dict = {}
    with single_thread():
        printed = run_block(snippet, namespace, f"methods/{method_id}.md")
    lines = printed.splitlines()
    assert lines[0] == info["registered"]["coordinates"]
    assert lines[1] == namespace["reprogrammer"].latex() == info["latex"]
    assert re.fullmatch(rf"{info['measured']} trainable parameters", lines[2])
    assert namespace["reprogrammer"].frozen.parameter_count == info["model_parameters"]


def test_pending_implementation_page():
    """A method whose module does not exist yet gets its catalog coordinates and a pending note."""
    entry = CATALOG.method("bar").model_copy(
        update={"implementation": "reprogrammability.implementations.reprogramming.bar_not_written:build"}
    )
    info = docs_gen.symbolic_of(entry)
    assert info["status"] == "missing"
    page = docs_gen.method_page(CATALOG, entry, info)
    assert "Implementation pending" in page
    assert "bar_not_written" in page
    assert "```python" not in page  # no snippet that could not run
    assert "| operator τ | [additive](../axes/operator.md#additive) |" in page
