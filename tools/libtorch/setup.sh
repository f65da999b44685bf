#!/usr/bin/env bash
# Makes a LibTorch 2.9.0 that the `tch` cargo feature builds against, and prints the environment
# that points the build at it.
#
#   eval "$(tools/libtorch/setup.sh [VENV_DIR])"
#   cargo build --release -p vladapt-cli --features tch
#
# burn-tch 0.22.1 pins tch / torch-sys 0.22.0, whose build script accepts PyTorch 2.9.0 only
# (torch-sys 0.22.0 build.rs: TORCH_VERSION = "2.9.0"). This script creates a Python virtual
# environment at VENV_DIR (default: $VLADAPT_TCH_VENV, else ~/.cache/vladapt/venv-tch) with pip's
# `torch==2.9.0` (the Linux x86_64 wheel on PyPI is the CUDA 12.8 build, a 900 MB download, and
# pulls the nvidia-* runtime wheels: about 6.7 GB installed) and prints:
#   VIRTUAL_ENV, PATH          so that torch-sys's build script runs this venv's `python`
#   LIBTORCH_USE_PYTORCH=1     torch-sys asks that python for include/lib dirs and the C++ ABI
#   LD_LIBRARY_PATH            torch/lib, where the binaries find libtorch*.so at run time
# The venv is made with $VLADAPT_TCH_PYTHON (default python3; Debian's python3-venv is installed
# when that python lacks the venv module). Idempotent: an existing venv that already has
# torch 2.9.0 is reused without network access.
# Progress goes to stderr; only the export lines go to stdout.
set -euo pipefail

TORCH_VERSION=2.9.0
VENV="${1:-${VLADAPT_TCH_VENV:-$HOME/.cache/vladapt/venv-tch}}"
PYTHON_BIN="${VLADAPT_TCH_PYTHON:-python3}"

have_torch() {
  [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" \
      >/dev/null 2>&1
}

if ! have_torch; then
  if [ ! -x "$VENV/bin/python" ]; then
    echo "libtorch: creating the virtual environment $VENV" >&2
    mkdir -p "$(dirname "$VENV")"
    if ! "$PYTHON_BIN" -m venv --help >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
      echo "libtorch: $PYTHON_BIN has no venv module; installing Debian's python3-venv" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
      PYTHON_BIN=/usr/bin/python3
    fi
    "$PYTHON_BIN" -m venv "$VENV" >&2
  fi
  echo "libtorch: installing torch==$TORCH_VERSION into $VENV (several GB; a few minutes)" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" >&2
  have_torch || { echo "libtorch: torch $TORCH_VERSION does not import from $VENV" >&2; exit 1; }
fi

TORCH_LIB="$("$VENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)"
[ -f "$TORCH_LIB/libtorch_cpu.so" ] || { echo "libtorch: no libtorch_cpu.so in $TORCH_LIB" >&2; exit 1; }
echo "libtorch: torch $TORCH_VERSION ready in $VENV" >&2

printf 'export VIRTUAL_ENV=%q\n' "$VENV"
printf 'export PATH=%q:"$PATH"\n' "$VENV/bin"
printf 'export LIBTORCH_USE_PYTORCH=1\n'
printf 'export LD_LIBRARY_PATH=%q${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n' "$TORCH_LIB"
