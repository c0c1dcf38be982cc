"""Tune callbacks of a study: every trial into MLflow (child of the study's run), and a line about trials that wait
for resources (the live progress line is ablations/progress_line.py)."""
from __future__ import annotations

import json
import statistics
import time

from ray.tune import Callback

from ablations.outbox import Outbox
from ablations.progress_line import CAUSE_CHARS, error_text
from ablations.tracking import code_version, run_name
from reports.contract import (CHECKPOINT_SET_ASIDE_TAG, COMPONENTS_TAG, CONFIG_ARTIFACT, CONFIG_HASH_TAG, DATASET_TAG,
                              GRADIENT_PREFIXES, IMAGES_TAG, NOTE_TAG, OPTUNA_TRIAL_TAG, PREDICTIONS_ARTIFACT,
                              PREDICTIONS_VIEW_ARTIFACT, SEED_TAG, STOPPED_EARLY_TAG, VARIANT_TAG)
from reports.failure import error_summary
from reports.predictions_view import predictions_html
from trainables.checkpoints import read_text
from trainables.epoch_report import BEST_KEYS, CHECKPOINT_KEY, SET_ASIDE_KEY
from trainables.payload import trial_of

ERROR_TAG_CHARS = 4000  # what MLflow keeps of a tag, with room to spare


class MLflowTrials(Callback):
    """Creates (or finds again) each trial's child run, logs its epochs, and closes it FINISHED or FAILED.

    Every write goes through the study's Outbox (ablations/outbox.py), so a tracking server that is away for a
    while delays the writes and loses none."""

    def __init__(self, outbox: Outbox, search=None, scheduler=None):
        self.outbox, self.code = outbox, code_version()
        self.search = search  # an Optuna search (ablations.search) is told each trial's MLflow run
        self.scheduler = scheduler  # a RecordingASHA (ablations/early_stop.py) says why it stopped a trial
        self.open: dict[str, dict] = {}  # Tune trial id -> {hash, step times, last result, epochs}
        self.unlinked: dict[str, str] = {}  # Tune trial id -> hash, until the search is told its run id
        self.finished = self.failed = self.stopped = 0  # stopped: finished early, stopped by the scheduler
        self.failures: list[tuple[str, str]] = []  # (the trial's run name, the first line of its error)
        self.trial_seconds = 0.0  # summed wall time of the trials this run ended (the estimate's overhead needs it)

    def on_trial_start(self, iteration, trials, trial, **info):
        started = trial_of(trial.config)  # its identity as planned, or as sampled
        cfg, h = started.config, started.trial_hash
        tags = {VARIANT_TAG: started.label, DATASET_TAG: cfg.data.dataset, SEED_TAG: str(cfg.train.seed),
                CONFIG_HASH_TAG: started.config_hash, IMAGES_TAG: cfg.data.image, **self.code}
        if started.payload.components is not None:
            tags[COMPONENTS_TAG] = json.dumps(started.payload.components, sort_keys=True)
        self.outbox.child(h, tags, cfg.flat())
        self.outbox.text(h, cfg.to_yaml(), CONFIG_ARTIFACT)
        self.open[trial.trial_id] = {"hash": h, "step_times": {}, "gradients": {}, "last": None,
                                     "epochs": cfg.train.epochs, "started": time.time(), "name": run_name(tags),
                                     "title": f"{started.label} · {cfg.data.dataset} · seed {cfg.train.seed}"}
        if self.search is not None:
            self.unlinked[trial.trial_id] = h
        self._send()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        st = self.open.get(trial.trial_id)
        if st is None or "epoch" not in result:
            return
        epoch = int(result["epoch"])
        st["last"] = result
        if result.get(SET_ASIDE_KEY):
            self.outbox.tag(st["hash"], CHECKPOINT_SET_ASIDE_TAG, str(result[SET_ASIDE_KEY]))
        st["step_times"][epoch] = (result.get("step_time_s", 0.0), result.get("samples_per_s", 0.0))
        st["gradients"][epoch] = {k: v for k, v in result.items() if k.startswith(GRADIENT_PREFIXES)}
        keys = ["train_loss", "dev_f1", "dev_precision", "dev_recall", "test_f1", "test_precision", "test_recall",
                "step_time_s", "samples_per_s", "epoch_time_s"] + [k for k in result
                                                                    if k.startswith(("loss_", *GRADIENT_PREFIXES))]
        # an epoch the run holds from before the trial was interrupted and resumed is skipped by the outbox
        self.outbox.metrics(st["hash"], {f"epoch_{k}": result[k] for k in keys if k in result}, step=epoch)
        self._send()

    def on_trial_complete(self, iteration, trials, trial, **info):
        st = self._close(trial.trial_id)
        if st is None:
            return
        last = st["last"] or trial.last_result or {}
        if "best_dev_f1" not in last:
            return self._fail(st, "the trial ended without reporting an epoch")
        final = {k: last[f"best_{k}"] for k in BEST_KEYS}
        final["best_epoch"] = last["best_epoch"]
        if st["step_times"]:
            final["step_time_s"] = statistics.mean(v[0] for v in st["step_times"].values())
            final["samples_per_s"] = statistics.mean(v[1] for v in st["step_times"].values())
        final.update(_mean_over_epochs(st["gradients"]))
        self.outbox.metrics(st["hash"], final)
        if int(last.get("epoch", 0)) < st["epochs"]:
            self.outbox.tag(st["hash"], STOPPED_EARLY_TAG, f"epoch {last.get('epoch')}/{st['epochs']}")
            stop = getattr(self.scheduler, "stops", {}).get(trial.trial_id)
            why = stop.text() if stop else f"stopped after epoch {last.get('epoch')}/{st['epochs']} by the scheduler"
            self.outbox.tag(st["hash"], NOTE_TAG, f"Early stop: {why}. Its final metrics are those of its best "
                            "epoch up to then; the run's status stays FINISHED.")
            self.stopped += 1
        predictions = read_text(last[CHECKPOINT_KEY]) if last.get(CHECKPOINT_KEY) else None
        if predictions is not None:
            self.outbox.text(st["hash"], predictions, PREDICTIONS_ARTIFACT)
            rows = [json.loads(line) for line in predictions.splitlines() if line.strip()]
            title = f"{self.outbox.runs.study} ({self.outbox.runs.preset}): {st['title']}, test predictions"
            self.outbox.text(st["hash"], predictions_html(rows, title), PREDICTIONS_VIEW_ARTIFACT)
        self.outbox.end(st["hash"], "FINISHED")
        self.finished += 1
        self._send()

    def on_trial_error(self, iteration, trials, trial, **info):
        st = self._close(trial.trial_id)
        if st is not None:
            self._fail(st, error_text(trial))

    def _fail(self, st: dict, text: str) -> None:
        """Ends the trial's run FAILED; its error tag starts with the line that says why (then the traceback)."""
        cause = error_summary(text, CAUSE_CHARS)
        room = ERROR_TAG_CHARS - len(cause) - 2
        tail = text if len(text) <= room else text[-room:].split("\n", 1)[-1]  # from a whole line on
        tag = cause if text.strip() == cause else f"{cause}\n\n{tail}"
        self.outbox.end(st["hash"], "FAILED", tag)
        self.failed += 1
        self.failures.append((st["name"], cause))
        self._send()

    def on_step_end(self, iteration, trials, **info):
        self._send()  # retries kept writes while the store was away (the outbox paces itself)

    def _send(self) -> None:
        self.outbox.flush()
        for trial_id, h in list(self.unlinked.items()):
            if h in self.outbox.run_ids:
                number = self.search.link_run(trial_id, self.outbox.run_ids[h])
                if number is not None:  # the run names its Optuna trial as optuna-dashboard numbers it
                    self.outbox.tag(h, OPTUNA_TRIAL_TAG, str(number))
                del self.unlinked[trial_id]

    def _close(self, trial_id: str) -> dict | None:
        st = self.open.pop(trial_id, None)
        if st is not None:
            self.trial_seconds += time.time() - st["started"]
        return st

    def close_unfinished(self) -> int:
        """Ends the runs of trials that neither finished nor failed (the study was interrupted) as KILLED, never
        left RUNNING; a rerun continues them. Returns how many."""
        n = len(self.open)
        for trial_id in list(self.open):
            self.outbox.end(self._close(trial_id)["hash"], "KILLED")
        self._send()
        return n


