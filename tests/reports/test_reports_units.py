"""Aggregation, run selection, formatting and marks of the report builder, on in-memory records (no MLflow)."""
from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest

from reports.attribution_table import attribution_table
from reports.build import kind_tables
from reports.intervals import Comparison
from reports.records import Predictions, ReportError, StudyData, StudyInfo, Trial
from reports.render import latex_escape, to_csv, to_latex, to_markdown
from reports.rows import planned, sweep_rows
from reports.failure import error_summary
from reports.selection import choose_preset, select_trials
from reports.table_model import Column, NumberCell, Row, ScoreCell, Table, fixed, mark_best
from reports.tables import main_table, sweep_table
from reports.tidy import TIDY_COLUMNS, aggregate, tidy_frame
from reports.verdicts import judge

_clock = iter(range(1, 10_000))


def make_trial(variant="full", dataset="twitter2017", seed=1, f1=0.7, *, status="FINISHED", config_hash=None,
               preset="cpu", params=None, step=0.1, test=True, dev=True, trial_hash=None, images=None,
               components=None) -> Trial:
    metrics = {}
    if test:
        metrics |= {"test_precision": f1 + 0.05, "test_recall": f1 - 0.05, "test_f1": f1}
    if dev:
        metrics |= {"dev_precision": f1, "dev_recall": f1, "dev_f1": f1 + 0.01}
    metrics["step_time_s"] = step
    config_hash = config_hash or f"h-{variant}"
    start = next(_clock)
    return Trial(run_id=f"r{start}", status=status, start_time=start, variant=variant, dataset=dataset, seed=seed,
                 preset=preset, config_hash=config_hash, trial_hash=trial_hash or f"{config_hash}-{dataset}-{seed}",
                 params=params or {}, metrics=metrics if status == "FINISHED" else {}, images=images,
                 components=components)


def make_data(trials, seeds=(1, 2, 3), datasets=("twitter2017",), kind="main", params=(), points=None) -> StudyData:
    info = StudyInfo(name="unit", preset="cpu", parent_run_id="p", kind=kind, params=tuple(params), seeds=seeds,
                     datasets=datasets, sweep_points=points or {})
    counted, failed, notes = select_trials(trials)
    return StudyData(info=info, trials=counted, failed=failed, notes=notes)


def test_aggregate_mean_sample_std_and_n():
    trials = [make_trial(seed=s, f1=f) for s, f in ((1, 0.70), (2, 0.72), (3, 0.74))]
    trials.append(make_trial("w/o context", seed=1, f1=0.6))
    agg = aggregate(tidy_frame(make_data(trials)))
    full = agg[agg.variant == "full"].iloc[0]
    assert full.f1_mean == pytest.approx(0.72)
    assert full.f1_std == pytest.approx(0.02)  # ddof=1: sqrt((0.02^2 + 0 + 0.02^2) / 2)
    assert full.n == 3
    single = agg[agg.variant == "w/o context"].iloc[0]
    assert single.n == 1 and math.isnan(single.f1_std)


def test_tidy_frame_has_one_row_per_run_and_split():
    trials = [make_trial(seed=1), make_trial(seed=2, dev=False)]
    tidy = tidy_frame(make_data(trials))
    assert list(tidy.columns) == TIDY_COLUMNS
    assert sorted(zip(tidy.seed, tidy.split)) == [(1, "dev"), (1, "test"), (2, "test")]
    assert set(tidy.study) == {"unit"} and set(tidy.preset) == {"cpu"}


def test_newest_config_hash_wins_and_the_note_says_so():
    old = make_trial(seed=1, f1=0.1, config_hash="old")
    new = [make_trial(seed=s, config_hash="new") for s in (1, 2)]
    counted, _, notes = select_trials([old, *new])
    assert {t.config_hash for t in counted} == {"new"} and len(counted) == 2
    assert any("older config hash(es) old" in n and "newest hash new" in n for n in notes)


def test_repeated_seed_counts_once_newest_first():
    first, second = make_trial(seed=1, f1=0.5), make_trial(seed=1, f1=0.6)
    counted, _, notes = select_trials([first, second])
    assert [t.run_id for t in counted] == [second.run_id]
    assert any("repeated run(s) of the same seed" in n for n in notes)


