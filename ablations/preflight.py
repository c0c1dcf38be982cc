"""Before a study opens its runs: every local folder it writes to takes a file, and has room for a checkpoint.

A read-only folder or a full disk is said here, with the path and what is free, before anything is written; found
later it would come as a raw traceback out of Tune or MLflow, with the study's run left RUNNING. What fills up
while the study runs is said by the trial that fails (trainables/checkpoints.py) and by `space_note`.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
from pathlib import Path

PROBE_BYTES = 1 << 20  # what Tune writes before its first trial (its state, the trial's folder) is well under this


class FolderError(RuntimeError):
    """A folder the study must write to cannot take a file; the message names it and says why."""


def _free(folder: Path) -> str:
    usage = shutil.disk_usage(folder)
    return f"{usage.free / 2**20:.0f} MB free of {usage.total / 2**20:.0f} MB"


def space_note(folder: str) -> str:
    """"FOLDER: N MB free of M MB" for a local folder (the nearest one that exists), else ""."""
    if "://" in folder:
        return ""
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return f"{folder}: {_free(path)}"
    except OSError:
        return ""


def checkpoint_bytes(folder: Path) -> int:
    """The largest training state a trial of this study has written here (0: none yet)."""
    sizes = [p.stat().st_size for p in folder.glob("trials/*/state.pt")]
    return max(sizes, default=0)


def check_folder(folder: str, role: str, elsewhere: str, checkpoints: bool = False) -> None:
    """Makes the folder and writes, syncs and removes a probe file in it (a name of this writer's own). With
    `checkpoints`, it must also have room for the largest checkpoint the study has written there before.
    `role` names the folder for the user ("--storage"), `elsewhere` says how to choose another."""
    if "://" in folder:  # s3:// or gs://: nothing to check here
        return
    path = Path(folder)
    probe = path / f".write-probe.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"\0" * PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        why = {errno.ENOSPC: "no space left on the device", errno.EROFS: "a read-only file system",
               errno.EACCES: "permission denied", errno.EDQUOT: "disk quota exceeded"}.get(e.errno, e.strerror)
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
        room = f" ({space_note(folder)})" if full else ""
        raise FolderError(f"{role} {folder} cannot be written: {why}{room}; {'free some space or ' if full else ''}"
                          f"{elsewhere}, then run the same command again") from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:  # a read-only folder: there is no probe to remove
            pass
    need = checkpoint_bytes(path) if checkpoints else 0
    if need and shutil.disk_usage(path).free < need:
        raise FolderError(f"{role} {folder} has no room for a checkpoint of this study ({need / 2**20:.1f} MB, the "
                          f"largest it wrote there; {_free(path)}); free some space or {elsewhere}, then run the same "
                          f"command again: finished trials are kept")


def check_folders(storage: str, uri: str) -> None:
    """The study's --storage folder and, for an SQLite store, the store's folder; what is wrong with either is said
    at once, both where both are (a read-only working folder holds both by default)."""
    checks = [(storage, "--storage", "give the study another --storage", True)]
    if uri.startswith("sqlite:///"):
        checks.append((str(Path(uri[len("sqlite:///"):]).parent), "the tracking store's folder",
                       "give the study another --tracking-uri (sqlite:///<abs path>.db)", False))
    problems = []
    for folder, role, elsewhere, checkpoints in checks:
        try:
            check_folder(folder, role, elsewhere, checkpoints)
        except FolderError as e:
            problems.append(str(e))
    if problems:
        raise FolderError("\n".join(problems))
