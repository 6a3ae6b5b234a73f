"""BibTeX in and out of the catalog, through bibtexparser (v2): export every paper, import a user's ``.bib``.

* :func:`to_bibtex` writes one entry per distinct paper (methods sharing a paper share it), with
  stable keys (:func:`bibtex_key`); bibtexparser does the quoting, brace enclosing and LaTeX encoding
  of non-ASCII and special characters.
* :func:`read_bib` parses a ``.bib`` text into :class:`~.models.Paper` records ("Last, First"
  authors, venue from booktitle/journal, arXiv id from eprint, URL or journal); a malformed block
  is a :class:`CatalogError` naming the file and line.
* :func:`paper_stubs` turns a ``.bib`` into catalog paper entries to complete by hand
  (``nnr catalog import-bib FILE``): the bibliographic fields filled in, the coordinates and the
  rest left for the contributor, papers already in the catalog left out.

Pure Python; no torch.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any, Optional

from bibtexparser import middlewares as mw
from bibtexparser.entrypoint import parse_string, write_string
from bibtexparser.library import Library
from bibtexparser.model import Block, Entry, Field
from bibtexparser.writer import BibtexFormat
from pylatexenc.latexencode import RULE_DICT, UnicodeToLatexConversionRule, UnicodeToLatexEncoder

from .errors import CatalogError, short_repr
from .models import Paper

if TYPE_CHECKING:  # pragma: no cover
    from .data import CatalogData

__all__ = ["JOURNALS", "bibtex_key", "entry_type", "to_bibtex", "write_bib", "read_bib", "paper_stubs", "slug_for"]

JOURNALS = {
    "ijcv",
    "ai open",
    "digital discovery",
    "tmlr",
    "nature machine intelligence",
    "acm computing surveys",
    "tacl",
    "jmlr",
    "tpami",
    "ieee tpami",
    "distill",
    "nature",
    "tip",
    "ieee tip",
    "transformer circuits thread",
    "ieee/acm taslp",
    "taslp",
    "bioinformatics",
    "briefings in bioinformatics",
    "neural networks",
    "medical image analysis",
    "ieee transactions on medical imaging",
    "patterns",
    "tkde",
    "ieee tkde",
    "pattern recognition",
    "science",
    "nature communications",
    "journal of chemical information and modeling",
}
"""Venues written as ``@article`` (journal); other named venues are ``@inproceedings``, arXiv ``@misc``."""

_STOPWORDS = {
    "a",
    "an",
    "the",
    "on",
    "of",
    "for",
    "to",
    "via",
    "with",
    "in",
    "and",
    "is",
    "are",
    "do",
    "what",
    "how",
    "when",
    "why",
    "can",
    "does",
    "be",
    "by",
    "as",
    "at",
    "from",
    "your",
    "you",
    "we",
}
_ARXIV_VENUES = ("arxiv", "arxiv preprint", "preprint", "corr")
_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5})(?:v\d+)?")


def _ascii_word(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", text.lower())


def bibtex_key(paper: Paper) -> str:
    """``<first author's surname><year><first significant title word>``, e.g. ``lester2021power``."""
    first = paper.authors[0]
    surname = first.split(",")[0] if "," in first else first.split()[-1]
    words = [_ascii_word(w) for w in re.split(r"[\s\-:/]+", paper.title)]
    word = next((w for w in words if w and w not in _STOPWORDS), "paper")
    return f"{_ascii_word(surname) or 'anon'}{paper.year}{word}"


def entry_type(paper: Paper) -> str:
    """``misc`` for preprints, ``article`` for journals, ``inproceedings`` otherwise."""
    venue = paper.venue.strip().lower()
    if venue in _ARXIV_VENUES:
        return "misc"
    if venue in JOURNALS or venue.startswith(("transactions", "journal", "ieee transactions")):
        return "article"
    return "inproceedings"


def _entry(paper: Paper, key: str, note: str = "", *, arxiv_url: bool = True) -> Entry:
    kind = entry_type(paper)
    fields = [Field("title", paper.title), Field("author", list(paper.authors)), Field("year", str(paper.year))]
    if kind == "article":
        fields.append(Field("journal", paper.venue))
    elif kind == "inproceedings":
        fields.append(Field("booktitle", paper.venue))
    if paper.arxiv:
        fields += [Field("eprint", paper.arxiv), Field("archiveprefix", "arXiv")]
    if paper.doi:
        fields.append(Field("doi", paper.doi))
    url = paper.url or (f"https://arxiv.org/abs/{paper.arxiv}" if paper.arxiv and arxiv_url else None)
    if url:
        fields.append(Field("url", url))
    if note:
        fields.append(Field("note", note))
    return Entry(kind, key, fields)


