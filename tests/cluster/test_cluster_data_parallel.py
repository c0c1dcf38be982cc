"""Data-parallel correctness: one training step of a Ray TorchTrainer with two CPU workers (DDP over gloo, each worker
on its half of the batch) leaves the same parameters as one process taking the step on the whole batch.

The model is a small torch MLP; the lead swaps in the Shap-CA model once its Ray Train loop exists. What must hold
for any model: DDP averages the workers' gradients, and each worker's loss is a mean over an equal share of the
global batch, so the averaged gradient equals the single-process gradient of the mean loss over the whole batch.
"""
import sys

import torch

GLOBAL_BATCH = 8
LR = 0.5  # large, so that a wrong gradient (e.g. summed instead of averaged) moves the parameters visibly


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(GLOBAL_BATCH, 5, generator=generator), torch.randn(GLOBAL_BATCH, 2, generator=generator)


def _step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    optimizer.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()


def _train_loop(config: dict) -> dict:
    import ray.train
    import ray.train.torch

    model = ray.train.torch.prepare_model(_model())  # DistributedDataParallel over gloo on CPU workers
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    x, y = _batch()
    share = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
    _step(model, x[share], y[share])
    plain = model.module if hasattr(model, "module") else model
    return {"world": world, "params": {k: v.detach().tolist() for k, v in plain.state_dict().items()}}


def test_two_workers_match_one_process_on_the_global_batch(ray_local, tmp_path):
    from ray import cloudpickle
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    # Ray's workers cannot import a test module by name: ship this module's functions by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])

    trainer = TorchTrainer(_train_loop, scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
                           run_config=RunConfig(name="data_parallel", storage_path=str(tmp_path)))
    result = trainer.fit()
    assert result.error is None
    assert result.return_value["world"] == 2
    distributed = {k: torch.tensor(v) for k, v in result.return_value["params"].items()}

    reference = _model()
    before = {k: v.clone() for k, v in reference.state_dict().items()}
    _step(reference, *_batch())
    single = reference.state_dict()

    moved = max((single[k] - before[k]).abs().max().item() for k in single)
    gap = max((single[k] - distributed[k]).abs().max().item() for k in single)
    print(f"data-parallel: max |2 workers - 1 process| = {gap:.3g}; the step itself moved parameters by {moved:.3g}")
    assert moved > 1e-2  # the step did something, so equality is not trivial
    assert gap < 1e-6
