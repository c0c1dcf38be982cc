"""The GPU check runs where no GPU is: its parts that work on a CPU, end to end, into its one table."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_check  # noqa: E402


def test_the_check_runs_its_cpu_parts_into_one_table(tmp_path, capsys):
    code = gpu_check.main(["--device", "cpu", "--parts", "tests,crf,study", "--out", str(tmp_path)])
    table = capsys.readouterr().out
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert code == 0, table
    assert "skipped" in rows["tests"]  # CUDA-only tests skip on a CPU, and say so
    assert "loop" in rows["crf"] and "scan" in rows["crf"]
    assert "1/1 finished, 0 failed" in rows["study"]
    assert {p.name for p in tmp_path.glob("*.txt")} == {"tests.txt", "crf.txt", "study.txt"}  # each part's output


def test_a_part_that_fails_is_named_and_fails_the_check(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(gpu_check.LIMIT_S, "crf", 0.01)
    assert gpu_check.main(["--device", "cpu", "--parts", "crf", "--out", str(tmp_path)]) == 1
    assert "TIMEOUT" in capsys.readouterr().out


def test_unknown_parts_are_refused():
    with pytest.raises(SystemExit):
        gpu_check.main(["--parts", "tests,bogus"])
