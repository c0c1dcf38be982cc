#!/usr/bin/env bash
# The head node's services for Shap-CA studies: the MLflow tracking server (with its UI), bound to 127.0.0.1 only;
# users reach it through an SSH tunnel (docs/cluster.md). Cluster files call `start` from head_start_ray_commands.
# Usage: clusters/head_services.sh start|stop|status
# Env: SHAPCA_STATE (default ~/shapca-state) holds MLflow's sqlite DB, its artifacts, the log and the pid file;
#      SHAPCA_MLFLOW_PORT (default 5000); SHAPCA_MLFLOW_WORKERS (default 2: a few users, little memory).
set -euo pipefail
state=${SHAPCA_STATE:-$HOME/shapca-state}
port=${SHAPCA_MLFLOW_PORT:-5000}
workers=${SHAPCA_MLFLOW_WORKERS:-2}
pidfile=$state/mlflow.pid
mkdir -p "$state"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
healthy() { python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
              "http://127.0.0.1:$port/health" >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if running; then echo "mlflow server already running (pid $(cat "$pidfile"))"; exit 0; fi
    # Job execution off: without it the server is 2 processes (~550 MB) instead of ~2 GB of job consumers.
    # nohup: the server must outlive the SSH session that `ray up` runs this in.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false nohup mlflow server \
      --backend-store-uri "sqlite:///$state/mlflow.db" --artifacts-destination "$state/mlartifacts" \
      --host 127.0.0.1 --port "$port" --workers "$workers" >"$state/mlflow.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    for _ in $(seq 90); do
      if healthy; then echo "mlflow server up at http://127.0.0.1:$port (pid $(cat "$pidfile"))"; exit 0; fi
      running || break
      sleep 1
    done
    echo "mlflow server did not come up; the end of $state/mlflow.log:" >&2
    tail -n 20 "$state/mlflow.log" >&2
    exit 1
    ;;
  stop)
    if ! running; then echo "mlflow server not running"; rm -f "$pidfile"; exit 0; fi
    pid=$(cat "$pidfile")
    kill -TERM "$pid"  # the server takes its worker processes down with it
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$pidfile"
    echo "mlflow server stopped"
    ;;
  status)
    if running && healthy; then echo "mlflow server up at http://127.0.0.1:$port"; else echo "mlflow server down"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
