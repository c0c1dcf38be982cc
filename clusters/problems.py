"""What the validator reports: one problem per finding, naming the key and, where known, the line."""
from dataclasses import dataclass
from pathlib import Path

import yaml

ERROR = "error"
WARNING = "warning"
NOTE = "note"  # something the validator could not check offline; never refuses a file


@dataclass(frozen=True)
class Problem:
    severity: str  # ERROR refuses the file; WARNING is shown (and refuses it only under --strict)
    key: str  # dotted key, e.g. available_node_types.gpu_1x.resources.GPU
    message: str
    source: str = ""  # the file the key belongs to (a study file for trial-fit problems); "" = the cluster file

    def render(self, cluster_file: str, lines: dict[str, int]) -> str:
        where = self.source or cluster_file
        line = lines.get(self.key) if not self.source else None
        loc = f"{where}:{line}" if line else where
        return f"{loc}: {self.severity}: {self.key}: {self.message}"


def print_verdict(path, problems: list[Problem], lines: dict[str, int], strict: bool = False) -> bool:
    """Prints a file's problems in line order, then its verdict; True when the file is refused."""
    for problem in sorted(problems, key=lambda p: (bool(p.source), lines.get(p.key, 0))):  # in file order
        print(problem.render(str(path), lines))
    bad = sum(p.severity == ERROR or (strict and p.severity == WARNING) for p in problems)
    warnings = sum(p.severity == WARNING for p in problems)
    print(f"{path}: refused ({bad} error{'s' if bad != 1 else ''})" if bad else
          f"{path}: ok" + (f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""))
    return bool(bad)


class ConfigLoadError(ValueError):
    """A file that cannot be read as a YAML mapping; the message names the file and line."""


def check_files(paths, check, strict: bool = False) -> int:
    """Each file through `check(path) -> (problems, lines)` (ConfigLoadError where it cannot be read), each verdict
    printed; the exit status: 1 when any file is refused."""
    refused = 0
    for path in paths:
        try:
            problems, lines = check(path)
        except ConfigLoadError as exc:
            print(f"{exc}\n{path}: refused (1 error)")
            refused += 1
            continue
        refused += print_verdict(path, problems, lines, strict)
    return 1 if refused else 0


def load_yaml_with_lines(path: Path) -> tuple[dict, dict[str, int]]:
    """The YAML mapping in `path` and the line (1-based) of every dotted key in it, for error messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigLoadError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigLoadError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigLoadError(f"{path}:1: the file must hold a YAML mapping (key: value), got {type(data).__name__}")
    lines: dict[str, int] = {}
    _collect_lines(node, "", lines)
    return data, lines


def _collect_lines(node, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = f"{prefix}[{index}]"
            lines[key] = item.start_mark.line + 1
            _collect_lines(item, key, lines)
