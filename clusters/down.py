"""Take a cluster down without losing a study: `python -m clusters.down FILE [--fetch DIR] [--dry-run]`.

`ray down` deletes a cloud cluster's nodes with their disks. Where the cluster file keeps MLflow's tracking store
or its artifacts on the head's own disk (clusters/tracking_rules.py reads where), this refuses, unless --fetch DIR
first copies them, and the tables under ~/shapca/runs/reports, to DIR. The head's services are stopped first, so the
copy is consistent; when a step fails the cluster is left up. Exit status 0 when the cluster is down, 1 when refused
or a step failed, 2 on an unreadable file.
"""
import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from clusters.problems import ConfigLoadError, load_yaml_with_lines
from clusters.project_rules import HEAD_LISTS, commands, head_mounts
from clusters.tracking_rules import Location, tracking_locations, under_mount

REPORTS = "~/shapca/runs/reports"


def at_risk(raw: dict) -> list[Location]:
    """The store and artifacts that `ray down` would delete with the head."""
    if (raw.get("provider") or {}).get("type") == "local":
        return []  # on-premises: `ray down` stops Ray and leaves the machines and their disks
    mounts = head_mounts(raw)
    return [loc for loc in tracking_locations(commands(raw, HEAD_LISTS))
            if loc.folder is not None and not under_mount(loc.folder, mounts)]


def _copyable(folder: str) -> bool:
    return folder == "." or folder.startswith(("~", "/"))


def plan(file: str, raw: dict, fetch: Path | None) -> tuple[list[list[str]], list[str]]:
    """The commands to run, in order, and the reasons to refuse (empty when it may go ahead)."""
    risky = at_risk(raw)
    refusals = [f"{file}: {loc.key}: the MLflow {loc.what} ({loc.value}) is on the head's disk, which `ray down` "
                f"deletes" for loc in risky]
    if risky and fetch is None:
        return [], refusals + ["refused: rerun with --fetch DIR to copy it off the head first (or move the store "
                               "off the node: docs/cluster.md)"]
    stuck = [loc for loc in risky if not _copyable(loc.folder)]
    if stuck:
        return [], [f"{file}: {loc.key}: the MLflow {loc.what} ({loc.value}) runs on the head and cannot be copied "
                    f"as files: dump it (pg_dump) before `ray down`" for loc in stuck]
    steps = [["ray", "exec", file, "~/shapca/clusters/head_services.sh stop"]]
    folders = sorted({"~" if loc.folder == "." else loc.folder for loc in risky})
    # Nested folders are copied with their parent (sqlite and artifacts both under ~/shapca-state, say).
    folders = [f for f in folders if not any(f != o and f.startswith(o + "/") for o in folders)]
    for folder in folders + ([REPORTS] if risky else []):
        target = fetch / folder.lstrip("~/").replace("/", "_") if fetch else None
        steps.append(["ray", "rsync-down", file, f"{folder}/", f"{target}/"])
    steps.append(["ray", "down", "-y", file])
    return steps, []


def main(argv: list[str] | None = None, run=subprocess.run) -> int:
    ap = argparse.ArgumentParser(prog="python -m clusters.down", description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path, help="the cluster file given to `ray up`")
    ap.add_argument("--fetch", type=Path, default=None, help="copy the head's MLflow store, artifacts and tables here "
                                                              "before `ray down`")
    ap.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    args = ap.parse_args(argv)
    try:
        raw, _ = load_yaml_with_lines(args.file)
    except ConfigLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    steps, refusals = plan(str(args.file), raw, args.fetch)
    if refusals:
        print("\n".join(refusals), file=sys.stderr)
        return 1
    for step in steps:
        print("+ " + shlex.join(step), flush=True)
        if args.dry_run:
            continue
        if step[1] == "rsync-down":
            Path(step[-1]).mkdir(parents=True, exist_ok=True)
        failed = run(step).returncode != 0 or (step[1] == "rsync-down" and not any(Path(step[-1]).iterdir()))
        if failed and step[3] == f"{REPORTS}/":
            print(f"warning: no tables copied from {REPORTS} (none built yet?); they are in MLflow too",
                  file=sys.stderr)
        elif failed:
            what = "copied nothing" if step[1] == "rsync-down" else "failed"
            print(f"error: `{shlex.join(step)}` {what}; the cluster is left up (nothing deleted)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
