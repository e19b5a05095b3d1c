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

# The browser test (tests/test_report_browser.py) drives headless Chromium, the Debian `chromium`
# package. Installed here when missing and we are root with apt-get; otherwise say how.
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || [ -n "${ROTSCAN_CHROMIUM:-}" ]; then
  echo "==> chromium for the browser test: ${ROTSCAN_CHROMIUM:-$(command -v chromium || command -v chromium-browser)}"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing chromium (Debian package) for the browser test: apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null \
      || echo "==> WARNING: could not install chromium; the browser test will be skipped (and fail under CI)"
  fi
else
  echo "==> chromium not found: the browser test will be skipped (and fail under CI)."
  echo "    Install it with: sudo apt-get install chromium   (or set ROTSCAN_CHROMIUM=/path/to/chromium)"
fi

echo "==> set-up done; check it with: rotscan doctor"
