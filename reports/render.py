"""Render a Table as Markdown, LaTeX (booktabs, no vertical rules, caption and label) and CSV."""
from __future__ import annotations

import csv
import io
import math

from reports.table_model import Cell, IntervalCell, NumberCell, ScoreCell, Table, TextCell, fixed
from reports.verdicts import csv_fields

DASH = "–"  # an empty cell: no run, or nothing to compute

# Unicode used in captions, labels and cells, and its LaTeX spelling (pdflatex-safe, no extra packages).
_LATEX_SYMBOLS = {"±": r"$\pm$", "†": r"$^{\dagger}$", "‡": r"$^{\ddagger}$", "Δ": r"$\Delta$", "τ": r"$\tau$",
                  "φ": r"$\phi$", "∅": r"$\emptyset$", "×": r"$\times$", "–": "--", "—": "---", "≤": r"$\le$",
                  "≥": r"$\ge$", "ε": r"$\varepsilon$", "η": r"$\eta$", "²": r"$^2$", "<": r"$<$", ">": r"$>$",
                  "−": "-", "…": r"\ldots{}", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "≈": r"$\approx$"}
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "|": r"\textbar{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and spell known Unicode; other non-ASCII becomes '?' so pdflatex never chokes."""
    out = []
    for char in text:
        if char in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[char])
        elif char in _LATEX_SYMBOLS:
            out.append(_LATEX_SYMBOLS[char])
        elif ord(char) > 127:
            out.append("?")
        else:
            out.append(char)
    return "".join(out)


def _number(value: float | None, decimals: int, signed: bool = False) -> str | None:
    if value is None or math.isnan(value):
        return None
    text = fixed(value, decimals)
    return "+" + text if signed and not text.startswith("-") and float(text) != 0 else text


def plain_parts(cell: Cell) -> tuple[str, str, str]:
    """(emphasised core, marker, trailing note) of a cell as plain text."""
    if isinstance(cell, ScoreCell):
        mean = _number(cell.mean, 1)
        std = _number(cell.std, 1)
        core = DASH if mean is None else (mean if std is None else f"{mean} ± {std}")
        note = (f" (n={cell.n}/{cell.n_expected})" if cell.seeds_missing
                else f" (n={cell.n})" if cell.seeds_added else "")
        return core, cell.marker, note
    if isinstance(cell, NumberCell):
        return _number(cell.value, cell.decimals, cell.signed) or DASH, cell.marker, ""
    if isinstance(cell, IntervalCell):
        low, high = _number(cell.low, cell.decimals), _number(cell.high, cell.decimals)
        return (DASH if low is None or high is None else f"[{low}, {high}]"), "", ""
    return cell.text or DASH, "", ""


def _emphasis(cell: Cell) -> str:
    return getattr(cell, "emphasis", "")


def _md_escape(text: str) -> str:
    return text.replace("|", r"\|")


def to_markdown(table: Table, heading_level: int = 3) -> str:
    table.check()
    header = [table.row_header, *(c.key for c in table.columns)]
    lines = [f"{'#' * heading_level} {table.title}", "", table.caption, "",
             "| " + " | ".join(_md_escape(h) for h in header) + " |",
             "|" + "|".join([":---", *("---:" for _ in table.columns)]) + "|"]
    for row in table.rows:
        cells = []
        for cell in row.cells:
            core, marker, note = plain_parts(cell)
            emphasis = _emphasis(cell)
            # Markdown has no underline; GitHub renders <u>, which keeps "second best" visible in the note.
            core = f"**{core}**" if emphasis == "best" else f"<u>{core}</u>" if emphasis == "second" else core
            cells.append(_md_escape(core + marker + note))
        lines.append("| " + " | ".join([_md_escape(row.label), *cells]) + " |")
    if table.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in table.notes)]
    return "\n".join(lines) + "\n"