def test_failed_listed_unless_retried_and_running_left_out():
    retried = make_trial(seed=1, status="FAILED", trial_hash="t1")
    success = make_trial(seed=1, trial_hash="t1")
    for_good = make_trial(seed=2, status="FAILED", trial_hash="t2")
    running = make_trial(seed=3, status="RUNNING")
    counted, failed, notes = select_trials([retried, success, for_good, running])
    assert [t.run_id for t in counted] == [success.run_id]
    assert [t.run_id for t in failed] == [for_good.run_id]
    assert any("1 RUNNING" in n for n in notes)


def test_finished_run_without_test_metrics_is_an_error_naming_the_run():
    bad = make_trial(seed=2, test=False)
    with pytest.raises(ReportError, match=rf"run {bad.run_id} \(full / twitter2017 / seed 2\).*missing test_precision"):
        select_trials([make_trial(seed=1), bad])


def test_choose_preset():
    assert choose_preset("s", ["cpu", "cpu"], None) == "cpu"
    assert choose_preset("s", ["cpu", "full"], "full") == "full"
    with pytest.raises(ReportError, match=r"mixed presets: cpu \(2 runs\), full \(1 runs\)"):
        choose_preset("s", ["cpu", "full", "cpu"], None)
    with pytest.raises(ReportError, match="no runs of preset 'smoke'"):
        choose_preset("s", ["cpu"], "smoke")
    with pytest.raises(ReportError, match="no runs for study 's'"):
        choose_preset("s", [], None)


def test_fixed_decimals_never_print_negative_zero():
    assert fixed(71.26) == "71.3" and fixed(-0.04) == "0.0" and fixed(-0.06) == "-0.1" and fixed(3) == "3.0"


def _one_column_table(cells) -> Table:
    table = Table("t", "T", "caption", "tab:t", "Method", [Column("Twitter-2017", "F1", ranked=True)],
                  [Row(f"m{i}", [c]) for i, c in enumerate(cells)])
    mark_best(table)
    return table


def test_best_bold_second_underlined_ties_share_on_printed_values():
    cells = [ScoreCell(71.24, 0.5, 3, 3), ScoreCell(71.21, 0.4, 3, 3), ScoreCell(70.0, 1.0, 3, 3),
             ScoreCell(69.0, 1.0, 3, 3), ScoreCell(None, None, 0, 3)]
    _one_column_table(cells)
    assert [c.emphasis for c in cells] == ["best", "best", "second", "", ""]


def test_no_marks_without_two_distinct_values_or_in_unranked_columns():
    alone = [ScoreCell(70.0, 1.0, 3, 3), ScoreCell(None, None, 0, 3)]
    _one_column_table(alone)
    assert [c.emphasis for c in alone] == ["", ""]
    all_tied = [ScoreCell(0.0, None, 1, 1), ScoreCell(0.04, None, 1, 1)]  # both print as 0.0
    _one_column_table(all_tied)
    assert [c.emphasis for c in all_tied] == ["", ""]
    table = Table("t", "T", "c", "tab:t", "M", [Column("", "ΔF1")], [Row("a", [NumberCell(1.0)]),
                                                                    Row("b", [NumberCell(2.0)])])
    mark_best(table)
    assert [r.cells[0].emphasis for r in table.rows] == ["", ""]


