#!/usr/bin/env bash
# The main job: visual reprogramming of a frozen ImageNet EfficientNet-Lite0 to scikit-learn digits.
# Usage: bash scripts/demo.sh [nnr demo options]   (creates/reuses .venv first)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
exec nnr demo "$@"
