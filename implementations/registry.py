"""The method registry: catalog ids -> factories that build a :class:`Reprogrammer`.

A method module declares its coordinates where it defines its factory::

    @register_method("soft-prompt", "prompt-tuning", "λ=learnable τ=concatenative ℓ=embedding ω=rule-based",
                     config=SoftPromptConfig, example=tiny_example)
    def build(model, config=None, **overrides) -> Reprogrammer: ...

The declaration is checked against the catalog entry (without building anything) and against
the built reprogrammer's own spec (by the validator). This module does not import torch.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..framework.axes import Access, Configuration, Location, Paradigm, default_access
from ..framework.spec import Spec

__all__ = [
    "MethodInfo",
    "parse_coordinates",
    "register_method",
    "get_method",
    "list_methods",
    "create_method",
    "import_all_methods",
]


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: its id, declared coordinates, config class and factory."""

    id: str
    factory: Callable[..., Any]
    spec: Spec
    config: Optional[type] = None
    example: Optional[Callable[[], Any]] = None
    """Builds ``(reprogrammer, inputs, targets)`` on a tiny model, for the validator and tests."""
    summary: str = ""
    import_path: str = field(default="")

    def build(self, model: Any, config: Any = None, **overrides: Any) -> Any:
        return self.factory(model, config, **overrides)


_REGISTRY: dict[str, MethodInfo] = {}
_IMPORTED = False


_AXIS_NAMES = {"λ": "configuration", "τ": "operator", "ℓ": "location", "ω": "alignment"}


def parse_coordinates(text: str) -> dict[str, list[str]]:
    """``"λ=learnable τ=parametric+additive ℓ=input ω=linear"`` -> ``{"configuration": ["learnable"], ...}``.

    The inverse of :func:`reprogrammability.framework.spec.coordinates_str`; axes may also be named
    (``configuration=learnable``). All four axes are required, each once.
    """
    found: dict[str, list[str]] = {}
    for part in text.split():
        key, sep, values = part.partition("=")
        axis = _AXIS_NAMES.get(key, key)
        if not sep or not values or axis not in _AXIS_NAMES.values():
            raise ValueError(
                f"coordinates: {part!r} is not AXIS=VALUE[+VALUE] with AXIS one of λ τ ℓ ω "
                "(or configuration, operator, location, alignment)"
            )
        if axis in found:
            raise ValueError(f"coordinates: the axis {axis} is given twice in {text!r}")
        found[axis] = values.split("+")
    missing = [a for a in _AXIS_NAMES.values() if a not in found]
    if missing:
        raise ValueError(f"coordinates: {text!r} lacks {', '.join(missing)}")
    return found


def register_method(
    method_id: str,
    paradigm: str | Paradigm,
    coordinates: str | None = None,
    *,
    configuration: Any = None,
    operator: Any = None,
    location: Any = None,
    alignment: Any = None,
    access: str | Access | None = None,
    modality: str = "general",
    config: Optional[type] = None,
    example: Optional[Callable[[], Any]] = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``factory(model, config=None, **overrides) -> Reprogrammer`` under ``method_id``.

    The coordinates are either one string in the survey's notation, ``coordinates="λ=learnable
    τ=additive ℓ=input ω=statistical"`` (see :func:`parse_coordinates`), or the four keywords
    ``configuration``, ``operator``, ``location``, ``alignment``; not both.
    """
    keywords = {"configuration": configuration, "operator": operator, "location": location, "alignment": alignment}
    if coordinates is not None:
        given = [k for k, v in keywords.items() if v is not None]
        if given:
            raise ValueError(f"{method_id}: give the coordinates either as one string or as keywords, not both {given}")
        keywords = dict(parse_coordinates(coordinates))
    elif any(v is None for v in keywords.values()):
        missing = [k for k, v in keywords.items() if v is None]
        raise ValueError(f"{method_id}: coordinates missing: {missing} (or pass coordinates='λ=... τ=... ℓ=... ω=...')")
    configuration, operator = keywords["configuration"], keywords["operator"]
    location, alignment = keywords["location"], keywords["alignment"]

    def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
        configurations = [configuration] if isinstance(configuration, (str, Configuration)) else configuration
        spec = Spec(
            configuration=configuration,
            operator=operator,
            location=location,
            alignment=alignment,
            paradigm=paradigm,
            access=access
            or default_access(configurations, [location] if isinstance(location, (str, Location)) else location),
            modality=modality,
        )
        if method_id in _REGISTRY and _REGISTRY[method_id].factory is not factory:
            existing = _REGISTRY[method_id].import_path
            raise ValueError(f"method_id: {method_id!r} is already registered by {existing}")
        info = MethodInfo(
            id=method_id,
            factory=factory,
            spec=spec,
            config=config,
            example=example,
            summary=(factory.__doc__ or "").strip().splitlines()[0] if factory.__doc__ else "",
            import_path=f"{factory.__module__}:{factory.__qualname__}",
        )
        _REGISTRY[method_id] = info
        factory.method_info = info  # type: ignore[attr-defined]
        return factory

    return decorator


def import_all_methods() -> None:
    """Import every module below ``reprogrammability.implementations`` so that all methods register."""
    global _IMPORTED
    if _IMPORTED:
        return
    package = importlib.import_module(__package__)
    for module in pkgutil.walk_packages(package.__path__, prefix=f"{__package__}."):
        importlib.import_module(module.name)
    _IMPORTED = True


def get_method(method_id: str) -> MethodInfo:
    if method_id not in _REGISTRY:
        import_all_methods()
    if method_id not in _REGISTRY:
        close = [m for m in sorted(_REGISTRY) if method_id.split("-")[0] in m][:5]
        hint = f"; did you mean {close}?" if close else ""
        raise KeyError(f"method_id: unknown method {method_id!r}{hint} (list_methods() lists all)")
    return _REGISTRY[method_id]


def list_methods(pattern: str = "*") -> list[str]:
    """Registered method ids matching a shell pattern (``"*prompt*"``), sorted."""
    import_all_methods()
    return sorted(m for m in _REGISTRY if fnmatch.fnmatch(m, pattern))


def create_method(method_id: str, model: Any, config: Any = None, **overrides: Any) -> Any:
    """Build the registered method ``method_id`` on ``model``."""
    return get_method(method_id).build(model, config, **overrides)
