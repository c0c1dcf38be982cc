"""The offline cluster-file validator on every shipped file, every broken example, and study fits (no network)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from clusters.check import check_config, check_file, main
from clusters.problems import ERROR, NOTE, WARNING
from clusters.project_rules import HEAD_LISTS, commands
from clusters.sim.render_config import PORT_FLAGS, SimNode, render
from clusters.study_fit import StudyError, study_resources
from clusters.tracking_rules import SERVES, tracking_locations

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "cluster.yaml", ROOT / "clusters" / "gcp.yaml", ROOT / "clusters" / "local.yaml"]
BROKEN = sorted((ROOT / "clusters" / "broken").glob("*.yaml"))


def _expected_key(path: Path) -> str:
    match = re.search(r"^# expect: (\S+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{path.name} must say which key it breaks (# expect: KEY)"
    return match.group(1)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_pass_with_only_placeholder_warnings(path):
    problems, _ = check_file(path)
    assert [p for p in problems if p.severity == ERROR] == []
    unexpected = [p for p in problems if p.severity == WARNING and "REPLACE-ME" not in p.message
                  and "placeholder" not in p.message and p.key != "(ray)"]
    assert unexpected == []


def test_the_required_broken_examples_exist():
    names = {p.stem for p in BROKEN}
    assert {"typo_key", "fractional_gpu", "missing_head_type", "min_above_max"} <= names


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_examples_are_refused_naming_the_key(path, capsys):
    key = _expected_key(path)
    problems, _ = check_file(path)
    errors = [p for p in problems if p.severity == ERROR]
    assert errors and {p.key for p in errors} == {key}  # each example breaks one thing, and it is found
    assert main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f": error: {key}: " in out and out.rstrip().endswith("refused (1 error)" if len(errors) == 1
                                                                   else f"refused ({len(errors)} errors)")


def test_the_messages_say_what_is_wrong():
    by_name = {p.stem: check_file(p)[0] for p in BROKEN}
    assert "did you mean 'min_workers'" in by_name["typo_key"][0].message
    assert by_name["fractional_gpu"][0].message == "must be a whole number, got 0.5"
    assert "'cpu_head' is not one of available_node_types (head, gpu_1x)" in by_name["missing_head_type"][0].message
    assert by_name["min_above_max"][0].message == "3 is above max_workers (1)"


def test_command_line_reports_lines_and_exit_status():
    run = subprocess.run([sys.executable, "-m", "clusters.check", "cluster.yaml",
                          "clusters/broken/fractional_gpu.yaml"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert re.search(r"^clusters/broken/fractional_gpu.yaml:\d+: error: available_node_types.gpu_1x.resources.GPU: "
                     r"must be a whole number, got 0.5$", run.stdout, re.MULTILINE)
    assert re.search(r"^cluster.yaml: ok \(\d+ warnings\)$", run.stdout, re.MULTILINE)


def test_strict_refuses_placeholders(capsys):
    assert main([str(ROOT / "cluster.yaml")]) == 0
    assert main([str(ROOT / "cluster.yaml"), "--strict"]) == 1
    assert "placeholder REPLACE-ME" in capsys.readouterr().out


def test_unreadable_yaml_names_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster_name: x\nprovider: {type: aws\nmax_workers: 2\n")
    assert main([str(bad)]) == 1
    assert re.search(rf"^{re.escape(str(bad))}:\d+: not valid YAML", capsys.readouterr().out, re.MULTILINE)


def test_local_provider_refuses_node_types():
    raw = yaml.safe_load((ROOT / "clusters" / "local.yaml").read_text())
    raw["available_node_types"] = {"gpu": {"resources": {"GPU": 1}, "node_config": {}}}
    errors = [p for p in check_config(raw) if p.severity == ERROR]
    assert [p.key for p in errors] == ["available_node_types"]


def _study(tmp_path, **resources) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"name": "study", "resources": resources}))
    return path


@pytest.mark.parametrize("resources, problem_key", [
    ({"workers": 1, "cpus_per_worker": 4, "gpus_per_worker": 1}, None),
    ({"workers": 4, "cpus_per_worker": 8, "gpus_per_worker": 1}, None),  # four 1-GPU nodes, or one 4-GPU node
    ({"workers": 1, "cpus_per_worker": 1, "gpus_per_worker": 8}, "resources"),  # no node has 8 GPUs
    ({"workers": 20, "cpus_per_worker": 8, "gpus_per_worker": 1}, "resources.workers"),  # 8 + 2 x 4 = 16 at most
])
def test_trial_fit_against_the_aws_cluster(tmp_path, resources, problem_key):
    study = _study(tmp_path, **resources)
    problems, _ = check_file(ROOT / "cluster.yaml", study_resources(study), str(study))
    errors = [p for p in problems if p.severity == ERROR]
    assert [p.key for p in errors] == ([problem_key] if problem_key else [])
    assert all(p.source == str(study) for p in errors)


def test_trial_fit_on_premises_is_a_note_when_resources_are_detected_at_start(tmp_path):
    study = _study(tmp_path, workers=1, cpus_per_worker=1, gpus_per_worker=1)
    problems, _ = check_file(ROOT / "clusters" / "local.yaml", study_resources(study), str(study))
    assert [p.severity for p in problems if p.key == "resources"] == [NOTE]


@pytest.mark.parametrize("resources, key", [
    ({"workers": 0, "cpus_per_worker": 1, "gpus_per_worker": 0}, "resources.workers"),
    ({"workers": 1, "cpus_per_worker": 1, "gpu_per_worker": 1}, "resources.gpu_per_worker"),
    ({"workers": 1, "cpus_per_worker": "one", "gpus_per_worker": 0}, "resources.cpus_per_worker"),
])
def test_bad_study_resources_name_the_key(tmp_path, resources, key, capsys):
    study = _study(tmp_path, **resources)
    with pytest.raises(StudyError, match=re.escape(f"{study}: {key}:")):
        study_resources(study)
    assert main([str(ROOT / "cluster.yaml"), "--study", str(study)]) == 2
    assert key in capsys.readouterr().err


def test_simulated_cluster_file_passes_and_never_runs_ray_stop(tmp_path):
    ports = {flag: 20000 + i for i, flag in enumerate(PORT_FLAGS)} | {"mlflow": 21000}
    node = SimNode(cluster_name="shapca-sim", repo=ROOT, node_user="shsim-x", ssh_key=tmp_path / "key", ssh_port=2222,
                   token_file=tmp_path / "token", venv=Path(sys.prefix), ports=ports, env={})
    config = render(node)
    assert [p for p in check_config(config) if p.severity == ERROR] == []
    commands = config["head_start_ray_commands"] + config["worker_start_ray_commands"] + config["setup_commands"]
    assert not any(c.strip().startswith("ray stop") for c in commands)
    head = next(c for c in config["head_start_ray_commands"] if "ray start --head" in c)
    assert all(f"--{flag}={port}" in head for flag, port in ports.items() if flag != "mlflow")
    assert config["auth"]["ssh_proxy_command"] == "nc 127.0.0.1 2222"


@pytest.mark.parametrize("setup, mounts, ok", [
    (["cd ~/shapca && pip install -e ."], {"~/shapca": "."}, True),
    (["git clone --depth 1 https://example.org/shapca.git && pip install -e shapca"], {}, True),
    (["cd /opt && git clone https://example.org/shapca.git code && pip install -e /opt/code"], {}, True),
    (["pip install git+https://example.org/shapca.git"], {}, True),
    (["pip install -e ~/elsewhere"], {"~/shapca": "."}, False),  # installs a folder nothing puts there
])
def test_setup_must_install_the_project_from_a_copy_that_is_there(setup, mounts, ok):
    raw = yaml.safe_load((ROOT / "clusters" / "broken" / "no_install.yaml").read_text())
    raw["setup_commands"] = setup + ["echo 'export SHAPCA_STORAGE=s3://bucket/x' >> ~/.bashrc"]
    raw["file_mounts"] = mounts | {"~/.ray/auth_token": "~/.ray/auth_token"}
    errors = [p for p in check_config(raw) if p.severity == ERROR]
    assert (errors == []) == ok, errors


def test_node_local_tracking_examples_say_that_ray_down_deletes_them():
    for name in ("node_local_tracking", "node_local_artifacts"):
        errors = [p for p in check_file(ROOT / "clusters" / "broken" / f"{name}.yaml")[0] if p.severity == ERROR]
        assert len(errors) == 1 and "whose disk `ray down` deletes" in errors[0].message, name


@pytest.mark.parametrize("path", SHIPPED[:2], ids=lambda p: p.name)
def test_cloud_files_keep_runs_in_postgres_and_artifacts_in_the_bucket(path):
    raw = yaml.safe_load(path.read_text())
    store, artifacts = tracking_locations(commands(raw, HEAD_LISTS))
    assert store.value.startswith("postgresql://") and store.folder is None
    assert artifacts.value.startswith(("s3://", "gs://")) and artifacts.folder is None


def _tracking_errors(raw: dict) -> list:
    return [p for p in check_config(raw) if p.severity == ERROR and "`ray down` deletes" in p.message]


def _with_settings(settings: str, extra: list[str] = (), single_node: bool = False) -> dict:
    """cluster.yaml with its MLflow settings replaced by `settings` (an `export ...` line)."""
    raw = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    index = next(i for i, c in enumerate(raw["setup_commands"]) if "SHAPCA_MLFLOW_STORE" in c)
    kept = re.sub(r"'export SHAPCA_MLFLOW_\w+=[^']*' ?", "", raw["setup_commands"][index])
    raw["setup_commands"][index] = kept.replace("'export RAY_AUTH_MODE=token'",
                                                f"'export RAY_AUTH_MODE=token' '{settings}'")
    raw["setup_commands"] = list(extra) + raw["setup_commands"]
    if single_node:
        for spec in raw["available_node_types"].values():
            spec["max_workers"] = 0
    return raw


@pytest.mark.parametrize("settings, extra, single_node, key", [
    ("export SHAPCA_MLFLOW_ARTIFACTS=s3://b/a", [], False, "head_start_ray_commands[2]"),  # sqlite, the default
    ("export SHAPCA_MLFLOW_STORE=sqlite:////home/ubuntu/m.db SHAPCA_MLFLOW_ARTIFACTS=s3://b/a", [], False,
     "setup_commands[5]"),
    ("export SHAPCA_MLFLOW_STORE=postgresql://u@127.0.0.1/mlflow SHAPCA_MLFLOW_ARTIFACTS=s3://b/a", [], False,
     "setup_commands[5]"),  # a database server on the head is on its disk too
    ("export SHAPCA_PGDATA=/data/pg SHAPCA_MLFLOW_ARTIFACTS=s3://b/a", [], False, "setup_commands[5]"),
    ("export SHAPCA_PGDATA=/data/pg SHAPCA_MLFLOW_ARTIFACTS=/data/a", ["mountpoint -q /data"], False, None),
    ("export SHAPCA_MLFLOW_STORE=postgresql://u@db.example.org/mlflow", [], False, "head_start_ray_commands[2]"),
    ("export SHAPCA_MLFLOW_ARTIFACTS=/home/ubuntu/a", [], True, None),  # one node: nothing else writes there
])
def test_tracking_on_the_heads_disk_is_refused_on_a_multi_node_cloud_cluster(settings, extra, single_node, key):
    errors = _tracking_errors(_with_settings(settings, extra, single_node))
    assert sorted({p.key for p in errors}) == ([key] if key else [])


@pytest.mark.parametrize("store, kind", [("sqlite:////data/m.db", "sqlite"),
                                         ("postgresql://u@db.example.org/mlflow", "postgresql")])
def test_more_trials_at_once_than_the_store_served_is_a_warning(store, kind):
    settings = f"export SHAPCA_MLFLOW_STORE={store} SHAPCA_MLFLOW_ARTIFACTS=s3://b/a"
    raw = _with_settings(settings, ["mountpoint -q /data"])
    types = raw["available_node_types"]
    types["gpu_4x"]["max_workers"] = 0
    for gpus, warned in ((SERVES[kind], False), (SERVES[kind] + 1, True)):  # one-GPU nodes: trials = nodes
        types["gpu_1x"]["max_workers"] = raw["max_workers"] = gpus
        warnings = [p for p in check_config(raw) if p.severity == WARNING and "tracking_scale" in p.message]
        assert [p.key for p in warnings] == (["setup_commands[6]"] if warned else []), gpus
        assert not [p for p in check_config(raw) if p.severity == ERROR]
