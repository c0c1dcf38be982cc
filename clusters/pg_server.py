"""A PostgreSQL server of our own, in one folder, listening on 127.0.0.1 only.

Used three ways: by clusters/head_services.sh for the head's tracking store (its data on a persistent disk), by the
tests, and by benchmarks/tracking_scale.py (a throwaway server in a temporary folder).

    python -m clusters.pg_server start DIR [--port N]   # initdb on first use, then start; prints the tracking URI
    python -m clusters.pg_server stop DIR
    python -m clusters.pg_server uri DIR

Authentication is `trust` for TCP connections from 127.0.0.1 only: the server is for the one account on this
machine (a head node, a test), never reachable from elsewhere. initdb refuses to run as root, so as root the folder
belongs to the `postgres` account and every server command runs as it.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

DATABASE = "mlflow"
SUPERUSER = "postgres"


class PgError(RuntimeError):
    pass


def bindir() -> Path:
    """Where initdb and pg_ctl are: `pg_config --bindir`, else the newest Debian/Ubuntu server package's folder."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        candidates.append(out)
    # Debian's server packages keep the binaries off PATH, one folder per major version; newest first.
    def major(folder: str) -> int:
        name = Path(folder).parent.name
        return int(name) if name.isdigit() else -1

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PgError("PostgreSQL server binaries (initdb, pg_ctl) not found via `pg_config --bindir` or "
                  "/usr/lib/postgresql/*/bin: install them (`apt-get install -y postgresql-15`)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd: list[str]) -> list[str]:
    # As root, run as the postgres account (initdb and postgres refuse root); otherwise as ourselves.
    return ["runuser", "-u", SUPERUSER, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], what: str) -> str:
    done = subprocess.run(_as_owner(cmd), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise PgError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def uri(folder: Path) -> str:
    port_file = Path(folder) / "port"
    if not port_file.is_file():
        raise PgError(f"{folder}: no PostgreSQL server was started here (no {port_file.name} file)")
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port_file.read_text().strip()}/{DATABASE}"


def _initdb(folder: Path, data: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, SUPERUSER, SUPERUSER)
        folder.chmod(0o700)
    _run([str(bindir() / "initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8", "--auth-local=trust",
          "--auth-host=trust"], f"initdb in {data}")
    # Local TCP only: the server never listens beyond 127.0.0.1, and only 127.0.0.1 may connect.
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    if os.geteuid() == 0:
        shutil.chown(data / "pg_hba.conf", SUPERUSER, SUPERUSER)


def start(folder: Path, port: int | None = None, max_connections: int = 300) -> str:
    """Start the server whose data is in FOLDER/data (created on first use); returns its tracking URI."""
    folder, data = Path(folder).resolve(), Path(folder).resolve() / "data"
    if not (data / "PG_VERSION").is_file():
        _initdb(folder, data)
    elif running(folder):
        return uri(folder)  # started before (a second `head_services.sh start`): the same server
    port = port or free_port()
    (folder / "port").write_text(f"{port}\n")
    # The unix socket goes into the folder too: /var/run/postgresql may not exist or not be ours.
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections={max_connections}"
    _run([str(bindir() / "pg_ctl"), "-D", str(data), "-l", str(folder / "postgres.log"), "-o", options, "-w",
          "-t", "60", "start"], f"starting PostgreSQL in {data} (log: {folder / 'postgres.log'})")
    exists = _run([str(bindir() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, "-tAc",
                   f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", "postgres"], "psql")
    if exists.strip() != "1":
        _run([str(bindir() / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, DATABASE], "createdb")
    return uri(folder)


def running(folder: Path) -> bool:
    data = Path(folder).resolve() / "data"
    status = subprocess.run(_as_owner([str(bindir() / "pg_ctl"), "-D", str(data), "status"]), capture_output=True)
    return status.returncode == 0


def stop(folder: Path) -> None:
    data = Path(folder).resolve() / "data"
    if (data / "postmaster.pid").exists():
        _run([str(bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], f"stopping PostgreSQL in {data}")


@contextmanager
def throwaway():
    """A fresh server in a temporary folder for the duration of the block; yields its tracking URI."""
    # Not under pytest's tmp_path: as root that path is closed to the postgres account.
    folder = Path(tempfile.mkdtemp(prefix="shapca-pg-"))
    try:
        yield start(folder)
    finally:
        try:
            stop(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clusters.pg_server", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["start", "stop", "uri"])
    ap.add_argument("folder", type=Path, help="the server's folder (its data in FOLDER/data)")
    ap.add_argument("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default: a free one)")
    args = ap.parse_args(argv)
    try:
        if args.action == "start":
            print(start(args.folder, args.port))
        elif args.action == "stop":
            stop(args.folder)
        else:
            print(uri(args.folder))
    except PgError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
