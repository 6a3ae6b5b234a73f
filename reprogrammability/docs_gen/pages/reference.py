"""``reference/*.md``: the API reference (mkdocstrings), and the source tree griffe reads it from."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

from ..common import REPO_ROOT, Content, Site

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
        if item.suffix == ".py" or (item.is_dir() and (item / "__init__.py").is_file()):
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


def pages(site: Site) -> dict[str, Content]:
    return dict(reference_pages())
