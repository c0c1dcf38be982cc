"""Generate contexts from images with any LMM as a resumable Ray batch job.

    python -m trainables.context_job generate --images DIR --model NAME_OR_PATH --prompt TEXT --name NAME \
        [--dataset mnre] [--out contexts] [--max-new-tokens 64] [--batch-size 8] [--num-gpus-per-worker 1]

One Ray actor per model copy (one per GPU by default; one on a CPU-only machine) takes shards of image bytes from
this driver, which writes each finished shard atomically, so a rerun skips every finished image. The planning,
prompting, batching and output live in shapca.captioning (Ray-free); this file only adds the actors.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

import ray

from shapca.captioning import (Captioner, GenerationSettings, Job, ModelLoadError, Shard, ShardResult,
                             caption_shard, check_model, run_generation)
from shapca.captioning.store import SettingsMismatch

IN_FLIGHT_PER_WORKER = 2  # one shard running, one queued: the GPU never waits for the driver


@ray.remote
class CaptionWorker:
    """One model copy. A load failure is kept and reported by ready(), so the driver can name the model."""

    def __init__(self, settings: dict, device: str, dtype: str, batch_size: int):
        self.batch_size, self.error, self.captioner = batch_size, None, None
        try:
            self.captioner = Captioner(GenerationSettings(**settings), device=device, dtype=dtype)
        except Exception as e:  # noqa: BLE001 - any failure must reach the driver as a message naming the model
            self.error = f"{type(e).__name__}: {e}" if not isinstance(e, ModelLoadError) else str(e)

    def ready(self) -> dict:
        if self.error:
            return {"error": self.error}
        return self.captioner.describe()

    def run(self, shard: Shard) -> ShardResult:
        return caption_shard(self.captioner, shard, self.batch_size)


def ray_executor(workers: list) -> callable:
    """Map shards over the workers, at most IN_FLIGHT_PER_WORKER each, yielding results as they finish."""
    def execute(shards: Iterable[Shard]) -> Iterator[ShardResult]:
        pending = iter(shards)
        slots = deque(w for w in workers for _ in range(IN_FLIGHT_PER_WORKER))
        running: dict = {}

        def submit() -> None:
            while slots:
                shard = next(pending, None)
                if shard is None:
                    return
                worker = slots.popleft()
                running[worker.run.remote(shard)] = worker

        submit()
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            slots.append(running.pop(ref))
            result = ray.get(ref)
            submit()  # keep the workers busy while this result is written
            yield result
    return execute


def start_workers(settings: GenerationSettings, args: argparse.Namespace, log) -> list:
    gpus = ray.cluster_resources().get("GPU", 0)
    per = args.num_gpus_per_worker if args.num_gpus_per_worker is not None else (1 if gpus else 0)
    if per and per > gpus:
        raise SystemExit(f"error: --num-gpus-per-worker {per} but the Ray cluster has {gpus:g} GPUs")
    count = args.num_workers or (max(1, int(gpus // per)) if per else 1)
    device = args.device if args.device != "auto" else ("cuda" if per else "cpu")
    log(f"starting {count} worker(s) with {per:g} GPU(s) each, device {device}, model {settings.model}")
    workers = [CaptionWorker.options(num_gpus=per, num_cpus=args.cpus_per_worker).remote(
        settings.to_dict(), device, args.dtype, args.batch_size) for _ in range(count)]
    for info in ray.get([w.ready.remote() for w in workers]):
        if "error" in info:
            for w in workers:
                ray.kill(w)
            raise ModelLoadError(info["error"])
    log(f"workers ready: {info}")
    return workers


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainables.context_job", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write one context per image with an LMM, resumably")
    g.add_argument("--images", required=True, help="image folder; image ids are paths relative to it")
    g.add_argument("--model", required=True, help="HF image-text-to-text / image-to-text model name or local path")
    g.add_argument("--prompt", required=True, help="instruction for the model ('' for pure captioners)")
    g.add_argument("--name", required=True, help="context set name: writes OUT/NAME.jsonl and OUT/NAME/")
    g.add_argument("--dataset", default="", help="only the images this dataset needs (twitter2015, twitter2017, "
                                                 "mnre, jmere); default: every image in the folder")
    g.add_argument("--mirror", default=None, help="data mirror for --dataset (default: env SHAPCA_DATA_MIRROR)")
    g.add_argument("--out", default="contexts", help="output folder (default: ./contexts)")
    g.add_argument("--max-new-tokens", type=int, default=64)
    g.add_argument("--do-sample", action="store_true", help="sample instead of greedy decoding (off by default)")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--batch-size", type=int, default=8, help="images per generate() call")
    g.add_argument("--shard-size", type=int, default=64, help="images per shard (unit of resume and of dispatch)")
    g.add_argument("--num-gpus-per-worker", type=float, default=None,
                   help="GPUs per model copy (default: 1 if the cluster has GPUs, else 0)")
    g.add_argument("--num-workers", type=int, default=0, help="model copies (default: GPUs / per-worker, or 1)")
    g.add_argument("--cpus-per-worker", type=float, default=1)
    g.add_argument("--device", default="auto", help="auto (cuda with GPUs, else cpu), cpu, cuda")
    g.add_argument("--dtype", default="auto", help="auto (bf16/fp16 on GPU, fp32 on CPU), float32, bfloat16, "
                                                   "float16")
    g.add_argument("--trust-remote-code", action="store_true", help="allow the model's own code from the hub")
    g.add_argument("--address", default=None,
                   help="Ray cluster address (default: env RAY_ADDRESS, else a local Ray started for this job)")
    return p


def generate(args: argparse.Namespace, log) -> dict:
    # a local model folder is named by its absolute path: workers may run in another directory
    model = str(Path(args.model).resolve()) if Path(args.model).is_dir() else args.model
    settings = GenerationSettings(model=model, prompt=args.prompt, max_new_tokens=args.max_new_tokens,
                                  do_sample=args.do_sample, temperature=args.temperature, top_p=args.top_p,
                                  seed=args.seed, trust_remote_code=args.trust_remote_code)
    if args.batch_size <= 0 or args.shard_size <= 0:
        raise ValueError("--batch-size and --shard-size must be positive")
    job = Job(images=args.images, name=args.name, settings=settings, out=args.out, dataset=args.dataset,
              mirror=args.mirror, shard_size=args.shard_size, batch_size=args.batch_size)
    mode = check_model(settings)  # config + processor only: a wrong name fails in seconds, before Ray starts
    log(f"model {settings.model}: prompt mode {mode}")
    started_ray, workers = False, []

    def make_executor():
        nonlocal started_ray, workers
        if not ray.is_initialized():
            address = args.address or os.environ.get("RAY_ADDRESS") or "local"
            extra = {"include_dashboard": False} if address == "local" else {}
            ray.init(address=address, logging_level="warning", **extra)
            started_ray = True
        workers = start_workers(settings, args, log)
        return ray_executor(workers)

    try:
        return run_generation(job, make_executor, log=log)
    finally:
        for w in workers:
            ray.kill(w)
        if started_ray:
            ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        summary = generate(args, log)
    except (ModelLoadError, SettingsMismatch, ValueError, FileNotFoundError) as e:
        log(f"error: {e}")
        return 2
    return 0 if summary["merged_records"] else 1


if __name__ == "__main__":
    sys.exit(main())
