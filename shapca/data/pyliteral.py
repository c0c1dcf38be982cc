"""Read one Python literal per line (MNRE and CAMIM files) safely and fast.

`ast.literal_eval` is safe but costs ~0.2 ms a line here (2.3 s for MNRE train). Most upstream lines are plain
dicts of quoted strings and ints without backslashes; those are rewritten to JSON and parsed by the C json
module, which gives exactly the value literal_eval would. Everything else (escapes, bare names, numbers with
letters, tuples, sets, ...) goes to ast.literal_eval, so the accepted language and the errors are literal_eval's.
Nothing is ever evaluated.
"""
from __future__ import annotations

import ast
import json
import re

_LETTER = re.compile(r"[A-Za-z]")
# Without backslashes a Python string cannot contain its own quote character.
_TOKENS = re.compile(r"""'[^'\n]*'|"[^"\n]*"|[^'"]+""")


def _as_json(line: str) -> str | None:
    """The JSON text with the same value as the Python literal `line`, or None when unsure."""
    if "\\" in line:
        return None
    if '"' not in line:
        pieces = line.split("'")
        if len(pieces) % 2 == 0:  # an unclosed quote
            return None
        outside = "".join(pieces[0::2])
        text = '"'.join(pieces)
    else:
        tokens = _TOKENS.findall(line)
        if "".join(tokens) != line:
            return None
        out, outside_parts = [], []
        for tok in tokens:
            if tok[0] == '"':
                out.append(tok)
            elif tok[0] == "'":
                out.append(json.dumps(tok[1:-1]))
            else:
                outside_parts.append(tok)
                out.append(tok)
        outside = "".join(outside_parts)
        text = "".join(out)
    # Letters outside strings mean names (True, None, nan, true...) or exotic numbers: let literal_eval judge.
    if _LETTER.search(outside):
        return None
    return text


def parse_line(line: str) -> object:
    """The value of one Python literal; raises ValueError or SyntaxError like ast.literal_eval."""
    text = _as_json(line)
    if text is not None:
        try:
            return json.loads(text)
        except ValueError:
            pass  # e.g. a trailing comma or a raw tab in a string: valid Python, not JSON
    return ast.literal_eval(line.strip())


def numbered_records(path, parse=parse_line, what: str = "a Python literal"):
    """(line number, record) of each non-blank line of a file; a line that does not parse raises DataError naming
    the file and the line."""
    from shapca.data.errors import DataError

    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = parse(line)
            except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
                raise DataError(path, lineno, f"not {what}: {e}") from None
            yield lineno, record
