"""Per-type (NER) and per-relation (RE, JMERE) scores from the gold and predicted labels in predictions/test.jsonl.

The record format is shapca/tasks.py's `score`: NER gold/pred are BIO tag lists, RE a relation label each, JMERE
lists of (head start, head end, head type, tail start, tail end, tail type, relation). Entities come from seqeval's
get_entities, as in shapca/metrics.py, and the per-label counts of every example must add up to the tp/fp/fn the
record holds: a disagreement is bad input and stops the build, naming the run and the example.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from seqeval.metrics.sequence_labeling import get_entities

from reports.hpo import ranked
from reports.names import dataset_name, file_stem
from reports.records import ReportError, StudyData, Trial
from reports.rows import runs_of, variant_order
from reports.table_model import Column, NumberCell, Row, ScoreCell, Table

NONE_RELATION = "None"
MAX_VARIANTS = 6  # columns beyond this make the table unreadable; the notes say which were left out


def task_of(labels: tuple) -> str | None:
    """ner, re or jmere from the shape of the gold labels; None when the file carries no labels."""
    for gold, pred in labels:
        for value in (gold, pred):
            if isinstance(value, str):
                return "re"
            if isinstance(value, list) and value:
                return "jmere" if isinstance(value[0], list) else "ner"
    return None


def _example_counts(task: str, gold, pred) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    if task == "re":
        if gold == pred and gold != NONE_RELATION:
            counts[gold][0] += 1
        else:
            if pred != NONE_RELATION:
                counts[pred][1] += 1
            if gold != NONE_RELATION:
                counts[gold][2] += 1
        return counts
    if task == "ner":
        gold_set, pred_set = set(get_entities(list(gold))), set(get_entities(list(pred)))
        label = lambda item: item[0]  # noqa: E731 - (type, start, end)
    else:
        gold_set, pred_set = set(map(tuple, gold)), set(map(tuple, pred))
        label = lambda item: str(item[-1])  # noqa: E731 - the relation closes the quintuple
    for item in gold_set & pred_set:
        counts[label(item)][0] += 1
    for item in pred_set - gold_set:
        counts[label(item)][1] += 1
    for item in gold_set - pred_set:
        counts[label(item)][2] += 1
    return counts


def label_counts(data: StudyData, trial: Trial) -> tuple[str, dict[str, np.ndarray]] | None:
    """(task, label -> summed tp/fp/fn) of one run's test predictions; None without labels."""
    predictions = data.predictions.get(trial.run_id)
    task = task_of(predictions.labels) if predictions is not None else None
    if task is None:
        return None
    totals: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(3, dtype=np.int64))
    for example_id, (gold, pred), logged in zip(predictions.ids, predictions.labels, predictions.counts):
        try:
            counts = _example_counts(task, gold, pred)
        except (TypeError, IndexError, ValueError) as err:
            raise ReportError(f"run {trial.run_id} predictions/test.jsonl, example {example_id}: gold/pred are not "
                              f"{task} labels ({err})") from None
        summed = np.sum([c for c in counts.values()], axis=0) if counts else np.zeros(3, dtype=np.int64)
        if not np.array_equal(summed, logged):
            raise ReportError(f"run {trial.run_id} predictions/test.jsonl, example {example_id}: the labels give "
                              f"tp/fp/fn {summed.tolist()} but the record says {logged.tolist()}")
        for name, value in counts.items():
            totals[name] += value
    return task, dict(totals)


def _f1(counts: np.ndarray) -> float:
    tp, fp, fn = (int(x) for x in counts)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _columns_of(data: StudyData, dataset: str) -> list[tuple[str, list[Trial]]]:
    """(column header, runs over seeds) per shown variant: the best trial of a search, else the variants in order."""
    if data.info.is_hpo:
        best = ranked(data, dataset)[:1]
        return [("best trial #1", best)] if best else []
    shown = [v for v in variant_order(data) if runs_of(data, v, dataset)]
    return [(v, list(runs_of(data, v, dataset).values())) for v in shown]


def breakdown_table(data: StudyData, dataset: str) -> Table | None:
    """Rows: entity types or relations (most gold first); columns: gold count, then F1 per shown variant."""
    columns_of = _columns_of(data, dataset)
    per_column, task = [], None
    for header, trials in columns_of:
        found = [label_counts(data, t) for t in trials]
        found = [f for f in found if f is not None]
        if found:
            task = found[0][0]
            per_column.append((header, [counts for _, counts in found], len(trials)))
    if not per_column:
        return None
    notes = []
    if len(per_column) > MAX_VARIANTS:
        notes.append(f"{len(per_column) - MAX_VARIANTS} more variant(s) left out: "
                     f"{', '.join(h for h, _, _ in per_column[MAX_VARIANTS:])}.")
        per_column = per_column[:MAX_VARIANTS]
    first = per_column[0][1][0]
    labels = sorted({name for _, runs, _ in per_column for counts in runs for name in counts},
                    key=lambda name: (-int(first.get(name, np.zeros(3))[[0, 2]].sum()), name))
    rows = []
    for name in labels:
        gold = int(first.get(name, np.zeros(3))[[0, 2]].sum())  # tp + fn: the gold count (same test set everywhere)
        cells = [NumberCell(float(gold), decimals=0)]
        for _, runs, expected in per_column:
            scores = [100 * _f1(counts.get(name, np.zeros(3))) for counts in runs]
            std = float(np.std(scores, ddof=1)) if len(scores) > 1 else None
            cells.append(ScoreCell(float(np.mean(scores)), std, len(scores), expected))
        rows.append(Row(name, cells))
    what = "entity type" if task == "ner" else "relation"
    spread = ("mean ± sample std over seeds" if any(len(r) > 1 for _, r, _ in per_column) else "one run each")
    caption = (f"Test F1 ×100 per {what} on {dataset_name(dataset)} (study {data.info.name}, preset "
               f"{data.info.preset}), from the runs' predictions/test.jsonl; {spread}. gold: {what} instances in the "
               f"test set." + (f" {NONE_RELATION} is not scored, as in the micro F1." if task != "ner" else ""))
    columns = [Column("", "gold")] + [Column("F1", header) for header, _, _ in per_column]
    stem = f"breakdown_{file_stem(dataset)}"
    return Table(stem, f"Per {what}: {dataset_name(dataset)}", caption,
                 f"tab:{file_stem(data.info.name)}-{stem}".replace("_", "-"), what.capitalize(), columns, rows, notes)


def breakdown_tables(data: StudyData) -> list[Table]:
    return [t for t in (breakdown_table(data, d) for d in data.info.datasets) if t is not None]
