"""reprogrammability: model reprogramming, prompt tuning and prompt instruction as one framework.

    ŷ = O_ω( f( I_{λ,τ,ℓ}(x) ) )

The subpackages are ``reprogrammability.framework`` (the definition as typed code),
``reprogrammability.catalog`` (the survey as data) and ``reprogrammability.implementations``
(a reference implementation of every catalog method). Importing this package is cheap: torch
is loaded only when a torch part is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
