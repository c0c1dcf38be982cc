"""How many trials at once each MLflow tracking store serves: simulated trials that log like a study's trials.

    python benchmarks/tracking_scale.py [--writers 8,32,128] [--trials 1] [--epochs 3] [--stores ...]

Each simulated trial does what the runner does for one trial (ablations/tracking.py): looks its trial hash up,
creates its run, logs ~60 params once, ~20 metrics per epoch in one batch, two artifacts at the end, and ends the
run. All writers start together and log with no pause between epochs: the worst case of a study whose trials all
end an epoch at the same moment. Stores, all on 127.0.0.1 and fresh in a temporary folder:
  sqlite           the runner writing to sqlite:///…/mlflow.db itself (what a laptop study does)
  sqlite-server    `mlflow server` over that sqlite file (what the head node did before PostgreSQL)
  postgres-server  `mlflow server` over a throwaway PostgreSQL 15 (clusters/pg_server.py)
Writers are threads in up to 8 forked processes (bounded memory), each with its own client and connection, which
opens the store before the start (not timed: the runner opens it once per study). A failed call is retried twice
(counted as retries); a call that still fails is an error and ends its trial. Afterwards every trial's run is
checked in the store: lost (no finished run with all params, metrics and both artifacts) or duplicated.
A store "serves" a writer count when it had no error, no lost or duplicated run and p99 latency <= --p99-limit-ms
(and so did every smaller count). The servers run as clusters/head_services.sh runs them (tracking_server.py).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

from clusters.pg_server import throwaway
from clusters.tracking_server import serve

PARAMS, METRICS, ATTEMPTS, PROCESSES = 60, 20, 3, 8
STORES = ("sqlite", "sqlite-server", "postgres-server")


def _op(stats: dict, name: str, fn, *args, **kwargs):
    """One client call, retried; its latency (retries included) is what the trial waited."""
    t0 = time.perf_counter()
    for attempt in range(ATTEMPTS):
        try:
            result = fn(*args, **kwargs)
            stats["lat"].append(time.perf_counter() - t0)
            stats["writes"] += name != "search"
            return result
        except Exception as e:  # noqa: BLE001 - every store failure counts, whatever its type
            stats["samples"].add(f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:150]}")
            if attempt == ATTEMPTS - 1:
                stats["errors"] += 1
                raise
            stats["retries"] += 1
            time.sleep(0.2 * 2 ** attempt)


def _trial(client, exp_id: str, trial: str, epochs: int, files: list[str], stats: dict) -> None:
    from mlflow.entities import Metric, Param

    _op(stats, "search", client.search_runs, [exp_id], f"tags.trial_hash = '{trial}'")
    run_id = _op(stats, "create", client.create_run, exp_id, tags={"trial_hash": trial}).info.run_id
    _op(stats, "params", client.log_batch, run_id, params=[Param(f"p{i:02d}", str(i)) for i in range(PARAMS)])
    for epoch in range(epochs):
        now = int(time.time() * 1000)
        batch = [Metric(f"m{i:02d}", float(epoch + i), now, epoch) for i in range(METRICS)]
        _op(stats, "metrics", client.log_batch, run_id, metrics=batch)
    for path in files:
        _op(stats, "artifact", client.log_artifact, run_id, path)
    _op(stats, "finish", client.set_terminated, run_id, "FINISHED")


def _writer_process(index, threads, uri, exp_id, args, barrier, deadline, queue) -> None:
    from mlflow.tracking import MlflowClient

    # A connection per thread, as if each writer were its own process (a trial): threads then contend for the
    # database, not for the client's connection pool.
    os.environ["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] = str(max(5, threads))

    folder = Path(tempfile.mkdtemp(prefix="trackbench-"))
    files = [folder / "config.yaml", folder / "test.jsonl"]
    files[0].write_text("".join(f"p{i:02d}: {i}\n" for i in range(PARAMS)))
    files[1].write_text('{"id": 1, "tp": 3, "fp": 1, "fn": 0, "gold": [], "pred": []}\n' * 200)  # ~12 KB

    def thread(t: int) -> None:
        client, mine = MlflowClient(tracking_uri=uri), {"lat": [], "writes": 0, "errors": 0, "retries": 0,
                                                          "samples": set(), "done": 0}
        client.search_experiments(max_results=1)  # opens the store (schema check, connection): not timed
        barrier.wait()
        for k in range(args.trials):
            if time.time() > deadline:
                break  # bounded in time: a cell never runs past its deadline
            try:
                _trial(client, exp_id, f"w{index}-{t}-{k}", args.epochs, [str(f) for f in files], mine)
                mine["done"] += 1
            except Exception:  # noqa: BLE001 - already counted as an error; the trial is abandoned
                pass
        queue.put(mine)  # per thread: a thread stuck in a call does not hide the others' numbers

    workers = [threading.Thread(target=thread, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def _in_child(fn, *args):
    """Run fn in a forked child and return its result: the parent never opens a store, so no forked process
    inherits an open database connection."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=lambda: queue.put(fn(*args)))
    proc.start()
    deadline = time.monotonic() + 300
    while queue.empty() and proc.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if queue.empty():
        proc.kill()
        raise RuntimeError(f"{fn.__name__} failed in its process (its error is printed above)")
    result = queue.get()
    proc.join()
    return result


