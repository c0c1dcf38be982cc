"""What a trial reports to Tune after each epoch, whichever way it trains (in process or data parallel)."""
from __future__ import annotations

# the metrics of the best dev epoch so far, reported as best_<key>; the study's final numbers
BEST_KEYS = ("dev_precision", "dev_recall", "dev_f1", "test_precision", "test_recall", "test_f1")
CHECKPOINT_KEY = "checkpoint_path"  # where the epoch's checkpoint (and its test predictions) lies
# in a trial's first report, where its stored state could not be read: where that state was set aside (the trial
# then started again from scratch)
SET_ASIDE_KEY = "checkpoint_set_aside"


def epoch_metrics(rec: dict, state_best: dict, epochs_planned: int) -> dict:
    out = {k: v for k, v in rec.items() if isinstance(v, (int, float))}
    out["epochs_planned"] = epochs_planned
    out.update({f"best_{k}": state_best[k] for k in BEST_KEYS})
    return out
