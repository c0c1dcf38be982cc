"""Parallel coordinates of a search: one vertical axis per searched parameter, then dev F1; one line per trial,
coloured by its dev F1 (a colour bar, not a legend, so the figure keeps its width whatever the trial count).

A parameter the study samples on a log scale (loguniform, logint in plan.json's space: a learning rate, a
temperature) sits on a log axis, whatever span its sampled values happen to cover; the others on a linear one;
categories are spaced evenly in their sorted order. Each axis is labelled with its own values, since the shared
vertical scale is only a drawing device.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from reports.hpo import hpo_keys, ranked, value_of
from reports.names import dataset_name, param_name, sort_key
from reports.records import StudyData

_TICKS = 3  # value labels per numeric axis: low, middle, high


def _axis(values: list[str], log: bool = False) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Positions in [0, 1] of the values on one axis (`log`: of their logarithms), and (position, text) ticks."""
    numeric = all(sort_key(v)[0] == 0 for v in values)
    if not numeric:
        levels = sorted(set(values), key=sort_key)
        spot = {v: (i / (len(levels) - 1) if len(levels) > 1 else 0.5) for i, v in enumerate(levels)}
        return np.array([spot[v] for v in values]), [(spot[v], v) for v in levels]
    x = np.array([float(v) for v in values])
    log = log and x.min() > 0
    scaled = np.log10(x) if log else x
    low, high = scaled.min(), scaled.max()
    if math.isclose(low, high):
        return np.full(len(x), 0.5), [(0.5, values[0])]
    positions = (scaled - low) / (high - low)
    ticks = []
    for fraction in np.linspace(0, 1, _TICKS):
        value = low + fraction * (high - low)
        ticks.append((fraction, format(10 ** value if log else value, ".3g")))
    return positions, ticks


def parallel_figure(data: StudyData, dataset: str) -> Figure | None:
    """The search's trials on one dataset; None when no trial has dev F1."""
    trials = [t for t in ranked(data, dataset) if "dev_f1" in t.metrics]
    keys = [k for k in hpo_keys(data) if all(value_of(t, k) is not None for t in trials)]
    if not trials:
        return None
    scores = np.array([100 * t.metrics["dev_f1"] for t in trials])
    columns = [_axis([value_of(t, k) for t in trials], k in data.info.log_scaled) for k in keys]
    columns.append(_axis([format(s, ".1f") for s in scores]))
    names = [param_name(k) + (" (log)" if k in data.info.log_scaled else "") for k in keys] + ["dev F1 ×100"]
    width = max(4.5, 1.4 * len(names) + 1.5)
    figure = Figure(figsize=(width, 3.8))
    axes = figure.add_subplot()
    low, high = scores.min(), scores.max()
    norm = Normalize(low - 0.5, high + 0.5) if math.isclose(low, high) else Normalize(low, high)
    cmap = colormaps["viridis"]
    x = np.arange(len(names))
    matrix = np.stack([positions for positions, _ in columns], axis=1)
    for row, score in sorted(zip(matrix, scores), key=lambda pair: pair[1]):  # best drawn last, on top
        axes.plot(x, row, color=cmap(norm(score)), linewidth=1.2, alpha=0.85, marker="o", markersize=3,
                  clip_on=False)
    for index, (_, ticks) in enumerate(columns):
        axes.axvline(index, color="0.6", linewidth=0.8, zorder=0)
        for position, text in ticks:
            axes.annotate(text, (index, position), xytext=(3, 0), textcoords="offset points", fontsize=6,
                          va="center", ha="left", color="0.2")
    axes.set_xticks(x, names, fontsize=7)
    axes.set_yticks([])
    axes.set_xlim(-0.2, len(names) - 1 + 0.6)  # room for the value labels right of the last axis
    axes.set_ylim(-0.06, 1.06)  # markers at the ends are drawn whole
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes, pad=0.02, fraction=0.04)
    bar.set_label("dev F1 ×100", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    seeds = "one seed" if len(data.info.seeds) == 1 else f"seeds {', '.join(map(str, data.info.seeds))}"
    axes.set_title(f"{data.info.name} on {dataset_name(dataset)}: {len(trials)} trials, {seeds} "
                   f"(preset {data.info.preset})", fontsize=9)
    return figure
