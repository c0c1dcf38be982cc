"""Figures (PNG and PDF): F1 against a swept parameter (with step cost where it drives cost), categorical sweeps
per dataset, and learning curves per trial group. Uses matplotlib's object API with the Agg canvas: no display,
no global pyplot state."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reports.hpo import rank_labels
from reports.hpo_plots import parallel_figure
from reports.mlflow_source import HISTORY_KEYS
from reports.names import COST_PARAMS, dataset_name, file_stem, is_numeric, param_name
from reports.records import StudyData
from reports.rows import SweepRow, sweep_rows, variant_order
from reports.tidy import cell_stats

_HISTORY_LABELS = {"epoch_train_loss": "training loss", "epoch_dev_f1": "dev F1 ×100"}
_LEGEND_LIMIT = 16  # beyond this many entries a legend hides the plot; the lines stay, the legend goes
_LEGEND_SHARE = 0.9  # a legend may take this share of the figure's width
_SHORT_LABEL = 28  # characters of a shortened legend label
_LINE_STYLES = (":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)))  # named variants beside a sweep


def fit_legend(axes, **kwargs) -> None:
    """A legend no wider than the figure: long labels (whole config strings) are shortened, and when even that
    does not fit, the legend is left out (the lines stay; the tables name them)."""
    figure = axes.figure
    if len(axes.get_legend_handles_labels()[0]) > _LEGEND_LIMIT:
        return
    FigureCanvasAgg(figure)
    for shorten in (None, _SHORT_LABEL):
        handles, labels = axes.get_legend_handles_labels()
        if shorten:
            labels = [textwrap.shorten(label, shorten, placeholder="…") for label in labels]
        legend = axes.legend(handles, labels, **kwargs)
        figure.canvas.draw()
        if legend.get_window_extent().width <= figure.bbox.width * _LEGEND_SHARE:
            return
        legend.remove()


def _widen_flat_limits(axes, pad_y: float) -> None:
    """One epoch, or equal values everywhere (all-zero scores), give a zero-width range that matplotlib widens by
    a hair, with ticks at fractions of an epoch: widen it to half an epoch and `pad_y` around the value instead."""
    lines = [line for line in axes.get_lines() if len(line.get_xdata())]
    if not lines:
        return
    x = np.concatenate([line.get_xdata() for line in lines]).astype(float)
    y = np.concatenate([line.get_ydata() for line in lines]).astype(float)
    if x.max() - x.min() < 1:
        axes.set_xlim(x.min() - 0.5, x.max() + 0.5)
        axes.set_xticks(np.unique(x))  # the integer locator falls back to fractions on so short a range
    if np.nanmax(y) - np.nanmin(y) < 1e-9:
        axes.set_ylim(np.nanmin(y) - pad_y, np.nanmax(y) + pad_y)


def spread_label(data: StudyData, measure: str = "test F1 ×100") -> str:
    """The y label says what a point is: a mean ± std only when there are several seeds."""
    seeds = data.info.seeds
    return f"{measure} (mean ± std over {len(seeds)} seeds)" if len(seeds) > 1 else f"{measure} (one seed)"


def _save(figure: Figure, stem: Path) -> list[Path]:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    paths = [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.pdf"]
    figure.savefig(paths[0], dpi=150, bbox_inches="tight")  # "tight" keeps a legend outside the axes
    # no timestamp in the PDF: same input, same file
    figure.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None})
    return paths


def _series(data: StudyData, agg: pd.DataFrame, variants: list[str], dataset: str, measure: str, scale: float):
    means, stds = [], []
    for variant in variants:
        stats = cell_stats(agg, variant, dataset)
        means.append(np.nan if stats is None else scale * stats[f"{measure}_mean"])
        stds.append(np.nan if stats is None else scale * stats[f"{measure}_std"])  # NaN (one seed): no bar
    return np.array(means), np.array(stds)


def _numeric_sweep(axes, data: StudyData, agg: pd.DataFrame, key: str, grid: list[SweepRow],
                   named: list[SweepRow]) -> None:
    """F1 against the value (log axis over a wide range); named variants as horizontal lines; cost on a twin axis."""
    x = np.array([float(r.value) for r in grid])
    variants = [r.variant for r in grid]
    joined = len(set(x)) == len(x)  # several rows per value (a joint search): points only, no line between them
    for index, dataset in enumerate(data.info.datasets):
        color = f"C{index}"
        mean, std = _series(data, agg, variants, dataset, "f1", 100)
        axes.errorbar(x, mean, yerr=std, marker="o", capsize=3, color=color, clip_on=False,
                      linestyle="-" if joined else "none", label=f"{dataset_name(dataset)} F1")
        for style, row in zip(_LINE_STYLES, named):
            value, _ = _series(data, agg, [row.variant], dataset, "f1", 100)
            if not np.isnan(value[0]):
                axes.axhline(value[0], color=color, linestyle=style, linewidth=1,
                             label=f"{row.label} ({dataset_name(dataset)})")
    if x.min() > 0 and x.max() / x.min() >= 10:
        axes.set_xscale("log", base=2 if np.allclose(np.log2(x), np.round(np.log2(x))) else 10)
    if joined:
        axes.set_xticks(x, [r.value for r in grid])
    axes.set_xlabel(param_name(key))
    if key in COST_PARAMS:
        cost_axes = axes.twinx()
        for index, dataset in enumerate(data.info.datasets):
            mean, _ = _series(data, agg, variants, dataset, "step_time_s", 1000)
            cost_axes.plot(x, mean, linestyle="--" if joined else "none", marker="s", color=f"C{index}", alpha=0.5,
                           clip_on=False, label=f"{dataset_name(dataset)} step time")
        cost_axes.set_ylabel("time per step (ms), square markers")
        top = cost_axes.get_ylim()[1]
        cost_axes.set_ylim(bottom=-0.05 * top)  # near zero, not at it: a marker at 0 ms is drawn whole


def _categorical_sweep(axes, data: StudyData, agg: pd.DataFrame, key: str, rows: list[SweepRow]) -> None:
    """Bars of F1 per dataset, one per row (sweep value or named variant); cells never run leave a gap."""
    width = 0.8 / len(rows)
    positions = np.arange(len(data.info.datasets))
    for index, row in enumerate(rows):
        means, stds = zip(*(_series(data, agg, [row.variant], d, "f1", 100) for d in data.info.datasets))
        bars = axes.bar(positions + (index - (len(rows) - 1) / 2) * width, np.concatenate(means), width,
                        yerr=np.concatenate(stds), capsize=2, label=row.label)
        axes.bar_label(bars, fmt="%.1f", fontsize=6, padding=2)  # a bar of height 0 still shows its value
    axes.margins(y=0.12)  # room for the value labels
    axes.set_xticks(positions, [dataset_name(d) for d in data.info.datasets])
    axes.set_xlabel("dataset")


def sweep_figure(data: StudyData, agg: pd.DataFrame, key: str) -> Figure:
    """Test F1 (mean ± std over seeds) against a swept key: a line per dataset for numbers, bars otherwise."""
    rows = sweep_rows(data, key)
    grid = [r for r in rows if r.on_grid]
    named = [r for r in rows if not r.on_grid]
    numeric = bool(grid) and is_numeric([r.value for r in grid])
    figure = Figure(figsize=(6, 3.8))
    axes = figure.add_subplot()
    if numeric:
        _numeric_sweep(axes, data, agg, key, grid, named)
    else:
        _categorical_sweep(axes, data, agg, key, rows)
    axes.set_ylabel(spread_label(data))
    axes.set_title(f"{data.info.name}: {param_name(key)} (preset {data.info.preset})", fontsize=9)
    if numeric:
        fit_legend(axes, fontsize=7)
    else:  # outside, on the right: bars fill the whole axes and a legend inside hides some
        fit_legend(axes, fontsize=7, title=param_name(key), title_fontsize=7, loc="upper left",
                   bbox_to_anchor=(1.01, 1.0))
    return figure


def _curve(data: StudyData, variant: str, dataset: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean and std over the seeds that reached each epoch (ASHA may stop some early)."""
    frame = pd.DataFrame([(step, value) for t in data.trials if t.variant == variant and t.dataset == dataset
                          for step, value in data.histories.get(t.run_id, {}).get(key, [])],
                         columns=["epoch", "value"])
    grouped = frame.groupby("epoch")["value"]
    return grouped.mean().index.to_numpy(), grouped.mean().to_numpy(), np.nan_to_num(grouped.std(ddof=1).to_numpy())


