#!/usr/bin/env bash
# Build the rotscan wheel that spark-submit ships with --py-files (driver and executors).
#   scripts/build_wheel.sh [OUT_DIR]      (default: dist/)
# Prints the wheel's path. The build runs from a copy of the package sources, so the checkout gets
# no build/ or egg-info debris.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)"
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
cp "$repo/pyproject.toml" "$repo/README.md" "$src/"
tar -C "$repo" --exclude='__pycache__' -cf - rotscan | tar -C "$src" -xf -
python -m pip wheel --no-deps --quiet -w "$out" "$src" >&2
ls -t "$out"/rotscan-*-py3-none-any.whl | head -n 1