def _format() -> BibtexFormat:
    style = BibtexFormat()  # type: ignore[no-untyped-call]
    style.indent = "  "
    style.value_column = 16
    style.block_separator = "\n"
    return style


_ENCODER = UnicodeToLatexEncoder(  # pylatexenc's defaults, but a double quote stays one (not '' as in TeX)
    conversion_rules=[UnicodeToLatexConversionRule(RULE_DICT, {ord('"'): '{"}'}), "defaults"],
    unknown_char_policy="keep",
)


class _LatexText(mw.LatexEncodingMiddleware):
    """LaTeX-encode the text fields (accents, &, %, _); identifiers (url, doi, eprint) stay verbatim."""

    VERBATIM = frozenset({"url", "doi", "eprint"})

    def transform_entry(self, entry: Entry, library: Library) -> Any:
        kept = {f.key: f.value for f in entry.fields if f.key in self.VERBATIM}
        result = super().transform_entry(entry, library)
        for field in entry.fields:
            if field.key in kept:
                field.value = kept[field.key]
        return result


class _ProtectTitleCase(mw.BlockMiddleware):
    """``title = {{...}}``: the inner braces keep the title's capitalisation in any bibliography style."""

    def __init__(self) -> None:
        super().__init__(allow_inplace_modification=True)

    def transform_entry(self, entry: Entry, library: Library) -> Entry:
        title = entry.fields_dict.get("title")
        if title is not None:
            title.value = "{" + title.value + "}"
        return entry


def _write(entries: list[Entry]) -> str:
    blocks: list[Block] = list(entries)
    library = Library(blocks)
    unparse = [
        mw.MergeCoAuthors(allow_inplace_modification=True),
        _LatexText(encoder=_ENCODER, allow_inplace_modification=True),
        _ProtectTitleCase(),
        mw.AddEnclosingMiddleware(
            reuse_previous_enclosing=False,
            enclose_integers=True,
            default_enclosing="{",
            allow_inplace_modification=True,
        ),
    ]
    return write_string(library, unparse_stack=unparse, bibtex_format=_format())


