"""Validate cluster files offline: `python -m clusters.check FILE [FILE...] [--study NAME] [--strict]`.

One validator for the three kinds of file a study runs on, told apart by their content:
- a `ray up` cluster file (cluster.yaml, clusters/*.yaml): Ray's own validation (what `ray up` checks before it
  contacts any machine) and the project's checks: a GPU node type exists, storage is shared between nodes, setup
  installs the project, services bind localhost, and (with --study) one trial of the study fits the cluster;
- a Slurm batch script (`*.sbatch`, or any file with #SBATCH lines): clusters/slurm_check.py;
- a KubeRay manifest (YAML with `kind: RayJob`): clusters/kuberay_check.py.
Each finding names the file, line and key. Exit status 0 when every file passes, 1 when any is refused (warnings
refuse too under --strict), 2 on a bad command line or study file. --study applies to `ray up` cluster files.
"""
import argparse
import re
import sys
from pathlib import Path

from clusters import kuberay_check, slurm_check
from clusters.nodes import node_types
from clusters.problems import ERROR, ConfigLoadError, Problem, check_files, load_yaml_with_lines
from clusters.project_rules import project_problems
from clusters.ray_validation import ray_problems
from clusters.study_fit import StudyError, fit_problems, study_path, study_resources


def check_config(raw: dict, study: dict | None = None, study_source: str = "") -> list[Problem]:
    """Every problem of one parsed cluster file; `study` is a study's resources (see study_fit.study_resources)."""
    problems, prepared = ray_problems(raw)
    if prepared is None or any(p.severity == ERROR for p in problems):
        return problems  # the project's checks read the prepared config; Ray's errors come first
    problems += project_problems(raw, prepared)
    if study is not None:
        problems += fit_problems(node_types(raw, prepared), study, study_source)
    return problems


SLURM, KUBERAY, RAY_UP = "slurm", "kuberay", "ray up"
_SBATCH_LINE = re.compile(r"^#SBATCH\b", re.MULTILINE)
_RAYJOB_KIND = re.compile(r"""^kind:\s*["']?RayJob["']?\s*(#.*)?$""", re.MULTILINE)


def kind_of(path: Path, text: str) -> str:
    """Which validator reads the file: a Slurm batch script, a KubeRay RayJob manifest, or a `ray up` file."""
    if path.suffix in (".sbatch", ".slurm") or _SBATCH_LINE.search(text):
        return SLURM
    if _RAYJOB_KIND.search(text):
        return KUBERAY
    return RAY_UP


def check_file(path: Path, study: dict | None = None, study_source: str = "") -> tuple[list[Problem], dict]:
    """Problems of one file (of any of the three kinds) and its key -> line map. Raises ConfigLoadError for a file
    that cannot be read, or unreadable YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigLoadError(f"{path}: cannot read: {exc.strerror}") from None
    kind = kind_of(path, text)
    if kind == SLURM:
        return slurm_check.check_text(text)
    if kind == KUBERAY:
        return kuberay_check.check_file(path)
    raw, lines = load_yaml_with_lines(path)
    return check_config(raw, study, study_source), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clusters.check", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="cluster files (cluster.yaml, clusters/*.yaml), "
                                                            "Slurm batch scripts (*.sbatch), KubeRay RayJob manifests")
    parser.add_argument("--study", help="also check that one trial of this study fits a `ray up` cluster file "
                                        "(name in search_spaces/ or a path to a study file)")
    parser.add_argument("--strict", action="store_true", help="refuse files with warnings too (e.g. placeholders)")
    args = parser.parse_args(argv)

    study, source = None, ""
    if args.study:
        source = str(study_path(args.study))
        try:
            study = study_resources(Path(source))
        except StudyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return check_files(args.files, lambda path: check_file(path, study, source), args.strict)


if __name__ == "__main__":
    sys.exit(main())
