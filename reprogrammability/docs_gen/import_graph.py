"""Which ``reprogrammability`` modules a module imports, transitively, read from the sources (no import runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .common import REPO_ROOT

_PACKAGE_FOLDERS = {"framework", "catalog", "implementations"}


def module_file(name: str, root: Path = REPO_ROOT) -> Optional[Path]:
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


def imports_of(path: Path, module: str) -> set[str]:
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
            path = module_file(prefix, root)
            if path is None:
                continue
            files.add(path)
            todo.extend(imports_of(path, prefix) - seen)
    return files
