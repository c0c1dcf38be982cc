"""The outbox: writes kept in order while the store fails, sent once when it answers, saved and replayed across
runs; no run created twice, no epoch logged twice (a fake store, no MLflow)."""
import time
from types import SimpleNamespace

import pytest

from ablations.outbox import Outbox


class FlakyStore:
    """StudyRuns' surface, recording every write; `down` makes every call fail as a lost connection would."""

    def __init__(self):
        self.down, self.runs, self.writes = False, {}, []
        self.client = SimpleNamespace(log_text=self._w("text"), set_tag=self._w("tag"))
        self.finish = self._w("end")

    def _check(self):
        if self.down:
            raise ConnectionError("tracking server unreachable")

    def _w(self, kind):
        def write(run_id, *args, **kw):
            self._check()
            self.writes.append((kind, run_id, *args, *kw.values()))
        return write

    def child(self, h, tags, params):
        self._check()
        run_id = self.runs.setdefault(h, f"run-{h}")
        logged = {w[3] for w in self.writes if w[0] == "metrics" and w[1] == run_id and w[3] is not None}
        return run_id, logged

    def find_child(self, h):
        self._check()
        return self.runs[h]

    def log_metrics(self, run_id, values, step=None):
        self._check()
        self.writes.append(("metrics", run_id, values, step))


def test_writes_wait_while_the_store_is_down_and_go_once_in_order(tmp_path):
    store = FlakyStore()
    box = Outbox(store, tmp_path / "outbox.jsonl", retry_s=0)
    store.down = True
    box.child("h1", {}, {"a": 1})
    box.metrics("h1", {"epoch_dev_f1": 0.5}, step=1)
    assert box.flush() is False and len(box.queue) == 2 and store.writes == []
    store.down = False
    box.metrics("h1", {"epoch_dev_f1": 0.6}, step=2)
    box.end("h1", "FINISHED")
    assert box.flush() is True
    assert [w[0] for w in store.writes] == ["metrics", "metrics", "end"]
    assert [w[3] for w in store.writes[:2]] == [1, 2]
    assert list(store.runs) == ["h1"]


def test_an_epoch_the_run_already_holds_is_not_logged_again(tmp_path):
    store = FlakyStore()
    box = Outbox(store, tmp_path / "outbox.jsonl", retry_s=0)
    box.child("h1", {}, {})
    box.metrics("h1", {"epoch_dev_f1": 0.5}, step=1)
    box.flush()
    again = Outbox(store, tmp_path / "outbox.jsonl", retry_s=0)  # the trial resumed, e.g. by a rerun
    again.child("h1", {}, {})
    again.metrics("h1", {"epoch_dev_f1": 0.5}, step=1)
    again.metrics("h1", {"epoch_dev_f1": 0.7}, step=2)
    again.flush()
    assert [w[3] for w in store.writes if w[0] == "metrics"] == [1, 2]


def test_what_is_left_at_the_end_is_saved_and_sent_by_the_next_run(tmp_path):
    store = FlakyStore()
    spill = tmp_path / "outbox.jsonl"
    box = Outbox(store, spill, retry_s=0)
    box.child("h1", {"variant": "x"}, {"a": 1})
    box.flush()
    store.down = True
    box.metrics("h1", {"test_f1": 0.4})
    box.end("h1", "FINISHED")
    assert box.close(wait_s=0) == 2 and spill.exists()
    store.down = False
    later = Outbox(store, spill, retry_s=0)  # the next run of the study
    assert later.flush() is True
    assert later.close(wait_s=0) == 0 and not spill.exists()
    assert [w[0] for w in store.writes] == ["metrics", "end"] and list(store.runs) == ["h1"]


def test_a_request_the_store_refuses_is_dropped_not_retried_forever(tmp_path, capsys):
    store = FlakyStore()
    box = Outbox(store, tmp_path / "outbox.jsonl", retry_s=0)
    refused = type("MlflowException", (Exception,), {"error_code": "INVALID_PARAMETER_VALUE"})
    store.child = lambda *a: (_ for _ in ()).throw(refused("bad tag"))
    box.child("h1", {}, {})
    assert box.flush() is True and "dropped a child write" in capsys.readouterr().out


@pytest.mark.parametrize("wait_s", [0.0, 0.3])
def test_close_keeps_trying_for_the_wait_it_is_given(tmp_path, wait_s):
    store = FlakyStore()
    box = Outbox(store, tmp_path / "outbox.jsonl", retry_s=0.05)
    store.down = True
    box.child("h1", {}, {})
    t0 = time.monotonic()
    assert box.close(wait_s=wait_s) == 1
    assert time.monotonic() - t0 >= wait_s  # it did wait before saving the write
