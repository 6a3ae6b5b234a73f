"""Pages of the documentation site that are generated at build time (used by ``docs/hooks.py``).

``mkdocs build`` calls :func:`generate_site`, which returns ``{path inside docs/: content}`` for

* ``methods/<id>.md``: one page per catalog method, from its YAML (coordinates, paper, relations,
  rationale) and from its reference implementation: the registered ``example()`` is built on a tiny
  model and the page shows ``reprogrammer.latex()`` and ``symbolic_parameter_count()`` (sympy), the
  config fields, and a usage snippet that the tests execute (:func:`usage_snippet`);
* ``methods/index.md``, ``catalog/papers.md`` (client-side filters), ``catalog/glossary.md``,
  ``catalog/taxonomy.md`` with two SVG figures drawn with matplotlib from the catalog's networkx
  graph, ``catalog/crosscheck.md`` (the survey cross-check with its CC-BY-4.0 attribution);
* ``results/index.md`` from ``benchmarks/results/*.{json,md,png}`` ("not yet run" otherwise);
* ``reference/*.md``: the API reference, rendered by mkdocstrings from the docstrings.

Static pages under ``docs/`` may contain markers ``<!-- docs-gen: NAME [ARG] -->`` that
:func:`expand_markers` replaces (axis tables, spec rules, catalog counts).

Math is written as ``$...$`` / ``$$...$$`` (pymdownx.arithmatex, generic mode) and converted to
MathML at build time by :func:`render_math` (``latex2mathml``): pages need no JavaScript and no
network to show formulas; browsers render MathML natively.

The symbolic forms come from the implementations, which import torch. They are computed in
worker processes (``python -m reprogrammability.docs_gen symbolic OUT ID...``), in parallel, and
cached on disk per method, keyed by a hash of the sources its implementation imports (transitively),
the framework, the registries, its catalog entry and the library versions
(``$REPROGRAMMABILITY_CACHE_DIR`` or ``~/.cache/reprogrammability``; ``REPROGRAMMABILITY_DOCS_CACHE=0``
disables the cache). ``REPROGRAMMABILITY_DOCS_SYMBOLIC=0`` skips them for a fast preview.
Importing this module does not import torch.
"""

from __future__ import annotations

import hashlib
import html
import importlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Optional, Union

