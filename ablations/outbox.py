"""A study's MLflow writes, sent in order, and kept while the tracking store cannot be reached.

Trials go on training when the tracking server is down for a while: each write (a trial's run, its epochs, its
predictions, its end) waits here, addressed by the trial's hash rather than by a run id the server has not given
yet, and is sent when the store answers again. A run is found again by its hash before one is created
(StudyRuns.child), so a write sent twice never makes a second run, and an epoch the run already holds is not
logged again. What cannot be sent by the end of the study is saved to a JSON-lines file beside the study and sent
first by the next run of it.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from collections import deque
from pathlib import Path

# MLflow errors about the request itself: sending it again cannot help, so it is dropped (and said)
PERMANENT = {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST",
             "INVALID_STATE", "PERMISSION_DENIED"}


class Outbox:
    def __init__(self, runs, spill: Path, retry_s: float = 5.0):
        self.runs, self.spill, self.retry_s = runs, Path(spill), retry_s
        self.queue: deque = deque()
        self.run_ids: dict[str, str] = {}  # trial hash -> run id
        self.logged: dict[str, set] = {}  # trial hash -> epochs its run already holds
        self.next_try, self.down_since, self.last_said = 0.0, None, 0.0
        if self.spill.exists():  # what the last run of this study could not send
            self.queue.extend(json.loads(line) for line in self.spill.read_text().splitlines() if line.strip())

    # ---- writes (each addressed by trial hash) --------------------------------------------------------------
    def child(self, trial_hash: str, tags: dict, params: dict) -> None:
        self.queue.append(["child", trial_hash, tags, {k: str(v) for k, v in params.items()}])

    def metrics(self, trial_hash: str, values: dict, step: int | None = None) -> None:
        self.queue.append(["metrics", trial_hash, {k: float(v) for k, v in values.items()}, step])

    def text(self, trial_hash: str, text: str, path: str) -> None:
        self.queue.append(["text", trial_hash, text, path])

    def tag(self, trial_hash: str, key: str, value: str) -> None:
        self.queue.append(["tag", trial_hash, key, value])

    def end(self, trial_hash: str, status: str, error: str = "") -> None:
        self.queue.append(["end", trial_hash, status, error])

    # ---- sending --------------------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Sends what waits, in order, unless the store failed moments ago. True when nothing is left."""
        if not self.queue or time.time() < self.next_try:
            return not self.queue
        while self.queue:
            item = self.queue[0]
            try:
                self._send(item)
            except Exception as e:  # noqa: BLE001 - the store's failures come as many types; sorted below
                if getattr(e, "error_code", "") in PERMANENT:
                    print(f"tracking: dropped a {item[0]} write of trial {item[1]}: {e}", flush=True)
                    self.queue.popleft()
                    continue
                self._unreachable(e)
                return False
            self.queue.popleft()
        if self.down_since is not None:
            print(f"tracking: the store answers again after {time.time() - self.down_since:.0f} s; "
                  "every kept write is sent", flush=True)
            self.down_since = None
        return True

    def _unreachable(self, error: Exception) -> None:
        now = time.time()
        self.next_try = now + self.retry_s
        if self.down_since is None:
            self.down_since = now
        if now - self.last_said > 60:
            self.last_said = now
            print(f"tracking: the store cannot be reached ({type(error).__name__}); {len(self.queue)} write(s) "
                  f"kept, retrying every {self.retry_s:.0f} s while trials go on", flush=True)

    def _send(self, item: list) -> None:
        kind, trial_hash = item[0], item[1]
        if kind == "child":
            run_id, logged = self.runs.child(trial_hash, item[2], item[3])
            self.run_ids[trial_hash], self.logged[trial_hash] = run_id, logged
            return
        run_id = self.run_ids.get(trial_hash) or self.runs.find_child(trial_hash)
        if kind == "metrics":
            step = item[3]
            if step is not None and step in self.logged.setdefault(trial_hash, set()):
                return  # the run holds this epoch from an earlier attempt of the trial
            self.runs.log_metrics(run_id, item[2], step=step)
            if step is not None:
                self.logged[trial_hash].add(step)
        elif kind == "text":
            self.runs.client.log_text(run_id, item[2], item[3])
        elif kind == "tag":
            self.runs.client.set_tag(run_id, item[2], item[3])
        elif kind == "end":
            self.runs.finish(run_id, item[2], item[3])

    def close(self, wait_s: float, hurry=lambda: False) -> int:
        """At the end of a study: keeps trying for up to `wait_s` (less once `hurry()` says so: a second Ctrl-C),
        then saves what is left beside the study. Returns how many writes were saved (0: all sent)."""
        deadline = time.time() + wait_s
        while not self.flush() and time.time() < deadline and not hurry():
            time.sleep(max(0.0, min(self.next_try, deadline, time.time() + 1.0) - time.time()))
        if not self.queue:
            self.spill.unlink(missing_ok=True)
            return 0
        tmp = self.spill.with_name(f"{self.spill.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")  # this writer's
        try:
            tmp.write_text("".join(json.dumps(item) + "\n" for item in self.queue))
            tmp.replace(self.spill)
        except OSError:
            tmp.unlink(missing_ok=True)  # never half a file beside the study
            raise
        return len(self.queue)
