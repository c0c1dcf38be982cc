"""Tune callbacks of a study: every trial into MLflow (child of the study's run), and a live progress line."""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from ray.tune import Callback

from ablations.plan import variant_label as sampled_label
from ablations.tracking import StudyRuns, code_version
from trainables.driver import payload, resolve
from trainables.worker import PREDICTIONS_FILE

FINAL_KEYS = ("dev_precision", "dev_recall", "dev_f1", "test_precision", "test_recall", "test_f1")


def variant_label(payload: dict) -> str:
    """A grid trial's planned label, or for a sampled trial its values ("key=value, ...")."""
    return payload["meta"].get("variant") or sampled_label(dict(payload.get("params", {})))


class MLflowTrials(Callback):
    """Creates (or finds again) each trial's child run, logs its epochs, and closes it FINISHED or FAILED."""

    def __init__(self, runs: StudyRuns, images: str):
        self.runs, self.images, self.code = runs, images, code_version()
        self.open: dict[str, dict] = {}  # Tune trial id -> {run_id, logged epochs, step times, last result}

    def on_trial_start(self, iteration, trials, trial, **info):
        settings = payload(trial.config)
        cfg = resolve(settings)
        meta = settings["meta"]
        tags = {"variant": variant_label(settings), "dataset": cfg.data.dataset, "seed": str(cfg.train.seed),
                "config_hash": cfg.hash(exclude=("train.seed",)), "images": self.images, **self.code}
        if meta.get("components") is not None:
            tags["components"] = json.dumps(meta["components"], sort_keys=True)
        run_id, logged = self.runs.child(cfg.hash(), tags, cfg.flat())
        self.runs.client.log_text(run_id, cfg.to_yaml(), "config.yaml")
        self.open[trial.trial_id] = {"run_id": run_id, "logged": logged, "step_times": {}, "last": None,
                                     "epochs": cfg.train.epochs}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        st = self.open.get(trial.trial_id)
        if st is None or "epoch" not in result:
            return
        epoch = int(result["epoch"])
        st["last"] = result
        st["step_times"][epoch] = (result.get("step_time_s", 0.0), result.get("samples_per_s", 0.0))
        if epoch in st["logged"]:
            return  # this epoch was logged before the trial was interrupted and resumed
        keys = ["train_loss", "dev_f1", "dev_precision", "dev_recall", "test_f1", "test_precision", "test_recall",
                "step_time_s", "samples_per_s", "epoch_time_s"] + [k for k in result if k.startswith("loss_")]
        self.runs.log_metrics(st["run_id"], {f"epoch_{k}": result[k] for k in keys if k in result}, step=epoch)
        st["logged"].add(epoch)

    def on_trial_complete(self, iteration, trials, trial, **info):
        st = self.open.pop(trial.trial_id, None)
        if st is None:
            return
        last = st["last"] or trial.last_result or {}
        if "best_dev_f1" not in last:
            self.runs.finish(st["run_id"], ok=False, error="the trial ended without reporting an epoch")
            return
        final = {k: last[f"best_{k}"] for k in FINAL_KEYS}
        final["best_epoch"] = last["best_epoch"]
        if st["step_times"]:
            final["step_time_s"] = statistics.mean(v[0] for v in st["step_times"].values())
            final["samples_per_s"] = statistics.mean(v[1] for v in st["step_times"].values())
        self.runs.log_metrics(st["run_id"], final)
        if int(last.get("epoch", 0)) < st["epochs"]:
            self.runs.client.set_tag(st["run_id"], "stopped_early", f"epoch {last.get('epoch')}/{st['epochs']}")
        ckpt = last.get("checkpoint_path")
        if ckpt and (Path(ckpt) / PREDICTIONS_FILE).exists():
            self.runs.client.log_text(st["run_id"], (Path(ckpt) / PREDICTIONS_FILE).read_text(),
                                      "predictions/test.jsonl")
        self.runs.finish(st["run_id"], ok=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        st = self.open.pop(trial.trial_id, None)
        if st is not None:
            self.runs.finish(st["run_id"], ok=False, error=_error_text(trial))


def _error_text(trial) -> str:
    path = getattr(trial, "error_file", None) or ""
    try:
        text = Path(path).read_text() if path else ""
    except OSError:
        text = ""
    return (text or str(getattr(trial, "error_msg", "") or "trial failed")).strip()[-4000:]


class Progress(Callback):
    """One readable line per event: trial states, best so far, elapsed and an estimate of what remains."""

    def __init__(self, total: int, metric: str):
        self.total, self.metric, self.t0 = total, metric, time.time()  # no stream kept: Tune pickles callbacks
        self.done = self.failed = 0
        self.best: tuple[float, str] | None = None

    def _line(self, msg: str) -> None:
        elapsed = time.time() - self.t0
        finished = self.done + self.failed
        eta = (elapsed / finished * (self.total - finished)) if finished else float("nan")
        best = f"best {self.metric} {100 * self.best[0]:.2f} ({self.best[1]})" if self.best else "best -"
        print(f"[{elapsed / 60:5.1f} min] {finished}/{self.total} done, {self.failed} failed | {best} | "
              f"eta {eta / 60:.1f} min | {msg}", flush=True)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._line(f"start  {variant_label(payload(trial.config))} ({trial.trial_id})")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value = result.get(self.metric)
        if value is not None and (self.best is None or value > self.best[0]):
            self.best = (value, variant_label(payload(trial.config)))
        if "epoch" in result:
            self._line(f"epoch {result['epoch']} {variant_label(payload(trial.config))}: dev F1 "
                       f"{100 * result.get('dev_f1', 0):.2f}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        self._line(f"done   {variant_label(payload(trial.config))}")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.failed += 1
        self._line(f"FAILED {variant_label(payload(trial.config))}: see its MLflow run")
