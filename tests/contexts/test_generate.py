"""The Ray-free generation job: complete output, resume without redoing images, failures, settings, loading."""
import json

import pytest

from shapca.captioning import (Captioner, GenerationSettings, Job, ModelLoadError, SettingsMismatch, ShardStore,
                               generate_local, local_executor, read_jsonl, run_generation)
from shapca.data import load_contexts
from shapca.data.types import REExample, Span


@pytest.fixture(scope="module")
def ved_captioner(tiny_ved):
    return Captioner(GenerationSettings(model=str(tiny_ved), prompt="", max_new_tokens=4), device="cpu")


def _job(photos, out, settings, **kw):
    return Job(images=str(photos), name="tiny", settings=settings, out=str(out), shard_size=2, batch_size=2, **kw)


def test_complete_jsonl_with_settings_and_a_corrupt_image(photos, tmp_path, ved_captioner, capsys):
    data = (photos / "coffee.jpg").read_bytes()
    (photos / "zz_truncated.jpg").write_bytes(data[: len(data) // 4])
    job = _job(photos, tmp_path / "out", ved_captioner.settings)
    summary = generate_local(job, captioner=ved_captioner)
    err = capsys.readouterr().err
    assert summary["generated"] == 5 and summary["failed"] == 1 and summary["merged_records"] == 5
    assert "unreadable image: zz_truncated.jpg: cannot decode image" in err
    assert "contexts tiny: 6/6 (100.0%)" in err and "img/s" in err and "ETA" in err and "1 failed" in err
    merged = read_jsonl(tmp_path / "out" / "tiny.jsonl", required=("img_id", "text", "model", "prompt"))
    assert [r["img_id"] for r in merged] == sorted(p.name for p in photos.iterdir() if p.name != "zz_truncated.jpg")
    assert all(r["model"] == str(job.settings.model) and r["prompt"] == "" and r["text"] for r in merged)
    settings = json.loads((tmp_path / "out" / "tiny" / "settings.json").read_text())
    assert settings["identity"] == {"model": str(job.settings.model), "prompt": "", "max_new_tokens": 4,
                                    "do_sample": False, "temperature": 1.0, "top_p": 1.0, "seed": 0}
    failures = read_jsonl(tmp_path / "out" / "tiny" / "failures.jsonl", required=("img_id", "error"))
    assert [f["img_id"] for f in failures] == ["zz_truncated.jpg"]
    assert len(list((tmp_path / "out" / "tiny").glob("shard-*.jsonl"))) == 3  # 5 readable + 1 bad in shards of 2
    # rerun: the unchanged broken file is not retried (no model is even built) and stays listed as failed
    summary = run_generation(job, lambda: pytest.fail("nothing to generate: the broken file did not change"))
    assert (summary["generated"], summary["failed"]) == (0, 1)
    # once the file is replaced by a readable one, it is picked up
    (photos / "zz_truncated.jpg").write_bytes(data)
    summary = generate_local(job, captioner=ved_captioner)
    assert (summary["generated"], summary["failed"], summary["merged_records"]) == (1, 0, 6)


def test_interrupted_job_resumes_without_redoing_images(photos, tmp_path, ved_captioner):
    job = _job(photos, tmp_path / "out", ved_captioner.settings)
    calls = []

    def crash_after_two_shards():
        inner = local_executor(ved_captioner, job.batch_size)

        def execute(shards):
            for i, result in enumerate(inner(shards)):
                calls.extend(r["img_id"] for r in result.records)
                yield result
                if i == 1:
                    raise KeyboardInterrupt  # the job dies after writing its second shard
        return execute

    with pytest.raises(KeyboardInterrupt):
        run_generation(job, crash_after_two_shards)
    store = ShardStore(job.out, job.name)
    first_run = store.done()
    assert len(first_run) == 4 and not store.merged.exists()
    before = ved_captioner.calls
    summary = generate_local(job, captioner=ved_captioner)
    assert ved_captioner.calls - before == 1  # only the fifth photo went through the model
    assert summary["already_done"] == 4 and summary["generated"] == 1 and summary["merged_records"] == 5
    merged = {r["img_id"]: r["text"] for r in read_jsonl(store.merged)}
    assert all(merged[i] == r["text"] for i, r in first_run.items())  # finished shards were kept as they were
    # a third run has nothing to do: the model is not even loaded
    summary = run_generation(job, lambda: pytest.fail("the executor must not be built when nothing is left"))
    assert summary["generated"] == 0 and summary["already_done"] == 5


def test_other_settings_refuse_to_resume_into_the_same_name(photos, tmp_path, ved_captioner):
    job = _job(photos, tmp_path / "out", ved_captioner.settings)
    generate_local(job, captioner=ved_captioner)
    longer = GenerationSettings(model=job.settings.model, prompt="", max_new_tokens=9)
    with pytest.raises(SettingsMismatch, match="max_new_tokens: 4 there, 9 now"):
        generate_local(_job(photos, tmp_path / "out", longer), captioner=ved_captioner)


def test_model_that_cannot_load_fails_before_any_work(photos, tmp_path):
    settings = GenerationSettings(model=str(tmp_path / "missing_lmm"), prompt="")
    with pytest.raises(ModelLoadError, match="missing_lmm"):
        generate_local(_job(photos, tmp_path / "out", settings), device="cpu")
    assert not (tmp_path / "out" / "tiny").exists()  # nothing written


def test_bad_name_and_folder_are_refused(photos, tmp_path, ved_captioner):
    with pytest.raises(ValueError, match="name"):
        ShardStore(tmp_path, "../escape")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        generate_local(_job(tmp_path / "nowhere", tmp_path / "out", ved_captioner.settings), captioner=ved_captioner)


def test_output_loads_as_a_file_context_source(photos, tmp_path, ved_captioner):
    job = _job(photos, tmp_path / "out", ved_captioner.settings)
    generate_local(job, captioner=ved_captioner)
    merged = tmp_path / "out" / "tiny.jsonl"
    table = {r["img_id"]: r["text"] for r in read_jsonl(merged)}
    examples = [REExample(id=f"mnre/test/{k}", tokens=["a", "b"], head=Span(0, 1), tail=Span(1, 2),
                          relation="None", img_id=img) for k, img in enumerate(["coffee.jpg", "china.jpg"])]
    texts, cov = load_contexts("mnre", "test", f"file:{merged}", examples)
    assert texts == [table["coffee.jpg"], table["china.jpg"]]
    assert (cov.total, cov.covered, cov.fallback) == (2, 2, 0)
    # an example whose image got no context is an error unless the empty fallback is asked for
    other = REExample(id="mnre/test/2", tokens=["c"], head=Span(0, 1), tail=Span(0, 1), relation="None",
                      img_id="never_generated.jpg")
    texts, cov = load_contexts("mnre", "test", f"file:{merged}", examples + [other], fallback="empty")
    assert texts[2] == "" and cov.fallback == 1


def test_dataset_mode_wants_every_image_the_dataset_needs(photos, tmp_path, ved_captioner):
    """Two real MNRE image ids are given sample photos; every other image MNRE needs is missing and counted."""
    from shapca.captioning import dataset_image_ids
    needed = dataset_image_ids("mnre")
    assert len(needed) > 9000 and len(set(needed)) == len(needed)
    folder = tmp_path / "mnre_images"
    folder.mkdir()
    for img_id, photo in zip(needed[:2], ("coffee.jpg", "chelsea.jpg")):
        (folder / img_id).write_bytes((photos / photo).read_bytes())
    (folder / "not_in_mnre.jpg").write_bytes((photos / "china.jpg").read_bytes())
    summary = generate_local(_job(folder, tmp_path / "out", ved_captioner.settings, dataset="mnre"),
                             captioner=ved_captioner)
    assert summary["wanted"] == len(needed) and summary["generated"] == 2
    assert summary["failed"] == len(needed) - 2
    assert [r["img_id"] for r in read_jsonl(tmp_path / "out" / "tiny.jsonl")] == needed[:2]
