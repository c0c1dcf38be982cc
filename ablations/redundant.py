"""Rows of a grid that cannot differ from another row in this setting: their configs differ only in keys that have
no effect here (a part the data cannot switch on: `Config.without_effect`), so they would train the same model as
that row, seed for seed. "w/o context-image alignment" with `data.image=none` is the shipped case: the model sets
the weight to 0 without images anyway, so the row would cost trials and show the full model's numbers under
another name. The dry run names them; the runner skips their trials unless `--run-redundant`; plan.json lists them,
and the tables say which row each is the same as.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Redundant:
    label: str  # the row that cannot differ
    dataset: str
    same_as: str  # the earlier row it would repeat
    why: str  # the keys without effect, and the reason

    def text(self) -> str:
        return f"{self.label} on {self.dataset}: same as {self.same_as} here ({self.why})"

    def record(self) -> dict:
        return {"label": self.label, "dataset": self.dataset, "same_as": self.same_as, "why": self.why}


def redundant_rows(trials) -> list[Redundant]:
    """The (row, dataset) pairs of `trials` (PlannedTrial, in plan order) whose every seed trains the same model as
    the same seed of an earlier row; the first row of such a group is kept."""
    first: dict[tuple, tuple[str, dict]] = {}  # (dataset, seed, config less its keys without effect) -> first row
    repeats: dict[tuple[str, str], set] = {}  # (row, dataset) -> the rows its seeds repeat (None: a seed is new)
    why: dict[tuple[str, str], str] = {}
    for trial in trials:
        inert, flat = trial.config.without_effect(), trial.config.flat()
        key = (trial.dataset, trial.seed, trial.config.hash(exclude=tuple(inert)))
        kept, kept_flat = first.setdefault(key, (trial.label, flat))
        cell = (trial.label, trial.dataset)
        repeats.setdefault(cell, set()).add(kept if kept != trial.label else None)
        differ = [k for k in inert if flat[k] != kept_flat[k]]
        if differ:
            why[cell] = f"{', '.join(f'{k}={flat[k]}' for k in differ)} has no effect: {inert[differ[0]]}"
    return [Redundant(label, dataset, rows.pop(), why.get((label, dataset), ""))
            for (label, dataset), rows in repeats.items() if len(rows) == 1 and None not in rows]
