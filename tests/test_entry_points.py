"""Console commands from pyproject.toml's [project.scripts], installed next to the interpreter by `pip install -e .`
(setup.sh runs it), and `--help` that lists every config key with its type, default and help."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from shapca.config import Config
from shapca.config_help import MISSING, config_help, config_keys

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {"shapca-study": "ablations.run:main", "shapca-report": "reports.build:main",
            "shapca-train": "shapca.train:main", "shapca-data": "shapca.data.__main__:main"}


def _scripts() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["scripts"]


def test_pyproject_declares_the_commands():
    assert _scripts() == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_command_points_at_a_main_function(name):
    module, function = EXPECTED[name].split(":")
    spec = importlib.util.find_spec(module)  # found without importing it (ablations.run would start on Ray)
    assert spec is not None and spec.origin, f"{name}: module {module} not found"
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    assert function in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}, \
        f"{name}: {module} has no top-level {function}()"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_command_is_installed_beside_the_interpreter(name):
    script = Path(sys.executable).parent / name
    assert script.is_file(), f"{script} missing: run `pip install -e .` (setup.sh does) after changing pyproject.toml"
    assert EXPECTED[name].split(":")[0] in script.read_text(encoding="utf-8")


def test_config_help_lists_every_key_with_type_default_and_help():
    records = config_keys()
    assert [r["key"] for r in records] == list(Config().flat())  # every key, in definition order
    assert [r["key"] for r in records if r["help"] == MISSING] == []  # a new key needs a comment or EXTRA_HELP
    text = config_help()
    lr = next(line for line in text.splitlines() if line.split()[:1] == ["train.lr"])
    assert lr.split()[1:3] == ["float", repr(Config().train.lr)] and "learning rate" in lr
    assert "file:<path>" in next(line for line in text.splitlines() if line.split()[:1] == ["data.context"])


def test_train_help_shows_the_config_keys():
    result = subprocess.run([str(Path(sys.executable).parent / "shapca-train"), "--help"], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    for record in config_keys():
        assert record["key"] in result.stdout
    assert "config keys (set any with --set KEY=VALUE" in result.stdout
