"""Serving many tasks on one frozen model: the program bank and mixed-task batches."""

from .bank import BatchPass, BatchPlan, ProgramBank, TaskProgram, UnknownTaskError

__all__ = ["ProgramBank", "TaskProgram", "BatchPlan", "BatchPass", "UnknownTaskError"]
