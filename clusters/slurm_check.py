"""Check a Slurm batch script for a Shap-CA study offline: `python -m clusters.slurm_check FILE [FILE...]`.

It reads the script as sbatch and Ray's Slurm pattern need it (docs/slurm_kubernetes.md): a shebang; every #SBATCH
line before the first command (sbatch ignores later ones, silently); known sbatch options; one task per node, CPUs
per task and a GPU request; a Ray head started by srun on one node, in the background, with --block, --port and the
allocation's CPU and GPU counts; workers likewise, after the head; then the study driver, in the foreground, with the
head's address; results on shared storage. Each finding names the file, line and key, as clusters/check.py does.
Exit status 0 when every file passes, 1 when any is refused.
"""
from __future__ import annotations

import argparse
import difflib
import re
import shlex
import sys
from pathlib import Path

from clusters.problems import ERROR, WARNING, ConfigLoadError, Problem, check_files

# sbatch's long options (sbatch(1)) that a study script plausibly uses; an unknown one is most often a typo.
KNOWN_OPTIONS = {
    "account", "array", "begin", "chdir", "constraint", "cpus-per-gpu", "cpus-per-task", "dependency", "error",
    "exclusive", "export", "gpus", "gpus-per-node", "gpus-per-task", "gres", "hint", "job-name", "mail-type",
    "mail-user", "mem", "mem-per-cpu", "mem-per-gpu", "nodelist", "nodes", "ntasks", "ntasks-per-node", "output",
    "partition", "qos", "requeue", "reservation", "signal", "time", "tmp", "wait-all-nodes", "exclude", "open-mode",
    "licenses", "comment", "distribution", "threads-per-core", "cluster",
}
SHORT_OPTIONS = {"N": "nodes", "n": "ntasks", "c": "cpus-per-task", "t": "time", "p": "partition", "A": "account",
                 "J": "job-name", "o": "output", "e": "error", "G": "gpus", "w": "nodelist", "C": "constraint"}
GPU_OPTIONS = ("gpus", "gpus-per-node", "gpus-per-task")
STUDY_COMMANDS = ("ablations/run.py", "shapca-study")
_SHEBANG = re.compile(r"^#!\s*(/bin/bash|/usr/bin/env bash|/bin/sh|/usr/bin/env sh)\b")
_LOCAL = ("/tmp", "/dev/shm", "/var/tmp")


def _directive(text: str) -> tuple[str, str] | None:
    """(long option, value) of an #SBATCH line's first option."""
    body = text[len("#SBATCH"):].strip()
    if body.startswith("--"):
        name, _, value = body[2:].partition("=")
        return name.split()[0] if name else "", value.split("#")[0].strip() if value else ""
    if body.startswith("-") and len(body) > 1:
        return SHORT_OPTIONS.get(body[1], body[1]), body[2:].strip()
    return None


def _commands(lines: list[str]) -> list[tuple[int, str]]:
    """(first line number, command) with backslash continuations joined; comments and blank lines left out."""
    out, pending, start = [], "", 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        start = start if pending else number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append((start, pending + stripped))
        pending = ""
    return out


def _has(command: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?=[\s=]|$)", command) is not None


def _ray_start_problems(key: str, command: str, problems: list[Problem]) -> None:
    missing = [flag for flag in ("--block", "--num-cpus", "--num-gpus") if not _has(command, flag)]
    if not command.lstrip().startswith("srun"):
        problems.append(Problem(ERROR, key, "must be started with srun on its node (srun --nodes=1 --ntasks=1 -w "
                                            "NODE ray start ...), else it runs on the batch host only"))
    if missing:
        problems.append(Problem(ERROR, key, f"missing {', '.join(missing)}: --block keeps the node up for the job; "
                                            "without the counts Ray claims every CPU and GPU it sees, not the "
                                            "allocation's ($SLURM_CPUS_PER_TASK, $SLURM_GPUS_PER_TASK)"))
    if not command.rstrip().endswith("&"):
        problems.append(Problem(ERROR, key, "must run in the background (end the command with '&'): with --block "
                                            "it never returns and the study would never start"))


def check_text(text: str) -> tuple[list[Problem], dict[str, int]]:
    """Problems of one script, and key -> line for rendering."""
    lines = text.splitlines()
    problems: list[Problem] = []
    where: dict[str, int] = {}

    def add(severity: str, key: str, line: int, message: str) -> None:
        where.setdefault(key, line)
        problems.append(Problem(severity, key, message))

    if not lines or not _SHEBANG.match(lines[0]):
        add(ERROR, "shebang", 1, "the first line must be a shebang such as #!/bin/bash (sbatch refuses a script "
                                 "without one)")
    commands = _commands(lines)
    first_command = commands[0][0] if commands else len(lines) + 1
    options: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.startswith("#SBATCH"):
            continue
        parsed = _directive(line)
        if parsed is None:
            add(ERROR, "#SBATCH", number, "not an option (expected #SBATCH --name=value)")
            continue
        name, value = parsed
        key = f"#SBATCH --{name}"
        if number > first_command:
            add(ERROR, key, number, f"comes after the first command (line {first_command}): sbatch ignores it; "
                                    "move every #SBATCH line above the first command")
            continue
        if name not in KNOWN_OPTIONS:
            close = difflib.get_close_matches(name, sorted(KNOWN_OPTIONS), n=1)
            add(ERROR, key, number, f"unknown sbatch option --{name}" + (f"; did you mean --{close[0]}?" if close
                                                                       else ""))
            continue
        options[name] = (value, number)
    _option_problems(options, add)
    _command_problems(commands, text, add)
    return problems, where