def curves_figure(data: StudyData, dataset: str, labels: dict[str, str] | None = None) -> Figure | None:
    """Training loss and dev F1 per epoch, one line per variant (mean over seeds, band ± std); `labels` gives
    short names for long variant labels (a search's trials: "#3"). None when no run has per-epoch records."""
    present = {t.variant for t in data.trials if t.dataset == dataset}
    variants = [v for v in variant_order(data) if v in present]
    if not any(data.histories.get(t.run_id, {}).get(k) for t in data.trials if t.dataset == dataset
               for k in HISTORY_KEYS):
        return None
    labels = labels or {}
    if labels:  # a search's trials in rank order, so the legend reads #1, #2, ...
        variants.sort(key=lambda v: (int(labels[v][1:]) if labels.get(v, "").startswith("#") else 10 ** 9, v))
    several = len(data.info.seeds) > 1
    figure = Figure(figsize=(9, 3.4))
    for index, key in enumerate(HISTORY_KEYS):
        axes = figure.add_subplot(1, len(HISTORY_KEYS), index + 1)
        scale = 100 if key.endswith("_f1") else 1
        for variant in variants:
            epochs, mean, std = _curve(data, variant, dataset, key)
            if len(epochs):
                # A round marker stays visible for a single epoch; clip_on=False keeps it whole at the axes' edge.
                line, = axes.plot(epochs, scale * mean, marker="o", markersize=3, clip_on=False,
                                  label=labels.get(variant, variant))
                if several:
                    axes.fill_between(epochs, scale * (mean - std), scale * (mean + std), alpha=0.15,
                                      color=line.get_color())
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.margins(x=0.08, y=0.1)
        _widen_flat_limits(axes, pad_y=1.0 if scale == 100 else 0.1)
        axes.set_ylabel(_HISTORY_LABELS.get(key, key) + (" (mean ± std over seeds)" if several else ""))
        if index == len(HISTORY_KEYS) - 1:
            fit_legend(axes, fontsize=7)
    figure.suptitle(f"{data.info.name} on {dataset_name(dataset)}: learning curves (preset {data.info.preset})",
                    fontsize=9)
    return figure


def plots_for(data: StudyData, agg: pd.DataFrame, folder: Path) -> list[Path]:
    """Every figure the study calls for, written into folder. A search gets parallel coordinates instead of
    one-parameter sweeps (its trials differ in every parameter at once)."""
    paths = []
    if data.info.is_hpo:
        for dataset in data.info.datasets:
            figure = parallel_figure(data, dataset)
            paths += _save(figure, folder / f"fig_parallel_{file_stem(dataset)}") if figure else []
    elif data.info.kind == "sweep":
        for key in data.info.params:
            paths += _save(sweep_figure(data, agg, key), folder / f"fig_sweep_{file_stem(key)}")
    labels = rank_labels(data) if data.info.is_hpo else None
    for dataset in data.info.datasets:
        figure = curves_figure(data, dataset, labels)
        paths += _save(figure, folder / f"fig_curves_{file_stem(dataset)}") if figure else []
    return paths
