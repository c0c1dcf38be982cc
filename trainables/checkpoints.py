"""A trial's checkpoint, kept by the trial's identity under the study's storage (a folder, or s3:// / gs://).

Named by config hash rather than by Tune's trial folder, so a trial restarted by Tune, re-planned by a rerun or
requeued after a killed driver finds its own state wherever it runs. Each file is written whole and then moved
into place: a reader never sees half a checkpoint.
"""
from __future__ import annotations

import io
import json

import torch

STATE_FILE, PREDICTIONS_FILE = "state.pt", "predictions.jsonl"


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


def _write(fs, path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with fs.open_output_stream(tmp) as f:
        f.write(data)
    fs.move(tmp, path)


def read_text(location: str, name: str = PREDICTIONS_FILE) -> str | None:
    """A text file of a checkpoint folder (a local path or a URI); None where it is not there."""
    import pyarrow.fs

    fs, root = _fs(location)
    path = f"{root}/{name}"
    if fs.get_file_info(path).type != pyarrow.fs.FileType.File:
        return None
    with fs.open_input_stream(path) as f:
        return f.read().decode()


class TrialCheckpoint:
    def __init__(self, storage: str, name: str):
        self.location = f"{storage.rstrip('/')}/trials/{name}"
        self.fs, self.root = _fs(self.location)

    def save(self, state: dict) -> str:
        """Writes the training state and its test predictions (at the best dev epoch); returns the location."""
        self.fs.create_dir(self.root, recursive=True)
        for name, data in checkpoint_files(state).items():  # the state last: it marks the epoch as done
            _write(self.fs, f"{self.root}/{name}", data)
        return self.location

    def load(self) -> dict | None:
        import pyarrow.fs

        path = f"{self.root}/{STATE_FILE}"
        if self.fs.get_file_info(path).type != pyarrow.fs.FileType.File:
            return None
        with self.fs.open_input_stream(path) as f:
            # weights_only: the state is tensors and plain Python values; nothing else is ever unpickled
            return torch.load(io.BytesIO(f.read()), weights_only=True, map_location="cpu")
