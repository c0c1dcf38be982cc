"""The cost estimate's arithmetic, and the status view, on made-up measurements (no training, no Ray)."""
from types import SimpleNamespace

import pytest

from ablations import estimate
from ablations.options import Options
from ablations.plan import make_plan
from ablations.status import status
from ablations.study_file import load_study
from shapca.config import Config
from trainables.payload import TrialPayload


def test_history_prices_each_trial_by_its_row_else_by_all():
    per, basis = estimate.from_history({"a": [10.0, 20.0, 30.0], "b": [100.0]}, ["a", "b", "c"])
    assert per == [20.0, 100.0, 25.0]  # c has no finished trial: the median of all four
    assert "4 finished" in basis and "2 of 3" in basis
    assert estimate.from_history({}, ["a"]) is None


def test_probe_scales_by_each_trials_steps_evaluation_and_epochs():
    measured = {"setup_s": 10.0, "train_step_s": 0.5, "eval_example_s": 0.01,
                "sizes": {"train": 3373, "dev": 723, "test": 723}}
    a = Config().update({"data.limit_train": 400, "data.limit_eval": 200, "train.epochs": 2})
    b = Config().update({"train.epochs": 3, "train.batch_size": 8})  # the whole data
    per, basis = estimate.from_probe(measured, [a, b])
    assert per[0] == pytest.approx(10 + 2 * (25 * 0.5 + 400 * 0.01))  # 400 / 16 = 25 steps, 2 x 200 examples
    assert per[1] == pytest.approx(10 + 3 * (422 * 0.5 + 1446 * 0.01))  # ceil(3373 / 8) = 422 steps
    assert "500 ms per training step" in basis


def test_wall_time_and_hours():
    e = estimate.Estimate([3600.0] * 4, "test", concurrency=2, cpus_per_trial=1.0, gpus_per_trial=0.25)
    assert e.wall_s == 7200
    text = e.describe()
    assert "2.0 h wall at 2 at a time" in text and "4.0 CPU-hours" in text and "1.0 GPU-hours" in text


@pytest.mark.parametrize("workers,cpus,gpus,have,expected", [
    (1, 1.0, 0.0, {"CPU": 2}, 2),  # in process: a trial holds its one CPU only
    (2, 1.0, 0.0, {"CPU": 4}, 1),  # data parallel: 2 workers + the driver's 0.01 CPU
    (1, 1.0, 0.25, {"CPU": 8, "GPU": 1}, 4),  # four trials share a GPU
    (1, 1.0, 1.0, {"CPU": 8}, 1),  # no GPU: never zero
])
def test_concurrency_counts_everything_a_trial_reserves(workers, cpus, gpus, have, expected):
    p = TrialPayload(config={}, study="s", preset="smoke", storage="x", variant="v", trial_hash="t", config_hash="c",
                     workers=workers, cpus_per_worker=cpus, gpus_per_worker=gpus)
    assert p.fitting(have) == expected


def _run(status, variant, dev=None, minutes=2.0, start=0.0, tags=None, points=False):
    metrics = {} if dev is None else {"dev_f1": dev, "test_f1": dev - 0.01}
    metrics = {k: 100 * v for k, v in metrics.items()} if points else metrics
    tags = {"variant": variant, "dataset": "twitter2017", "seed": "1", **(tags or {}),
            **({"score_scale": "points"} if points else {})}
    return SimpleNamespace(info=SimpleNamespace(status=status, run_id=f"id-{variant}", start_time=int(start * 60000),
                                                end_time=int((start + minutes) * 60000)),
                           data=SimpleNamespace(metrics=metrics, tags=tags))


class FakeRuns:
    """StudyRuns' queries, answered from made-up runs."""

    def __init__(self, done=(), finished=0):
        self.done, self.finished = set(done), finished

    def done_hashes(self):
        return self.done

    def finished_count(self, dataset, seed):
        return self.finished


