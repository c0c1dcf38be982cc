"""The offline Slurm and KubeRay validators on the shipped files and on every broken variant (no scheduler, no
Kubernetes). A broken variant says which key it breaks in a `# expect: KEY` line and must be refused at that key
and only there. The KubeRay variants end in .yml: tests/cluster/test_cluster_check.py takes clusters/broken/*.yaml
for `ray up` files."""
import re
from pathlib import Path

import pytest

from clusters import check, kuberay_check, slurm_check
from clusters.problems import ERROR, WARNING

ROOT = Path(__file__).resolve().parents[2]
SBATCH = ROOT / "clusters" / "slurm" / "shapca_study.sbatch"
RAYJOB = ROOT / "clusters" / "kuberay" / "rayjob.yaml"
BROKEN_SLURM = sorted((ROOT / "clusters" / "broken").glob("slurm_*.sbatch"))
BROKEN_KUBERAY = sorted((ROOT / "clusters" / "broken").glob("kuberay_*.yml"))


def _expected_key(path: Path) -> str:
    match = re.search(r"^# expect: (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{path.name} must say which key it breaks (# expect: KEY)"
    return match.group(1).strip()


def test_shipped_sbatch_passes_without_warnings():
    problems, _ = slurm_check.check_text(SBATCH.read_text(encoding="utf-8"))
    assert problems == []
    assert slurm_check.main([str(SBATCH), "--strict"]) == 0


def test_shipped_rayjob_passes_with_only_placeholder_warnings():
    problems, _ = kuberay_check.check_file(RAYJOB)
    assert [p for p in problems if p.severity == ERROR] == []
    assert problems and all(p.severity == WARNING and "REPLACE-ME" in p.message for p in problems)
    assert kuberay_check.main([str(RAYJOB)]) == 0 and kuberay_check.main([str(RAYJOB), "--strict"]) == 1


def test_there_are_broken_variants_of_both():
    assert len(BROKEN_SLURM) >= 5 and len(BROKEN_KUBERAY) >= 5


@pytest.mark.parametrize("path", BROKEN_SLURM, ids=lambda p: p.stem)
def test_broken_sbatch_refused_at_its_key_and_line(path, capsys):
    key = _expected_key(path)
    problems, lines = slurm_check.check_text(path.read_text(encoding="utf-8"))
    errors = [p for p in problems if p.severity == ERROR]
    assert errors and {p.key for p in errors} == {key}
    assert slurm_check.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{lines[key]}: error: {key}: " in out and out.rstrip().endswith("refused (1 error)")


@pytest.mark.parametrize("path", BROKEN_KUBERAY, ids=lambda p: p.stem)
def test_broken_rayjob_refused_at_its_key_and_line(path, capsys):
    key = _expected_key(path)
    problems, lines = kuberay_check.check_file(path)
    errors = [p for p in problems if p.severity == ERROR]
    assert errors and {p.key for p in errors} == {key}
    assert key in lines  # the key exists in the file: the message can name its line
    assert kuberay_check.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{lines[key]}: error: {key}: " in out and out.rstrip().endswith("refused (1 error)")


def test_messages_say_what_is_wrong_and_how_to_fix_it():
    by_name = {p.stem: slurm_check.check_text(p.read_text(encoding="utf-8"))[0] for p in BROKEN_SLURM}
    first_error = {name: next(p for p in found if p.severity == ERROR).message for name, found in by_name.items()}
    assert "did you mean --exclusive?" in first_error["slurm_typo_option"]
    assert "sbatch ignores it" in first_error["slurm_sbatch_after_command"]
    assert "end the command with '&'" in first_error["slurm_head_in_foreground"]
    kuberay = {p.stem: kuberay_check.check_file(p)[0] for p in BROKEN_KUBERAY}
    assert "did you mean 'shutdownAfterJobFinishes'?" in kuberay["kuberay_typo_field"][0].message
    assert "quote it" in kuberay["kuberay_unquoted_start_param"][0].message


def test_slurm_checker_reads_continued_commands_and_missing_pieces():
    script = "#!/bin/bash\n#SBATCH --nodes=2\necho hi\n"
    problems, _ = slurm_check.check_text(script)
    keys = {p.key for p in problems if p.severity == ERROR}
    assert {"#SBATCH --ntasks-per-node", "#SBATCH --cpus-per-task", "#SBATCH --gpus-per-task", "ray start --head",
            "ray start --address", "study"} <= keys
    assert slurm_check.check_text("echo no shebang\n")[0][0].key == "shebang"


def test_unreadable_files_are_refused(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: [unclosed\n")
    assert kuberay_check.main([str(bad)]) == 1
    assert "not valid YAML" in capsys.readouterr().out
    assert slurm_check.main([str(tmp_path / "missing.sbatch")]) == 1


# One validator for all three kinds: `python -m clusters.check FILE` hands a batch script to slurm_check and a
# RayJob manifest to kuberay_check, with the same findings, lines and exit status as those validators give.

def test_one_validator_tells_the_kinds_apart(tmp_path):
    assert check.kind_of(SBATCH, SBATCH.read_text(encoding="utf-8")) == check.SLURM
    assert check.kind_of(RAYJOB, RAYJOB.read_text(encoding="utf-8")) == check.KUBERAY
    assert check.kind_of(ROOT / "cluster.yaml", (ROOT / "cluster.yaml").read_text(encoding="utf-8")) == check.RAY_UP
    script = tmp_path / "job.sh"  # a batch script under another name: its #SBATCH lines say what it is
    script.write_text(SBATCH.read_text(encoding="utf-8"))
    assert check.kind_of(script, script.read_text(encoding="utf-8")) == check.SLURM
    quoted = tmp_path / "job.yaml"
    quoted.write_text('apiVersion: ray.io/v1\nkind: "RayJob"  # a comment\n')
    assert check.kind_of(quoted, quoted.read_text(encoding="utf-8")) == check.KUBERAY


def test_one_validator_passes_the_shipped_files(capsys):
    assert check.main([str(SBATCH), "--strict"]) == 0
    assert check.main([str(RAYJOB)]) == 0 and check.main([str(RAYJOB), "--strict"]) == 1
    assert check.main([str(SBATCH), str(RAYJOB), str(ROOT / "cluster.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"{SBATCH}: ok" in out and f"{RAYJOB}: ok (" in out and "cluster.yaml: ok" in out


@pytest.mark.parametrize("path", BROKEN_SLURM + BROKEN_KUBERAY, ids=lambda p: p.stem)
def test_one_validator_refuses_broken_files_at_their_key_and_line(path, capsys):
    key = _expected_key(path)
    problems, lines = check.check_file(path)
    assert {p.key for p in problems if p.severity == ERROR} == {key}
    assert check.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:{lines[key]}: error: {key}: " in out and out.rstrip().endswith("refused (1 error)")


def test_one_validator_refuses_a_missing_batch_script(tmp_path, capsys):
    assert check.main([str(tmp_path / "missing.sbatch")]) == 1
    assert "cannot read" in capsys.readouterr().out
