"""Every catalog method is backed by a reference implementation whose declared spec matches its YAML.

``Catalog.check_implementation(entry)`` imports ``entry.implementation`` and compares the registered
``build.method_info.spec`` (coordinates, paradigm, access) with the entry; a difference fails with
the file and the field.

* ``PENDING``: methods whose implementation may not exist yet (their family issue has not landed).
  Remove an id as soon as its module exists; at the end of the family issues this set is empty.
* ``DISPUTED``: methods whose implementation exists but declares different coordinates than the
  catalog after the catalog's check against the paper. They are strict expected failures: the test
  fails as soon as the two agree again, so the id must then be removed. Each needs a decision by the
  lead (fix the implementation or the YAML); the reason records the catalog's side.
"""

from __future__ import annotations

import pytest

from reprogrammability.catalog import Catalog, CatalogError

PENDING: set[str] = set()

DISPUTED: dict[str, str] = {}

CATALOG = Catalog.load()


def _params():
    for method_id in sorted(CATALOG.methods):
        marks = []
        if method_id in DISPUTED:
            marks.append(pytest.mark.xfail(strict=True, raises=CatalogError, reason=DISPUTED[method_id]))
        yield pytest.param(method_id, marks=marks, id=method_id)


@pytest.mark.parametrize("method_id", list(_params()))
def test_implementation_matches_entry(method_id):
    entry = CATALOG.methods[method_id]
    try:
        info = Catalog.check_implementation(entry)
    except CatalogError as error:
        if method_id in PENDING and error.field == "implementation" and "does not exist" in error.detail:
            pytest.skip(f"pending: {entry.implementation} is not written yet")
        raise
    assert method_id not in PENDING, f"{method_id} is implemented now: remove it from PENDING in {__file__}"
    assert info.id == method_id
    assert info.example is not None, f"{entry.implementation}: register_method(..., example=...) is missing"


def test_pending_and_disputed_ids_are_catalog_methods():
    assert PENDING <= set(CATALOG.methods), sorted(PENDING - set(CATALOG.methods))
    assert set(DISPUTED) <= set(CATALOG.methods), sorted(set(DISPUTED) - set(CATALOG.methods))
    assert not PENDING & set(DISPUTED)
