"""Serving many tasks on one frozen model: the program bank, mixed-task batches, banks of saved task files."""

from .bank import BatchPass, BatchPlan, ProgramBank, TaskProgram, UnknownTaskError
from .saved import RECIPE_FILE, load_bank, load_task, save_task, saved_tasks

__all__ = [
    "ProgramBank",
    "TaskProgram",
    "BatchPlan",
    "BatchPass",
    "UnknownTaskError",
    "RECIPE_FILE",
    "save_task",
    "load_task",
    "load_bank",
    "saved_tasks",
]
