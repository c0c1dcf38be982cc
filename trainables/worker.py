"""The Ray Train worker loop: the core trainer, data-parallel over the run's workers, reporting every epoch.

Each epoch reports its metrics, the best-so-far metrics (model selection on dev) and, from rank 0, a checkpoint
holding the full training state and the test predictions at the best dev epoch. A restarted worker group
(a failed worker, a restarted trial) resumes from the latest checkpoint.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from shapca.config import Config
from shapca.trainer import Callback, Distributed, fit
from trainables.checkpoints import STATE_FILE, checkpoint_files, read_state
from trainables.epoch_report import epoch_metrics

def load_checkpoint_state(ckpt) -> dict | None:
    if ckpt is None:
        return None
    with ckpt.as_directory() as d:
        path = Path(d) / STATE_FILE
        try:
            return read_state(path.read_bytes())
        except Exception as e:  # noqa: BLE001 - a damaged file fails in many types; Ray keeps its checkpoints
            print(f"checkpoint {ckpt.path}/{STATE_FILE} cannot be read ({type(e).__name__}: {str(e)[:200]}); "
                  f"the trial starts again from scratch", flush=True)
            return None


class TrainReport(Callback):
    def __init__(self, rank: int, epochs: int):
        self.rank, self.epochs, self.reported = rank, epochs, False

    def on_epoch_end(self, record: dict, checkpoint) -> None:
        import ray.train

        state = checkpoint(copy_tensors=False) if self.rank == 0 else None  # serialised at once
        best = state["best"] if state else record  # ranks other than 0 send metrics only; rank 0's are used
        metrics = epoch_metrics(record, best, self.epochs)
        if self.rank != 0:
            ray.train.report(metrics)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                for name, data in checkpoint_files(state).items():
                    (Path(tmp) / name).write_bytes(data)
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
        self.reported = True


def make_distributed(world: int, rank: int) -> Distributed:
    import ray.train.torch

    device = ray.train.torch.get_device() if torch.cuda.is_available() else torch.device("cpu")
    if world == 1:
        return Distributed(rank, world, device=str(device))
    wrap = lambda m: ray.train.torch.prepare_model(  # noqa: E731
        m, move_to_device=False, parallel_strategy_kwargs={"find_unused_parameters": True})
    return Distributed(rank, world, wrap=wrap, device=str(device))


def train_loop(loop_config: dict) -> None:
    """Entry point of each Ray Train worker; `loop_config["config"]` is a resolved Config as a dict."""
    import ray.train

    cfg = Config.from_dict(loop_config["config"])
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    if not cfg.train.num_threads and loop_config.get("cpus_per_worker"):
        cfg.train.num_threads = int(max(1, loop_config["cpus_per_worker"]))
    resume = load_checkpoint_state(ray.train.get_checkpoint())
    report = TrainReport(rank, cfg.train.epochs)
    log = print if rank == 0 else (lambda *a, **k: None)
    result = fit(cfg, callbacks=(report,), resume=resume, dist=make_distributed(world, rank), log=log)
    if not report.reported and result.history:
        # Restored from a checkpoint of a run that had already finished: report its last epoch again, so the
        # trial above sees its result.
        report.on_epoch_end(dict(result.history[-1], best_epoch=result.best["epoch"]), lambda: resume)
