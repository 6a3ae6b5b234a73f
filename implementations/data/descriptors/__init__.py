"""Hand-written prompts for the case-study tasks: class names as text, templates and class descriptors.

One JSON file per task (``<task>.json``): ``class_names`` (label order), ``template`` (the single
template), ``templates`` (the ensemble), ``descriptors`` (class name → phrases, DCLIP/CuPL style) and
``source`` (who wrote them, from what; no language model was used).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["TASKS", "task_prompts"]

FOLDER = Path(__file__).parent
TASKS = ("fashion-mnist", "digits")


def task_prompts(task: str) -> dict[str, Any]:
    """The prompts of ``task`` (one of :data:`TASKS`), checked: every class has descriptors, templates have ``{}``."""
    if task not in TASKS:
        raise ValueError(f"task: {task!r} is not one of {list(TASKS)}")
    prompts = json.loads((FOLDER / f"{task}.json").read_text(encoding="utf-8"))
    names = prompts["class_names"]
    missing = [name for name in names if not prompts["descriptors"].get(name)]
    if missing:
        raise ValueError(f"descriptors: {task}.json has none for classes {missing}")
    templates = [prompts["template"], *prompts["templates"]]
    if any("{}" not in template for template in templates):
        raise ValueError(f"templates: every template of {task}.json needs a '{{}}' placeholder")
    return prompts