def _mean_over_epochs(per_epoch: dict[int, dict]) -> dict:
    """Each gradient diagnostic (grad_norm_<term>, grad_share_<term>) averaged over the epochs that measured it:
    the trial's own figure, as the tables read it."""
    keys = {k for values in per_epoch.values() for k in values}
    return {k: statistics.mean(v[k] for v in per_epoch.values() if k in v) for k in sorted(keys)}


class Waiting(Callback):
    """Says so when trials wait for resources: how many, for how long, what each needs and what the cluster has.

    A trial that cannot be placed would otherwise look like a hung study. Printed once trials have waited
    `after_s`, then every `every_s` while they still wait.
    """

    def __init__(self, after_s: float = 30.0, every_s: float = 60.0):
        self.after_s, self.every_s = after_s, every_s
        self.since: dict[str, float] = {}  # trial id -> when it was first seen waiting
        self.last_line = 0.0

    def on_step_end(self, iteration, trials, **info):
        now = time.time()
        waiting = [t for t in trials if t.status == "PENDING"]
        self.since = {t.trial_id: self.since.get(t.trial_id, now) for t in waiting}
        if not waiting or now - min(self.since.values()) < self.after_s or now - self.last_line < self.every_s:
            return
        self.last_line = now
        print(waiting_line(waiting, now - min(self.since.values())), flush=True)


def waiting_line(waiting: list, longest_s: float) -> str:
    import ray

    needs = sorted({_resources(t.placement_group_factory.required_resources) for t in waiting})
    total, free = ray.cluster_resources(), ray.available_resources()
    have = ", ".join(f"{k} {free.get(k, 0):g} free of {total[k]:g}" for k in ("CPU", "GPU") if k in total)
    # Tune calls a trial PENDING until its process has started, too: resources already taken by starting trials
    # show as not free, so the line names both causes
    return (f"waiting: {len(waiting)} trial(s) pending (starting, or waiting for resources), the longest for "
            f"{longest_s / 60:.1f} min; each needs {' or '.join(needs)}; the cluster has {have or 'no CPU or GPU'}")


def _resources(r: dict) -> str:
    return "{" + ", ".join(f"{k} {v:g}" for k, v in sorted(r.items()) if v) + "}"
