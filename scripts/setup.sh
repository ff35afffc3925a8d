#!/usr/bin/env bash
# Install dali_sr, its test tools and the benchmark plot's matplotlib into the current Python,
# keeping an installed torch.
# Without a torch, take the 2.13.0 CPU build (a local wheel on the project's machines;
# an unpinned `torch` would pull gigabytes of CUDA packages there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q torch==2.13.0
fi
"$PY" -m pip install -q -e ".[test,bench]"
