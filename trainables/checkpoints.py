"""A trial's checkpoint, kept by the trial's identity under the study's storage (a folder, or s3:// / gs://).

Named by config hash rather than by Tune's trial folder, so a trial restarted by Tune, re-planned by a rerun or
requeued after a killed driver finds its own state wherever it runs. Each file is written whole under a name of its
writer's own and then moved into place: a reader never sees half a checkpoint, and two writers of one trial (a
study started twice) never write into each other's file. A write that fails (a full disk) leaves no partial file
behind and says where and how much space a checkpoint needs. A state that cannot be read is set aside under a new
name, never deleted, and the trial starts again from scratch instead of failing on it at every rerun.
"""
from __future__ import annotations

import errno
import io
import json
import os
import secrets
import shutil
import time

import torch

STATE_FILE, PREDICTIONS_FILE = "state.pt", "predictions.jsonl"


class CheckpointError(OSError):
    """A checkpoint that cannot be written; the message names the file and, for a full disk, the space needed."""


def checkpoint_files(state: dict) -> dict[str, bytes]:
    """The files of a checkpoint: its test predictions (JSON lines) and the training state."""
    rows = "".join(json.dumps(r) + "\n" for r in state["predictions"])
    buf = io.BytesIO()
    torch.save(state, buf)
    return {PREDICTIONS_FILE: rows.encode(), STATE_FILE: buf.getvalue()}


def _fs(location: str):
    import pyarrow.fs

    if "://" in location:
        return pyarrow.fs.FileSystem.from_uri(location)
    return pyarrow.fs.LocalFileSystem(), location


def _no_space(error: OSError) -> bool:
    return error.errno == errno.ENOSPC or "No space left" in str(error)


def _write(fs, path: str, data: bytes, need: int) -> None:
    """Writes one file of a checkpoint whole or not at all; `need`: the bytes of the whole checkpoint, for the
    message when the disk is full (the file that fails may be its smallest)."""
    tmp = f"{path}.{os.getpid()}-{secrets.token_hex(4)}.tmp"  # this writer's own
    try:
        with fs.open_output_stream(tmp) as f:
            f.write(data)
        fs.move(tmp, path)
    except OSError as e:
        try:
            fs.delete_file(tmp)  # a partial file would keep a full disk full
        except OSError:
            pass
        if not _no_space(e):
            raise
        folder = os.path.dirname(path)
        free = f", {shutil.disk_usage(folder).free / 2**20:.0f} MB free there" if os.path.isdir(folder) else ""
        raise CheckpointError(errno.ENOSPC, f"no space left on the device for {path} ({need / 2**20:.1f} MB needed "
                              f"for the trial's checkpoint{free}); free some space or give the study another "
                              "--storage, then rerun the same command: finished trials are kept") from None


def read_text(location: str, name: str = PREDICTIONS_FILE) -> str | None:
    """A text file of a checkpoint folder (a local path or a URI); None where it is not there."""
    import pyarrow.fs

    fs, root = _fs(location)
    path = f"{root}/{name}"
    if fs.get_file_info(path).type != pyarrow.fs.FileType.File:
        return None
    with fs.open_input_stream(path) as f:
        return f.read().decode()


def read_state(data: bytes) -> dict:
    # weights_only: the state is tensors and plain Python values; nothing else is ever unpickled
    return torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")


class TrialCheckpoint:
    def __init__(self, storage: str, name: str):
        self.location = f"{storage.rstrip('/')}/trials/{name}"
        self.fs, self.root = _fs(self.location)
        self.set_aside: str | None = None  # where load() moved a state it could not read, for the trial to say

    def save(self, state: dict) -> str:
        """Writes the training state and its test predictions (at the best dev epoch); returns the location."""
        self.fs.create_dir(self.root, recursive=True)
        files = checkpoint_files(state)
        for name, data in files.items():  # the state last: it marks the epoch as done
            _write(self.fs, f"{self.root}/{name}", data, sum(map(len, files.values())))
        return self.location

    def load(self) -> dict | None:
        """The stored state; None where there is none, or where it cannot be read (then set aside, see above)."""
        import pyarrow.fs

        path = f"{self.root}/{STATE_FILE}"
        if self.fs.get_file_info(path).type != pyarrow.fs.FileType.File:
            return None
        try:
            with self.fs.open_input_stream(path) as f:
                return read_state(f.read())
        except Exception as e:  # noqa: BLE001 - torch and pickle report a damaged file in many types
            self.set_aside = f"{path}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}"
            self.fs.move(path, self.set_aside)
            reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            print(f"checkpoint {path} cannot be read ({reason}); set aside as {self.set_aside}; the trial starts "
                  f"again from scratch", flush=True)
            return None
