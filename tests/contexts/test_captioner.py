"""Loading captioners and prompting them: image-to-text (VisionEncoderDecoder) and a chat LMM (LLaVA)."""
import pytest
import torch
from transformers import BertConfig, BertModel

from shapca.captioning import Captioner, GenerationSettings, ModelLoadError, check_model
from shapca.data.image_files import read_image


@pytest.fixture(scope="module")
def images(shared_photos):
    return [read_image(shared_photos / n) for n in ("astronaut.jpg", "coffee.jpg", "chelsea.jpg")]


def test_image_to_text_model_captions_each_image(tiny_ved, images):
    s = GenerationSettings(model=str(tiny_ved), prompt="", max_new_tokens=5)
    assert check_model(s) == "image-only"
    cap = Captioner(s, device="cpu")
    texts = cap.generate(images)
    assert len(texts) == 3 and all(isinstance(t, str) and t for t in texts)
    assert all(len(cap.tokenizer(t, add_special_tokens=False)["input_ids"]) <= 5 for t in texts)
    assert cap.calls == 3
    assert cap.generate(images[:1]) == texts[:1]  # greedy decoding: the same image gives the same text


def test_image_only_model_refuses_a_prompt_naming_it(tiny_ved):
    with pytest.raises(ValueError, match=f"{tiny_ved.name}.*images only"):
        check_model(GenerationSettings(model=str(tiny_ved), prompt="Describe the image."))


def test_chat_model_gets_the_prompt_through_its_template_and_returns_only_new_text(tiny_llava, images):
    s = GenerationSettings(model=str(tiny_llava), prompt="Describe the image.", max_new_tokens=6)
    assert check_model(s) == "chat"
    cap = Captioner(s, device="cpu")
    texts = cap.generate(images)
    # the same batch by hand: template -> processor -> generate -> cut the prompt off
    proc = cap.processor
    turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": s.prompt}]}]
    text = proc.apply_chat_template(turn, add_generation_prompt=True)
    assert "Describe the image." in text and text.rstrip().endswith("assistant:")
    inputs = proc(images=images, text=[text] * 3, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = cap.model.generate(**inputs, max_new_tokens=6, do_sample=False)
    expected = [t.strip() for t in proc.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)]
    assert texts == expected
    assert all("describe" not in t.split()[:3] for t in texts)  # the prompt is not echoed back
    assert len(set(texts)) > 1  # different photos, different texts (the vision tower matters)


def test_sampling_is_reproducible_from_the_seed(tiny_llava, images):
    a = Captioner(GenerationSettings(model=str(tiny_llava), prompt="Hi", max_new_tokens=6, do_sample=True,
                                     temperature=1.5, seed=7), device="cpu")
    first = a.generate(images)
    assert a.generate(images) == first
    b = Captioner(GenerationSettings(model=str(tiny_llava), prompt="Hi", max_new_tokens=6, do_sample=True,
                                     temperature=1.5, seed=8), device="cpu")
    assert b.generate(images) != first


def test_missing_model_fails_naming_it(tmp_path):
    missing = str(tmp_path / "no_such_lmm")
    with pytest.raises(ModelLoadError, match="no_such_lmm"):
        check_model(GenerationSettings(model=missing, prompt="x"))
    with pytest.raises(ModelLoadError, match="no_such_lmm"):
        Captioner(GenerationSettings(model=missing, prompt="x"), device="cpu")


def test_text_only_model_is_refused_naming_it(tmp_path):
    folder = tmp_path / "just_bert"
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         vocab_size=100)).save_pretrained(folder)
    with pytest.raises(ModelLoadError, match="just_bert.*not an image-text-to-text"):
        check_model(GenerationSettings(model=str(folder), prompt="x"))


def test_settings_are_checked():
    with pytest.raises(ValueError, match="max_new_tokens"):
        GenerationSettings(model="m", prompt="p", max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        GenerationSettings(model="m", prompt="p", do_sample=True, temperature=0)
    assert GenerationSettings(model="m", prompt="p").identity()["do_sample"] is False
