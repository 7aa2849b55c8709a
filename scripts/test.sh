#!/usr/bin/env bash
# Set everything up, then run the test suite (slow end-to-end tests included; GPU tests are
# deselected unless a GPU is present, extended ones unless asked for with -m extended).
# Extra arguments go to pytest (a later -m replaces the default selection).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
markers="not gpu and not extended"
if python -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then markers="not extended"; fi
exec python -m pytest -m "$markers" "$@"
