#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the project (and, with "test", its test extras).
# On a bare Debian machine, python3.11's venv module comes from apt; install it when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY=$(command -v python3.11 || command -v python3)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    echo ">> installing python3-venv through apt"
    rm -rf .venv
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3.11-venv || \
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    "$PY" -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip
fi

stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo ">> installing Python dependencies${extras:+ ($extras)}"
  if [ -n "$extras" ]; then
    .venv/bin/python -m pip install -q ".[$extras]"
  else
    .venv/bin/python -m pip install -q .
  fi
  touch "$stamp"
fi
