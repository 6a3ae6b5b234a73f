#!/usr/bin/env bash
# The test suite: creates/reuses .venv, installs the Debian packages the tests use, runs pytest.
# Usage: bash scripts/test.sh [pytest options]   (default: everything not marked slow or gpu)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[test] apt-get install ${need[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
    || echo "[test] could not install ${need[*]}; the tests that need them will skip"
fi
export NO_MKDOCS_2_WARNING=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ $# -eq 0 ]; then set -- -m "not slow and not gpu"; fi
# static checks first (ruff, import-linter contracts, mypy; NNR_LINT=0 skips them); the tests run either way
lint=0
if [ "${NNR_LINT:-1}" != 0 ]; then bash "$ROOT/scripts/lint.sh" || lint=$?; fi
tests=0
python -m pytest "$@" || tests=$?
if [ "$tests" -ne 0 ]; then exit "$tests"; fi
if [ "$lint" -ne 0 ]; then echo "[test] the tests passed but scripts/lint.sh failed" >&2; exit "$lint"; fi