def smoke(name):
    return make_plan(load_study(name), Options(study=name, preset="smoke"))


def test_status_counts_best_and_eta():
    kids = [_run("FINISHED", "a", 0.5), _run("FINISHED", "b", 0.6, start=2, points=True), _run("FAILED", "c", start=4)]
    text = status(smoke("shapley_samples"), kids)  # 4 planned trials
    assert "4 planned | 2 finished | 0 running | 1 failed | 0 killed | 2 pending" in text
    assert "dev F1 60.00 (test F1 59.00): b" in text  # b logged in points, a in fractions: one scale shown
    assert "about 4 min (2.0 min per trial, 1 at a time)" in text


def test_status_counts_the_trials_that_ran_at_once_and_those_stopped_early():
    """Two trials ran side by side and both ended: the study ran 2 at a time, though none runs now."""
    kids = [_run("FINISHED", "a", 0.5), _run("FINISHED", "b", 0.3, start=1, tags={"stopped_early": "epoch 1/2"})]
    text = status(smoke("shapley_samples"), kids)
    assert "| 2 finished (1 stopped early) | 0 running |" in text
    assert "(2.0 min per trial, 2 at a time)" in text
    assert "stopped    b | twitter2017 | seed 1: early, after epoch 1/2 (best dev F1 30.00)" in text


def test_what_is_left_skips_finished_grid_trials_and_counts_a_search_down():
    grid = smoke("shapley_samples")
    first = grid.todo(None)[0]
    left = grid.todo(FakeRuns({first.trial_hash}))
    assert len(left) == 3 and first not in left
    search = smoke("hpo")  # a budget of 3
    assert [t.label for t in search.todo(None)] == ["base"] * 3
    assert len(search.todo(FakeRuns(finished=2))) == 1 and search.todo(FakeRuns(finished=5)) == []


def test_wall_time_adds_the_study_overhead_and_says_what_it_rests_on():
    e = estimate.Estimate([600.0] * 4, "test", concurrency=2, cpus_per_trial=1.0, gpus_per_trial=0.0,
                          overhead_s=60.0, overhead_basis="measured by 1 earlier run(s) of this study and preset")
    assert e.wall_s == 1260
    assert "about 21 min wall" in e.describe()
    assert "study overhead 60 s: measured by 1 earlier run(s) of this study and preset" in e.describe()


class OverheadRuns:
    """Overheads logged on the parent runs of this study (`mine`) and of the whole store (`anyone`)."""

    def __init__(self, mine: dict, anyone: dict):
        self.mine, self.anyone = mine, anyone

    def parent_metric(self, key, every_study=False):
        assert key == estimate.OVERHEAD_METRIC
        return [v for values in (self.anyone if every_study else self.mine).values() for v in values]


def test_overhead_comes_from_this_study_first_then_from_any_study_in_the_store():
    own = estimate.measured_overhead(OverheadRuns({"p": [100.0, 80.0, 30.0]}, {"q": [5.0]}))
    assert own == (80.0, "measured by 3 earlier run(s) of this study and preset")
    other = estimate.measured_overhead(OverheadRuns({"p": []}, {"p": [], "q": [40.0, 60.0]}))
    assert other == (50.0, "measured by 2 earlier run(s) of studies in this store")
    assert estimate.measured_overhead(OverheadRuns({}, {})) is None


def test_process_start_is_timed_in_a_fresh_interpreter():
    seconds, basis = estimate.process_start()
    assert seconds > 0.5 and "Ray's own start and the tables not included" in basis  # imports torch at least


def test_outcome_overhead_is_wall_time_beyond_the_trials_at_their_concurrency():
    from ablations.launch import Outcome

    outcome = Outcome()
    assert outcome.overhead_s(100.0) is None  # no trial ran: nothing measured
    outcome.trial_seconds, outcome.concurrency = 400.0, 2
    assert outcome.overhead_s(260.0) == 60.0
    assert outcome.overhead_s(150.0) == 0.0
