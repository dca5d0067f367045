#!/usr/bin/env bash
# Set up debugger in ./.venv with the default offline model, ready to run. Safe to run again.
# torch==2.13.0 goes in first: an unpinned torch would pull a multi-GB CUDA build on CPU machines.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
# bubblewrap fences candidate code off the network and the file system (README "Safety"); best effort
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  { $SUDO apt-get install -y -qq bubblewrap || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq bubblewrap; }; } \
    >/dev/null 2>&1 || echo "note: bubblewrap not installed; candidate code will run without network isolation" >&2
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
.venv/bin/python -c "import torch" 2>/dev/null || pip install torch==2.13.0
pip install -e '.[model,dev]'
.venv/bin/debugger model pull
# the llama.cpp engine compiled for this CPU where the prebuilt wheel (AVX2) leaves AVX-512 unused: once, about 5 min
# on 2 cores, kept in ~/.cache/debugger/engine; a failed build keeps the wheel. DEBUGGER_ENGINE_BUILD=0 skips it.
.venv/bin/python -m debugger.engines.native || echo "note: the llama.cpp engine was not rebuilt; the prebuilt one stays" >&2