__all__ = [
    "REPO_ROOT",
    "generate_site",
    "symbolic_forms",
    "usage_snippet",
    "method_page",
    "render_math",
    "strip_sphinx_roles",
    "latex_to_mathml",
    "expand_markers",
    "extract_python_blocks",
    "api_source_tree",
    "relative_link",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository checkout (``framework/``, ``catalog/``, ``implementations/``, ``docs/``, ``benchmarks/``)."""

SYMBOLIC_ENV = "REPROGRAMMABILITY_DOCS_SYMBOLIC"
CACHE_ENV = "REPROGRAMMABILITY_DOCS_CACHE"
WORKERS_ENV = "REPROGRAMMABILITY_DOCS_WORKERS"
CACHE_VERSION = "1"
"""Bump when :func:`symbolic_of` changes what it records (the cache key also hashes the sources)."""

AXES = ("configuration", "operator", "location", "alignment")
AXIS_SYMBOL = {"configuration": "λ", "operator": "τ", "location": "ℓ", "alignment": "ω"}
AXIS_LATEX = {"configuration": r"\lambda", "operator": r"\tau", "location": r"\ell", "alignment": r"\omega"}
PARADIGM_COLOURS = {"model-reprogramming": "#1f77b4", "prompt-tuning": "#d62728", "prompt-instruction": "#2ca02c"}
RELATION_COLOURS = {
    "extends": "#444444",
    "specialises": "#9467bd",
    "generalises": "#8c564b",
    "combines": "#ff7f0e",
    "variant-of": "#17becf",
}

Content = Union[str, bytes]


# --- links and small helpers -----------------------------------------------------------------------


def relative_link(source: str, target: str) -> str:
    """The Markdown link from the page ``source`` to ``target`` (both paths inside ``docs/``)."""
    base = os.path.dirname(source)
    return os.path.relpath(target, base or ".").replace(os.sep, "/")


def _method_link(source: str, method_id: str, label: Optional[str] = None) -> str:
    return f"[{label or method_id}]({relative_link(source, f'methods/{method_id}.md')})"


def _axis_link(source: str, axis: str, value: str) -> str:
    return f"[{value}]({relative_link(source, f'axes/{axis}.md')}#{value})"


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _values(values: Iterable[Any]) -> list[str]:
    return [str(getattr(v, "value", v)) for v in values]


def _authors(authors: list[str], limit: int = 3) -> str:
    names = [a for a in authors if a != "others"]
    short = [a.split(",")[0].strip() for a in names]
    etal = len(short) > limit or (authors and authors[-1] == "others")
    return ", ".join(short[:limit]) + (" et al." if etal else "")


def _paper_url(paper: Any) -> Optional[str]:
    if getattr(paper, "url", None):
        return paper.url
    if getattr(paper, "arxiv", None):
        return f"https://arxiv.org/abs/{paper.arxiv}"
    if getattr(paper, "doi", None):
        return f"https://doi.org/{paper.doi}"
    return None


def _slug(text: str) -> str:
    """The heading anchor Python-Markdown's toc extension makes (its default slugify)."""
    from markdown.extensions.toc import slugify

    return slugify(text, "-")


def _table_latex(latex: str) -> str:
    """LaTeX safe inside a Markdown table cell: ``|`` would split the cell."""
    return latex.replace(r"\|", r"\Vert ").replace("|", r"\vert ")


# --- math: LaTeX -> MathML at build time -------------------------------------------------------------

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


# --- symbolic forms of the implementations (computed in worker processes) ---------------------------


_PACKAGE_FOLDERS = {"framework", "catalog", "implementations"}
_ALWAYS = ("framework", "implementations/registry.py", "implementations/models", "implementations/data",
           "implementations/__init__.py", "catalog/*.py")
"""What every method's symbolic form may depend on without importing it by name (lazy registries)."""


def _module_file(name: str, root: Path = REPO_ROOT) -> Optional[Path]:
    """The source file of ``reprogrammability.<...>`` in the checkout (see setup.py for the mapping)."""
    parts = name.split(".")
    if not parts or parts[0] != "reprogrammability":
        return None
    rest = parts[1:]
    base = root / rest[0] if rest and rest[0] in _PACKAGE_FOLDERS else root / "reprogrammability"
    inner = rest[1:] if rest and rest[0] in _PACKAGE_FOLDERS else rest
    path = base.joinpath(*inner) if inner else base
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if inner and candidate == path.with_suffix(".py") and candidate.is_file():
            return candidate
        if candidate == path / "__init__.py" and candidate.is_file():
            return candidate
    return None


_IMPORTS_MEMO: dict[tuple, set[str]] = {}


def _imports_of(path: Path, module: str) -> set[str]:
    """Names of the ``reprogrammability`` modules that ``path`` (module ``module``) imports anywhere."""
    import ast

    try:
        stat = path.stat()
        memo_key = (str(path), module, stat.st_mtime_ns, stat.st_size)
        if memo_key in _IMPORTS_MEMO:
            return _IMPORTS_MEMO[memo_key]
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # submodules imported by name
    result = {name for name in found if name.startswith("reprogrammability")}
    _IMPORTS_MEMO[memo_key] = result
    return result


def import_closure(module: str, root: Path = REPO_ROOT) -> set[Path]:
    """Source files of ``module`` and of every ``reprogrammability`` module it imports, transitively."""
    seen: set[str] = set()
    files: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for k in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
            prefix = ".".join(parts[:k])
            if prefix in seen:
                continue
            seen.add(prefix)
            path = _module_file(prefix, root)
            if path is None:
                continue
            files.add(path)
            todo.extend(_imports_of(path, prefix) - seen)
    return files


def _files_under(root: Path, relative: str) -> list[Path]:
    if "*" in relative:
        return [p for p in root.glob(relative) if p.is_file()]
    path = root / relative
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return [p for p in path.rglob("*") if p.is_file() and p.suffix in (".py", ".yaml", ".json", ".txt")
            and "__pycache__" not in p.parts]


def _environment_digest() -> bytes:
    parts = [CACHE_VERSION, sys.version]
    try:
        from importlib.metadata import version

        for package in ("torch", "sympy", "transformers", "pydantic"):
            try:
                parts.append(f"{package}={version(package)}")
            except Exception:
                parts.append(f"{package}=?")
    except ImportError:  # pragma: no cover
        pass
    return "\n".join(parts).encode()


def method_cache_key(entry: Any, root: Path = REPO_ROOT, _common: dict = {}) -> str:
    """A hash of everything the symbolic form of ``entry`` depends on: the sources its implementation
    imports (transitively), the framework, the registries, the catalog, and the library versions."""
    module = entry.implementation.partition(":")[0]
    files = import_closure(module, root)
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(_environment_digest())
    key = str(root)
    if key not in _common:  # the shared part is hashed once per process and root
        common = hashlib.blake2b(digest_size=16)
        for path in sorted({p for rel in _ALWAYS for p in _files_under(root, rel)}):
            common.update(str(path.relative_to(root)).encode() + b"\0")
            try:
                common.update(path.read_bytes())
            except OSError:
                pass
        _common[key] = common.digest()
    hasher.update(_common[key])
    source = root / "catalog" / "methods" / f"{entry.id}.yaml"
    if source.is_file():
        files.add(source)
    for path in sorted(files):
        hasher.update(str(path.relative_to(root)).encode() + b"\0")
        try:
            hasher.update(path.read_bytes())
        except OSError:
            pass
    return hasher.hexdigest()


def _cache_dir() -> Optional[Path]:
    if os.environ.get(CACHE_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    configured = os.environ.get("REPROGRAMMABILITY_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reprogrammability"


def _annotation(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "None")


def _config_fields(config_cls: Any) -> list[dict]:
    """The pydantic fields of a method's config class: name, type, default, description, required."""
    fields = []
    for name, info in getattr(config_cls, "model_fields", {}).items():
        required = info.is_required()
        if required:
            default = ""
        elif info.default_factory is not None:
            try:
                default = repr(info.default_factory())
            except Exception:
                default = "(computed)"
        else:
            default = repr(info.default)
        description = info.description or ""
        fields.append(
            {"name": name, "type": _annotation(info.annotation), "default": default, "description": description,
             "required": required}
        )
    return fields


def symbolic_of(entry: Any) -> dict:
    """Everything a method page shows about the implementation of catalog ``entry`` (runs in a worker).

    ``status``: ``ok``; ``missing`` (the module or its registered ``build`` does not exist yet);
    ``error`` (importing or building the example failed: ``message`` says how); ``no-example``.
    """
    start = time.perf_counter()
    result: dict[str, Any] = {"id": entry.id, "status": "ok", "message": "", "mismatch": ""}
    module_name, _, attribute = entry.implementation.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            return {**result, "status": "missing", "message": f"module `{module_name}` does not exist yet"}
        return {**result, "status": "error", "message": f"importing `{module_name}` failed: {error}"}
    except Exception as error:
        return {**result, "status": "error", "message": f"importing `{module_name}` failed: {type(error).__name__}: {error}"}
    info = getattr(getattr(module, attribute, None), "method_info", None)
    if info is None:
        return {**result, "status": "missing", "message": f"`{entry.implementation}` is not registered yet"}
    from reprogrammability.catalog.loader import check_implementation

    try:
        check_implementation(entry)
    except Exception as error:  # CatalogError: the declaration differs from the YAML
        result["mismatch"] = str(error)
    result["registered"] = {
        "coordinates": info.spec.coordinates_str(),
        "paradigm": str(info.spec.paradigm),
        "access": str(info.spec.access),
        "import_path": info.import_path,
        "summary": info.summary,
        "config": getattr(info.config, "__name__", None),
        "config_doc": (getattr(info.config, "__doc__", "") or "").strip() if info.config else "",
        "config_fields": _config_fields(info.config) if info.config else [],
    }
    if info.example is None:
        return {**result, "status": "no-example", "message": "the method registers no `example()`"}
    try:
        import sympy as sp
        import torch

        torch.manual_seed(0)
        reprogrammer, inputs, _targets = info.example()
        parts = []
        shapes: dict[str, int] = {}
        for name, form in reprogrammer.symbolic_parts():
            part_shapes = {sp.latex(symbol): int(value) for symbol, value in dict(form.shapes).items()}
            shapes.update(part_shapes)
            parts.append(
                {
                    "name": name,
                    "expression": sp.latex(form.expression),
                    "parameter_count": sp.latex(form.parameter_count),
                    "evaluated": int(form.evaluate_parameter_count()),
                    "shapes": part_shapes,
                }
            )
        with torch.no_grad():
            output = reprogrammer(inputs)
        result.update(
            latex=reprogrammer.latex(),
            parameter_count=sp.latex(reprogrammer.symbolic_parameter_count()),
            parameter_count_text=str(reprogrammer.symbolic_parameter_count()),
            evaluated=int(reprogrammer.evaluated_parameter_count()),
            measured=int(reprogrammer.parameter_count()),
            model_parameters=int(reprogrammer.frozen.parameter_count),
            built_coordinates=reprogrammer.spec.coordinates_str(),
            shapes=shapes,
            parts=parts,
            output_shape=list(output.shape) if hasattr(output, "shape") else None,
        )
    except Exception as error:
        result.update(status="error", message=f"building the example failed: {type(error).__name__}: {error}")
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


def _worker(out: str, ids: list[str]) -> int:
    """Worker process: the symbolic forms of ``ids`` as JSON in ``out``."""
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    try:  # transformers' own logging goes to stderr; keep the build log short
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except Exception:
        pass
    from reprogrammability.catalog import Catalog

    catalog = Catalog.load()
    results = {}
    for method_id in ids:
        results[method_id] = symbolic_of(catalog.method(method_id))
        Path(out).write_text(json.dumps(results), encoding="utf-8")  # partial results survive a timeout
    return 0


def symbolic_forms(
    catalog: Any,
    *,
    enabled: Optional[bool] = None,
    workers: Optional[int] = None,
    timeout: float = 600.0,
    log: Any = None,
) -> dict[str, dict]:
    """``{method id: symbolic_of(entry)}`` for every catalog method, from the cache or worker processes.

    ``enabled=None`` reads ``REPROGRAMMABILITY_DOCS_SYMBOLIC`` (default on). Methods whose worker
    died or timed out get ``status="error"`` and are not cached.
    """
    if enabled is None:
        enabled = os.environ.get(SYMBOLIC_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
    ids = sorted(catalog.methods)
    if not enabled:
        return {i: {"id": i, "status": "skipped", "message": f"{SYMBOLIC_ENV}=0 in this build"} for i in ids}
    keys = {i: method_cache_key(catalog.method(i)) for i in ids}
    cache_dir = _cache_dir()
    cache_file = cache_dir / "docs-symbolic.json" if cache_dir is not None else None
    stored: dict[str, dict] = {}
    if cache_file is not None and cache_file.exists():
        try:
            stored = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
    cached = {i: stored[i]["info"] for i in ids
              if isinstance(stored.get(i), dict) and stored[i].get("key") == keys[i] and "info" in stored[i]}
    todo = [i for i in ids if i not in cached]
    results = {i: cached[i] for i in ids if i in cached}
    if todo:
        count = workers or int(os.environ.get(WORKERS_ENV, "0") or 0) or min(2, os.cpu_count() or 1)
        count = max(1, min(count, len(todo)))
        groups = [todo[k::count] for k in range(count)]
        env = dict(os.environ)
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", PYTHONWARNINGS="ignore")
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="nnr-docs-") as tmp:
            procs = []
            for k, group in enumerate(groups):
                out = os.path.join(tmp, f"worker-{k}.json")
                errors = open(os.path.join(tmp, f"worker-{k}.err"), "wb")  # a file: a full pipe would stall it
                procs.append((out, group, errors, subprocess.Popen(
                    [sys.executable, "-m", "reprogrammability.docs_gen", "symbolic", out, *group],
                    env=env, stdout=subprocess.DEVNULL, stderr=errors, cwd=str(REPO_ROOT),
                )))
            for out, group, errors, proc in procs:
                remaining = max(1.0, timeout - (time.perf_counter() - start))
                try:
                    proc.wait(timeout=remaining)
                    errors.close()
                    tail = Path(errors.name).read_bytes()[-500:].decode(errors="replace")
                    failure = f"the worker process exited with {proc.returncode}: {tail}"
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    errors.close()
                    failure = f"the worker process timed out after {timeout:.0f} s"
                done: dict[str, dict] = {}
                if os.path.exists(out):
                    try:
                        done = json.loads(Path(out).read_text(encoding="utf-8"))
                    except ValueError:
                        done = {}
                for method_id in group:
                    if method_id in done:
                        results[method_id] = done[method_id]
                        cached[method_id] = done[method_id]  # stored below, under its key
                    else:
                        results[method_id] = {"id": method_id, "status": "error", "message": failure, "transient": True}
        if log is not None:
            log(f"symbolic forms of {len(todo)} methods computed in {time.perf_counter() - start:.1f} s")
        if cache_file is not None:
            for method_id in todo:
                if method_id in cached:
                    stored[method_id] = {"key": keys[method_id], "info": cached[method_id]}
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp_path = tempfile.mkstemp(dir=cache_file.parent, prefix=".docs-symbolic-", suffix=".json")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(stored, handle)
                os.replace(tmp_path, cache_file)
            except OSError:
                pass
    return {i: results[i] for i in ids}


# --- method pages --------------------------------------------------------------------------------------


def usage_snippet(method_id: str, info: dict) -> str:
    """A Python snippet that builds the method's registered example and runs it (executed by the tests)."""
    registered = info.get("registered", {})
    coordinates = info.get("built_coordinates") or registered.get("coordinates", "")
    shape = info.get("output_shape")
    fields = registered.get("config_fields", [])
    required = [f["name"] for f in fields if f["required"]]
    if not required and any(f["name"] == "num_classes" for f in fields):
        required = ["num_classes"]
    arguments = "".join(f", {name}=..." for name in required)
    lines = [
        "import torch",
        "from reprogrammability.implementations import get_method",
        "",
        f'method = get_method("{method_id}")',
        "print(method.spec.coordinates_str())" + (f"  # {registered['coordinates']}" if registered else ""),
        "",
        "# The registered example: the method on a tiny random model, with a small batch.",
        "reprogrammer, inputs, targets = method.example()",
        "print(reprogrammer.latex())",
        'print(reprogrammer.parameter_count(), "trainable parameters")',
        "with torch.no_grad():",
        "    predictions = reprogrammer(inputs)",
        "print(tuple(predictions.shape))" + (f"  # {tuple(shape)}" if shape is not None else ""),
        "",
        "# On your own frozen model"
        + (f" (options: {registered['config']}, below)" if registered.get("config") else "")
        + ":",
        "# from reprogrammability.implementations import create_method",
        f'# reprogrammer = create_method("{method_id}", model{arguments})',
    ]
    return "\n".join(lines) + "\n"


def _coordinates_table(source: str, entry: Any) -> list[str]:
    rows = ["| coordinate | value |", "|---|---|"]
    for axis in AXES:
        values = _values(getattr(entry.coordinates, axis))
        links = ", ".join(_axis_link(source, axis, v) for v in values)
        rows.append(f"| {axis} {AXIS_SYMBOL[axis]} | {links} |")
    rows.append(f"| paradigm | {entry.paradigm.value} |")
    modality = entry.modality.value
    if entry.task_modality and entry.task_modality != entry.modality:
        modality += f" (task: {entry.task_modality.value})"
    rows.append(f"| modality | {modality} |")
    rows.append(f"| access | {entry.access.value} |")
    names = [n for n in [entry.acronym, *entry.aliases] if n]
    if names:
        rows.append(f"| also called | {_cell(', '.join(names))} |")
    return rows


def _shape_text(shapes: dict[str, int]) -> str:
    return ", ".join(f"${name} = {value}$" for name, value in shapes.items())


def method_page(catalog: Any, entry: Any, info: dict, glossary_names: Optional[dict[str, list[str]]] = None) -> str:
    """The Markdown page of one catalog method (``methods/<id>.md``)."""
    source = f"methods/{entry.id}.md"
    title = entry.name + (f" ({entry.acronym})" if entry.acronym and entry.acronym != entry.name else "")
    names = (glossary_names or {}).get(entry.id, [])
    tags = []  # literature names: shown as tags and weighted heavily by the site's search
    for name in [*names, *entry.aliases]:
        if name.casefold() not in {t.casefold() for t in tags}:
            tags.append(name)
    lines = ["---", "tags:", *[f"  - {json.dumps(t, ensure_ascii=False)}" for t in tags], "---", ""] if tags else []
    lines += [f"# {title}", "", entry.summary.strip(), ""]
    lines += _coordinates_table(source, entry) + [""]
    status = info.get("status")
    if info.get("mismatch"):
        lines += [
            '!!! warning "The catalog and the implementation disagree"',
            "",
            f"    {info['mismatch']}",
            "",
            "    The page shows the catalog's coordinates above and the implementation's formula below.",
            "",
        ]
    lines += ["## Formula", ""]
    if status == "ok":
        lines += [
            "The framework's symbolic form of the reference implementation, "
            r"$\hat{y} = O_{\omega}(f(I_{\lambda,\tau,\ell}(x)))$ with this method's parts, built on a tiny model:",
            "",
            "$$",
            info["latex"],
            "$$",
            "",
            "Trainable parameters (of the input manipulation $I$ and the output alignment $O$; $f$ is frozen):",
            "",
            "$$",
            r"\left|\theta\right| = " + info["parameter_count"],
            "$$",
            "",
        ]
        shapes = info.get("shapes") or {}
        evaluated = f"{info['evaluated']:,}"
        measured = f"{info['measured']:,}"
        at = f" at {_shape_text(shapes)}" if shapes else ""
        lines += [
            f"On the tiny example{at}: {evaluated} parameters from the formula, {measured} measured on the modules "
            f"(the frozen model has {info.get('model_parameters', 0):,}).",
            "",
            "| part | formula | trainable parameters |",
            "|---|---|---|",
        ]
        for part in info.get("parts", []):
            lines.append(
                f"| `{_cell(part['name'])}` | ${_table_latex(part['expression'])}$ | "
                f"${_table_latex(part['parameter_count'])}$ = {part['evaluated']:,} |"
            )
        lines.append("")
    elif status == "skipped":
        lines += [f"The symbolic form was not computed in this build ({info.get('message', '')}).", ""]
    elif status in ("missing", "no-example"):
        lines += [
            '!!! note "Implementation pending"',
            "",
            f"    The reference implementation `{entry.implementation}` is not available yet: {info.get('message', '')}. "
            "The coordinates above are the catalog's; the formula and the parameter count will appear here "
            "once it is registered.",
            "",
        ]
    else:
        lines += [
            '!!! failure "The example could not be built"',
            "",
            f"    {info.get('message', 'unknown error')}",
            "",
        ]
    registered = info.get("registered")
    lines += ["## Usage", ""]
    if registered:
        lines += [
            f"Reference implementation: `{registered['import_path']}`"
            + (f": {registered['summary']}" if registered.get("summary") else ""),
            "",
        ]
        if status == "ok":
            lines += ["```python", usage_snippet(entry.id, info).rstrip("\n"), "```", ""]
        fields = registered.get("config_fields") or []
        if fields:
            doc = registered.get("config_doc", "").splitlines()[0].rstrip(".:") if registered.get("config_doc") else ""
            lines += [f"Options (`{registered['config']}`)" + (f": {doc}" if doc else "") + ":", "",
                      "| option | type | default | meaning |", "|---|---|---|---|"]
            for field in fields:
                default = "required" if field["required"] else f"`{_cell(field['default'])}`"
                lines.append(
                    f"| `{field['name']}` | `{_cell(field['type'])}` | {default} | {_cell(field['description'])} |"
                )
            lines.append("")
    else:
        lines += [f"Reference implementation (pending): `{entry.implementation}`.", ""]

    builds_on = [(r.type.value, r.target, r.note) for r in entry.relations]
    built_upon = [
        (r.type.value, other.id, r.note)
        for other in catalog.methods.values()
        for r in other.relations
        if r.target == entry.id
    ]
    try:
        same = catalog.sharing_coordinates(entry.id)
    except Exception:
        same = []
    lines += ["## Relations", ""]
    if not (builds_on or built_upon or same):
        lines += ["No relations to other catalogued methods are recorded.", ""]
    for kind, target, note in builds_on:
        label = catalog.methods[target].label if target in catalog.methods else target
        lines.append(f"- {kind} {_method_link(source, target, label)}" + (f": {note}" if note else ""))
    for kind, other, note in built_upon:
        label = catalog.methods[other].label
        lines.append(f"- {_method_link(source, other, label)} {kind} this method" + (f": {note}" if note else ""))
    if same:
        links = ", ".join(_method_link(source, m, catalog.methods[m].label) for m in same)
        lines.append(f"- same coordinates (λ, τ, ℓ, ω): {links}")
    lines += ["", f"See the [lineage graph]({relative_link(source, 'catalog/taxonomy.md')}#lineage).", ""]

    paper = entry.paper
    url = _paper_url(paper)
    title_md = f"[{paper.title}]({url})" if url else paper.title
    authors = "; ".join(a for a in paper.authors if a != "others") + (" et al." if paper.authors[-1] == "others" else "")
    ids = []
    if paper.arxiv:
        ids.append(f"arXiv [{paper.arxiv}](https://arxiv.org/abs/{paper.arxiv})")
    if paper.doi:
        ids.append(f"doi [{paper.doi}](https://doi.org/{paper.doi})")
    if entry.code_url:
        ids.append(f"[code]({entry.code_url})")
    lines += ["## Paper", "", f"{authors} ({paper.year}). *{title_md}*. {paper.venue}." + (
        " " + ", ".join(ids) + "." if ids else ""), ""]
    about = catalog.papers_about(entry.id)
    if about:
        lines += ["Papers that apply, analyse or extend it:", ""]
        for other in about:
            other_url = _paper_url(other)
            name = f"[{_cell(other.title)}]({other_url})" if other_url else other.title
            lines.append(f"- {name}, {_authors(other.authors)} ({other.year}, {other.venue}): {other.kind.value}")
        lines.append("")
    if entry.rationale:
        lines += ["## Why these labels", ""]
        for field, reason in entry.rationale.items():
            lines.append(f"- **{getattr(field, 'value', field)}**: {' '.join(reason.split())}")
        lines.append("")
    if names:
        glossary = relative_link(source, "catalog/glossary.md")
        lines += ["## Literature names", "", "The glossary lists this method under: " + ", ".join(
            f"[{n}]({glossary}#{_slug(n)})" for n in names) + ".", ""]
    if entry.tags:
        lines += ["Tags: " + ", ".join(f"`{t}`" for t in entry.tags), ""]
    return "\n".join(lines)


def methods_index(catalog: Any, forms: dict[str, dict]) -> str:
    """``methods/index.md``: every method with its coordinates, grouped by paradigm."""
    source = "methods/index.md"
    lines = [
        "# Methods",
        "",
        f"The catalog has {len(catalog.methods)} methods, each placed on the four axes and backed by a reference "
        "implementation. Every page shows the method's formula and parameter count from the framework's "
        "symbolic form, its relations and paper, and a usage snippet that the tests execute.",
        "",
    ]
    ok = sum(1 for f in forms.values() if f.get("status") == "ok")
    pending = [i for i, f in forms.items() if f.get("status") in ("missing", "no-example", "error")]
    if pending:
        lines += [f"{ok} of {len(forms)} implementations build their example; pending or failing: "
                  + ", ".join(_method_link(source, i) for i in pending) + ".", ""]
    from reprogrammability.framework.axes import Paradigm

    for paradigm in Paradigm:
        members = [m for m in catalog.methods.values() if m.paradigm is paradigm]
        if not members:
            continue
        lines += [f"## {paradigm.value.replace('-', ' ').capitalize()}", "", paradigm.meaning.capitalize() + ".", "",
                  "| method | year | λ | τ | ℓ | ω | access | modality | parameters (tiny example) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for m in sorted(members, key=lambda e: (e.year, e.id)):
            form = forms.get(m.id, {})
            count = f"${_table_latex(form['parameter_count'])}$" if form.get("status") == "ok" else "pending"
            cells = [_method_link(source, m.id, m.label), str(m.year)]
            cells += ["+".join(_values(getattr(m.coordinates, a))) for a in AXES]
            cells += [m.access.value, m.modality.value, count]
            lines.append("| " + " | ".join(_cell(c) if not c.startswith("$") else c for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


# --- papers, glossary, taxonomy, cross-check -----------------------------------------------------------


def papers_page(catalog: Any) -> str:
    """``catalog/papers.md``: the defining papers of the methods and the papers about them, filterable."""
    source = "catalog/papers.md"
    rows = []
    for m in catalog.methods.values():
        p = m.paper
        rows.append((p.year, p.title, _paper_url(p), _authors(p.authors), p.venue, "method", m.paradigm.value,
                     m.modality.value, str(m.coordinates), [m.id]))
    for p in catalog.papers.values():
        rows.append((p.year, p.title, _paper_url(p), _authors(p.authors), p.venue, p.kind.value,
                     "+".join(_values(p.paradigm)), p.modality.value, str(p.coordinates), list(p.methods)))
    rows.sort(key=lambda r: (-r[0], r[1].casefold()))
    lines = [
        "---",
        "hide:",
        "  - toc",  # the table needs the width
        "---",
        "",
        "# Papers",
        "",
        f"{len(rows)} papers: the {len(catalog.methods)} papers that define the catalogued methods (kind *method*) "
        f"and {len(catalog.papers)} papers that apply, analyse, extend or survey them, each placed on the axes. "
        "Filter by words, kind, paradigm, modality and year; the filters run in your browser.",
        "",
        '<div class="nnr-filter" data-columns="kind,paradigm,modality" data-year-column="year" markdown="0"></div>',
        "",
        "| year | title | authors | venue | kind | paradigm | modality | coordinates (λ τ ℓ ω) | methods |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for year, title, url, authors, venue, kind, paradigm, modality, coordinates, methods in rows:
        name = f"[{_cell(title)}]({url})" if url else _cell(title)
        method_links = ", ".join(_method_link(source, i, catalog.methods[i].label) for i in methods)
        compact = coordinates.replace("λ=", "").replace("τ=", "").replace("ℓ=", "").replace("ω=", "")
        lines.append(
            f"| {year} | {name} | {_cell(authors)} | {_cell(venue)} | {kind} | {paradigm} | {modality} | "
            f"{_cell(compact)} | {method_links} |"
        )
    lines += ["", "Survey items left out of the catalog, and why:", ""]
    for item in catalog.excluded:
        lines.append(f"- *{item.title}* ({item.category.value}): {' '.join(item.reason.split())}")
    lines.append("")
    return "\n".join(lines)


def glossary_names(catalog: Any) -> dict[str, list[str]]:
    """Method id -> glossary terms that list it."""
    names: dict[str, list[str]] = {}
    for term in catalog.glossary:
        for method_id in term.methods:
            names.setdefault(method_id, []).append(term.term)
    return names


def glossary_page(catalog: Any) -> str:
    """``catalog/glossary.md``: literature names resolved to coordinates and methods (``nnr catalog resolve``)."""
    source = "catalog/glossary.md"
    terms = sorted(catalog.glossary, key=lambda t: t.term.casefold())
    known = {t.term.casefold(): t.term for t in terms}
    for t in terms:
        for v in t.variants:
            known.setdefault(v.casefold(), t.term)
    lines = [
        "# Glossary of literature names",
        "",
        "The three communities name the same things differently, and one name can mean different coordinates. "
        "Each term below is resolved by sense: the coordinates (λ, τ, ℓ, ω) that the name pins down and the "
        "catalogued methods that carry it. The same data answers `nnr catalog resolve \"soft prompt\"`.",
        "",
        "Terms: " + ", ".join(f"[{t.term}](#{_slug(t.term)})" for t in terms),
        "",
    ]
    for term in terms:
        lines += [f"## {term.term}", ""]
        if term.variants:
            lines += ["Also: " + ", ".join(f"*{v}*" for v in term.variants), ""]
        lines += [" ".join(term.definition.split()), ""]
        for sense in term.senses:
            pinned = str(sense.coordinates)
            paradigms = ", ".join(_values(sense.paradigm)) if sense.paradigm else ""
            head = f"- **{sense.label}**"
            facts = [f for f in (f"coordinates {pinned}" if pinned != "(any)" else "", paradigms) if f]
            head += f" ({'; '.join(facts)})" if facts else ""
            lines.append(f"{head}: {' '.join(sense.meaning.split())}")
            if sense.methods:
                links = ", ".join(_method_link(source, m, catalog.methods[m].label) for m in sense.methods)
                lines.append(f"    Methods: {links}.")
        if term.see_also:
            refs = []
            for name in term.see_also:
                target = known.get(name.casefold())
                refs.append(f"[{name}](#{_slug(target)})" if target else name)
            lines += ["", "See also: " + ", ".join(refs) + "."]
        lines.append("")
    return "\n".join(lines)


def _svg(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "reprogrammability", "svg.fonttype": "none", "font.size": 9,
                         "font.family": "sans-serif"})
    return plt


def lineage_svg(catalog: Any) -> bytes:
    """The methods' lineage from the catalog's networkx graph: x = year, one band per paradigm, arrows = relations."""
    from reprogrammability.catalog.graph import relation_subgraph
    from reprogrammability.framework.axes import Paradigm

    plt = _pyplot()
    graph = catalog.graph()
    relations = relation_subgraph(graph)
    methods = catalog.methods
    bands = [p.value for p in Paradigm]
    columns: dict[tuple[str, int], list[str]] = {}  # (paradigm, year) -> method ids, top to bottom
    for m in sorted(methods.values(), key=lambda e: e.id):
        columns.setdefault((m.paradigm.value, m.year), []).append(m.id)
    base: dict[str, float] = {}
    offset = 0.0
    band_spans = []
    for band in bands:
        height = max((len(ids) for (b, _), ids in columns.items() if b == band), default=1)
        band_spans.append((band, offset, offset + height))
        base[band] = offset
        offset += height + 1.0
    undirected = relations.to_undirected()
    rows: dict[str, float] = {}

    def place() -> None:
        for (band, _), ids in columns.items():
            for i, method_id in enumerate(ids):
                rows[method_id] = base[band] + i + 0.5

    place()
    for _ in range(4):  # barycentre ordering within each column: fewer crossing arrows
        for key, ids in columns.items():
            def centre(method_id: str) -> float:
                near = [rows[n] for n in undirected.neighbors(method_id)]
                return sum(near) / len(near) if near else rows[method_id]

            columns[key] = sorted(ids, key=lambda i: (centre(i), i))
        place()
    positions = {}
    for (band, year), ids in columns.items():
        for i, method_id in enumerate(ids):
            positions[method_id] = (year + (0.2 if i % 2 else -0.2) * (len(ids) > 1), rows[method_id])
    years = [m.year for m in methods.values()] or [2020]
    fig, ax = plt.subplots(figsize=(2.0 + 1.35 * (max(years) - min(years) + 1), 0.36 * offset + 1.2))
    for band, lo, hi in band_spans:
        ax.axhspan(lo - 0.2, hi + 0.2, color=PARADIGM_COLOURS.get(band, "#999"), alpha=0.06, lw=0)
        ax.text(min(years) - 0.95, (lo + hi) / 2, band.replace("-", "\n"), va="center", ha="left", fontsize=9,
                color=PARADIGM_COLOURS.get(band, "#333"), fontweight="bold")
    for u, v in sorted(relations.edges()):
        kinds = sorted({d.get("type") for d in graph.get_edge_data(u, v).values() if d.get("kind") == "relation"})
        colour = RELATION_COLOURS.get(kinds[0] if kinds else "", "#444")
        ax.annotate("", xy=positions[v], xytext=positions[u],
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=0.9, alpha=0.8, shrinkA=14, shrinkB=14,
                                    connectionstyle="arc3,rad=0.12"))
    connected = set(relations.nodes()) - {n for n in relations.nodes() if relations.degree(n) == 0}
    for method_id, (x, y) in sorted(positions.items()):
        m = methods[method_id]
        colour = PARADIGM_COLOURS.get(m.paradigm.value, "#333")
        text = ax.text(x, y, m.label, ha="center", va="center", fontsize=8,
                       bbox=dict(boxstyle="round,pad=0.25", fc="white", ec=colour,
                                 lw=1.2 if method_id in connected else 0.6,
                                 alpha=1.0 if method_id in connected else 0.75))
        text.set_gid(f"method-{method_id}")
    ax.set_xlim(min(years) - 1.0, max(years) + 0.6)
    ax.set_ylim(offset - 0.6, -0.6)
    ax.set_xticks(range(min(years), max(years) + 1))
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#ddd", lw=0.6)
    from matplotlib.lines import Line2D

    handles = [Line2D([0], [0], color=c, lw=1.5, label=k) for k, c in RELATION_COLOURS.items()]
    ax.legend(handles=handles, title="arrow: builds on", loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)
    ax.set_title("Lineage of the catalogued methods (arrows point to the method built on)")
    data = _svg(fig)
    plt.close(fig)
    return data


def coordinates_svg(catalog: Any) -> bytes:
    """Every method's coordinates as a matrix (rows: methods by paradigm; columns: axis values)."""
    from reprogrammability.framework.axes import AXES as ENUMS, Access, Paradigm

    plt = _pyplot()
    graph = catalog.graph()
    columns = [(axis, v.value) for axis in AXES for v in ENUMS[axis]] + [("access", v.value) for v in Access]
    order = {p.value: i for i, p in enumerate(Paradigm)}
    methods = sorted(catalog.methods.values(), key=lambda m: (order[m.paradigm.value], m.year, m.id))
    fig, ax = plt.subplots(figsize=(0.42 * len(columns) + 2.6, 0.2 * len(methods) + 1.6))
    xs, ys, colours = [], [], []
    for row, m in enumerate(methods):
        values = {(d["type"], graph.nodes[t]["value"]) for _, t, d in graph.out_edges(m.id, data=True)
                  if d.get("kind") == "value"}
        for col, key in enumerate(columns):
            if key in values:
                xs.append(col)
                ys.append(row)
                colours.append(PARADIGM_COLOURS.get(m.paradigm.value, "#333"))
    ax.scatter(xs, ys, s=30, c=colours, zorder=3)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([f"{AXIS_SYMBOL.get(a, '')} {v}".strip() if a != "access" else f"access {v}"
                        for a, v in columns], rotation=60, ha="right")
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels([m.label for m in methods], fontsize=7)
    for tick, m in zip(ax.get_yticklabels(), methods):
        tick.set_color(PARADIGM_COLOURS.get(m.paradigm.value, "#333"))
    boundaries = [i for i in range(1, len(columns)) if columns[i][0] != columns[i - 1][0]]
    for b in boundaries:
        ax.axvline(b - 0.5, color="#999", lw=0.8)
    for row in range(1, len(methods)):
        if methods[row].paradigm != methods[row - 1].paradigm:
            ax.axhline(row - 0.5, color="#999", lw=0.8)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(len(methods) - 0.5, -0.5)
    ax.grid(color="#eee", lw=0.5)
    ax.xaxis.tick_top()
    plt.setp(ax.get_xticklabels(), rotation=60, ha="left")
    data = _svg(fig)
    plt.close(fig)
    return data


def taxonomy_page(catalog: Any) -> str:
    """``catalog/taxonomy.md``: the methods on the axes (tables + matrix figure) and the lineage graph."""
    from reprogrammability.framework.axes import Configuration, Location, Operator

    source = "catalog/taxonomy.md"
    lines = [
        "# Taxonomy and lineage",
        "",
        "Both figures are drawn at build time with matplotlib from the catalog's networkx graph "
        "(`Catalog.load().graph()`: method, paper and axis-value nodes; relation, about and value edges).",
        "",
        "## Methods on the axes",
        "",
        "Each table crosses the location ℓ (rows) with the operator τ (columns) for one configuration λ; the output "
        "alignment ω is given after each method.",
        "",
    ]
    for configuration in Configuration:
        lines += [f"### λ = {configuration.value}", "", "| ℓ \\ τ | " + " | ".join(o.value for o in Operator) + " |",
                  "|---|" + "---|" * len(Operator)]
        for location in Location:
            cells = []
            for operator in Operator:
                members = [m for m in catalog.methods.values()
                           if configuration in m.coordinates.configuration and location in m.coordinates.location
                           and operator in m.coordinates.operator]
                cells.append(", ".join(
                    f"{_method_link(source, m.id, m.label)} ({'+'.join(_values(m.coordinates.alignment))})"
                    for m in sorted(members, key=lambda e: e.id)) or "—")
            lines.append(f"| **{location.value}** | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "![Coordinates of every method](coordinates.svg)",
        "",
        "Every catalogued method (rows, coloured by paradigm) and its values on the four axes and the access "
        "axis (columns). A method with several values on an axis has several dots.",
        "",
        "## Lineage",
        "",
        "![Lineage graph](lineage.svg)",
        "",
        "Relations are declared on the later method and point to the earlier one. As a list:",
        "",
        "| method | relation | builds on | note |",
        "|---|---|---|---|",
    ]
    for m in sorted(catalog.methods.values(), key=lambda e: (e.year, e.id)):
        for r in m.relations:
            target = catalog.methods.get(r.target)
            lines.append(
                f"| {_method_link(source, m.id, m.label)} | {r.type.value} | "
                f"{_method_link(source, r.target, target.label if target else r.target)} | {_cell(r.note or '')} |"
            )
    lines.append("")
    return "\n".join(lines)


def crosscheck_page(catalog: Any) -> str:
    """``catalog/crosscheck.md``: the catalog against the survey's own list (when its data is present)."""
    try:
        from reprogrammability.catalog.crosscheck import crosscheck, crosscheck_markdown, default_survey_path
    except ImportError as error:  # pragma: no cover - the module is part of the catalog
        return f"# Our labels and the survey's\n\nThe cross-check is not available: {error}.\n"
    try:
        rows = crosscheck(catalog)
    except FileNotFoundError:
        return (
            "# Our labels and the survey's\n\n"
            f"The survey's data (`{default_survey_path()}`) is not present where this site was built, so the "
            "cross-check was not computed. Run `nnr catalog crosscheck --survey PATH` with the survey's files.\n"
        )
    return crosscheck_markdown(rows)


# --- benchmark results ---------------------------------------------------------------------------------


def _demote(markdown: str) -> str:
    out = []
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,5} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


_LOCAL_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _local_links_only(markdown: str, available: set[str]) -> str:
    """Keep links to files that are published with the page; turn others into plain text."""

    def fix(match: re.Match) -> str:
        bang, text, target = match.groups()
        if re.match(r"^[a-z]+:", target) or target.startswith("#") or target.split("#")[0] in available:
            return match.group(0)
        return f"{text} (`{target}`, not published)"

    return _LOCAL_LINK.sub(fix, markdown)


def _json_tables(value: Any, title: str = "", depth: int = 0) -> list[str]:
    """Lists of flat dicts inside a results JSON, as Markdown tables (for results without a .md)."""
    lines: list[str] = []
    if depth > 4:
        return lines
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = [k for k in value[0] if all(not isinstance(v.get(k), (dict, list)) for v in value)]
        if keys:
            if title:
                lines += [f"**{title}**", ""]
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            for v in value:
                cells = []
                for k in keys:
                    item = v.get(k, "")
                    cells.append(f"{item:.4g}" if isinstance(item, float) else _cell(item))
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        for i, v in enumerate(value):
            for k, sub in v.items():
                if isinstance(sub, (list, dict)):
                    lines += _json_tables(sub, f"{title} {i + 1} · {k}".strip(" ·"), depth + 1)
    elif isinstance(value, dict):
        for k, sub in value.items():
            if k in ("environment", "arguments"):
                continue
            if isinstance(sub, (list, dict)):
                lines += _json_tables(sub, f"{title} · {k}".strip(" ·"), depth + 1)
    return lines


def results_pages(results_dir: Path, benchmarks_dir: Optional[Path] = None) -> dict[str, Content]:
    """``results/index.md`` and the files it shows, from ``benchmarks/results`` (whatever exists)."""
    benchmarks_dir = benchmarks_dir or results_dir.parent
    files: dict[str, Content] = {}
    lines = [
        "# Results",
        "",
        "Tables and plots written by the benchmark scripts in `benchmarks/` into `benchmarks/results/`, "
        "as they were when this site was built. Each section names the run (date, machine, settings); "
        "re-run a script to refresh it.",
        "",
    ]
    results = sorted(p for p in results_dir.glob("*") if p.suffix in (".json", ".md", ".png")) if results_dir.is_dir() else []
    stems = sorted({p.stem for p in results})
    scripts = sorted(p for p in benchmarks_dir.glob("*.py") if not p.name.startswith("_")) if benchmarks_dir.is_dir() else []
    published = {p.name for p in results if p.suffix in (".png", ".json")}
    for stem in stems:
        json_file, md_file, png_file = (results_dir / f"{stem}{s}" for s in (".json", ".md", ".png"))
        lines += [f"## {stem.replace('_', ' ')}", ""]
        data = None
        if json_file.exists():
            try:
                data = json.loads(json_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                lines += [f"`{json_file.name}` could not be read: {error}", ""]
        if md_file.exists():
            text = md_file.read_text(encoding="utf-8")
            text = re.sub(r"\A# [^\n]*\n", "", text)  # the section heading replaces the file's title
            lines += [_local_links_only(_demote(text), published).strip(), ""]
        elif isinstance(data, dict):
            environment = data.get("environment")
            if isinstance(environment, dict):
                lines += ["Run: " + ", ".join(f"{k} {v}" for k, v in environment.items()), ""]
            lines += _json_tables(data) or ["(no tables in this result file)", ""]
        if png_file.exists():
            files[f"results/{png_file.name}"] = png_file.read_bytes()
            lines += [f"![{stem}]({png_file.name})", ""]
        if json_file.exists():
            files[f"results/{json_file.name}"] = json_file.read_bytes()
            lines += [f"Raw data: [{json_file.name}]({json_file.name}).", ""]
    if not stems:
        lines += ["No benchmark has been run yet: `benchmarks/results/` is empty.", ""]
    not_run = [s for s in scripts if not any(stem.startswith(s.stem) for stem in stems)]
    if scripts:
        lines += ["## The benchmark scripts", "", "| script | what it measures | results |", "|---|---|---|"]
        for script in scripts:
            doc = _module_docstring(script)
            first = doc.splitlines()[0] if doc else ""
            state = "not yet run" if script in not_run else ", ".join(
                f"`{s}`" for s in stems if s.startswith(script.stem))
            lines.append(f"| `benchmarks/{script.name}` | {_cell(first)} | {state} |")
        lines.append("")
    files["results/index.md"] = "\n".join(lines)
    return files


def _module_docstring(path: Path) -> str:
    import ast

    try:
        return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, ValueError):
        return ""


# --- API reference -------------------------------------------------------------------------------------

REFERENCE = {
    "framework": ("reprogrammability.framework", "framework", "The framework: the definition as typed code."),
    "catalog": ("reprogrammability.catalog", "catalog", "The catalog: the survey as data, its queries and graph."),
    "registry": ("reprogrammability.implementations", "implementations", "The method and model registries."),
}
_REFERENCE_SKIP = {"cli", "table"}


def _public_modules(folder: Path, package: str) -> list[str]:
    modules = []
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder)
        if any(part.startswith("_") for part in rel.parts[:-1]) or "__pycache__" in rel.parts:
            continue
        if path.name == "__init__.py":
            if rel.parent == Path("."):
                continue
            name = ".".join(rel.parent.parts)
        elif path.stem.startswith("_") or path.stem in _REFERENCE_SKIP:
            continue
        else:
            name = ".".join(rel.with_suffix("").parts)
        modules.append(f"{package}.{name}")
    return modules


def reference_pages(root: Path = REPO_ROOT) -> dict[str, str]:
    """``reference/*.md``: one page per part, one mkdocstrings block per public module."""
    pages = {}
    index = ["# API reference", "", "Generated from the docstrings with mkdocstrings at build time.", ""]
    for key, (package, folder, title) in REFERENCE.items():
        if key == "registry":
            modules = [f"{package}.registry"]
            if (root / folder / "models" / "__init__.py").exists():
                modules.append(f"{package}.models")
        else:
            modules = [package] + _public_modules(root / folder, package)
        lines = [f"# {package if key != 'registry' else package + '.registry'}", "", title, ""]
        for module in modules:
            lines += [f"::: {module}"]
            if module == package:  # the package's own docstring; its members are documented per module
                lines += ["    options:", "      members: false", "      summary: false"]
            lines.append("")
        pages[f"reference/{key}.md"] = "\n".join(lines)
        index.append(f"- [{title.split(':')[0]}]({key}.md): " + ", ".join(f"`{m}`" for m in modules[:1]))
    pages["reference/index.md"] = "\n".join(index) + "\n"
    return pages


def api_source_tree(directory: Optional[Path] = None, root: Path = REPO_ROOT) -> Path:
    """A folder where ``reprogrammability/`` holds the top-level folders as subpackages (for griffe).

    The package maps ``framework/``, ``catalog/`` and ``implementations/`` to subpackages of
    ``reprogrammability`` (see setup.py); static analysis needs them where the import system puts them.
    """
    directory = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="nnr-api-"))
    package = directory / "reprogrammability"
    package.mkdir(parents=True, exist_ok=True)
    for item in (root / "reprogrammability").iterdir():
        if item.suffix == ".py":
            _link(item, package / item.name)
    for folder in ("framework", "catalog", "implementations"):
        _link(root / folder, package / folder)
    return directory


def _link(source: Path, target: Path) -> None:
    if target.exists() or target.is_symlink():
        return
    try:
        target.symlink_to(source, target_is_directory=source.is_dir())
    except OSError:  # no symlinks (some file systems): copy
        import shutil

        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


# --- markers in static pages ---------------------------------------------------------------------------

_MARKER = re.compile(r"<!--\s*docs-gen:\s*([a-z-]+)\s*([^>]*?)\s*-->")


def axis_section(catalog: Any, axis: str, source: str) -> str:
    """The values of ``axis`` with their meaning and the methods at each (for ``axes/<axis>.md``)."""
    from reprogrammability.framework.axes import AXES as ENUMS, Access, Modality, Paradigm

    enums = {**ENUMS, "paradigm": Paradigm, "access": Access, "modality": Modality}
    if axis not in enums:
        raise ValueError(f"axis: {axis!r} is not one of {sorted(enums)}")
    lines = []
    for value in enums[axis]:
        if axis in AXES:
            members = [m for m in catalog.methods.values() if value in getattr(m.coordinates, axis)]
        elif axis == "paradigm":
            members = [m for m in catalog.methods.values() if m.paradigm is value]
        elif axis == "access":
            members = [m for m in catalog.methods.values() if m.access is value]
        else:
            members = [m for m in catalog.methods.values() if value in (m.modality, m.task_modality)]
        symbol = f" ({value.symbol})" if value.symbol else ""
        lines += [f"## {value.value}", "", f"**{value.value}**{symbol}: {value.meaning}.", ""]
        if members:
            lines += [f"{len(members)} methods: " + ", ".join(
                _method_link(source, m.id, m.label) for m in sorted(members, key=lambda e: (e.year, e.id))) + ".", ""]
        else:
            lines += ["No catalogued method has this value.", ""]
    return "\n".join(lines)


def spec_rules_section() -> str:
    from reprogrammability.framework.spec import SPEC_RULES

    lines = ["| rule | statement |", "|---|---|"]
    for rule in SPEC_RULES:
        lines.append(f"| `{rule.name}` | {_cell(rule.description)} |")
    return "\n".join(lines) + "\n"


def stats_section(catalog: Any) -> str:
    from collections import Counter

    paradigms = Counter(m.paradigm.value for m in catalog.methods.values())
    parts = ", ".join(f"{n} {p.replace('-', ' ')}" for p, n in sorted(paradigms.items()))
    return (
        f"The catalog holds **{len(catalog.methods)} methods** ({parts}), **{len(catalog.papers)} further papers** "
        f"and **{len(catalog.glossary)} literature names**.\n"
    )


def expand_markers(markdown: str, source: str, catalog: Any) -> str:
    """Replace ``<!-- docs-gen: NAME [ARG] -->`` markers in a static page."""

    def replace(match: re.Match) -> str:
        name, argument = match.group(1), match.group(2).strip()
        if name == "axis-values":
            return axis_section(catalog, argument, source)
        if name == "spec-rules":
            return spec_rules_section()
        if name == "stats":
            return stats_section(catalog)
        raise ValueError(f"{source}: unknown docs-gen marker {name!r} (axis-values, spec-rules, stats)")

    return _MARKER.sub(replace, markdown)


# --- tutorials -------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_TITLE = re.compile(r"""title=(?:"([^"]*)"|'([^']*)'|(\S+))""")


class CodeBlock(tuple):
    """A fenced Python block: ``(line, code, title)``; ``title`` from ```` ```python title="x.py" ````."""

    def __new__(cls, line: int, code: str, title: str = ""):
        return super().__new__(cls, (line, code, title))

    line = property(lambda self: self[0])
    code = property(lambda self: self[1])
    title = property(lambda self: self[2])


def extract_python_blocks(markdown: str) -> list[CodeBlock]:
    """Every fenced ```` ```python ```` block, in order, as ``(line, code, title)`` (indentation removed).

    A block with ``title="name.py"`` is a file the reader is asked to save (the docs tests write it
    into the working folder instead of running it).
    """
    blocks: list[CodeBlock] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, indent = match.group("fence"), match.group("indent")
        info = match.group("info").strip()
        language = re.split(r"[\s{}]+", info.strip("{ ").lstrip("."))[0] if info else ""
        title_match = _TITLE.search(info)
        title = next((g for g in title_match.groups() if g), "") if title_match else ""
        start = i + 1
        j = start
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence)) and
                                      lines[j].strip().strip(fence[0]) == ""):
            j += 1
        if language in ("python", "py"):
            body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[start:j]]
            blocks.append(CodeBlock(start + 1, "\n".join(body) + "\n", title))
        i = j + 1
    return blocks


