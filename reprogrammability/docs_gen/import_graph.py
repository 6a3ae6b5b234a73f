"""Which ``reprogrammability`` modules a module imports, transitively, read from the sources (no import runs)."""

from __future__ import annotations

import ast
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


_IMPORTS_MEMO: dict[tuple[object, ...], set[str]] = {}


def _import_nodes(tree: ast.Module, at_import_time: bool) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of a module: all of them, or only those that run when it is imported (not inside
    functions, not under ``if TYPE_CHECKING:``)."""
    import ast

    if not at_import_time:
        return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return found


def imports_of(path: Path, module: str, at_import_time: bool = False) -> set[str]:
    """Names of the ``reprogrammability`` modules that ``path`` (module ``module``) imports anywhere, or with
    ``at_import_time`` only those imported when it is imported (not the lazy ones inside functions)."""
    import ast

    try:
        stat = path.stat()
        memo_key = (str(path), module, stat.st_mtime_ns, stat.st_size, at_import_time)
        if memo_key in _IMPORTS_MEMO:
            return _IMPORTS_MEMO[memo_key]
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(tree, at_import_time):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        else:
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


def all_modules(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Every module of the package in the checkout: dotted name -> source file."""
    bases = [(root / "reprogrammability", "reprogrammability")]
    bases += [(root / folder, f"reprogrammability.{folder}") for folder in sorted(_PACKAGE_FOLDERS)]
    found: dict[str, Path] = {}
    for base, prefix in bases:
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


def part_of(module: str) -> str:
    """The top-level part a module belongs to: ``reprogrammability.catalog.loader`` -> ``catalog``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def part_imports(root: Path = REPO_ROOT) -> dict[tuple[str, str], int]:
    """``(importing part, imported part) -> number of modules`` of the first that import the second (anywhere)."""
    modules = all_modules(root)
    counts: dict[tuple[str, str], int] = {}
    for module, path in modules.items():
        source = part_of(module)
        targets = {part_of(name) for name in imports_of(path, module)} - {source, "reprogrammability"}
        for target in targets:
            if f"reprogrammability.{target}" in modules:
                counts[source, target] = counts.get((source, target), 0) + 1
    return dict(sorted(counts.items()))


def import_cycles(root: Path = REPO_ROOT) -> list[list[str]]:
    """Groups of modules that import each other when imported (module-level imports only; lazy imports inside
    functions cannot make a circle at import time), each sorted, largest first."""
    import networkx as nx

    modules = all_modules(root)
    graph = nx.DiGraph()
    for module, path in modules.items():
        for name in imports_of(path, module, at_import_time=True):
            target = name if name in modules else name.rpartition(".")[0]
            if target in modules and target != module and not module.startswith(target + "."):
                graph.add_edge(module, target)  # a package importing its own submodule is no circle
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    return sorted(cycles, key=lambda c: (-len(c), c))


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


def importable_copy(directory: Path, root: Path = REPO_ROOT) -> Path:
    """A copy of the package's Python sources laid out as the import system sees them (``reprogrammability/``
    with ``framework/``, ``catalog/``, ``implementations/`` inside), for tools that read a package from one
    folder (import-linter's grimp). Returns ``directory``; put it first on ``PYTHONPATH``."""
    import shutil

    directory = Path(directory)
    target = directory / "reprogrammability"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(root / "reprogrammability", target, ignore=ignore, dirs_exist_ok=True)
    for folder in sorted(_PACKAGE_FOLDERS):
        shutil.copytree(root / folder, target / folder, ignore=ignore, dirs_exist_ok=True)
    return directory


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m reprogrammability.docs_gen.import_graph copy DIR``: write :func:`importable_copy` into DIR."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "copy":
        print(importable_copy(Path(args[1])))
        return 0
    print("usage: python -m reprogrammability.docs_gen.import_graph copy DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
