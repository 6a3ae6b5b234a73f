"""Numerical checks of the propositions (torch, float64); one module per proposition, imported on demand."""