def _experiment(uri: str, name: str, artifacts: str | None) -> str:
    from mlflow.tracking import MlflowClient

    from ablations.tracking import init_store

    init_store(uri)
    return MlflowClient(tracking_uri=uri).create_experiment(name, artifact_location=artifacts)


def _check(uri: str, exp_id: str, expected: set[str]) -> dict:
    """Lost, duplicated and incomplete runs, from the store itself."""
    from mlflow.tracking import MlflowClient

    # Not measured: patient, with the client's own retries, as a server may still be working through a backlog.
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="5", MLFLOW_HTTP_REQUEST_TIMEOUT="120")
    client, seen = MlflowClient(tracking_uri=uri), {}
    for run in client.search_runs([exp_id], max_results=50000):
        seen.setdefault(run.data.tags.get("trial_hash"), []).append(run)
    complete = 0
    for trial in expected:
        runs = seen.get(trial, [])
        if any(r.info.status == "FINISHED" and len(r.data.params) == PARAMS and len(r.data.metrics) == METRICS
               and len(client.list_artifacts(r.info.run_id)) == 2 for r in runs):
            complete += 1
    return {"lost": len(expected) - complete, "dup": sum(len(r) - 1 for r in seen.values() if len(r) > 1)}


def run_cell(uri: str, exp_id: str, writers: int, args) -> dict:
    ctx = mp.get_context("fork")
    procs_n = min(PROCESSES, writers)
    threads = [writers // procs_n + (i < writers % procs_n) for i in range(procs_n)]
    barrier, queue = ctx.Barrier(writers + 1), ctx.Queue()
    deadline = time.time() + args.cell_timeout
    procs = [ctx.Process(target=_writer_process, args=(i, n, uri, exp_id, args, barrier, deadline, queue))
             for i, n in enumerate(threads)]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    t0 = time.perf_counter()
    results = []
    for _ in range(writers):
        try:
            results.append(queue.get(timeout=max(1.0, deadline + args.grace - time.time())))
        except Exception:  # noqa: BLE001 - the queue stayed empty: the writers left are stuck in a call
            break
    wall = time.perf_counter() - t0
    stuck = writers - len(results)  # each stuck in one call past the bound: an error, its trial lost
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
    lat = sorted(x for r in results for x in r["lat"])
    expected = {f"w{i}-{t}-{k}" for i, n in enumerate(threads) for t in range(n) for k in range(args.trials)}
    cell = {"writers": writers, "trials": len(expected), "wall": wall, "lat": lat,
            **{k: sum(r[k] for r in results) for k in ("writes", "errors", "retries", "done")},
            "samples": set().union(*(r["samples"] for r in results), {"writer stuck in a call"} if stuck else set())}
    cell["errors"] += stuck
    return cell | _in_child(_check, uri, exp_id, expected)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def report(store: str, cells: list[dict], p99_limit: float) -> None:
    print(f"\n## {store}")
    print("| writers | trials | writes | writes/s | p50 ms | p99 ms | errors | retries | lost | duplicated | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    serves, passing = 0, True  # the largest writer count that passes, and every smaller one too
    for c in cells:
        p50, p99 = _pct(c["lat"], 0.50), _pct(c["lat"], 0.99)
        print(f"| {c['writers']} | {c['trials']} | {c['writes']} | {c['writes'] / c['wall']:.0f} | {p50:.0f} | "
              f"{p99:.0f} | {c['errors']} | {c['retries']} | {c['lost']} | {c['dup']} | {c['wall']:.1f} |")
        passing = passing and c["errors"] == c["lost"] == c["dup"] == 0 and p99 <= p99_limit
        serves = c["writers"] if passing else serves
    print(f"serves: {serves or 'fewer than ' + str(cells[0]['writers'])} trials at once "
          f"(no error, lost or duplicated run, p99 <= {p99_limit:.0f} ms)")
    for c in cells:
        for sample in sorted(c["samples"])[:3]:
            print(f"  {c['writers']} writers, a failed call: {sample}")


def bench_store(store: str, args, tmp: Path) -> list[dict]:
    folder = tmp / store
    folder.mkdir()
    db = f"sqlite:///{folder / 'mlflow.db'}"

    def cells(uri: str, artifacts: str | None) -> list[dict]:
        out = []
        for writers in args.writers:
            exp_id = _in_child(_experiment, uri, f"bench-{writers}", artifacts)
            out.append(run_cell(uri, exp_id, writers, args))
            print(f"  {store}: {writers} writers done in {out[-1]['wall']:.1f} s", file=sys.stderr, flush=True)
        return out

    if store == "sqlite":
        return cells(db, str(folder / "artifacts"))
    if store == "sqlite-server":
        with serve(db, str(folder / "artifacts"), folder / "server.log", args.server_workers) as uri:
            return cells(uri, None)
    with throwaway() as pg, serve(pg, str(folder / "artifacts"), folder / "server.log", args.server_workers) as uri:
        return cells(uri, None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", default="8,32,128", help="concurrent writer counts (comma-separated)")
    ap.add_argument("--trials", type=int, default=1, help="trials each writer runs, one after another")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--stores", default=",".join(STORES), help=f"comma-separated, of {', '.join(STORES)}")
    ap.add_argument("--server-workers", type=int, default=2, help="`mlflow server --workers` (head_services.sh: 2)")
    ap.add_argument("--cell-timeout", type=float, default=60, help="seconds after which no writer starts a trial")
    ap.add_argument("--grace", type=float, default=30, help="seconds after that for trials under way to end")
    # A trial logs once per epoch, and a real epoch on a GPU takes minutes: a 10 s call costs it a few percent.
    # What a store must never do is fail a call or lose a run.
    ap.add_argument("--p99-limit-ms", type=float, default=10000)
    args = ap.parse_args(argv)
    args.writers = [int(w) for w in args.writers.split(",")]
    stores = args.stores.split(",")
    if unknown := [s for s in stores if s not in STORES]:
        ap.error(f"--stores: unknown {', '.join(unknown)} (known: {', '.join(STORES)})")
    # The benchmark counts retries itself: the REST client's own silent retries would hide them.
    os.environ.update(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="20",
                      MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="true")  # no "View run" line per run
    import mlflow

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, mlflow {mlflow.__version__}; writers {args.writers}, {args.trials} "
          f"trial(s) each, {args.epochs} epochs, {PARAMS} params, {METRICS} metrics/epoch, 2 artifacts; "
          f"server --workers {args.server_workers}; load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="tracking-scale-") as tmp:
        for store in stores:
            report(store, bench_store(store, args, Path(tmp)), args.p99_limit_ms)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f} (other processes share these cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
