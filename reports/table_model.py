"""A renderer-neutral table: typed cells, grouped columns, caption, label, notes; and best/second marking.

Numbers are kept as numbers until a renderer formats them, so Markdown, LaTeX and CSV show the same table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reports.verdicts import Verdict

DECIMALS = 1  # scores are shown x100 with one decimal everywhere


def fixed(value: float, decimals: int = DECIMALS) -> str:
    """Fixed decimals; -0.0 prints as 0.0 so a rounded zero never shows a sign."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


@dataclass
class ScoreCell:
    """mean +- std over seeds, in table units (score x100); n seeds out of the n the study asked for (more when a
    study added seeds to resolve a comparison)."""

    mean: float | None
    std: float | None
    n: int
    n_expected: int
    emphasis: str = ""  # "best", "second" or ""
    marker: str = ""  # the verdict's mark against the reference row (reports/verdicts.py MARKS)
    verdict: Verdict | None = None  # its interval, p-values and seeds go to the CSV

    @property
    def shown(self) -> float | None:
        """The mean as printed: ranks are decided on this, so the marks agree with what the reader sees."""
        return None if self.mean is None else float(fixed(self.mean))

    @property
    def seeds_missing(self) -> bool:
        return self.n < self.n_expected

    @property
    def seeds_added(self) -> bool:
        return self.n > self.n_expected > 0


@dataclass
class NumberCell:
    """A single number: a difference (signed) or a cost; None shows as a dash."""

    value: float | None
    decimals: int = DECIMALS
    signed: bool = False
    emphasis: str = ""
    marker: str = ""


@dataclass
class IntervalCell:
    """A confidence interval [low, high] in table units."""

    low: float | None
    high: float | None
    decimals: int = DECIMALS


@dataclass
class TextCell:
    text: str


Cell = ScoreCell | NumberCell | IntervalCell | TextCell


@dataclass
class Column:
    group: str  # header group spanning several columns (a dataset), "" for none
    name: str  # the column's own header: P, R, F1, ...
    ranked: bool = False  # best bold / second underlined, higher is better

    @property
    def key(self) -> str:
        return f"{self.group} {self.name}".strip()


@dataclass
class Row:
    label: str
    cells: list[Cell]
    rule_before: bool = False  # a rule above this row (LaTeX \midrule): e.g. named variants after a sweep


@dataclass
class Table:
    name: str  # file stem of the outputs: main, ablation, sweep_shapley.samples, attribution
    title: str  # short heading for the Markdown report
    caption: str  # what the numbers are, what +- is, what the marks mean
    label: str  # LaTeX label
    row_header: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self) -> None:
        for row in self.rows:
            if len(row.cells) != len(self.columns):
                raise ValueError(f"table {self.name}: row {row.label!r} has {len(row.cells)} cells for "
                                 f"{len(self.columns)} columns")


def _rank_value(cell: Cell) -> float | None:
    if isinstance(cell, ScoreCell):
        return cell.shown
    if isinstance(cell, NumberCell) and cell.value is not None:
        return float(fixed(cell.value, cell.decimals))
    return None


def mark_best(table: Table) -> None:
    """Bold the best value of each ranked column and underline the second best.

    Ties (equal as printed) share the mark; the second mark goes to the next distinct value. A column with fewer
    than two distinct values gets no marks, since nothing stands out.
    """
    for index, column in enumerate(table.columns):
        if not column.ranked:
            continue
        values = [_rank_value(row.cells[index]) for row in table.rows]
        distinct = sorted({v for v in values if v is not None and not math.isnan(v)}, reverse=True)
        if len(distinct) < 2:
            continue
        best = distinct[0]
        second = distinct[1]
        for row, value in zip(table.rows, values):
            cell = row.cells[index]
            if value is None:
                continue
            if value == best:
                cell.emphasis = "best"
            elif value == second:
                cell.emphasis = "second"
