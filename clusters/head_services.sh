#!/usr/bin/env bash
# The head node's services for Shap-CA studies: the MLflow tracking server (with its UI), bound to 127.0.0.1 only,
# and, where asked, a PostgreSQL server for its runs; users reach MLflow through an SSH tunnel (docs/cluster.md).
# Cluster files call `start` from head_start_ray_commands; clusters/down.py calls `stop` before `ray down`.
# Usage: clusters/head_services.sh start|stop|status
# Env (clusters/tracking_rules.py reads the same names from cluster files):
#   SHAPCA_MLFLOW_STORE      backend store URI, e.g. postgresql://shapca@db-host:5432/mlflow (password in ~/.pgpass)
#   SHAPCA_PGDATA            or: run PostgreSQL here (clusters/pg_server.py), its data in this folder
#   SHAPCA_MLFLOW_ARTIFACTS  artifacts destination: s3://..., gs://... or a folder (default $SHAPCA_STATE/mlartifacts)
#   SHAPCA_STATE (default ~/shapca-state): the log, the pid file, and with neither store setting the sqlite DB
#   SHAPCA_MLFLOW_PORT (default 5000); SHAPCA_PG_PORT (default 5432); SHAPCA_MLFLOW_WORKERS (default 2)
set -euo pipefail
state=${SHAPCA_STATE:-$HOME/shapca-state}
port=${SHAPCA_MLFLOW_PORT:-5000}
workers=${SHAPCA_MLFLOW_WORKERS:-2}
artifacts=${SHAPCA_MLFLOW_ARTIFACTS:-$state/mlartifacts}
pidfile=$state/mlflow.pid
mkdir -p "$state"
if [ -n "${SHAPCA_MLFLOW_STORE:-}" ] && [ -n "${SHAPCA_PGDATA:-}" ]; then
  echo "set SHAPCA_MLFLOW_STORE (a database elsewhere) or SHAPCA_PGDATA (PostgreSQL here), not both" >&2
  exit 2
fi

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
healthy() { python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
              "http://127.0.0.1:$port/health" >/dev/null 2>&1; }

case "${1:-}" in
  start)
    if running; then echo "mlflow server already running (pid $(cat "$pidfile"))"; exit 0; fi
    store=${SHAPCA_MLFLOW_STORE:-sqlite:///$state/mlflow.db}
    if [ -n "${SHAPCA_PGDATA:-}" ]; then
      store=$(python -m clusters.pg_server start "$SHAPCA_PGDATA" --port "${SHAPCA_PG_PORT:-5432}")
      echo "PostgreSQL up at 127.0.0.1:${SHAPCA_PG_PORT:-5432} (data in $SHAPCA_PGDATA)"
    fi
    case "$artifacts" in *://*) ;; *) mkdir -p "$artifacts" ;; esac
    # Job execution off: without it the server is 2 processes (~550 MB) instead of ~2 GB of job consumers.
    # Up to 40 database connections per worker (SQLAlchemy's default is 5 + 10), as benchmarked
    # (benchmarks/tracking_scale.py): a PostgreSQL for 2 workers needs max_connections >= 80 (its default is 100).
    # nohup: the server must outlive the SSH session that `ray up` runs this in.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
      MLFLOW_SQLALCHEMYSTORE_POOL_SIZE=20 MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW=20 nohup mlflow server \
      --backend-store-uri "$store" --artifacts-destination "$artifacts" \
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
    if running; then
      pid=$(cat "$pidfile")
      kill -TERM "$pid"  # the server takes its worker processes down with it
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "mlflow server stopped"
    else
      echo "mlflow server not running"
    fi
    rm -f "$pidfile"
    # After MLflow, so no request is cut off; a clean shutdown leaves the data folder consistent for a copy.
    if [ -n "${SHAPCA_PGDATA:-}" ]; then
      python -m clusters.pg_server stop "$SHAPCA_PGDATA" && echo "PostgreSQL stopped"
    fi
    ;;
  status)
    if running && healthy; then echo "mlflow server up at http://127.0.0.1:$port"; else echo "mlflow server down"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
