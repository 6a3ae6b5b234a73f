"""Reference implementations: a runnable method for every catalog entry, built from framework parts.

Like timm's model registry::

    from reprogrammability.implementations import create_method, list_methods
    list_methods("*prompt*")
    reprogrammer = create_method("padding-vr", model, num_classes=10)

Importing this package is cheap; method modules are imported on first lookup.
"""

from __future__ import annotations

from .registry import MethodInfo, create_method, get_method, list_methods, register_method

__all__ = ["MethodInfo", "create_method", "get_method", "list_methods", "register_method"]
