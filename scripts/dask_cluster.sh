#!/usr/bin/env bash
# Start or stop a dask.distributed cluster on this machine: one scheduler on 127.0.0.1 and N workers,
# each worker one process (steps of vlmfr-data's jobs run there: they import the project from the venv
# and read VLMFR_HOME / DAGSTER_HOME from this environment).
#   scripts/dask_cluster.sh start [PORT] [WORKERS]   -> prints the scheduler address
#   scripts/dask_cluster.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV_BIN:-.venv/bin}
RUN=${VLMFR_DASK_RUN_DIR:-${VLMFR_HOME:-.vlmfr}/dask}
cmd=${1:-start}; port=${2:-8786}; workers=${3:-2}
mkdir -p "$RUN"
case "$cmd" in
  start)
    setsid "$BIN/dask" scheduler --host 127.0.0.1 --port "$port" --dashboard-address 127.0.0.1:0 \
      >"$RUN/scheduler.log" 2>&1 & echo $! >"$RUN/scheduler.pid"
    for _ in $(seq 1 60); do grep -q "Scheduler at" "$RUN/scheduler.log" 2>/dev/null && break; sleep 0.5; done
    for i in $(seq 1 "$workers"); do
      setsid "$BIN/dask" worker "tcp://127.0.0.1:$port" --nworkers 1 --nthreads 1 --host 127.0.0.1 \
        --dashboard-address 127.0.0.1:0 --name "vlmfr-worker-$i" >"$RUN/worker-$i.log" 2>&1 &
      echo $! >"$RUN/worker-$i.pid"
    done
    echo "tcp://127.0.0.1:$port"
    ;;
  stop)
    for pid_file in "$RUN"/*.pid; do
      [ -f "$pid_file" ] || continue
      kill -TERM -- "-$(cat "$pid_file")" 2>/dev/null || kill -TERM "$(cat "$pid_file")" 2>/dev/null || true
      rm -f "$pid_file"
    done
    ;;
  *) echo "usage: $0 start [PORT] [WORKERS] | stop" >&2; exit 2 ;;
esac
