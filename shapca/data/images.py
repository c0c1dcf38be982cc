"""Image sources: what the model gets for an example's image id (config `data.image`).

    none                  no image at all (get_image_source returns None; every image part of the model is off)
    features:<file>       precomputed vectors [dim] or region grids [R, dim] keyed by image id, in a .safetensors
                          or .npz file (read lazily; npz is loaded with allow_pickle=False)
    encoder:<name>        encode images from `data.image_dir` on demand (in-memory cache): `efficientnet-lite0`
                          (offline ImageNet weights) or any Hugging Face vision model by name or path; append
                          `:regions` for the region grid instead of one pooled vector

`python -m shapca.data images --encoder NAME --images DIR --out FILE.safetensors` (main_images) precomputes the
features once, so training reads `features:FILE` and never re-encodes an image.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from shapca.data.image_encoders import ImageEncoder, load_encoder, parse_encoder_spec
from shapca.data.image_files import (IMAGE_EXTENSIONS, ImageReadError, add_images_arguments, image_path,
                                     list_image_files, read_image)
from shapca.progress import Progress

FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


class ImageSource:
    """Features by image id. A missing or unreadable image gives zeros and present=False; the caller counts them."""

    dim: int
    regions: int

    def features(self, img_ids: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.zeros(len(img_ids), self.regions, self.dim)
        present = torch.zeros(len(img_ids), dtype=torch.bool)
        for i, vec in enumerate(self._lookup(img_ids)):
            if vec is not None:
                out[i], present[i] = vec, True
        return out, present

    def coverage(self, img_ids: list[str]) -> tuple[int, int]:
        return sum(self.has(i) for i in img_ids), len(img_ids)

    def has(self, img_id: str) -> bool:
        raise NotImplementedError

    def _lookup(self, img_ids: list[str]) -> list[torch.Tensor | None]:
        """One [regions, dim] float32 tensor per id, None where there is none."""
        raise NotImplementedError


class FeatureFile(ImageSource):
    """A .safetensors or .npz file with one tensor per image id; shapes are checked on open from headers only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"image features file {path} does not exist")
        suffix = self.path.suffix.lower()
        if suffix == ".safetensors":
            shapes = self._safetensors_shapes()
        elif suffix == ".npz":
            shapes = self._npz_shapes()
        else:
            raise ValueError(f"image features file {path}: expected .safetensors or .npz, got {suffix or 'no suffix'}")
        if not shapes:
            raise ValueError(f"image features file {path} holds no tensors")
        first_key, first = next(iter(shapes.items()))
        for key, shape in shapes.items():
            if len(shape) not in (1, 2) or shape != first:
                raise ValueError(f"image features file {path}: key {key!r} has shape {list(shape)}, expected "
                                 f"[dim] or [regions, dim] and the same as key {first_key!r} {list(first)}")
        self.regions, self.dim = (1, first[0]) if len(first) == 1 else first
        if self.dim == 0 or self.regions == 0:
            raise ValueError(f"image features file {path}: key {first_key!r} has an empty shape {list(first)}")
        self.keys = set(shapes)

    def _safetensors_shapes(self) -> dict[str, tuple[int, ...]]:
        from safetensors import safe_open
        shapes = {}
        try:
            with safe_open(str(self.path), framework="pt") as f:
                for key in f.keys():
                    sl = f.get_slice(key)
                    if sl.get_dtype() not in FLOAT_DTYPES:
                        raise ValueError(f"image features file {self.path}: key {key!r} has dtype "
                                         f"{sl.get_dtype()}, expected a float type")
                    shapes[key] = tuple(sl.get_shape())
        except ValueError:
            raise
        except Exception as e:  # safetensors raises its own error type on a damaged header
            raise ValueError(f"image features file {self.path}: not a readable safetensors file ({e})") from None
        return shapes

    def _npz_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        try:
            with zipfile.ZipFile(self.path) as z:
                for member in z.namelist():
                    key = member[:-4] if member.endswith(".npy") else member
                    with z.open(member) as fh:
                        version = np.lib.format.read_magic(fh)
                        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                       else np.lib.format.read_array_header_2_0)
                        shape, _, dtype = read_header(fh)
                    if dtype.kind != "f":
                        raise ValueError(f"image features file {self.path}: key {key!r} has dtype {dtype}, "
                                         f"expected a float type")
                    shapes[key] = tuple(shape)
        except zipfile.BadZipFile as e:
            raise ValueError(f"image features file {self.path}: not a readable npz file ({e})") from None
        return shapes

    def has(self, img_id: str) -> bool:
        return img_id in self.keys

    def _lookup(self, img_ids):
        wanted = [i for i in img_ids if i in self.keys]
        got: dict[str, torch.Tensor] = {}
        if wanted and self.path.suffix.lower() == ".safetensors":
            from safetensors import safe_open
            with safe_open(str(self.path), framework="pt") as f:  # memory-mapped: reads only these tensors
                got = {k: f.get_tensor(k) for k in set(wanted)}
        elif wanted:
            with np.load(self.path, allow_pickle=False) as z:
                got = {k: torch.from_numpy(np.asarray(z[k])) for k in set(wanted)}
        return [got[i].float().reshape(self.regions, self.dim) if i in got else None for i in img_ids]


