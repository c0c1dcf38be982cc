"""Precomputed features: `python -m shapca.data images` (main_images) and the features:<file> source."""
import shutil

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from shapca.data.images import EncoderSource, FeatureFile, get_image_source, main_images


def test_main_images_writes_every_readable_image(photo_dir, tiny_vit_dir, tmp_path, capsys):
    folder = tmp_path / "imgs"
    shutil.copytree(photo_dir, folder)
    (folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "feats" / "vit.safetensors"
    rc = main_images(["--encoder", f"{tiny_vit_dir}:regions", "--images", str(folder), "--out", str(out),
                      "--batch-size", "4"])
    err = capsys.readouterr().err
    assert rc == 0
    assert "unreadable image: broken.jpg" in err and "1 unreadable" in err and "1 non-image files ignored" in err
    assert "images: 7/7 (100.0%)" in err and "img/s" in err and "ETA" in err
    with safe_open(str(out), framework="pt") as f:
        assert sorted(f.keys()) == sorted(p.name for p in photo_dir.iterdir())
        assert f.metadata()["regions"] == "17" and f.metadata()["unreadable"] == "1"
    assert not list(out.parent.glob("*.tmp-*"))  # nothing half-written left behind
    # reading the file back gives what the on-demand encoder computes
    src = get_image_source(f"features:{out}")
    assert (src.regions, src.dim) == (17, 32)
    ids = ["coffee.jpg", "broken.jpg", "chelsea.jpg"]
    got, present = src.features(ids)
    assert present.tolist() == [True, False, True]
    live, _ = get_image_source(f"encoder:{tiny_vit_dir}:regions", str(folder)).features(ids)
    assert torch.allclose(got[[0, 2]], live[[0, 2]], atol=1e-5)
    assert src.coverage(ids) == (2, 3)


def test_main_images_refuses_empty_folder_and_wrong_suffix(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main_images(["--encoder", "efficientnet-lite0", "--images", str(tmp_path / "empty"),
                        "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "no image files" in capsys.readouterr().err
    assert main_images(["--encoder", "efficientnet-lite0", "--images", str(tmp_path),
                        "--out", str(tmp_path / "x.pt")]) == 2
    assert ".safetensors" in capsys.readouterr().err


def test_npz_vectors_load_lazily(tmp_path):
    path = tmp_path / "f.npz"
    rng = np.random.default_rng(0)
    arrays = {"a.jpg": rng.normal(size=8).astype(np.float32), "sub/b.jpg": rng.normal(size=8).astype(np.float16)}
    np.savez_compressed(path, **arrays)
    src = FeatureFile(path)
    assert (src.regions, src.dim) == (1, 8)
    feats, present = src.features(["sub/b.jpg", "zzz.jpg", "a.jpg"])
    assert present.tolist() == [True, False, True]
    assert torch.allclose(feats[2, 0], torch.from_numpy(arrays["a.jpg"]))
    assert torch.allclose(feats[0, 0], torch.from_numpy(arrays["sub/b.jpg"].astype(np.float32)))
    assert feats[1].abs().sum() == 0


def test_inconsistent_shapes_name_file_and_key(tmp_path):
    st = tmp_path / "bad.safetensors"
    save_file({"a.jpg": torch.zeros(4, 8), "b.jpg": torch.zeros(5, 8)}, str(st))
    with pytest.raises(ValueError, match=r"bad\.safetensors.*'b\.jpg'.*\[5, 8\]"):
        FeatureFile(st)
    nz = tmp_path / "bad.npz"
    np.savez(nz, **{"a.jpg": np.zeros((2, 3, 4), np.float32)})
    with pytest.raises(ValueError, match=r"bad\.npz.*'a\.jpg'"):
        FeatureFile(nz)


def test_non_float_and_damaged_files_are_refused(tmp_path):
    ints = tmp_path / "ints.safetensors"
    save_file({"a.jpg": torch.zeros(8, dtype=torch.int64)}, str(ints))
    with pytest.raises(ValueError, match="'a.jpg'.*float"):
        FeatureFile(ints)
    objects = tmp_path / "objects.npz"
    np.savez(objects, **{"a.jpg": np.array([{"x": 1}], dtype=object)})  # would need pickle to read
    with pytest.raises(ValueError, match="'a.jpg'.*float"):
        FeatureFile(objects)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="junk.safetensors"):
        FeatureFile(junk)
    with pytest.raises(ValueError, match="expected .safetensors or .npz"):
        FeatureFile(_touch(tmp_path / "f.pt"))
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        get_image_source(f"features:{tmp_path / 'missing.npz'}")


def _touch(path):
    path.write_bytes(b"x")
    return path


def test_encoder_source_counts_ids_once(photo_dir):
    class CountingEncoder:
        dim, regions, calls = 3, 1, 0

        def encode(self, images):
            CountingEncoder.calls += len(images)
            return torch.ones(len(images), 1, 3)

    src = EncoderSource(CountingEncoder(), photo_dir, batch_size=2)
    src.features(["coffee.jpg", "coffee.jpg", "china.jpg", "flower.jpg"])
    src.features(["china.jpg", "astronaut.jpg"])
    assert CountingEncoder.calls == 4  # each distinct photo encoded once, then cached
