"""`python -m trainables.context_job generate` end to end on the shared local Ray: workers, resume, load failures."""
import json
import shutil

from shapca.captioning import read_jsonl
from trainables.context_job import main


def _argv(photos, model, out, *extra):
    return ["generate", "--images", str(photos), "--model", str(model), "--name", "tiny", "--out", str(out),
            "--shard-size", "2", "--batch-size", "2", "--max-new-tokens", "4", *extra]


def test_ray_job_generates_every_image_then_resumes_only_new_ones(ray_local, photos, tiny_llava, tmp_path, capsys):
    out = tmp_path / "contexts"
    assert main(_argv(photos, tiny_llava, out, "--prompt", "Describe the image.", "--num-workers", "2")) == 0
    err = capsys.readouterr().err
    assert "prompt mode chat" in err and "starting 2 worker(s) with 0 GPU(s) each, device cpu" in err
    assert "contexts tiny: 5/5 (100.0%)" in err
    merged = read_jsonl(out / "tiny.jsonl", required=("img_id", "text", "model", "prompt"))
    assert [r["img_id"] for r in merged] == sorted(p.name for p in photos.iterdir())
    assert {r["prompt"] for r in merged} == {"Describe the image."}
    first = {r["img_id"]: r["text"] for r in merged}

    # two new photos and a broken file arrive; the rerun does only those
    shutil.copy(photos / "coffee.jpg", photos / "coffee_again.jpg")
    shutil.copy(photos / "china.jpg", photos / "sub_china.jpg")
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main(_argv(photos, tiny_llava, out, "--prompt", "Describe the image.", "--num-workers", "1")) == 0
    err = capsys.readouterr().err
    assert "5 already done, 3 to generate" in err and "unreadable image: broken.png" in err
    summary = json.loads((out / "tiny" / "summary.json").read_text())
    assert (summary["already_done"], summary["generated"], summary["failed"], summary["merged_records"]) == \
        (5, 2, 1, 7)
    merged = {r["img_id"]: r["text"] for r in read_jsonl(out / "tiny.jsonl")}
    assert all(merged[i] == t for i, t in first.items())
    assert merged["coffee_again.jpg"] == merged["coffee.jpg"]  # greedy: the same photo, the same context

    # nothing left (the broken file is unchanged, so it is not retried): no worker is started at all
    assert main(_argv(photos, tiny_llava, out, "--prompt", "Describe the image.")) == 0
    err = capsys.readouterr().err
    assert "starting" not in err and "1 unreadable before and unchanged" in err
    assert "generated 0, 7 were done before, 1 failed" in err


def test_model_whose_weights_fail_to_load_stops_before_any_work(ray_local, photos, tiny_llava, tmp_path, capsys):
    broken = tmp_path / "broken_lmm"
    shutil.copytree(tiny_llava, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    out = tmp_path / "contexts"
    assert main(_argv(photos, broken, out, "--prompt", "Describe.")) == 2
    err = capsys.readouterr().err
    assert f"error: model '{broken}': cannot load its weights" in err
    assert not list(out.glob("tiny/shard-*")) and not (out / "tiny.jsonl").exists()


def test_unknown_model_fails_before_ray_work(photos, tmp_path, capsys):
    assert main(_argv(photos, tmp_path / "nope", tmp_path / "o", "--prompt", "x")) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