def test_cell_rendering_in_markdown_latex_and_csv():
    verdict = judge(Comparison((1, 2, 3), (-1.0, -1.5, -2.0), 0.01, 0.04), margin=0.5)
    cells = [ScoreCell(71.234, 0.456, 3, 3, marker=verdict.mark, verdict=verdict), ScoreCell(70.0, None, 1, 3),
             ScoreCell(None, None, 0, 3), ScoreCell(69.0, 0.2, 5, 3)]
    table = _one_column_table(cells)
    md = to_markdown(table)
    assert "| m0 | **71.2 ± 0.5**↓ |" in md
    assert "| m1 | <u>70.0</u> (n=1/3) |" in md
    assert "| m2 | – (n=0/3) |" in md
    assert "| m3 | 69.0 ± 0.2 (n=5) |" in md  # a row that got seeds beyond the planned ones says how many
    tex = to_latex(table)
    assert r"m0 & \textbf{71.2\,$\pm$\,0.5}$\downarrow$ \\" in tex
    assert r"m1 & \underline{70.0}\textsuperscript{n=1/3} \\" in tex
    rows = to_csv(table).splitlines()
    assert rows[0].startswith("Method,Twitter-2017 F1 mean,Twitter-2017 F1 std,Twitter-2017 F1 n,Twitter-2017 F1 "
                              "verdict,Twitter-2017 F1 paired ΔF1,Twitter-2017 F1 low,Twitter-2017 F1 high,")
    low, high = verdict.interval
    assert rows[1].startswith(f"m0,71.2340,0.4560,3,lower,-1.5000,{low:.4f},{high:.4f},")
    assert rows[1].endswith(",0.5000,0.0500,1 2 3,")  # margin, level, the seeds used; no seeds needed
    assert rows[2] == "m1,70.0000,,1" + "," * 12


def test_signed_delta_and_latex_minus():
    table = Table("t", "T", "c", "tab:t", "M", [Column("", "ΔF1")],
                  [Row("a", [NumberCell(1.26, signed=True)]), Row("b", [NumberCell(-0.8, signed=True)]),
                   Row("c", [NumberCell(0.01, signed=True)])])
    assert "| a | +1.3 |" in to_markdown(table)
    assert "| b | -0.8 |" in to_markdown(table) and "| c | 0.0 |" in to_markdown(table)
    assert r"b & $-$0.8 \\" in to_latex(table)


def test_latex_escape():
    assert latex_escape("a_b 50% #1 & {x} ~^\\") == (r"a\_b 50\% \#1 \& \{x\} \textasciitilde{}\textasciicircum{}"
                                                     r"\textbackslash{}")
    assert latex_escape("τ ± Δ é") == r"$\tau$ $\pm$ $\Delta$ ?"


def test_sweep_rows_follow_numeric_order_and_cost_column():
    trials = [make_trial(f"shapley.samples={m}", seed=1, f1=0.5 + m / 100, params={"shapley.samples": str(m)},
                         step=0.01 * m) for m in (16, 4, 1)]
    points = {f"shapley.samples={m}": {"shapley.samples": str(m)} for m in (16, 4, 1)}
    data = make_data(trials, seeds=(1,), kind="sweep", params=("shapley.samples",), points=points)
    table = sweep_table(data, aggregate(tidy_frame(data)), "shapley.samples")
    assert [r.label for r in table.rows] == ["1", "4", "16"]
    assert [c.name for c in table.columns] == ["P", "R", "F1", "step (ms)"]
    assert [r.cells[3].value for r in table.rows] == pytest.approx([10.0, 40.0, 160.0])
    assert [r.cells[2].emphasis for r in table.rows] == ["", "second", "best"]


def _counts(quality: float, seed: int, examples: int = 300) -> np.ndarray:
    """Per-example tp/fp/fn of one entity each, found with probability `quality`."""
    tp = np.random.default_rng(seed).binomial(1, quality, size=examples)
    return np.stack([tp, np.zeros_like(tp), 1 - tp], axis=1)


def test_main_table_marks_the_verdict_against_full():
    trials = [make_trial(v, seed=s, f1=q) for v, q in (("full", 0.9), ("baseline", 0.5)) for s in (1, 2, 3)]
    data = make_data(trials, seeds=(1, 2, 3))
    ids = tuple(f"e{i}" for i in range(300))
    data.predictions = {t.run_id: Predictions(ids, _counts(0.9 if t.variant == "full" else 0.5, 10 * t.seed))
                        for t in trials}
    data.predictions[trials[3].run_id] = Predictions(ids[::-1], data.predictions[trials[3].run_id].counts[::-1])
    table = main_table(data, aggregate(tidy_frame(data)))
    assert [r.label for r in table.rows] == ["full", "baseline"]
    baseline_f1 = table.rows[1].cells[2]
    assert baseline_f1.marker == "↓" and baseline_f1.verdict.kind == "lower"
    assert baseline_f1.verdict.comparison.seeds == (1, 2, 3)
    assert baseline_f1.verdict.interval[1] < 0 and table.rows[0].cells[2].verdict is None
    assert "δ in F1 points = 0.5 on Twitter-2017 (each task's default: NER 0.5;" in table.caption


