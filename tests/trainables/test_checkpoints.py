"""A trial's checkpoint: written whole under its writer's own name, a damaged state set aside (never deleted) so the
trial starts again, and a full disk named with the space a checkpoint needs, leaving no partial file."""
import errno

import pytest
import torch

from trainables import checkpoints
from trainables.checkpoints import STATE_FILE, CheckpointError, TrialCheckpoint

STATE = {"epoch": 1, "predictions": [{"id": "a", "tp": 1}], "weights": torch.arange(1000.0)}


def test_a_checkpoint_is_read_back_and_leaves_no_temporary_file(tmp_path):
    store = TrialCheckpoint(str(tmp_path), "study-smoke-abc")
    store.save(STATE)
    again = store.load()
    assert again["epoch"] == 1 and torch.equal(again["weights"], STATE["weights"])
    assert sorted(p.name for p in (tmp_path / "trials" / "study-smoke-abc").iterdir()) == [
        "predictions.jsonl", STATE_FILE]


def test_a_damaged_state_is_set_aside_and_the_trial_starts_again(tmp_path, capsys):
    store = TrialCheckpoint(str(tmp_path), "t")
    store.save(STATE)
    state = tmp_path / "trials" / "t" / STATE_FILE
    state.write_bytes(state.read_bytes()[:100])  # truncated, as by a crash or a full disk
    assert store.load() is None
    assert not state.exists() and store.set_aside and store.set_aside.endswith(tuple("0123456789"))
    assert (tmp_path / "trials" / "t" / store.set_aside.rsplit("/", 1)[1]).stat().st_size == 100  # kept, not deleted
    assert str(state) in capsys.readouterr().out
    assert TrialCheckpoint(str(tmp_path), "t").load() is None  # the next attempt starts from scratch, quietly
    store.save(STATE)
    assert store.load()["epoch"] == 1


class FullDisk:
    """A local file system whose disk fills after `room` bytes of a file."""

    def __init__(self, room: int):
        import pyarrow.fs

        self.real, self.room = pyarrow.fs.LocalFileSystem(), room

    def open_output_stream(self, path):
        fs, room = self.real, self.room

        class Stream:
            def __enter__(self):
                self.f = fs.open_output_stream(path)
                return self

            def write(self, data):
                self.f.write(data[:room])
                raise OSError(errno.ENOSPC, "No space left on device")

            def __exit__(self, *exc):
                self.f.close()

        return Stream()

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_full_disk_is_named_with_the_space_needed_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "_fs", lambda location: (FullDisk(room=10), location))
    store = TrialCheckpoint(str(tmp_path), "t")
    with pytest.raises(CheckpointError, match=r"no space left on the device for .*state.pt|predictions") as caught:
        store.save(STATE)
    assert "MB free there" in str(caught.value)
    whole = sum(map(len, checkpoints.checkpoint_files(STATE).values()))  # all of it, not the file that failed
    assert f"({whole / 2**20:.1f} MB needed for the trial's checkpoint" in str(caught.value)
    assert list((tmp_path / "trials" / "t").iterdir()) == []  # the partial file is gone


def test_two_writers_of_one_trial_never_share_a_temporary_file(tmp_path, monkeypatch):
    names = []
    real = checkpoints._fs

    def spy(location):
        fs, root = real(location)

        class Spy:
            def open_output_stream(self, path):
                names.append(path)
                return fs.open_output_stream(path)

            def __getattr__(self, name):
                return getattr(fs, name)
        return Spy(), root

    monkeypatch.setattr(checkpoints, "_fs", spy)
    TrialCheckpoint(str(tmp_path), "t").save(STATE)
    TrialCheckpoint(str(tmp_path), "t").save(STATE)
    temporary = [n for n in names if n.endswith(".tmp")]
    assert len(temporary) == 4 and len(set(temporary)) == 4
