"""Figures (PNG and PDF): F1 against a swept parameter (with step cost where it drives cost), categorical sweeps
per dataset, and learning curves per trial group. Uses matplotlib's object API with the Agg canvas: no display,
no global pyplot state."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reports.mlflow_source import HISTORY_KEYS
from reports.names import COST_PARAMS, dataset_name, file_stem, is_numeric, param_name
from reports.records import StudyData
from reports.rows import SweepRow, sweep_rows, variant_order
from reports.tidy import cell_stats

_HISTORY_LABELS = {"epoch_train_loss": "training loss", "epoch_dev_f1": "dev F1 ×100"}
_LEGEND_LIMIT = 16  # beyond this many entries a legend hides the plot; the lines stay, the legend goes
_LINE_STYLES = (":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)))  # named variants beside a sweep


def _save(figure: Figure, stem: Path) -> list[Path]:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    paths = [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.pdf"]
    figure.savefig(paths[0], dpi=150, bbox_inches="tight")  # "tight" keeps a legend outside the axes
    figure.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None})  # no timestamp: same input, same file
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
        axes.errorbar(x, mean, yerr=std, marker="o", capsize=3, color=color, linestyle="-" if joined else "none",
                      label=f"{dataset_name(dataset)} F1")
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
                           label=f"{dataset_name(dataset)} step time")
        cost_axes.set_ylabel("time per step (ms), square markers")
        cost_axes.set_ylim(bottom=0)


def _categorical_sweep(axes, data: StudyData, agg: pd.DataFrame, key: str, rows: list[SweepRow]) -> None:
    """Bars of F1 per dataset, one per row (sweep value or named variant); cells never run leave a gap."""
    width = 0.8 / len(rows)
    positions = np.arange(len(data.info.datasets))
    for index, row in enumerate(rows):
        means, stds = zip(*(_series(data, agg, [row.variant], d, "f1", 100) for d in data.info.datasets))
        axes.bar(positions + (index - (len(rows) - 1) / 2) * width, np.concatenate(means), width,
                 yerr=np.concatenate(stds), capsize=2, label=row.label)
    axes.set_xticks(positions, [dataset_name(d) for d in data.info.datasets])
    axes.set_xlabel("dataset")


def sweep_plot(data: StudyData, agg: pd.DataFrame, key: str, stem: Path) -> list[Path]:
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
    axes.set_ylabel("test F1 ×100 (mean ± std over seeds)")
    axes.set_title(f"{data.info.name}: {param_name(key)} (preset {data.info.preset})", fontsize=9)
    if len(axes.get_legend_handles_labels()[0]) <= _LEGEND_LIMIT:
        if numeric:
            axes.legend(fontsize=7)
        else:  # outside, on the right: bars fill the whole axes and a legend inside hides some
            axes.legend(fontsize=7, title=param_name(key), title_fontsize=7, loc="upper left",
                        bbox_to_anchor=(1.01, 1.0))
    return _save(figure, stem)


def _curve(data: StudyData, variant: str, dataset: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean and std over the seeds that reached each epoch (ASHA may stop some early)."""
    frame = pd.DataFrame([(step, value) for t in data.trials if t.variant == variant and t.dataset == dataset
                          for step, value in data.histories.get(t.run_id, {}).get(key, [])],
                         columns=["epoch", "value"])
    grouped = frame.groupby("epoch")["value"]
    return grouped.mean().index.to_numpy(), grouped.mean().to_numpy(), np.nan_to_num(grouped.std(ddof=1).to_numpy())


def learning_curves(data: StudyData, dataset: str, stem: Path) -> list[Path]:
    """Training loss and dev F1 per epoch, one line per variant (mean over seeds, band ± std)."""
    present = {t.variant for t in data.trials if t.dataset == dataset}
    variants = [v for v in variant_order(data) if v in present]
    if not any(data.histories.get(t.run_id, {}).get(k) for t in data.trials if t.dataset == dataset
               for k in HISTORY_KEYS):
        return []
    figure = Figure(figsize=(9, 3.4))
    for index, key in enumerate(HISTORY_KEYS):
        axes = figure.add_subplot(1, len(HISTORY_KEYS), index + 1)
        scale = 100 if key.endswith("_f1") else 1
        for variant in variants:
            epochs, mean, std = _curve(data, variant, dataset, key)
            if len(epochs):
                line, = axes.plot(epochs, scale * mean, marker=".", label=variant)
                axes.fill_between(epochs, scale * (mean - std), scale * (mean + std), alpha=0.15,
                                  color=line.get_color())
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(_HISTORY_LABELS.get(key, key))
        if index == len(HISTORY_KEYS) - 1 and len(variants) <= _LEGEND_LIMIT:
            axes.legend(fontsize=7)
    figure.suptitle(f"{data.info.name} on {dataset_name(dataset)}: learning curves (preset {data.info.preset})",
                    fontsize=9)
    return _save(figure, stem)


def plots_for(data: StudyData, agg: pd.DataFrame, folder: Path) -> list[Path]:
    """Every figure the study calls for, written into folder."""
    paths = []
    if data.info.kind == "sweep":
        for key in data.info.params:
            paths += sweep_plot(data, agg, key, folder / f"fig_sweep_{file_stem(key)}")
    for dataset in data.info.datasets:
        paths += learning_curves(data, dataset, folder / f"fig_curves_{file_stem(dataset)}")
    return paths
