"""mkdocs hooks: the pages generated at build time (catalog, methods, results, API reference) and MathML.

The generation itself lives in :mod:`reprogrammability.docs_gen` (one module per page kind in
``docs_gen/pages/``); this file only connects it to
mkdocs' events. Nothing here touches the network.
"""

from __future__ import annotations

import logging
import shutil
import tempfile

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

from reprogrammability import docs_gen

log = logging.getLogger("mkdocs.hooks.reprogrammability")

PLACEHOLDERS = {
    "tutorials/validate-your-own-method.md": (
        "# Validate your own method\n\n"
        "This tutorial is being written. Meanwhile: `nnr validate path/to/file.py:factory` runs the validator "
        "on your method and prints every check with its reason; see "
        "[the framework](../framework.md#the-validator).\n"
    ),
}

_state: dict = {}


@event_priority(100)  # before mkdocstrings creates its handler
def on_config(config):
    """Point mkdocstrings at a source tree where ``reprogrammability.framework`` etc. live (see setup.py)."""
    old = _state.pop("api_tree", None)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    tree = docs_gen.api_source_tree(tempfile.mkdtemp(prefix="nnr-api-"))
    _state["api_tree"] = str(tree)
    plugin = config.plugins.get("mkdocstrings")
    if plugin is not None:
        handlers = plugin.config.handlers.setdefault("python", {})
        handlers["paths"] = [str(tree)]
    return config


def on_files(files, config):
    """Add the generated pages and figures as virtual files."""
    from reprogrammability.catalog import Catalog

    catalog = Catalog.load(cache=False)
    _state["catalog"] = catalog
    generated = docs_gen.generate_site(catalog, log=log.info)
    for uri, content in PLACEHOLDERS.items():
        if files.get_file_from_path(uri) is None:
            generated[uri] = content
    for uri, content in generated.items():
        existing = files.get_file_from_path(uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown, page, config, files):
    return docs_gen.expand_markers(markdown, page.file.src_uri, _state["catalog"])


def on_page_content(html, page, config, files):
    html = docs_gen.render_math(html)
    if page.file.src_uri.startswith("reference/"):
        html = docs_gen.strip_sphinx_roles(html)
    return html


def on_post_build(config):
    tree = _state.pop("api_tree", None)
    if tree:
        shutil.rmtree(tree, ignore_errors=True)
