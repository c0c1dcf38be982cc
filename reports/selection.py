"""Which runs count in a table: one preset, FINISHED only, one config hash per cell, one run per seed.

Decisions (stated in every table's notes when they apply):
- a preset is never mixed: with several presets and none asked for, it is an error;
- within a (variant, dataset) cell, the newest config hash wins (the newest FINISHED run decides); runs of older
  hashes are left out and the note says how many;
- two FINISHED runs of the same seed and hash: the newer counts;
- FAILED runs are listed unless a FINISHED run of the same trial_hash exists (it was retried with success);
- RUNNING / KILLED / SCHEDULED runs are left out and counted in a note.
"""
from __future__ import annotations

from collections import Counter, defaultdict

from reports.failure import error_summary
from reports.records import SCORES, ReportError, Trial


def choose_preset(study: str, presets: list[str], wanted: str | None) -> str:
    """The preset of the report: the one asked for, or the only one present."""
    counts = Counter(presets)
    listing = ", ".join(f"{p} ({n} runs)" for p, n in sorted(counts.items()))
    if not counts:
        raise ReportError(f"no runs for study {study!r}")
    if wanted is not None:
        if wanted not in counts:
            raise ReportError(f"study {study!r} has no runs of preset {wanted!r}; it has: {listing}")
        return wanted
    if len(counts) > 1:
        raise ReportError(f"study {study!r} has runs of mixed presets: {listing}; choose one with --preset "
                          "(tables never mix presets)")
    return next(iter(counts))


def check_test_metrics(trial: Trial) -> None:
    missing = [f"test_{s}" for s in SCORES if f"test_{s}" not in trial.metrics]
    if missing:
        raise ReportError(f"{trial.describe()} is FINISHED but has no test metrics: missing {', '.join(missing)}")


def select_trials(trials: list[Trial]) -> tuple[list[Trial], list[Trial], list[str]]:
    """Split one preset's trials into (counted, failed, notes); raise on a FINISHED run without test metrics."""
    finished = [t for t in trials if t.status == "FINISHED"]
    for trial in finished:
        check_test_metrics(trial)
    notes = []
    other = Counter(t.status for t in trials if t.status not in ("FINISHED", "FAILED"))
    if other:
        listing = ", ".join(f"{n} {s}" for s, n in sorted(other.items()))
        notes.append(f"Left out, not finished: {listing} trial run(s).")

    by_cell: dict[tuple[str, str], list[Trial]] = defaultdict(list)
    for trial in finished:
        by_cell[trial.cell].append(trial)
    counted = []
    for (variant, dataset), runs in sorted(by_cell.items()):
        runs.sort(key=lambda t: (t.start_time, t.run_id), reverse=True)
        newest_hash = runs[0].config_hash
        older = [t for t in runs if t.config_hash != newest_hash]
        if older:
            hashes = ", ".join(sorted({t.config_hash for t in older}))
            notes.append(f"{variant} / {dataset}: {len(older)} run(s) of older config hash(es) {hashes} left out; "
                         f"the cell uses the newest hash {newest_hash}.")
        seen: set[int | None] = set()
        duplicates = 0
        for trial in runs:
            if trial.config_hash != newest_hash:
                continue
            if trial.seed in seen:
                duplicates += 1
                continue
            seen.add(trial.seed)
            counted.append(trial)
        if duplicates:
            notes.append(f"{variant} / {dataset}: {duplicates} repeated run(s) of the same seed left out "
                         "(the newest counts).")

    succeeded = {t.trial_hash for t in finished}
    failed = sorted((t for t in trials if t.status == "FAILED" and t.trial_hash not in succeeded),
                    key=lambda t: (t.variant, t.dataset, -1 if t.seed is None else t.seed, t.run_id))
    counted.sort(key=lambda t: (t.variant, t.dataset, t.seed))
    return counted, failed, notes


def failed_notes(failed: list[Trial]) -> list[str]:
    """One note line per failed trial, with the gist of its error."""
    return [f"FAILED: {trial.describe()}: {error_summary(trial.error)}" for trial in failed]


def images_note(trials: list[Trial]) -> str | None:
    """The reports say so when runs were trained without images (tag images=none)."""
    blind = [t for t in trials if t.images == "none"]
    if not blind:
        return None
    if len(blind) == len(trials):
        return "All runs were trained without images (images=none)."
    cells = sorted({f"{t.variant} / {t.dataset}" for t in blind})
    return f"{len(blind)} of {len(trials)} runs were trained without images (images=none): {'; '.join(cells)}."


PRECISIONS = {"bf16": "bf16 autocast", "none": "float32"}  # train.amp as a trial's config resolved it


def precision_note(trials: list[Trial]) -> str | None:
    """The precision the runs trained in (param train.amp; trials never share a cell across precisions, since the
    precision is part of their identity). None where the runs do not say it."""
    amps = [t.params.get("train.amp") for t in trials if t.params.get("train.amp")]
    if not amps:
        return None
    if len(set(amps)) == 1:
        return f"All runs trained in {PRECISIONS.get(amps[0], amps[0])} (train.amp={amps[0]})."
    cells = sorted({f"{t.variant} / {t.dataset}: {t.params.get('train.amp')}" for t in trials})
    return f"The runs trained in several precisions (train.amp): {'; '.join(cells)}."
