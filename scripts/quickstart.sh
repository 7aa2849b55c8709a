#!/usr/bin/env bash
# The main job: set everything up, then run the offline quickstart study on a
# local Ray instance and print its Pareto front, the best config within 1 point,
# and where the plot went. Extra arguments are passed to `raypruning study`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
study_dir="raypruning_results/quickstart"
if [ -d "$study_dir" ] && [ -z "${*:-}" ]; then
  echo "[quickstart] $study_dir exists from an earlier run: moving it to $study_dir.old"
  rm -rf "$study_dir.old" && mv "$study_dir" "$study_dir.old"
fi
exec raypruning study studies/quickstart.yaml "$@"
