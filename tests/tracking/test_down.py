"""clusters/down.py: no `ray down` while the MLflow store or artifacts are only on the head's disk, unless copied first.

The commands are recorded instead of run (no cloud here); what is checked is which ones run, in what order, and
that a failed copy leaves the cluster up.
"""
import subprocess
from pathlib import Path

from clusters.down import main

ROOT = Path(__file__).resolve().parents[2]
NODE_LOCAL = str(ROOT / "clusters" / "broken" / "node_local_tracking.yaml")


class Recorder:
    """Stands in for subprocess.run: records each command; rsync-down puts a file where it copies to."""

    def __init__(self, fail: str = ""):
        self.commands, self.fail = [], fail

    def __call__(self, cmd):
        self.commands.append(cmd)
        failing = bool(self.fail) and self.fail in cmd[3]
        if cmd[1] == "rsync-down" and not failing:
            (Path(cmd[-1]) / "mlflow.db").write_text("copied")
        return subprocess.CompletedProcess(cmd, int(failing))


def test_refuses_when_the_store_is_on_the_heads_disk(capsys):
    run = Recorder()
    assert main([NODE_LOCAL], run=run) == 1
    assert run.commands == []  # nothing stopped, nothing deleted
    err = capsys.readouterr().err
    assert "head_start_ray_commands[1]: the MLflow tracking store (sqlite:///~/shapca-state/mlflow.db)" in err
    assert "--fetch DIR" in err


def test_fetch_copies_the_store_and_tables_before_ray_down(tmp_path):
    run = Recorder()
    assert main([NODE_LOCAL, "--fetch", str(tmp_path)], run=run) == 0
    assert [c[:2] for c in run.commands] == [["ray", "exec"], ["ray", "rsync-down"], ["ray", "rsync-down"],
                                             ["ray", "down"]]
    assert run.commands[0][-1] == "~/shapca/clusters/head_services.sh stop"  # stopped first: a consistent copy
    assert run.commands[1][3] == "~/shapca-state/" and (tmp_path / "shapca-state" / "mlflow.db").exists()


def test_a_failed_copy_leaves_the_cluster_up(tmp_path, capsys):
    run = Recorder(fail="shapca-state")
    assert main([NODE_LOCAL, "--fetch", str(tmp_path)], run=run) == 1
    assert not any(c[1] == "down" for c in run.commands)
    assert "the cluster is left up" in capsys.readouterr().err


def test_shipped_clusters_keep_nothing_on_the_head_and_go_straight_down():
    for name in ("cluster.yaml", "clusters/gcp.yaml", "clusters/local.yaml"):
        run = Recorder()
        assert main([str(ROOT / name)], run=run) == 0, name
        assert [c[1] for c in run.commands] == ["exec", "down"], name


def test_dry_run_prints_and_runs_nothing(tmp_path, capsys):
    run = Recorder()
    assert main([NODE_LOCAL, "--fetch", str(tmp_path), "--dry-run"], run=run) == 0
    assert run.commands == [] and "+ ray down -y" in capsys.readouterr().out
