import ast

import pytest

from shapca.data.pyliteral import _as_json, parse_line

TRICKY = [
    "{'token': ['a', 'b'], 'pos': [0, 1]}",
    "{'t': \"it's\", 'u': 'say \"hi\"'}",  # each quote inside the other kind
    "{'t': '\\n leading newline', 'u': 'tab\\there'}",  # escapes go to literal_eval
    "{'relation': 'None', 'x': None, 'y': True, 'z': False}",  # names outside strings
    "{'n': -3, 'f': 1.5, 'e': 1e3}",
    "{'k': 'é ü 中文', 'l': []}",
    "['x', 'y',]",  # trailing comma: Python only
    "('a', 1)",  # tuple: Python only
    "{'s': 'with\ttab'}",  # raw tab inside a string: Python only
    "  {'a': 1}",
]


@pytest.mark.parametrize("line", TRICKY)
def test_same_value_as_literal_eval(line):
    assert parse_line(line) == ast.literal_eval(line.strip())


@pytest.mark.parametrize("line", ["{'a': true}", "{'a': null}", "[NaN]", "{'a': b}", "__import__('os')",
                                  "{'a': 1", "", "{'a': 'x' 'y' + 'z'}"])
def test_rejects_what_literal_eval_rejects(line):
    with pytest.raises((ValueError, SyntaxError)):
        parse_line(line)


def test_fast_path_taken_for_plain_lines():
    assert _as_json("{'a': ['b', 'c'], 'd': [1, 2]}") == '{"a": ["b", "c"], "d": [1, 2]}'
    assert _as_json("{'a': 'x\\n'}") is None
    assert _as_json("{'a': None}") is None


def test_real_mnre_lines_match_literal_eval(mirror):
    folder = mirror / "thecharm/MNRE/mnre_txt"
    lines = (folder / "mnre_val .txt").read_text(encoding="utf-8").splitlines()
    lines += (folder / "mnre_test.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1624 + 1614
    assert [parse_line(x) for x in lines] == [ast.literal_eval(x) for x in lines]
