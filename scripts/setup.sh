#!/usr/bin/env bash
# Install dali_sr, its test tools and the benchmark plot's matplotlib into the current Python,
# keeping an installed torch and an installed DALI (any CUDA build).
# Without a torch, ask for torch 2.13.0, a CPU build where the package index offers one (an unpinned
# `torch` pulls gigabytes of CUDA packages).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q torch==2.13.0
fi
extras=test,bench,s3,memcached
if ! "$PY" -c "import nvidia.dali" 2>/dev/null; then
  extras=$extras,cuda12  # DALI for CUDA 12: also the build for machines without a GPU
fi
"$PY" -m pip install -q -e ".[$extras]"
