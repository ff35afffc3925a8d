#!/usr/bin/env bash
# Check the layer contract of pyproject.toml ([tool.importlinter]) with import-linter, on the package as
# it installs (the repository's pipelines/ folder installs as dali_sr.pipelines; in the checkout
# dali_sr/pipelines links to it, so a plain `lint-imports` there checks the same contracts).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip install -q --no-deps --no-build-isolation --target "$tmp/site" . 2>&1 | grep -v "^WARNING" || true
test -f "$tmp/site/dali_sr/pipelines/registry.py" || { echo "check_layers: the installed copy lacks dali_sr.pipelines" >&2; exit 1; }
cd "$tmp" && PYTHONPATH="$tmp/site" "$PY" -c "from importlinter.cli import lint_imports_command; lint_imports_command()" \
    "$root/pyproject.toml" --no-cache
