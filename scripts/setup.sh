#!/usr/bin/env bash
# One-command set-up of a rotscan checkout: install the package (editable, with the test tools),
# then cache the Delta and s3a jars from Maven Central so scans need no network afterwards.
# Safe to run again: pip keeps what is installed, `rotscan setup` skips a complete jar cache.
#   bash scripts/setup.sh            (PYTHON=/path/to/python bash scripts/setup.sh for another interpreter)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python}

echo "==> [1/2] $PYTHON -m pip install -e '.[dev]'"
"$PYTHON" -m pip install --disable-pip-version-check -e '.[dev]'

# The rotscan entry point of *this* interpreter (a PATH lookup could find another installation).
echo "==> [2/2] rotscan setup (resolve the Delta/s3a jars once into the jar cache)"
"$PYTHON" -m rotscan setup

echo "==> set-up done; check it with: rotscan doctor"
