#!/usr/bin/env bash
# Static checks, run by scripts/test.sh before pytest (and alone: `bash scripts/lint.sh`):
#   ruff check            lint rules of pyproject.toml's [tool.ruff.lint]
#   ruff format --check   the formatting (`ruff format` fixes it)
#   lint-imports          the layers of .importlinter (framework <- catalog <- implementations <- cli/bench/docs)
#   mypy                  strict on framework/ and catalog/ (no exemptions), default on the generators
# setup.py maps framework/, catalog/ and implementations/ into the package, so import-linter and mypy read an
# importable copy of the sources in a temporary folder. Needs the venv's tools on PATH (scripts/env.sh).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3 )}"
BIN="$(dirname "$PY")"
failed=()

step() {  # step NAME COMMAND...: run, report, remember a failure, go on
  local name="$1"; shift
  echo "[lint] $name"
  if ! "$@"; then failed+=("$name"); fi
}

step "ruff check" "$BIN/ruff" check .
step "ruff format --check" "$BIN/ruff" format --check --quiet .

tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
"$PY" -c "import sys; from reprogrammability.docs_gen.import_graph import importable_copy; importable_copy(sys.argv[1])" \
  "$tree" || { echo "[lint] could not copy the sources"; exit 1; }
imports() { (cd "$tree" && PYTHONPATH="$tree" "$BIN/lint-imports" --no-cache --no-logo "$ROOT/.importlinter"); }
types() {
  (cd "$tree" && "$BIN/mypy" --config-file "$ROOT/pyproject.toml" --cache-dir "$ROOT/.mypy_cache" \
    -p reprogrammability.framework -p reprogrammability.catalog -p reprogrammability.docs_gen -p reprogrammability.bench)
}
step "lint-imports" imports
step "mypy" types

if [ ${#failed[@]} -gt 0 ]; then
  echo "[lint] FAILED: ${failed[*]}"
  exit 1
fi
echo "[lint] all checks passed"