def _option_problems(options: dict[str, tuple[str, int]], add) -> None:
    nodes = options.get("nodes", ("", 0))
    if "nodes" not in options:
        add(ERROR, "#SBATCH --nodes", 1, "missing: how many nodes the Ray cluster spans (--nodes=N)")
    elif not re.fullmatch(r"[1-9]\d*(-[1-9]\d*)?", nodes[0]):
        add(ERROR, "#SBATCH --nodes", nodes[1], f"must be a positive whole number (or MIN-MAX), got {nodes[0]!r}")
    tasks = options.get("ntasks-per-node")
    if tasks is None:
        add(ERROR, "#SBATCH --ntasks-per-node", 1, "missing: Ray runs one node process per node (--ntasks-per-node=1)")
    elif tasks[0] != "1":
        add(ERROR, "#SBATCH --ntasks-per-node", tasks[1], f"must be 1, got {tasks[0]!r}: one Ray node per Slurm node, "
                                                          "which then holds all of the node's CPUs and GPUs")
    cpus = options.get("cpus-per-task")
    if cpus is None:
        add(ERROR, "#SBATCH --cpus-per-task", 1, "missing: the script passes $SLURM_CPUS_PER_TASK to ray start")
    elif not cpus[0].isdigit() or int(cpus[0]) < 1:
        add(ERROR, "#SBATCH --cpus-per-task", cpus[1], f"must be a positive whole number, got {cpus[0]!r}")
    gres = options.get("gres", ("", 0))[0]
    if not any(name in options for name in GPU_OPTIONS) and "gpu" not in gres:
        add(ERROR, "#SBATCH --gpus-per-task", 1, "no GPU request (--gpus-per-task=N, or --gres=gpu:N): trials ask "
                                                 "for GPUs and would wait for ever")
    if "time" not in options:
        add(WARNING, "#SBATCH --time", 1, "missing: the partition's default limit applies and may end the study")
    if "exclusive" not in options:
        add(WARNING, "#SBATCH --exclusive", 1, "missing: another job on the same node may take Ray's fixed ports")


def _command_problems(commands: list[tuple[int, str]], text: str, add) -> None:
    if not any(re.match(r"set\s+-\w*e", c) for _, c in commands):
        add(WARNING, "set -e", 1, "no `set -e` (or -euo pipefail): a failed step would not stop the job")
    head = [(n, c) for n, c in commands if "ray start" in c and _has(c, "--head")]
    workers = [(n, c) for n, c in commands if "ray start" in c and _has(c, "--address")]
    study = [(n, c) for n, c in commands if any(s in c for s in STUDY_COMMANDS)]
    for key, found in (("ray start --head", head), ("ray start --address", workers)):
        if not found:
            add(ERROR, key, 1, "missing: " + ("the Ray head (srun ... ray start --head ... --block &)" if "head" in
                                             key else "the Ray workers (srun ... ray start --address ... --block &)"))
        for number, command in found:
            problems: list[Problem] = []
            _ray_start_problems(key, command, problems)
            for problem in problems:
                add(problem.severity, key, number, problem.message)
    if head and not _has(head[0][1], "--port"):
        add(ERROR, "ray start --head", head[0][0], "missing --port: the workers and the driver connect to it")
    if head and workers and workers[0][0] < head[0][0]:
        add(ERROR, "ray start --address", workers[0][0], f"starts before the head (line {head[0][0]})")
    if not study:
        add(ERROR, "study", 1, f"missing: the study driver ({' or '.join(STUDY_COMMANDS)} --study NAME)")
        return
    number, command = study[-1]
    if not _has(command, "--address"):
        add(ERROR, "study", number, "missing --address: without it the driver starts a Ray of its own on one node")
    if command.rstrip().endswith("&"):
        add(ERROR, "study", number, "must run in the foreground: the job (and Ray) ends when the script does")
    if workers and number < workers[-1][0]:
        add(ERROR, "study", number, f"runs before the workers are started (line {workers[-1][0]})")
    _storage_problems(text, command, number, add)


def _storage_problems(text: str, command: str, number: int, add) -> None:
    values = re.findall(r"SHAPCA_STORAGE=([^\s;]+)", text)
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if "--storage" in words[:-1]:
        values.append(words[words.index("--storage") + 1])
    if not values:
        add(ERROR, "SHAPCA_STORAGE", number, "no shared storage: export SHAPCA_STORAGE (a folder every node mounts, "
                                             "or s3://, gs://) or pass --storage; the default ./runs is per node")
    for value in values:
        plain = value.strip("\"'").replace("${SHAPCA_STORAGE:-", "").rstrip("}")
        if plain.startswith(_LOCAL):
            line = next((i for i, row in enumerate(text.splitlines(), 1) if value in row), number)
            add(ERROR, "SHAPCA_STORAGE", line, f"{plain} is node-local: the workers' checkpoints would be out of the "
                                               "driver's reach; use a shared folder or s3://, gs://")


def check_path(path: Path):
    try:
        return check_text(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigLoadError(f"{path}: cannot read: {exc.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clusters.slurm_check", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="Slurm batch scripts (clusters/slurm/*.sbatch)")
    parser.add_argument("--strict", action="store_true", help="refuse files with warnings too")
    args = parser.parse_args(argv)
    return check_files(args.files, check_path, args.strict)


if __name__ == "__main__":
    sys.exit(main())
