"""The generation job without the distribution: plan, shard, caption, write, resume, report.

`run_generation(job, make_executor)` does everything but running the model; the executor maps shards to results.
`local_executor` runs them in this process (a laptop, the tests); trainables/context_job.py runs them on Ray actors,
one model copy per GPU. Shards carry image bytes read here, so remote workers need no access to the image folder.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import transformers

from shapca.captioning.captioner import Captioner, GenerationSettings
from shapca.captioning.store import ShardStore
from shapca.data.image_files import ImageReadError, list_image_files, read_image
from shapca.progress import Progress


@dataclass
class Job:
    images: str  # image folder; ids are paths relative to it
    name: str  # context set name: OUT/NAME.jsonl
    settings: GenerationSettings
    out: str = "contexts"
    dataset: str = ""  # if set, only (and all) the images this dataset's splits need
    mirror: str | None = None  # data mirror / cache for reading the dataset's image ids
    cache: str | None = None
    shard_size: int = 64  # images per shard: the unit of resumption and of work sent to a worker
    batch_size: int = 8  # images per model.generate call


@dataclass
class Shard:
    index: int
    items: list[tuple[str, bytes]]  # (img_id, encoded image file)
    failures: list[tuple[str, str]] = field(default_factory=list)  # files that could not even be read


@dataclass
class ShardResult:
    index: int
    records: list[dict]
    failures: list[tuple[str, str]] = field(default_factory=list)  # (img_id, reason)


Executor = Callable[[Iterable[Shard]], Iterator[ShardResult]]


def dataset_image_ids(dataset: str, mirror: str | None = None, cache: str | None = None) -> list[str]:
    """Every distinct image id the dataset's train, dev and test splits refer to, sorted."""
    from shapca.data import SPLITS, load
    return sorted({ex.img_id for split in SPLITS for ex in load(dataset, split, mirror=mirror, cache=cache)})


def plan(job: Job, store: ShardStore) -> tuple[list[str], dict, list[str], dict[str, dict]]:
    """(wanted ids, files by id, wanted ids with no file, finished records) for this job."""
    files, _ = list_image_files(job.images)
    wanted = dataset_image_ids(job.dataset, job.mirror, job.cache) if job.dataset else list(files)
    missing = [i for i in wanted if i not in files]
    return wanted, files, missing, store.done()


def caption_shard(captioner: Captioner, shard: Shard, batch_size: int) -> ShardResult:
    """Decode and caption one shard; an image that cannot be decoded becomes a failure, not an exception."""
    s = captioner.settings
    result = ShardResult(shard.index, [], list(shard.failures))
    decoded: list[tuple[str, object]] = []
    for img_id, data in shard.items:
        try:
            decoded.append((img_id, read_image(data, name=img_id)))
        except ImageReadError as e:
            result.failures.append((img_id, str(e)))
    for start in range(0, len(decoded), batch_size):
        batch = decoded[start: start + batch_size]
        texts = captioner.generate([im for _, im in batch])
        result.records += [{"img_id": i, "text": t, "model": s.model, "prompt": s.prompt}
                           for (i, _), t in zip(batch, texts)]
    return result


def local_executor(captioner: Captioner, batch_size: int) -> Executor:
    def execute(shards: Iterable[Shard]) -> Iterator[ShardResult]:
        for shard in shards:
            yield caption_shard(captioner, shard, batch_size)
    return execute


def _shards(todo: list[str], files: dict, first_index: int, size: int) -> Iterator[Shard]:
    """Shards read lazily, so only the shards in flight sit in memory."""
    for k, start in enumerate(range(0, len(todo), size)):
        shard = Shard(first_index + k, [])
        for img_id in todo[start: start + size]:
            try:
                shard.items.append((img_id, files[img_id].read_bytes()))
            except OSError as e:
                shard.failures.append((img_id, f"{img_id}: cannot read file ({e})"))
        yield shard


def _stamp(path) -> dict:
    try:
        st = path.stat()
    except OSError:
        return {}
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stamp_of(record: dict) -> dict | None:
    if not isinstance(record.get("size"), int) or not isinstance(record.get("mtime_ns"), int):
        return None
    return {"size": record["size"], "mtime_ns": record["mtime_ns"]}


def run_generation(job: Job, make_executor: Callable[[], Executor], log=None) -> dict:
    """Generate the contexts still missing, write shards as they finish, merge, and return the run's summary.

    `make_executor` is called only if there is work, after the settings check: loading the model (which may fail,
    naming it) happens before any image is processed.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    store = ShardStore(job.out, job.name)
    s = job.settings
    store.check_settings(s.identity())
    wanted, files, missing, done = plan(job, store)
    wanted_set = set(wanted)
    already = sum(1 for i in done if i in wanted_set)
    # an unreadable file failed before and is unchanged since: it would fail again, do not retry it
    known_bad = {i: r for i, r in store.failures().items()
                 if i in files and i in wanted_set and i not in done and _stamp(files[i]) == _stamp_of(r)}
    todo = [i for i in wanted if i in files and i not in done and i not in known_bad]
    failures = [{"img_id": i, "error": f"{i}: no such file in {job.images}"} for i in missing if i not in done]
    failures += known_bad.values()
    source = f"dataset {job.dataset}" if job.dataset else f"folder {job.images}"
    log(f"contexts {job.name}: {len(wanted)} images wanted ({source}), {already} already done, "
        f"{len(todo)} to generate, {len(missing)} missing from the folder, {len(known_bad)} unreadable before "
        f"and unchanged (skipped)")
    t0 = time.monotonic()
    generated = 0
    execute = make_executor() if todo else None  # loads the model: fails here, naming it, before any work
    store.open(s.identity(), {"settings": s.to_dict(), "dataset": job.dataset, "images": str(job.images),
                              "transformers": transformers.__version__})
    t_gen = time.monotonic()
    if execute is not None:
        progress = Progress(len(wanted), label=f"contexts {job.name}", already_done=already)
        progress.update(failed=len(failures))
        for result in execute(_shards(todo, files, store.next_index(), job.shard_size)):
            store.write_shard(result.index, result.records)
            generated += len(result.records)
            for img_id, reason in result.failures:
                failures.append({"img_id": img_id, "error": reason, **_stamp(files[img_id])})
                log(f"unreadable image: {reason}")
            progress.update(done=len(result.records), failed=len(result.failures))
    merged = store.merge()
    store.write_failures(failures)
    now = time.monotonic()
    gen_seconds = now - t_gen  # generation only; model loading is in seconds
    summary = {"name": job.name, "wanted": len(wanted), "already_done": already, "generated": generated,
               "failed": len(failures), "merged_records": merged, "merged": str(store.merged),
               "seconds": round(now - t0, 2), "generation_seconds": round(gen_seconds, 2),
               "images_per_s": round(generated / gen_seconds, 3) if generated else 0.0}
    store.write_summary(summary)
    log(f"contexts {job.name}: generated {generated}, {already} were done before, {len(failures)} failed "
        f"(listed in {store.dir / 'failures.jsonl'}); {merged} contexts in {store.merged} "
        f"-> use data.context=file:{store.merged}")
    return summary


def generate_local(job: Job, captioner: Captioner | None = None, device: str = "auto", dtype: str = "auto",
                   log=None) -> dict:
    """The whole job in this process (no Ray): for a laptop, a notebook, or a test."""
    def make():
        return local_executor(captioner or Captioner(job.settings, device=device, dtype=dtype), job.batch_size)
    return run_generation(job, make, log=log)