def to_bibtex(catalog: "CatalogData") -> str:
    """One entry per distinct paper (methods that share a paper share its entry); keys are unique."""
    groups: dict[str, tuple[Paper, list[str]]] = {}
    for entry in catalog.entries():
        paper = entry.bibliography
        identity = paper.arxiv or re.sub(r"\W+", " ", paper.title.lower()).strip()
        groups.setdefault(identity, (paper, []))[1].append(entry.id)
    used: set[str] = set()
    entries = []
    for paper, ids in groups.values():
        base = bibtex_key(paper)
        key, suffix = base, 0
        while key in used:
            suffix += 1
            key = base + "abcdefghijklmnopqrstuvwxyz"[(suffix - 1) % 26] * ((suffix - 1) // 26 + 1)
        used.add(key)
        entries.append(_entry(paper, key, note="catalog: " + ", ".join(ids)))
    return _write(entries)


def write_bib(papers: list[tuple[str, Paper]]) -> str:
    """BibTeX text for ``(key, Paper)`` pairs, as :func:`read_bib` returns them (a round trip)."""
    return _write([_entry(paper, key, arxiv_url=False) for key, paper in papers])


# --- reading ------------------------------------------------------------------------------------------


def _author(name: str) -> str:
    """A BibTeX name as the catalog writes it: ``"Last, First"`` (``others`` stays ``others``)."""
    name = " ".join(name.split())
    if name.lower() == "others" or "," in name:
        return name
    parts = name.split(" ")
    if len(parts) == 1:
        return name
    von = [i for i, p in enumerate(parts[:-1]) if i > 0 and p[:1].islower()]
    cut = von[0] if von else len(parts) - 1
    return f"{' '.join(parts[cut:])}, {' '.join(parts[:cut])}"


def _arxiv_of(fields: dict[str, str]) -> Optional[str]:
    if fields.get("archiveprefix", "").lower() == "arxiv" or "eprint" in fields:
        match = _ARXIV_ID.search(fields.get("eprint", ""))
        if match:
            return match.group(1)
    for name in ("url", "journal", "note", "howpublished"):
        text = fields.get(name, "")
        if "arxiv" in text.lower():
            match = _ARXIV_ID.search(text)
            if match:
                return match.group(1)
    return None


def _venue(fields: dict[str, str]) -> str:
    for name in ("booktitle", "journal", "publisher", "howpublished"):
        value = fields.get(name, "").strip()
        if value:
            if "arxiv" in value.lower() or value.lower() == "corr":
                return "arXiv"
            return value
    return "arXiv" if _arxiv_of(fields) else "unknown"


MAX_BIB_CHARS = 16 * 2**20
"""Largest .bib text :func:`read_bib` parses (the survey's lists are under 10 KB)."""

_DECODED_ASCII = str.maketrans({"\u02c6": "^", "\u02dc": "~"})  # \textasciicircum, \textasciitilde decode to accents


def read_bib(text: str, file: str = "<bib>") -> list[tuple[str, Paper]]:
    """``(key, Paper)`` for every entry of a ``.bib`` text; a bad block is a :class:`CatalogError`."""
    if not isinstance(text, str):
        raise CatalogError(file, "<file>", f"expected BibTeX text, got {type(text).__name__}")
    if len(text) > MAX_BIB_CHARS:
        raise CatalogError(file, "<file>", f"larger than {MAX_BIB_CHARS // 2**20} MiB of text ({len(text)} characters)")
    library = parse_string(text, append_middleware=[mw.LatexDecodingMiddleware(), mw.SeparateCoAuthors()])
    if library.failed_blocks:
        block = library.failed_blocks[0]
        line = getattr(block, "start_line", None)
        where = f"line {line + 1}" if isinstance(line, int) else "<document>"
        detail = short_repr(getattr(block, "raw", ""), 80)
        raise CatalogError(file, where, f"not valid BibTeX ({type(block).__name__}): {detail}")
    papers = []
    for entry in library.entries:
        fields = {f.key.lower(): f.value for f in entry.fields}
        where = f"@{entry.entry_type}{{{entry.key}}}"
        authors = fields.get("author") or []
        if isinstance(authors, str):
            authors = [authors]
        title = str(fields.get("title", "")).replace("{", "").replace("}", "")
        title = " ".join(title.translate(_DECODED_ASCII).split())
        year = str(fields.get("year", "")).strip()
        if not re.fullmatch(r"\d{4}", year):
            raise CatalogError(file, f"{where}.year", f"expected a four-digit year, got {short_repr(year)}")
        try:
            paper = Paper(
                title=title,
                authors=[_author(a) for a in authors],
                year=int(year),
                venue=_venue(fields),
                arxiv=_arxiv_of(fields),
                url=fields.get("url") or None,
                doi=fields.get("doi") or None,
            )
        except ValueError as error:  # pydantic's ValidationError is a ValueError
            problem = error.errors()[0] if hasattr(error, "errors") else {"loc": (), "msg": str(error)}
            field = ".".join(str(p) for p in problem["loc"]) or "<entry>"
            raise CatalogError(file, f"{where}.{field}", str(problem["msg"])) from None
        papers.append((entry.key, paper))
    return papers


def slug_for(key: str, paper: Paper) -> str:
    """A catalog id for an imported paper: ``<surname>-<year>-<first significant title word>``."""
    first = paper.authors[0]
    surname = _ascii_word(first.split(",")[0] if "," in first else first.split()[-1]) or "anon"
    words = [_ascii_word(w) for w in re.split(r"[\s\-:/]+", paper.title)]
    word = next((w for w in words if w and w not in _STOPWORDS), "paper")
    return f"{surname}-{paper.year}-{word}"[:80].strip("-")


def paper_stubs(text: str, catalog: Optional["CatalogData"] = None, file: str = "<bib>") -> list[dict[str, Any]]:
    """Catalog paper entries (dicts in YAML field order) for a ``.bib`` text, to be completed by hand.

    The bibliographic fields come from the file; ``kind``, ``methods``, ``paradigm``, ``modality``,
    ``coordinates`` and ``summary`` are left empty (``None``) for the contributor, so the stub does
    not validate until they are decided. Papers whose arXiv id or title is already in ``catalog``
    are left out.
    """
    known_arxiv: set[str] = set()
    known_titles: set[str] = set()
    if catalog is not None:
        for entry in catalog.entries():
            paper = entry.bibliography
            if paper.arxiv:
                known_arxiv.add(paper.arxiv)
            known_titles.add(re.sub(r"\W+", " ", paper.title.lower()).strip())
    stubs = []
    used: set[str] = set()
    for key, paper in read_bib(text, file):
        if paper.arxiv in known_arxiv or re.sub(r"\W+", " ", paper.title.lower()).strip() in known_titles:
            continue
        slug = slug_for(key, paper)
        while slug in used:
            slug += "-b"
        used.add(slug)
        stub: dict[str, Any] = {"id": slug, **paper.model_dump(mode="json", exclude_none=True)}
        stub.update(
            kind=None,
            methods=None,
            paradigm=None,
            modality=None,
            coordinates={"configuration": None, "operator": None, "location": None, "alignment": None},
            summary=None,
        )
        stubs.append(stub)
    return stubs