def _latex_cell(cell: Cell) -> str:
    core, marker, note = plain_parts(cell)
    core = latex_escape(core).replace(" $\\pm$ ", r"\,$\pm$\,")
    if core.startswith("-") and core[1:2].isdigit():
        core = "$-$" + core[1:]  # a minus sign, not a hyphen
    emphasis = _emphasis(cell)
    if emphasis == "best":
        core = rf"\textbf{{{core}}}"
    elif emphasis == "second":
        core = rf"\underline{{{core}}}"
    if note:
        note = rf"\textsuperscript{{{latex_escape(note.strip(' ()'))}}}"
    return core + latex_escape(marker) + note


def _header_groups(table: Table) -> list[tuple[str, int, int]]:
    """(group, first column, last column), 1-based after the row-label column, for consecutive equal groups."""
    spans: list[tuple[str, int, int]] = []
    for index, column in enumerate(table.columns, start=2):
        if spans and spans[-1][0] == column.group:
            spans[-1] = (column.group, spans[-1][1], index)
        else:
            spans.append((column.group, index, index))
    return spans


def to_latex(table: Table) -> str:
    table.check()
    spec = "l" + "r" * len(table.columns)
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(table.caption)}}}",
             rf"\label{{{table.label}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    spans = _header_groups(table)
    if any(group for group, _, _ in spans):
        cells, rules = [""], []
        for group, first, last in spans:
            width = last - first + 1
            text = latex_escape(group)
            cells.append(rf"\multicolumn{{{width}}}{{c}}{{{text}}}" if width > 1 else text)
            if group:
                rules.append(rf"\cmidrule(lr){{{first}-{last}}}")
        lines.append(" & ".join(cells) + r" \\")
        lines.append(" ".join(rules))
    lines.append(" & ".join([latex_escape(table.row_header), *(latex_escape(c.name) for c in table.columns)])
                 + r" \\")
    lines.append(r"\midrule")
    for row in table.rows:
        if row.rule_before:
            lines.append(r"\midrule")
        lines.append(" & ".join([latex_escape(row.label), *(_latex_cell(c) for c in row.cells)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.notes:
        lines += [r"\par\smallskip", r"{\footnotesize"]
        lines += [latex_escape(note) + r"\par" for note in table.notes]
        lines.append("}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _csv_number(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


def _csv_value(value: float | str | None) -> str:
    return value if isinstance(value, str) else _csv_number(value)


def to_csv(table: Table) -> str:
    """The table's numbers at full useful precision (4 decimals, table units), one row per table row."""
    table.check()
    judged = [any(isinstance(r.cells[i], ScoreCell) and r.cells[i].verdict is not None for r in table.rows)
              for i in range(len(table.columns))]
    header = [table.row_header]
    for index, column in enumerate(table.columns):
        sample = table.rows[0].cells[index] if table.rows else TextCell("")
        if isinstance(sample, ScoreCell):
            header += [f"{column.key} mean", f"{column.key} std", f"{column.key} n"]
            header += [f"{column.key} {name}" for name in csv_fields(None)] if judged[index] else []
        elif isinstance(sample, IntervalCell):
            header += [f"{column.key} low", f"{column.key} high"]
        else:
            header.append(column.key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        values = [row.label]
        for index, cell in enumerate(row.cells):
            if isinstance(cell, ScoreCell):
                values += [_csv_number(cell.mean), _csv_number(cell.std), str(cell.n)]
                values += [_csv_value(v) for v in csv_fields(cell.verdict).values()] if judged[index] else []
            elif isinstance(cell, IntervalCell):
                values += [_csv_number(cell.low), _csv_number(cell.high)]
            elif isinstance(cell, NumberCell):  # counts (decimals 0) stay whole numbers
                values.append(_csv_number(cell.value) if cell.decimals or cell.value is None else f"{cell.value:.0f}")
            else:
                values.append(cell.text)
        writer.writerow(values)
    return buffer.getvalue()
