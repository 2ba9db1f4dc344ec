#!/usr/bin/env bash
# Check the robot-side install (tools/install.sh --robot) the way the G1 gets it: a fresh,
# isolated virtual environment (no system site-packages), pip-installed from PyPI, then
#   * `import torch` must fail there (nor may the training stack be present),
#   * `humimic deploy|simrobot|sim2sim --help` and `python -m humimic --help` work,
#   * a real `humimic sim2sim` on an exported controller passes its gate, writing
#     metrics.json, plots and sim2sim.mp4,
#   * a real `humimic deploy --unattended` drives `humimic simrobot` on loopback through
#     the policy and exits 0.
#
#   bash tools/check_robot_install.sh [CONTROLLER]
#
# CONTROLLER: an exported controller folder (copied, never changed). Without one, the
# current `python` (the full install: exporting needs torch) exports the tests' tiny
# arm-wave controller first. PYTHON names that interpreter; the venv is made from it too.
# KEEP_VENV=1 keeps the venv and prints where it is. Exit code 0 when every check passes.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
py="${PYTHON:-python}"

work=$(mktemp -d "${TMPDIR:-/tmp}/humimic_robot_check.XXXXXX")
cleanup() {
  # a simulated robot left running by a failed check is stopped by its own process id
  if [ -n "${sim_pid:-}" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  if [ "${KEEP_VENV:-0}" = 1 ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
start=$SECONDS
step() { echo "[$((SECONDS - start)) s] $*"; }
fail() { echo "check_robot_install: FAILED: $*" >&2; exit 1; }

controller="$work/controller"
if [ $# -ge 1 ]; then
  [ -f "$1/controller.onnx" ] || { echo "check_robot_install: $1: no controller.onnx" >&2; exit 2; }
  cp -r "$1" "$controller"
else
  step "exporting the test controller with $py (full install)"
  "$py" -c "import shutil, sys; from tests.export.helpers import exported; \
shutil.copytree(exported(), sys.argv[1])" "$controller" >/dev/null
fi
rm -f "$controller/metrics.json"  # the gate below is this install's own

step "fresh venv in $work/venv"
"$py" -m venv "$work/venv"
vpy="$work/venv/bin/python"
step "bash tools/install.sh --robot"
PYTHON="$vpy" bash tools/install.sh --robot
"$vpy" -m pip freeze --exclude-editable | sed 's/^/  installed: /'

step "no torch, no training stack"
for module in torch rsl_rl tensordict hydra onnx mink; do
  if "$vpy" -c "import $module" 2>/dev/null; then fail "$module is importable in the venv"; fi
done
case "$("$vpy" -c 'import humimic; print(humimic.__file__)')" in
  "$repo"/*) ;;
  *) fail "the venv's humimic is not this checkout's" ;;
esac

step "help of the robot-side commands"
for command in deploy simrobot sim2sim; do
  "$work/venv/bin/humimic" "$command" --help >/dev/null || fail "humimic $command --help"
done
"$vpy" -m humimic --help >/dev/null || fail "python -m humimic --help"
# a training command says what is missing in one line, exit code 2
set +e
"$work/venv/bin/humimic" export "$controller" -o "$work/x" 2>"$work/export.err"
code=$?
set -e
[ "$code" -eq 2 ] && grep -q "needs torch" "$work/export.err" \
  || fail "humimic export without torch: exit $code, $(cat "$work/export.err")"

step "humimic sim2sim on the controller"
"$work/venv/bin/humimic" sim2sim "$controller" || fail "humimic sim2sim (gate or run)"
for f in metrics.json sim2sim.mp4; do [ -s "$controller/$f" ] || fail "sim2sim wrote no $f"; done

step "humimic deploy against humimic simrobot on lo"
domain=$((100 + RANDOM % 100))
"$work/venv/bin/humimic" simrobot --iface lo --domain-id "$domain" --gantry --duration 60 \
  >"$work/simrobot.log" 2>&1 &
sim_pid=$!
for _ in $(seq 600); do  # up to 60 s for MuJoCo and DDS to come up
  grep -q "simrobot: running" "$work/simrobot.log" && break
  kill -0 "$sim_pid" 2>/dev/null || fail "humimic simrobot: $(tail -3 "$work/simrobot.log")"
  sleep 0.1
done
# 400 ms watchdogs instead of the robot's 100 ms: this may run on a loaded shared machine
"$work/venv/bin/humimic" deploy "$controller" --iface lo --domain-id "$domain" --unattended \
  --duration 8 --stale-state-ms 400 --max-period-ms 400 --log-dir "$work/deploy_log" \
  || fail "humimic deploy (log: $work/deploy_log, simrobot: $(tail -3 "$work/simrobot.log"))"
grep -q '"dst": "POLICY"' "$work/deploy_log/events.jsonl" || fail "deploy never ran the policy"
kill "$sim_pid" 2>/dev/null || true
wait "$sim_pid" 2>/dev/null || true
sim_pid=

step "robot-side install OK"
