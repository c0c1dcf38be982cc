"""The encoder image sources on real photos: EfficientNet-Lite0 (offline ImageNet weights) and a HF vision model."""
import shutil

import pytest
import torch
import torch.nn.functional as F

from shapca.data.image_encoders import EfficientNetLite0, EncoderLoadError, parse_encoder_spec
from shapca.data.image_files import ImageReadError, image_path, read_image
from shapca.data.images import EncoderSource, get_image_source

CAT_CLASSES = {281, 282, 283, 284, 285}  # ImageNet tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968}  # espresso, cup


@pytest.fixture(scope="module")
def lite0():
    return EfficientNetLite0(pooled=True)


def test_lite0_weights_and_preprocessing_recognise_the_photos(lite0, photo_dir):
    """If the weights or the input scaling were wrong, ImageNet classes of these photos would be noise."""
    images = [read_image(photo_dir / n) for n in ("chelsea.jpg", "coffee.jpg")]
    with torch.inference_mode():
        logits = lite0.model(torch.stack([lite0.preprocess(im) for im in images]))
    top = logits.argmax(-1).tolist()
    assert top[0] in CAT_CLASSES and top[1] in COFFEE_CLASSES, top


def test_lite0_source_gives_pooled_features_and_marks_missing(lite0, photo_dir):
    src = EncoderSource(lite0, photo_dir)
    assert (src.dim, src.regions) == (1280, 1)
    ids = ["chelsea.jpg", "coffee.jpg", "chelsea_mirror.jpg", "chelsea.jpg", "no_such.jpg"]
    feats, present = src.features(ids)
    assert feats.shape == (5, 1, 1280) and feats.dtype == torch.float32
    assert present.tolist() == [True, True, True, True, False]
    assert torch.equal(feats[0], feats[3])  # same photo, same features (served from the cache)
    assert feats[4].abs().sum() == 0
    cat, coffee, mirror = feats[0, 0], feats[1, 0], feats[2, 0]
    assert not torch.allclose(cat, coffee, atol=1e-3)
    # a mirrored cat is much closer to the cat than the coffee cup is
    assert F.cosine_similarity(cat, mirror, dim=0) > F.cosine_similarity(cat, coffee, dim=0) + 0.1
    assert src.coverage(ids) == (4, 5)


def test_lite0_same_photo_gives_same_features_across_sources(lite0, photo_dir, tmp_path):
    shutil.copy(photo_dir / "coffee.jpg", tmp_path / "copy_of_coffee.jpg")
    a = EncoderSource(lite0, photo_dir).features(["coffee.jpg"])[0]
    b = EncoderSource(lite0, tmp_path).features(["copy_of_coffee.jpg"])[0]
    assert torch.allclose(a, b, atol=1e-5)


def test_lite0_region_grid_pools_to_the_vector(photo_dir):
    grid_src = get_image_source("encoder:efficientnet-lite0:regions", str(photo_dir))
    vec_src = get_image_source("encoder:efficientnet-lite0", str(photo_dir))
    assert (grid_src.regions, grid_src.dim) == (49, 1280)
    grid, _ = grid_src.features(["china.jpg", "flower.jpg"])
    vec, _ = vec_src.features(["china.jpg", "flower.jpg"])
    assert grid.shape == (2, 49, 1280)
    assert torch.allclose(grid.mean(1), vec[:, 0], atol=1e-4)


def test_hf_vision_model_by_path(tiny_vit_dir, photo_dir):
    src = get_image_source(f"encoder:{tiny_vit_dir}", str(photo_dir))
    assert (src.dim, src.regions) == (32, 1)
    feats, present = src.features(["astronaut.jpg", "coffee.jpg", "astronaut.jpg"])
    assert present.all()
    assert torch.equal(feats[0], feats[2])
    assert not torch.allclose(feats[0], feats[1], atol=1e-4)
    grid = get_image_source(f"encoder:{tiny_vit_dir}:regions", str(photo_dir))
    assert (grid.regions, grid.dim) == (17, 32)  # (32/8)^2 patches + CLS
    g, _ = grid.features(["astronaut.jpg"])
    assert g.shape == (1, 17, 32)


def test_unloadable_hf_model_names_itself(tmp_path, photo_dir):
    missing = tmp_path / "not_a_model"
    with pytest.raises(EncoderLoadError, match="not_a_model"):
        get_image_source(f"encoder:{missing}", str(photo_dir))


def test_corrupt_image_is_absent_not_fatal(lite0, photo_dir, tmp_path):
    shutil.copy(photo_dir / "flower.jpg", tmp_path / "flower.jpg")
    data = (photo_dir / "coffee.jpg").read_bytes()
    (tmp_path / "broken.jpg").write_bytes(data[: len(data) // 3])  # a truncated JPEG
    src = EncoderSource(lite0, tmp_path)
    feats, present = src.features(["broken.jpg", "flower.jpg"])
    assert present.tolist() == [False, True]
    assert feats[0].abs().sum() == 0
    assert "broken.jpg" in src.unreadable and "cannot decode" in src.unreadable["broken.jpg"]


def test_spec_parsing_and_bad_specs(photo_dir):
    assert parse_encoder_spec("encoder:efficientnet-lite0") == ("efficientnet-lite0", True)
    assert parse_encoder_spec("org/model:regions") == ("org/model", False)
    assert get_image_source("none") is None
    with pytest.raises(ValueError, match="image_dir"):
        get_image_source("encoder:efficientnet-lite0", "")
    with pytest.raises(ValueError, match="must be none"):
        get_image_source("pixels:foo")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        get_image_source("encoder:efficientnet-lite0", str(photo_dir / "nowhere"))


def test_image_ids_cannot_leave_the_folder(photo_dir):
    with pytest.raises(ImageReadError, match="outside"):
        image_path(photo_dir, "../secret.jpg")
