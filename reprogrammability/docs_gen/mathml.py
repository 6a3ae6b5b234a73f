"""Math on the site: LaTeX (pymdownx.arithmatex, generic mode) converted to MathML at build time."""

from __future__ import annotations

import html
import re

_ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<block>.*?)\\\])\s*</(?P=tag)>',
    re.S,
)


def latex_to_mathml(latex: str, display: bool = False) -> str:
    """MathML for ``latex`` (``latex2mathml``); on a conversion error, the LaTeX source in ``<code>``."""
    from latex2mathml.converter import convert

    try:
        mathml = convert(latex.strip(), display="block" if display else "inline")
    except Exception:  # an unsupported command: show the source rather than break the page
        return f'<code class="nnr-latex">{html.escape(latex.strip())}</code>'
    label = html.escape(latex.strip(), quote=True)
    return mathml.replace("<math ", f'<math alttext="{label}" ', 1)


_SPHINX_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const):(?=<code>)")


def strip_sphinx_roles(page_html: str) -> str:
    """Docstrings written with reST roles (``:class:`Spec```) render as ``:class:<code>Spec</code>``
    in Markdown; drop the role so only the code remains."""
    return _SPHINX_ROLE.sub("", page_html)


def render_math(page_html: str) -> str:
    """Replace pymdownx.arithmatex's generic output (``\\(...\\)``, ``\\[...\\]``) with MathML."""

    def replace(match: re.Match) -> str:
        if match.group("inline") is not None:
            return f'<span class="nnr-math">{latex_to_mathml(html.unescape(match.group("inline")))}</span>'
        block = latex_to_mathml(html.unescape(match.group("block")), display=True)
        return f'<div class="nnr-math nnr-math-block">{block}</div>'

    return _ARITHMATEX.sub(replace, page_html)
