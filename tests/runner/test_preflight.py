"""Folders and stores that cannot be used are refused before a study opens its runs, in one line that names them
(ablations/preflight.py, ablations/store.py): a read-only folder, a full disk, no room for a checkpoint, an SQLite
store another process holds locked."""
import errno
import shutil
from collections import namedtuple

import pytest

from ablations import preflight
from ablations.preflight import FolderError, check_folders
from ablations.store import TrackingError, store_errors


def _failing_open(code):
    def fake(path, mode="r", *args, **kwargs):
        raise OSError(code, "from the test", str(path))
    return fake


@pytest.mark.parametrize("code,said", [(errno.EROFS, "a read-only file system"),
                                       (errno.ENOSPC, "no space left on the device")])
def test_both_folders_are_named_with_what_is_wrong_and_nothing_is_left(tmp_path, monkeypatch, code, said):
    monkeypatch.setattr(preflight, "open", _failing_open(code), raising=False)
    with pytest.raises(FolderError) as caught:
        check_folders(str(tmp_path / "runs" / "s-smoke"), f"sqlite:///{tmp_path / 'mlflow.db'}")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(f"--storage {tmp_path / 'runs' / 's-smoke'} cannot be written: {said}")
    assert lines[1].startswith(f"the tracking store's folder {tmp_path} cannot be written: {said}")
    assert ("MB free of" in lines[0]) == (code == errno.ENOSPC)
    assert "--tracking-uri" in lines[1] and not list(tmp_path.rglob("*.tmp"))


def test_a_storage_without_room_for_the_studys_checkpoint_is_refused(tmp_path, monkeypatch):
    state = tmp_path / "s-smoke" / "trials" / "s-smoke-abc" / "state.pt"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"\0" * 3 * 2**20)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(20 * 2**20, 18 * 2**20, 2 * 2**20))
    with pytest.raises(FolderError, match=r"no room for a checkpoint of this study \(3.0 MB, the largest it wrote "
                                          r"there; 2 MB free of 20 MB\)"):
        check_folders(str(tmp_path / "s-smoke"), "http://127.0.0.1:5000")


def test_a_locked_sqlite_store_is_said_in_one_line():
    import sqlite3

    from sqlalchemy.exc import OperationalError

    with pytest.raises(TrackingError, match=r"MLflow store sqlite:////x/mlflow.db is locked by another process"):
        with store_errors("sqlite:////x/mlflow.db"):
            raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
    with pytest.raises(TrackingError, match=r"postgresql://u:\*\*\*@db/m: /x: Permission denied"):
        with store_errors("postgresql://u:secret@db/m"):
            raise PermissionError(errno.EACCES, "Permission denied", "/x")
