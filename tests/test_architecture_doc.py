"""docs/architecture.md names real files: every repository path it mentions exists (a renamed module breaks this)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
FOLDERS = ("shapca/", "trainables/", "ablations/", "reports/", "clusters/", "search_spaces/", "docs/", "tests/",
           "benchmarks/")


def mentioned_paths(text: str) -> list[str]:
    """Repository paths inside `code spans` (also inside commands there), placeholders such as <name> left out."""
    words = [w for span in re.findall(r"`([^`]+)`", text) for w in span.split()]
    return sorted({w.rstrip(".,;:)") for w in words if w.startswith(FOLDERS) and "<" not in w})


def test_the_finder_sees_paths_in_spans_and_commands():
    text = "`shapca/x.py`, `python ablations/run.py --study s`, `search_spaces/<n>.yaml`, `plan.json`"
    assert mentioned_paths(text) == ["ablations/run.py", "shapca/x.py"]


def test_every_path_in_the_architecture_doc_exists():
    paths = mentioned_paths(DOC.read_text(encoding="utf-8"))
    assert len(paths) > 20
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_the_readme_links_it():
    assert "docs/architecture.md" in (ROOT / "README.md").read_text(encoding="utf-8")
