"""On-disk cache of parsed catalog YAML, verified on every read and never trusted.

Parsing YAML dominates the start-up time of ``nnr catalog``, so the parsed documents are kept as
JSON in the package's cache folder, keyed by a hash of every file's bytes. The cache folder follows
the project's one convention (shared with the model cache in
``implementations/models/pretrained.py``, which imports it from here): ``$REPROGRAMMABILITY_CACHE``,
else ``~/.cache/reprogrammability``.
``REPROGRAMMABILITY_CATALOG_CACHE=0`` switches the catalog cache off.

A cache file is used only when it has the expected shape: format version, the same digest, exactly
the same file names, and a checksum of its documents that matches. Anything else (garbage, valid JSON
of the wrong shape, a truncated write) is ignored and rewritten; and the loader re-parses the YAML
whenever cached documents fail validation (see :meth:`~.loader.Catalog.load`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Optional

__all__ = ["CACHE_ENV", "DISABLE_ENV", "cache_root", "catalog_cache_dir", "digest", "get", "put"]

CACHE_ENV = "REPROGRAMMABILITY_CACHE"
"""Environment variable naming the cache folder (the model cache reads the same one)."""

DISABLE_ENV = "REPROGRAMMABILITY_CATALOG_CACHE"
"""``0``/``false``/``no``/``off`` switches the catalog's cache off."""

_FORMAT = 2
_KEEP = 8  # several checkouts may share the folder: keep the newest few


def cache_root() -> Path:
    """``$REPROGRAMMABILITY_CACHE`` if set, else ``~/.cache/reprogrammability`` (models and catalog alike)."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "reprogrammability"


def catalog_cache_dir() -> Optional[Path]:
    """Where catalog cache files go, or ``None`` when the cache is switched off."""
    if os.environ.get(DISABLE_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return cache_root()


def digest(base: Path, raw: dict[str, bytes]) -> str:
    """Hash of the catalog folder's path and every file's name and bytes."""
    hasher = hashlib.blake2b(digest_size=20)
    hasher.update(str(base).encode("utf-8", "surrogateescape") + b"\0")
    for file in sorted(raw):
        hasher.update(file.encode("utf-8", "surrogateescape") + b"\0" + str(len(raw[file])).encode() + b"\0")
        hasher.update(raw[file])
    return hasher.hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, date):  # YAML dates (first_public) survive the round trip as dates
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(mapping: dict[str, Any]) -> Any:
    if len(mapping) == 1 and "$date" in mapping and isinstance(mapping["$date"], str):
        return date.fromisoformat(mapping["$date"])
    return mapping


def _checksum(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def get(key: str, files: list[str]) -> Optional[dict[str, Any]]:
    """The cached documents for ``key`` if a cache file exists and verifies; ``None`` otherwise."""
    directory = catalog_cache_dir()
    if directory is None:
        return None
    try:
        envelope = json.loads((directory / f"catalog-{key}.json").read_text(encoding="utf-8"))
        if not (isinstance(envelope, dict) and envelope.get("format") == _FORMAT and envelope.get("digest") == key):
            return None
        body = envelope.get("documents")
        if not isinstance(body, str) or envelope.get("checksum") != _checksum(body):
            return None
        documents = json.loads(body, object_hook=_decode)
    except (OSError, ValueError, TypeError, RecursionError):
        return None
    if not isinstance(documents, dict) or sorted(documents) != sorted(files):
        return None
    return documents


def put(key: str, documents: dict[str, Any]) -> None:
    """Write the parsed documents (only after they validated); a failure to write is ignored."""
    directory = catalog_cache_dir()
    if directory is None:
        return
    tmp = None
    try:
        body = json.dumps(documents, ensure_ascii=False, default=_encode)
        envelope = {"format": _FORMAT, "digest": key, "checksum": _checksum(body), "documents": body}
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".catalog-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(envelope, handle, ensure_ascii=False)
        os.replace(tmp, directory / f"catalog-{key}.json")
        tmp = None
        entries = sorted(directory.glob("catalog-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[_KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        return
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
