"""A parser-level check of the generated LaTeX tables, independent of any TeX installation."""
from __future__ import annotations

import re

_RULES = re.compile(r"\\(toprule|midrule|bottomrule)|\\cmidrule(\([lr]+\))?\{\d+-\d+\}")


def _unescaped(text: str, char: str) -> list[int]:
    """Positions of char not preceded by an odd number of backslashes."""
    positions = []
    for match in re.finditer(re.escape(char), text):
        backslashes = len(text[: match.start()]) - len(text[: match.start()].rstrip("\\"))
        if backslashes % 2 == 0:
            positions.append(match.start())
    return positions


def _brace_problems(text: str) -> list[str]:
    depth = 0
    opening, closing = set(_unescaped(text, "{")), set(_unescaped(text, "}"))
    for index in range(len(text)):
        depth += (index in opening) - (index in closing)
        if depth < 0:
            return [f"unbalanced braces: '}}' without '{{' at character {index}"]
    return [f"unbalanced braces: {depth} '{{' never closed"] if depth else []


def _environment_problems(text: str) -> list[str]:
    stack = []
    for kind, name in re.findall(r"\\(begin|end)\{(\w+)\}", text):
        if kind == "begin":
            stack.append(name)
        elif not stack or stack.pop() != name:
            return [f"\\end{{{name}}} does not close the open environment"]
    return [f"environment(s) never closed: {stack}"] if stack else []


def _tabular_problems(text: str) -> list[str]:
    match = re.search(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", text, re.S)
    if not match:
        return ["no tabular environment"]
    spec, body = match.groups()
    problems = ["vertical rule in the column spec (booktabs style has none)"] if "|" in spec else []
    columns = len(re.findall(r"[lcr]", re.sub(r"p\{[^}]*\}", "l", spec)))
    for number, row in enumerate(re.split(r"\\\\", body), start=1):
        content = _RULES.sub("", row).strip()
        if not content:
            continue
        cells = len(_unescaped(content, "&")) + 1
        cells += sum(int(k) - 1 for k in re.findall(r"\\multicolumn\{(\d+)\}", content))
        if cells != columns:
            problems.append(f"row {number} has {cells} cells for {columns} columns: {content[:60]!r}")
    for rule in ("toprule", "midrule", "bottomrule"):
        if f"\\{rule}" not in body:
            problems.append(f"no \\{rule}")
    return problems


def latex_problems(text: str) -> list[str]:
    """Everything structurally wrong with one generated table; empty when it is well formed."""
    problems = _brace_problems(text) + _environment_problems(text) + _tabular_problems(text)
    if len(_unescaped(text, "$")) % 2:
        problems.append("odd number of unescaped '$'")
    for char in "_%#":
        if _unescaped(text, char):
            problems.append(f"unescaped {char!r}")
    for command in ("caption", "label"):
        if not re.search(rf"\\{command}\{{", text):
            problems.append(f"no \\{command}")
    if any(ord(c) > 127 for c in text):
        problems.append("non-ASCII character (pdflatex without inputenc setup may fail)")
    return problems
