"""Faults a user meets, in one real study (its own Ray, as a user's would be): the same study started again while it
runs is refused and told who runs it; --status names the running start; Ctrl-C pressed twice ends every run with
no traceback and prints the resume command; a checkpoint broken meanwhile is set aside, said and tagged, and the
resumed study finishes every trial once, each epoch logged once."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ablations import run
from reports.contract import CHECKPOINT_SET_ASIDE_TAG
from study_runs import children

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STUDY = HERE / "studies" / "e2e_interrupt.yaml"
EPOCHS = "train.epochs=6"  # long enough trials to be caught running


def _args(tmp: Path, *extra) -> list[str]:
    return ["--study", str(STUDY), "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--storage", str(tmp / "runs"),
            "--no-report", "--max-concurrent", "1", "--preset", "full", "--set", EPOCHS, *extra]


def _start(tmp: Path, log: str) -> tuple[subprocess.Popen, Path]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray of its own
    with open(tmp / log, "w") as f:  # a file, not a pipe: a full pipe would block the driver
        return subprocess.Popen([sys.executable, str(ROOT / "ablations" / "run.py"), *_args(tmp)], cwd=tmp, env=env,
                                stdout=f, stderr=subprocess.STDOUT, start_new_session=True), tmp / log


def _wait_for(log: Path, proc: subprocess.Popen, count: int, text: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while log.read_text().count(text) < count:
        assert time.time() < deadline and proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)


def test_a_second_start_is_refused_ctrl_c_twice_ends_every_run_and_a_broken_checkpoint_is_set_aside(
        ray_local, tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first, log = _start(tmp_path, "first.log")
    try:
        _wait_for(log, first, 1, "epoch 1 ")
        second, second_log = _start(tmp_path, "second.log")
        assert second.wait(timeout=300) == run.BUSY
        refusal = second_log.read_text()
        assert f"is already running on this tracking store: this host, pid {first.pid}, since" in refusal
        assert "--status" in refusal and "Traceback" not in refusal

        assert run.main(_args(tmp_path, "--status")) == run.OK  # never blocked by the running start
        assert f"started    this host, pid {first.pid}, since" in capsys.readouterr().out

        epochs = log.read_text().count("| epoch ")
        _wait_for(log, first, epochs + 1, "| epoch ")  # a trial is running, with a checkpoint of its own
        os.killpg(first.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C, twice
        time.sleep(0.5)
        os.killpg(first.pid, signal.SIGINT)
        assert first.wait(timeout=180) == run.INTERRUPTED
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    out = log.read_text()
    assert "Traceback" not in out and "--resume" in out, out[-3000:]
    client, parents, kids = children(uri, "e2e_interrupt")
    assert [p.info.status for p in parents] == ["KILLED"]
    assert "RUNNING" not in {k.info.status for k in kids} and "KILLED" in {k.info.status for k in kids}

    killed = next(k for k in kids if k.info.status == "KILLED").data.tags["trial_hash"]
    state = tmp_path / "runs" / "e2e_interrupt-full" / "trials" / f"e2e_interrupt-full-{killed}" / "state.pt"
    state.write_bytes(state.read_bytes()[:1000])  # a checkpoint cut short (a disk that filled, a copy that broke)
    assert run.main(_args(tmp_path, "--resume")) == run.OK
    out = capsys.readouterr().out
    assert "its checkpoint could not be read; set aside as" in out
    client, parents, kids = children(uri, "e2e_interrupt")
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert sorted(k.info.status for k in kids) == ["FINISHED"] * 3
    assert len({k.data.tags["trial_hash"] for k in kids}) == 3  # each trial once
    for k in kids:
        steps = [m.step for m in client.get_metric_history(k.info.run_id, "epoch_dev_f1")]
        assert sorted(set(steps)) == steps, steps  # each epoch logged once
    broken = next(k for k in kids if k.data.tags["trial_hash"] == killed)
    aside = broken.data.tags[CHECKPOINT_SET_ASIDE_TAG]
    assert Path(aside).exists() and Path(aside).name.startswith("state.pt.unreadable-")