def test_one_shared_seed_is_undetermined_and_says_why():
    trials = [make_trial("full", seed=1, f1=0.9), make_trial("baseline", seed=1, f1=0.5)]
    data = make_data(trials, seeds=(1,))
    ids = tuple(f"e{i}" for i in range(300))
    data.predictions = {t.run_id: Predictions(ids, _counts(0.9 if t.variant == "full" else 0.5, 1)) for t in trials}
    verdict = main_table(data, aggregate(tidy_frame(data))).rows[1].cells[2].verdict
    assert verdict.kind == "undetermined" and verdict.interval is None
    assert "1 shared seed: the seed-to-seed spread is unknown" in verdict.reason


def test_sweep_points_come_from_the_plan_not_from_labels():
    trials = [make_trial("align.tau=0.1", f1=0.6, params={"align.tau": "0.1"}),
              make_trial("align.tau=0.5", f1=0.6, params={"align.tau": "0.5"})]  # a label the plan does not list
    data = make_data(trials, kind="sweep", params=("align.tau",), points={"align.tau=0.1": {"align.tau": "0.1"}})
    assert [(r.label, r.value, r.on_grid) for r in sweep_rows(data, "align.tau")] == [
        ("0.1", "0.1", True), ("align.tau=0.5", "0.5", False)]


def test_sweep_rows_points_in_value_order_then_named_variants():
    trials = [make_trial(f"align.tau={t}", f1=0.6, params={"align.tau": t}) for t in ("0.5", "0.02", "0.1")]
    trials.append(make_trial("closed form", f1=0.6, params={"align.tau": "0.1"}))
    points = {f"align.tau={t}": {"align.tau": t} for t in ("0.5", "0.02", "0.1")}
    data = make_data(trials, kind="sweep", params=("align.tau",), points=points)
    rows = sweep_rows(data, "align.tau")
    assert [(r.label, r.on_grid) for r in rows] == [("0.02", True), ("0.1", True), ("0.5", True),
                                                    ("closed form", False)]
    table = sweep_table(data, aggregate(tidy_frame(data)), "align.tau")
    assert [r.rule_before for r in table.rows] == [False, False, False, True]


def test_cells_a_variant_never_planned_show_no_missing_seed_mark():
    trials = [make_trial("none", "twitter2015", f1=0.5), make_trial("none", "mnre", f1=0.5),
              make_trial("llava", "mnre", f1=0.6)]
    data = make_data(trials, seeds=(1,), datasets=("twitter2015", "mnre"))
    data.info = replace(data.info, variant_datasets={"llava": ("mnre",)})
    assert not planned(data, "llava", "twitter2015") and planned(data, "llava", "mnre")
    md = to_markdown(main_table(data, aggregate(tidy_frame(data))))
    assert "| llava | – | – | – |" in md and "n=0" not in md


def test_leave_one_out_ablation_states_missing_coalitions_compactly():
    players = ("a", "b", "c", "d", "e")
    trials = [make_trial("full", components={p: 1 for p in players})]
    trials += [make_trial(f"w/o {p}", f1=0.6, components={q: int(q != p) for q in players}) for p in players]
    data = make_data(trials, seeds=(1,), kind="ablation")
    table = attribution_table(data, aggregate(tidy_frame(data)))
    assert ("Twitter-2017: 26 of 32 coalitions missing; only {a, b, c, d}, {a, b, c, e}, {a, b, d, e}, "
            "{a, c, d, e}, {b, c, d, e}, {a, b, c, d, e} were run") in " ".join(table.notes)
    assert all(c.value is None for row in table.rows for c in row.cells if isinstance(c, NumberCell))