# --- the whole generated part of the site ----------------------------------------------------------------


def generate_site(catalog: Any = None, *, forms: Optional[dict] = None, results_dir: Optional[Path] = None,
                  log: Any = None) -> dict[str, Content]:
    """Every generated file: ``{path inside docs/: text or bytes}``."""
    if catalog is None:
        from reprogrammability.catalog import Catalog

        catalog = Catalog.load()
    if forms is None:
        forms = symbolic_forms(catalog, log=log)
    names = glossary_names(catalog)
    pages: dict[str, Content] = {}
    for entry in catalog.methods.values():
        pages[f"methods/{entry.id}.md"] = method_page(catalog, entry, forms.get(entry.id, {}), names)
    pages["methods/index.md"] = methods_index(catalog, forms)
    pages["catalog/papers.md"] = papers_page(catalog)
    pages["catalog/glossary.md"] = glossary_page(catalog)
    pages["catalog/taxonomy.md"] = taxonomy_page(catalog)
    pages["catalog/lineage.svg"] = lineage_svg(catalog)
    pages["catalog/coordinates.svg"] = coordinates_svg(catalog)
    pages["catalog/crosscheck.md"] = crosscheck_page(catalog)
    pages.update(results_pages(results_dir or REPO_ROOT / "benchmarks" / "results"))
    pages.update(reference_pages())
    return pages


def main(argv: Optional[list[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "symbolic":
        return _worker(args[1], args[2:])
    print("usage: python -m reprogrammability.docs_gen symbolic OUT.json METHOD_ID...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
