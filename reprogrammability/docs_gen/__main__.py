"""``python -m reprogrammability.docs_gen symbolic OUT.json METHOD_ID...``: the worker of :mod:`.symbolic`."""

from __future__ import annotations

import sys
from typing import Optional

from .symbolic import run_worker


def main(argv: Optional[list[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "symbolic":
        return run_worker(args[1], args[2:])
    print("usage: python -m reprogrammability.docs_gen symbolic OUT.json METHOD_ID...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
