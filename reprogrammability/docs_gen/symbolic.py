"""The symbolic form of every method's reference implementation, for its page (computed in workers, cached).

The implementations import torch, so :func:`symbolic_of` runs in worker processes
(``python -m reprogrammability.docs_gen symbolic OUT ID...``), in parallel, and its results are
cached on disk per method, keyed by a hash of the sources its implementation imports
(transitively), the framework, the registries, its catalog entry and the library versions
(``$REPROGRAMMABILITY_CACHE_DIR`` or ``~/.cache/reprogrammability``; ``REPROGRAMMABILITY_DOCS_CACHE=0``
disables the cache). ``REPROGRAMMABILITY_DOCS_SYMBOLIC=0`` skips them for a fast preview.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from .common import REPO_ROOT
from .import_graph import import_closure

SYMBOLIC_ENV = "REPROGRAMMABILITY_DOCS_SYMBOLIC"
CACHE_ENV = "REPROGRAMMABILITY_DOCS_CACHE"
WORKERS_ENV = "REPROGRAMMABILITY_DOCS_WORKERS"
CACHE_VERSION = "2"
"""Bump when :func:`symbolic_of` changes what it records (the cache key also hashes the sources)."""


_ALWAYS = (
    "framework",
    "implementations/registry.py",
    "implementations/models",
    "implementations/data",
    "implementations/__init__.py",
    "catalog/*.py",
)
"""What every method's symbolic form may depend on without importing it by name (lazy registries)."""


def _files_under(root: Path, relative: str) -> list[Path]:
    if "*" in relative:
        return [p for p in root.glob(relative) if p.is_file()]
    path = root / relative
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return [
        p
        for p in path.rglob("*")
        if p.is_file() and p.suffix in (".py", ".yaml", ".json", ".txt") and "__pycache__" not in p.parts
    ]


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


_COMMON_DIGESTS: dict[str, bytes] = {}
"""Root -> digest of the files every method depends on (hashed once per process)."""


def method_cache_key(entry: Any, root: Path = REPO_ROOT, _common: Optional[dict] = None) -> str:
    """A hash of everything the symbolic form of ``entry`` depends on: the sources its implementation
    imports (transitively), the framework, the registries, the catalog, and the library versions."""
    module = entry.implementation.partition(":")[0]
    files = import_closure(module, root)
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(_environment_digest())
    _common = _COMMON_DIGESTS if _common is None else _common
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
            {
                "name": name,
                "type": _annotation(info.annotation),
                "default": default,
                "description": description,
                "required": required,
            }
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
        return {
            **result,
            "status": "error",
            "message": f"importing `{module_name}` failed: {type(error).__name__}: {error}",
        }
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
        example = info.example()
        if isinstance(example, tuple):  # (reprogrammer, inputs, targets)
            reprogrammer, inputs = example[0], example[1]
        else:  # an object with the same fields and more (the validator's ValidationExample)
            reprogrammer, inputs = example.reprogrammer, example.inputs
        result["example_fields"] = not isinstance(example, tuple)
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


def run_worker(out: str, ids: list[str]) -> int:
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
    cached = {
        i: stored[i]["info"]
        for i in ids
        if isinstance(stored.get(i), dict) and stored[i].get("key") == keys[i] and "info" in stored[i]
    }
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
                procs.append(
                    (
                        out,
                        group,
                        errors,
                        subprocess.Popen(
                            [sys.executable, "-m", "reprogrammability.docs_gen", "symbolic", out, *group],
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=errors,
                            cwd=str(REPO_ROOT),
                        ),
                    )
                )
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
