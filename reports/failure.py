"""A failed trial's error text, read: the one line that says what went wrong.

The runner writes a failed trial's `error` tag as this line, then the traceback (docs/tracking.md), and shows the
line in its progress and summary; the reports quote it in a table's notes. One reader for both, here: ablations/
may import reports/, not the other way. A leaf: it imports nothing of the project.
"""
from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Tune's error file: one "Failure # N (occurred at ...)" section per attempt of the trial; the last says how it ended
_FAILURE = re.compile(r"^Failure # \d+.*$", re.MULTILINE)
# "shapca.data.errors.DataError: ..." -> "DataError: ...": the class says what, its module adds nothing. Only a
# dotted lower-case module path before a capitalised name is cut, so that "bad.jsonl:501: ..." stays whole
_MODULE = re.compile(r"^(?:[a-z_][a-z0-9_]*\.)+(?=[A-Z]\w*(?:\(|:|$))")


def error_summary(error: str | None, limit: int = 160) -> str:
    """The exception line of a Python traceback (the first line of the last exception raised, after the last
    frame), else the last line; without colour codes, module paths or more than `limit` characters."""
    if not error:
        return "no error tag"
    text = _ANSI.sub("", error)
    sections = [s for s in _FAILURE.split(text) if s.strip()]
    lines = [line.rstrip() for line in (sections[-1] if sections else text).splitlines() if line.strip()]
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
    # a frame's source and caret lines are indented; the exception's own first line is not
    after = [line for line in lines[frames[-1] + 1:] if not line.startswith((" ", "\t"))] if frames else []
    plain = [line for line in lines if not line.startswith((" ", "\t", "Traceback"))]
    line = after[0] if after else (plain[-1] if plain else " ".join(lines))
    text = " ".join(_MODULE.sub("", line.strip()).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
