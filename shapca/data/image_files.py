"""Image folders and image decoding, shared by the image sources and the context generation job.

An image id is the file's path relative to the image folder, with forward slashes ("16_05_01_6.jpg" for the flat
Twitter and MNRE folders), which is exactly the `img_id` the readers give.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image, ImageOps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")


class ImageReadError(ValueError):
    """A file that is missing or cannot be decoded as an image; the message names it."""


def list_image_files(folder: str | Path) -> tuple[dict[str, Path], int]:
    """Every image file under `folder` (recursive) as {img_id: path}, sorted by id, and the count of other files.

    Only the extension decides what counts as an image; a file that fails to decode is found later, when read.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist or is not a folder")
    found, others = {}, 0
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            found[p.relative_to(root).as_posix()] = p
        else:
            others += 1
    return found, others


def image_path(folder: str | Path, img_id: str) -> Path:
    """The file of `img_id` under `folder`; refuses ids that would leave the folder (they come from data files)."""
    root = Path(folder).resolve()
    p = (root / img_id).resolve()
    if root != p and root not in p.parents:
        raise ImageReadError(f"image id {img_id!r} points outside the image folder {folder}")
    return p


def read_image(source: str | Path | bytes, name: str = "") -> Image.Image:
    """Decode a file path or raw bytes into an RGB image (EXIF rotation applied); ImageReadError if that fails."""
    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    try:
        if isinstance(source, bytes):
            img = Image.open(io.BytesIO(source))
        else:
            img = Image.open(source)
        img.load()  # decode now: a truncated file must fail here, not later inside a batch
        img = ImageOps.exif_transpose(img)
        return img.convert("RGB")
    except FileNotFoundError:
        raise ImageReadError(f"{label}: file not found") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise ImageReadError(f"{label}: cannot decode image ({type(e).__name__}: {e})") from None


# The options of `python -m shapca.data images`, here (no torch import) so the CLI can build its parser cheaply.
def add_images_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--encoder", required=True,
                   help="efficientnet-lite0 or a Hugging Face vision model name/path; append :regions for grids")
    p.add_argument("--images", required=True, help="folder of images; ids are paths relative to it")
    p.add_argument("--out", required=True, help="output .safetensors file (use as data.image=features:<file>)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="cpu", help="torch device for the encoder (cpu, cuda, cuda:1, ...)")
    return p
