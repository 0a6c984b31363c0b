#!/usr/bin/env bash
# Browser tests of the dashboard: headless Chromium + chromium-driver (Debian), selenium
# (PyPI), against a real storeplatformd with the simulated cluster (started by the tests).
#   apt-get install chromium chromium-driver; pip install selenium pytest
# STOREPLATFORM_DAEMON overrides the daemon binary (default .build/debug/storeplatformd).
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec python3 -m pytest clients/dashboard/tests -q "$@"
