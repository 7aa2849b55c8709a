#!/usr/bin/env bash
# Set everything up, then run the test suite (slow end-to-end tests included;
# GPU tests are deselected unless a GPU is present). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
markers="not gpu"
if python -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then markers=""; fi
exec python -m pytest -m "$markers" "$@"
