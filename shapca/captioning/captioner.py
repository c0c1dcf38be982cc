"""A Hugging Face image-text-to-text or image-to-text model that writes one context per image, in batches.

Everything loads through AutoModelForImageTextToText, whose mapping in transformers 5 covers both kinds: chat LMMs
(LLaVA, LLaVA-NeXT, Qwen2-VL, InstructBLIP, ...) and captioners (BLIP, GIT, VisionEncoderDecoder such as ViT-GPT2).
How the prompt reaches the model depends on what the checkpoint ships:
- chat:       a processor with a chat template: one user turn [image, prompt], generation prompt appended;
- text:       a processor without a template (BLIP, GIT): the prompt is the text input (may be empty);
- image-only: no joint processor (VisionEncoderDecoder): images only, so the prompt must be empty.
Decoder-only models echo their input ids; those are cut off, so `text` is only what the model wrote.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from PIL import Image

IDENTITY_KEYS = ("model", "prompt", "max_new_tokens", "do_sample", "temperature", "top_p", "seed")


class ModelLoadError(RuntimeError):
    """The model (named in the message) cannot be loaded or cannot caption images."""


@dataclass(frozen=True)
class GenerationSettings:
    model: str  # hub name or local path
    prompt: str
    max_new_tokens: int = 64
    do_sample: bool = False  # greedy by default: a context set is reproducible from its settings
    temperature: float = 1.0  # only with do_sample
    top_p: float = 1.0  # only with do_sample
    seed: int = 0
    trust_remote_code: bool = False

    def __post_init__(self):
        if self.max_new_tokens <= 0:
            raise ValueError(f"max_new_tokens must be positive, got {self.max_new_tokens}")
        if self.do_sample and not (self.temperature > 0 and 0 < self.top_p <= 1):
            raise ValueError(f"sampling needs temperature > 0 and 0 < top_p <= 1, got {self.temperature}, "
                             f"{self.top_p}")

    def to_dict(self) -> dict:
        return asdict(self)

    def identity(self) -> dict:
        """What decides the texts: a resumed job must match these exactly."""
        return {k: getattr(self, k) for k in IDENTITY_KEYS}


def _load_processor(settings: GenerationSettings):
    """(mode, processor, image_processor, tokenizer) as described in the module docstring."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer, ProcessorMixin
    name, remote = settings.model, settings.trust_remote_code
    try:
        proc = AutoProcessor.from_pretrained(name, trust_remote_code=remote)
        if isinstance(proc, ProcessorMixin) and getattr(proc, "image_processor", None) is not None:
            template = getattr(proc, "chat_template", None) or getattr(
                getattr(proc, "tokenizer", None), "chat_template", None)
            return ("chat" if template else "text"), proc, proc.image_processor, getattr(proc, "tokenizer", None)
        # AutoProcessor fell back to a lone tokenizer or image processor: load both halves separately.
        image_processor = AutoImageProcessor.from_pretrained(name, trust_remote_code=remote)
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=remote)
        return "image-only", None, image_processor, tokenizer
    except Exception as e:  # whatever transformers raised, the user must learn which model failed
        raise ModelLoadError(f"model {name!r}: cannot load its processor/tokenizer ({type(e).__name__}: {e})") from None


def check_model(settings: GenerationSettings) -> str:
    """Cheap check before any work (config and processor, no weights): returns the prompt mode or raises."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
    name = settings.model
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=settings.trust_remote_code)
    except Exception as e:
        raise ModelLoadError(f"model {name!r}: cannot load its config ({type(e).__name__}: {e})") from None
    remote = "AutoModelForImageTextToText" in (getattr(config, "auto_map", None) or {})
    if config.model_type not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES and not remote:
        raise ModelLoadError(f"model {name!r} (model_type {config.model_type!r}) is not an image-text-to-text or "
                             f"image-to-text model (AutoModelForImageTextToText cannot load it)")
    mode = _load_processor(settings)[0]
    _check_prompt(mode, settings)
    return mode


def _check_prompt(mode: str, settings: GenerationSettings) -> None:
    if mode == "image-only" and settings.prompt:
        raise ValueError(f"model {settings.model!r} takes images only (no processor with a text input), so a "
                         f"prompt cannot reach it; run it with --prompt ''")


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, got {dtype!r}") from None


class Captioner:
    """The loaded model; `generate(images)` returns one stripped text per image."""

    def __init__(self, settings: GenerationSettings, device: str = "auto", dtype: str = "auto"):
        from transformers import AutoModelForImageTextToText
        self.settings = settings
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.mode, self.processor, self.image_processor, self.tokenizer = _load_processor(settings)
        _check_prompt(self.mode, settings)
        try:
            model = AutoModelForImageTextToText.from_pretrained(
                settings.model, dtype=self.dtype, trust_remote_code=settings.trust_remote_code)
        except Exception as e:
            raise ModelLoadError(f"model {settings.model!r}: cannot load its weights "
                                 f"({type(e).__name__}: {e})") from None
        self.model = model.to(self.device).eval()
        if self.tokenizer is not None and not getattr(self.model.config, "is_encoder_decoder", False):
            # batched generation with a decoder-only LM needs the padding on the left
            self.tokenizer.padding_side = "left"
        self.calls = 0  # images passed to the model, for progress and tests

    def describe(self) -> dict:
        return {"model": self.settings.model, "mode": self.mode, "device": str(self.device),
                "dtype": str(self.dtype).removeprefix("torch."), "class": type(self.model).__name__}

    def _inputs(self, images: list[Image.Image]) -> dict:
        prompt = self.settings.prompt
        if self.mode == "chat":
            turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
            text = self.processor.apply_chat_template(turn, add_generation_prompt=True)
            batch = self.processor(images=images, text=[text] * len(images), padding=True, return_tensors="pt")
        elif self.mode == "text" and prompt:
            batch = self.processor(images=images, text=[prompt] * len(images), padding=True, return_tensors="pt")
        elif self.mode == "text":
            batch = self.processor(images=images, return_tensors="pt")
        else:
            batch = self.image_processor(images=images, return_tensors="pt")
        return {k: (v.to(self.device, self.dtype) if torch.is_floating_point(v) else v.to(self.device))
                if torch.is_tensor(v) else v for k, v in batch.items()}

    @torch.inference_mode()
    def generate(self, images: list[Image.Image]) -> list[str]:
        if not images:
            return []
        s = self.settings
        inputs = self._inputs(images)
        kwargs = {"max_new_tokens": s.max_new_tokens, "do_sample": s.do_sample}
        if s.do_sample:
            kwargs.update(temperature=s.temperature, top_p=s.top_p)
            torch.manual_seed(s.seed)  # reproducible for the same batches
        out = self.model.generate(**inputs, **kwargs)
        prompt_ids = inputs.get("input_ids")
        if prompt_ids is not None and out.shape[1] >= prompt_ids.shape[1] \
                and torch.equal(out[:, : prompt_ids.shape[1]], prompt_ids):
            out = out[:, prompt_ids.shape[1]:]  # decoder-only models return the prompt too
        decoder = self.processor if self.processor is not None else self.tokenizer
        self.calls += len(images)
        return [t.strip() for t in decoder.batch_decode(out, skip_special_tokens=True)]


def load_captioner(settings: GenerationSettings, device: str = "auto", dtype: str = "auto") -> Captioner:
    return Captioner(settings, device=device, dtype=dtype)