class EncoderSource(ImageSource):
    """Encodes images from a folder when first asked for them and keeps the result (or the miss) in memory."""

    def __init__(self, encoder: ImageEncoder, image_dir: str | Path, batch_size: int = 32):
        if not Path(image_dir).is_dir():
            raise FileNotFoundError(f"image folder {image_dir} (data.image_dir) does not exist")
        self.encoder, self.image_dir, self.batch_size = encoder, Path(image_dir), batch_size
        self.dim, self.regions = encoder.dim, encoder.regions
        self.cache: dict[str, torch.Tensor | None] = {}
        self.unreadable: dict[str, str] = {}  # img_id -> reason, for whoever wants to report them

    def has(self, img_id: str) -> bool:
        try:
            return image_path(self.image_dir, img_id).is_file()
        except ImageReadError:
            return False

    def _lookup(self, img_ids):
        todo = [i for i in dict.fromkeys(img_ids) if i not in self.cache]
        for start in range(0, len(todo), self.batch_size):
            ids, images = [], []
            for img_id in todo[start: start + self.batch_size]:
                try:
                    images.append(read_image(image_path(self.image_dir, img_id), name=img_id))
                    ids.append(img_id)
                except ImageReadError as e:
                    self.cache[img_id], self.unreadable[img_id] = None, str(e)
            for img_id, vec in zip(ids, self.encoder.encode(images)):
                self.cache[img_id] = vec
        return [self.cache[i] for i in img_ids]


def get_image_source(spec: str, image_dir: str = "", device: str = "cpu") -> ImageSource | None:
    """`none` -> None; `features:<file>` -> FeatureFile; `encoder:<name>[:regions]` -> EncoderSource over image_dir."""
    if spec in ("", "none"):
        return None
    if spec.startswith("features:"):
        return FeatureFile(spec[len("features:"):])
    if spec.startswith("encoder:"):
        if not image_dir:
            raise ValueError(f"data.image={spec} needs data.image_dir, the folder holding the images")
        return EncoderSource(load_encoder(spec, device=device), image_dir)
    raise ValueError(f"data.image must be none, features:<file> or encoder:<name>, got {spec!r}")


# ---- precomputation: python -m shapca.data images ------------------------------------------------------------
def main_images(args: argparse.Namespace | list[str] | None = None) -> int:
    """Encode every image of --images with --encoder into one safetensors file, written atomically.

    An unreadable image is reported and counted, not fatal. Returns the process exit code.
    """
    if not isinstance(args, argparse.Namespace):
        args = add_images_arguments(argparse.ArgumentParser(prog="python -m shapca.data images")).parse_args(args)
    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":
        print(f"error: --out {out}: the features file must end in .safetensors", file=sys.stderr)
        return 2
    batch_size = int(getattr(args, "batch_size", 32) or 32)
    files, others = list_image_files(args.images)
    if not files:
        print(f"error: no image files ({' '.join(IMAGE_EXTENSIONS)}) under {args.images}", file=sys.stderr)
        return 2
    encoder = load_encoder(args.encoder, device=getattr(args, "device", "cpu") or "cpu")
    name, pooled = parse_encoder_spec(args.encoder)
    print(f"encoding {len(files)} images from {args.images} with {name} "
          f"({'pooled' if pooled else 'regions'}: {encoder.regions} x {encoder.dim})"
          + (f"; {others} non-image files ignored" if others else ""), file=sys.stderr, flush=True)
    progress = Progress(len(files), label="images")
    tensors: dict[str, torch.Tensor] = {}
    unreadable: list[str] = []
    ids = list(files)
    t0 = time.monotonic()
    for start in range(0, len(ids), batch_size):
        batch_ids, images = [], []
        for img_id in ids[start: start + batch_size]:
            try:
                images.append(read_image(files[img_id], name=img_id))
                batch_ids.append(img_id)
            except ImageReadError as e:
                unreadable.append(img_id)
                print(f"unreadable image: {e}", file=sys.stderr, flush=True)
        for img_id, vec in zip(batch_ids, encoder.encode(images)):
            tensors[img_id] = (vec[0] if pooled else vec).clone()
        progress.update(done=len(batch_ids), failed=len(ids[start: start + batch_size]) - len(batch_ids))
    if not tensors:
        print(f"error: none of the {len(files)} images under {args.images} could be read", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
    from safetensors.torch import save_file
    meta = {"encoder": name, "pooled": str(pooled).lower(), "regions": str(encoder.regions),
            "dim": str(encoder.dim), "images": str(len(tensors)), "unreadable": str(len(unreadable))}
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {out}: {len(tensors)} images ({encoder.regions} x {encoder.dim}), {len(unreadable)} unreadable, "
          f"{time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    return 0
