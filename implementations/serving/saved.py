"""Task programs saved as files and a bank rebuilt from them: no Python factory per task.

A saved task is a folder::

    reprogrammer.safetensors + reprogrammer.json    (Reprogrammer.save_learned: weights, method, Spec, f's fingerprint)
    labels.json                                     (class names, optional)
    recipe.json                                     {"method": <registry id>, "config": {...}}

:func:`save_task` writes all of them; :func:`load_task` rebuilds the method from the registry
(``create_method(method, f, config)``) and loads it through :meth:`ProgramBank.load` (weights hash, method,
Spec and f's fingerprint checked; class names from ``labels.json``). A bank
folder holds one such folder per task, named by the task (:func:`load_bank`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from torch import nn

from reprogrammability.framework.frozen import FrozenModel
from reprogrammability.framework.reprogrammer import LEARNED_CONFIG, LEARNED_WEIGHTS, Reprogrammer

from .bank import ProgramBank, TaskProgram

__all__ = ["RECIPE_FILE", "save_task", "load_task", "load_bank", "saved_tasks"]

RECIPE_FILE = "recipe.json"
"""Written beside a saved program by :func:`save_task`: how to rebuild its method (registry id and config)."""


def _config_dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    dump = getattr(config, "model_dump", None)
    if callable(dump):
        return dict(dump(mode="json"))
    raise TypeError(f"config: expected None, a dict or a pydantic config, got {type(config).__name__}")


def save_task(
    bank: ProgramBank,
    task: str,
    directory: str | Path,
    *,
    method: str | None = None,
    config: Any = None,
    overwrite: bool = False,
) -> Path:
    """Save ``task`` of ``bank`` (weights, Spec, fingerprint, labels) with the recipe that rebuilds it.

    ``method``: the registry id the task was built with (default: its reprogrammer's name, when that is a
    registered id); ``config``: the config (dict or pydantic) it was built with. The recipe is checked by
    rebuilding the method on the bank's f and comparing the learned tensors' names and shapes.
    """
    from reprogrammability.implementations.registry import get_method

    program = bank[task].program
    method = method or program.name
    info = get_method(method)  # KeyError naming method_id when unknown
    settings = _config_dict(config)
    json.dumps(settings)  # must be JSON
    rebuilt = info.build(bank.frozen, settings or None)
    ours = {k: tuple(v.shape) for k, v in program.learned_state().items()}
    theirs = {k: tuple(v.shape) for k, v in rebuilt.learned_state().items()}
    if ours != theirs:
        raise ValueError(
            f"config: method {method!r} built with {settings} does not rebuild task {task!r} (learned tensors "
            f"{sorted(theirs.items())} vs the task's {sorted(ours.items())}); pass the config the task was built with"
        )
    path = bank.save(task, directory, overwrite=overwrite)
    (path.parent / RECIPE_FILE).write_text(json.dumps({"method": method, "config": settings}, indent=2) + "\n")
    return path


def _program_folder(path: Path, what: str) -> Path:
    folder = path if path.is_dir() else path.parent
    if not path.exists():
        raise FileNotFoundError(f"{what}: no saved program at {path}")
    if not (folder / LEARNED_WEIGHTS).is_file():
        raise FileNotFoundError(f"{what}: no {LEARNED_WEIGHTS} in {folder}; save the task with save_task(bank, ...)")
    return folder


def load_task(bank: ProgramBank, task: str, path: str | Path, *, what: str | None = None) -> TaskProgram:
    """Rebuild the saved task at ``path`` (its folder or its ``.safetensors``) on the bank's f and add it as ``task``.

    Errors name ``what`` (default ``path``): a missing folder or file, a folder without ``recipe.json``, a program
    saved for another f (``frozen_model_fingerprint``) or by another method (weights hash, Spec)."""
    from reprogrammability.implementations.registry import create_method

    what = what or "path"
    folder = _program_folder(Path(path), what)
    recipe_file = folder / RECIPE_FILE
    if not recipe_file.is_file():
        raise FileNotFoundError(
            f"{what}: no {RECIPE_FILE} in {folder}; save the task with save_task(bank, task, folder, method=..., "
            "config=...) or build the bank with a factory (nnr predict file.py:factory)"
        )
    recipe = json.loads(recipe_file.read_text())
    if not isinstance(recipe, dict) or not isinstance(recipe.get("method"), str):
        raise ValueError(f"{what}: {recipe_file} must hold {{'method': <registry id>, 'config': {{...}}}}")

    def build(frozen: FrozenModel) -> Reprogrammer:
        return create_method(recipe["method"], frozen, recipe.get("config") or None)

    try:
        return bank.load(task, folder, build)
    except (ValueError, TypeError, OSError) as error:
        raise type(error)(f"{what} ({folder}): {error}") from error


def saved_tasks(folder: str | Path) -> dict[str, Path]:
    """``{task: its folder}`` for every subfolder of a bank folder that holds a saved program (sorted)."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"bank: no folder at {root}")
    found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and (p / LEARNED_CONFIG).is_file()}
    if not found:
        raise FileNotFoundError(f"bank: {root} holds no saved task folders (each with {LEARNED_WEIGHTS})")
    return found


def load_bank(model: nn.Module, programs: Mapping[str, str | Path] | str | Path) -> ProgramBank:
    """A :class:`ProgramBank` on ``model`` (a FrozenModel or a module) with saved tasks: ``{task: path}`` or a bank
    folder (one subfolder per task, named by it)."""
    bank = ProgramBank(model)
    items = saved_tasks(programs) if isinstance(programs, (str, Path)) else dict(programs)
    for task, path in items.items():
        load_task(bank, task, path, what=f"--program {task}")
    return bank