def test_an_ablation_report_leaves_out_the_attribution_it_cannot_fill_and_says_who_fills_it():
    players = ("context", "fusion", "shapley")
    trials = [make_trial("full", components={p: 1 for p in players})]
    trials += [make_trial(f"w/o {p}", f1=0.6, components={q: int(q != p) for q in players}) for p in players]
    data = make_data(trials, seeds=(1,), kind="ablation")
    (table,) = kind_tables(data, aggregate(tidy_frame(data)))
    assert table.name == "ablation"
    assert ("No Shapley attribution of F1 to the components (context, fusion, shapley): it needs a run of each of "
            "their 8 combinations, and this study ran 4. A study of report kind factorial") in " ".join(table.notes)
    every = [make_trial("w/o " + ", ".join(sorted(set(players) - set(c))) if len(c) < 3 else "full", f1=0.5 + 0.1 *
                        len(c), components={p: int(p in c) for p in players})
             for c in itertools.chain.from_iterable(itertools.combinations(players, k) for k in range(4))]
    data = make_data(every, seeds=(1,), kind="ablation")  # an ablation that ran every combination gets it
    assert [t.name for t in kind_tables(data, aggregate(tidy_frame(data)))] == ["ablation", "attribution"]


def test_a_row_not_run_because_it_cannot_differ_is_named_under_the_table():
    data = make_data([make_trial("full"), make_trial("w/o fusion", f1=0.6)], seeds=(1,))
    data.info = replace(data.info, redundant=({"label": "w/o context-image alignment", "dataset": "twitter2017",
                                               "same_as": "full", "why": "align.context_image=0.0 has no effect"},))
    notes = main_table(data, aggregate(tidy_frame(data))).notes
    assert ("w/o context-image alignment was not run on Twitter-2017: it cannot differ from full there "
            "(align.context_image=0.0 has no effect); --run-redundant runs it.") in notes


def test_error_summary_takes_the_exception_line_of_a_ray_traceback():
    error = ("Failure # 1 (occurred at 2026-11-27_03-31-59)\n\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=1)\n"
             "  File \"trainables/driver.py\", line 37, in run_trial\n    meta = tune_config[\"meta\"]\n"
             "           ~~~~~~~~~~~^^^^^^^^\nKeyError: 'meta'")
    assert error_summary(error) == "KeyError: 'meta'"
    assert error_summary("plain message\nover two lines") == "over two lines"
    assert error_summary(None) == "no error tag"
    assert error_summary("x" * 300).endswith("...") and len(error_summary("x" * 300)) == 160


def test_the_notes_say_the_precision_the_runs_trained_in():
    from reports.selection import precision_note

    bf16 = [make_trial(seed=s, params={"train.amp": "bf16"}) for s in (1, 2)]
    assert precision_note(bf16) == "All runs trained in bf16 autocast (train.amp=bf16)."
    mixed = bf16 + [make_trial("w/o context", params={"train.amp": "none"})]
    assert "several precisions" in precision_note(mixed) and "w/o context / twitter2017: none" in precision_note(mixed)
    assert precision_note([make_trial()]) is None  # runs that do not say it


def test_sweeps_show_the_alignments_share_of_the_encoders_gradient():
    trials = []
    for weight, share in (("0.1", 0.012), ("3.0", 0.27)):
        for seed, wiggle in ((1, -0.002), (2, 0.002)):
            t = make_trial(f"align.context_text={weight}", seed=seed, params={"align.context_text": weight})
            trials.append(replace(t, metrics={**t.metrics, "grad_share_align_context_text": share + wiggle,
                                              "grad_share_task": 1 - share - wiggle}))
    points = {f"align.context_text={w}": {"align.context_text": w} for w in ("0.1", "3.0")}
    data = make_data(trials, seeds=(1, 2), kind="sweep", params=("align.context_text",), points=points)
    table = sweep_table(data, aggregate(tidy_frame(data)), "align.context_text")
    assert [c.name for c in table.columns][-1] == "align. share (%)" and "share of the encoder's gradient" in \
        table.caption
    assert [r.cells[-1].value for r in table.rows] == pytest.approx([1.2, 27.0])
    plain = make_data([make_trial("a", params={"align.context_text": "0.1"})], kind="sweep",
                      params=("align.context_text",), points={"a": {"align.context_text": "0.1"}})
    assert "align. share (%)" not in [c.name for c in sweep_table(plain, aggregate(tidy_frame(plain)),
                                                                    "align.context_text").columns]
