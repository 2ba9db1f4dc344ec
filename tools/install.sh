#!/usr/bin/env bash
# Install humimic and everything it needs on a fresh Debian/Ubuntu machine with Python 3.11.
# Idempotent: already-present pieces are skipped. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Offscreen rendering (videos) needs EGL from Mesa; install it when the system lacks it.
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1'; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq libegl1 libgl1-mesa-dri >/dev/null
  else
    echo "note: videos need EGL: sudo apt-get install libegl1 libgl1-mesa-dri" >&2
  fi
fi

python -m pip install -q --upgrade pip
# torch is pinned in pyproject.toml (2.13.0): pip takes the CPU build on these machines.
python -m pip install -q -e ".[dev,gpu]"
# Unitree's own Python SDK, used only by interoperability tests. Its PyPI metadata pulls
# opencv and an old cyclonedds, so it is installed without dependencies.
python -m pip install -q --no-deps "unitree-sdk2py-dimos==1.0.3"
