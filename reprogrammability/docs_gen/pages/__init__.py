"""One module per kind of generated page; a module here that defines ``pages(site)`` is included by itself.

``pages(site: Site) -> {path inside docs/: text or bytes}`` (see :mod:`reprogrammability.docs_gen.site`).
"""
