"""Real sample photos (scikit-image, scikit-learn) written as JPEG files, and a tiny random ViT saved locally."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_sample_photos(folder: Path) -> dict[str, Path]:
    """astronaut, coffee, chelsea (a cat), chelsea mirrored, and sklearn's china and flower, as JPEG files."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    arrays = {"astronaut.jpg": skimage.data.astronaut(), "coffee.jpg": skimage.data.coffee(),
              "chelsea.jpg": skimage.data.chelsea(), "chelsea_mirror.jpg": skimage.data.chelsea()[:, ::-1],
              "china.jpg": china, "flower.jpg": flower}
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, arr in arrays.items():
        paths[name] = folder / name
        Image.fromarray(np.ascontiguousarray(arr)).save(paths[name], format="JPEG", quality=90)
    return paths


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    write_sample_photos(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_vit_dir(tmp_path_factory) -> Path:
    """A 2-layer ViT with random weights and its image processor, saved like a hub checkpoint (no download)."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    folder = tmp_path_factory.mktemp("tiny_vit")
    torch.manual_seed(0)
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)).save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
