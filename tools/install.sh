#!/usr/bin/env bash
# Install humimic and everything it needs on a fresh Debian/Ubuntu machine with Python 3.11.
# Idempotent: already-present pieces are skipped. Used by the README and by .ci/run.
#
#   bash tools/install.sh           everything: training stack (pinned CPU torch), tests, GPU backend
#   bash tools/install.sh --robot   the robot side only: deploy, simrobot and sim2sim with numpy,
#                                   onnxruntime, cyclonedds and mujoco; no torch, no training stack
#
# It installs into $PYTHON (default: the `python` first on PATH): activate a virtual
# environment first, or set PYTHON=/path/to/venv/bin/python, to keep the install in one.
set -euo pipefail
cd "$(dirname "$0")/.."

py="${PYTHON:-python}"
robot=0
for arg in "$@"; do
  case "$arg" in
    --robot) robot=1 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tools/install.sh: unknown option '$arg' (known: --robot)" >&2; exit 2 ;;
  esac
done

# Offscreen rendering (videos, sim2sim.mp4 too) needs EGL from Mesa; install it when missing.
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1'; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq libegl1 libgl1-mesa-dri >/dev/null
  else
    echo "note: videos need EGL: sudo apt-get install libegl1 libgl1-mesa-dri" >&2
  fi
fi

"$py" -m pip install -q --upgrade pip
if [ "$robot" -eq 1 ]; then
  # The base dependencies in pyproject.toml are exactly the robot side.
  "$py" -m pip install -q -e .
  exit 0
fi
# torch is pinned in the train extra (2.13.0): pip takes the CPU build on these machines.
"$py" -m pip install -q -e ".[train,dev,gpu]"
# Unitree's own Python SDK, used only by interoperability tests. Its PyPI metadata pulls
# opencv and an old cyclonedds, so it is installed without dependencies.
"$py" -m pip install -q --no-deps "unitree-sdk2py-dimos==1.0.3"
