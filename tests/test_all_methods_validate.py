"""Every reference implementation in the registry passes the validator on its own example.

One test per registered method id (``list_methods()``), so a failure names the method; the message
is the validator's report of the failed checks with their reasons.
"""

from __future__ import annotations

import pytest

from reprogrammability.framework.validation import validate
from reprogrammability.implementations.registry import get_method, list_methods

METHODS = list_methods()


def test_methods_are_registered():
    assert METHODS, "no method is registered (implementations/ defines none yet?)"


@pytest.mark.parametrize("method_id", METHODS)
def test_reference_method_passes_the_validator(method_id):
    info = get_method(method_id)
    if info.example is None:
        pytest.fail(f"{method_id}: registered without example=; the validator needs a tiny example factory")
    report = validate(method_id)
    assert report.passed, report.format(verbose=False)
    assert report["declared-coordinates"].passed  # the registry's declaration is what the method builds
