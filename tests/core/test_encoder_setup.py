"""Any Hugging Face encoder works by name or folder; the full preset trains BERT-base and says, offline, what to
use instead. The BERT here is built from a config (no hub), with a vocabulary made from the data's own words."""
import pytest
from transformers import BertConfig, BertModel, BertTokenizerFast

from ablations import run
from ablations.options import Options
from ablations.plan import make_plan
from ablations.study_file import load_study
from shapca import data
from shapca.config import Config
from shapca.model import EncoderUnavailable, check_encoder
from shapca.trainer import fit


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-bert")
    words = {w.lower() for e in data.load("twitter2017", "train")[:64] for w in e.tokens}
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(folder)
    return folder


def test_an_encoder_from_a_local_folder_trains(tiny_bert):
    cfg = Config().update({"model.encoder": str(tiny_bert), "data.context": "blip2", "data.limit_train": 16,
                           "data.limit_eval": 8, "data.max_len": 48, "data.context_max_len": 16, "train.epochs": 1,
                           "train.batch_size": 8, "model.fusion_heads": 2})
    result = fit(cfg, log=lambda *a, **k: None)
    assert result.history[0]["train_loss"] > 0 and 0.0 <= result.best["test_f1"] <= 1.0


def test_the_full_preset_trains_bert_base_unless_the_study_sets_an_encoder(tmp_path, capsys):
    for preset, encoder in (("full", "bert-base-uncased"), ("cpu", "minilm")):
        plan = make_plan(load_study("ablation"), Options(study="ablation", preset=preset))
        assert plan.encoders == [encoder]
    assert run.main(["--study", "ablation", "--dry-run", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]) == 0
    assert "encoder    bert-base-uncased" in capsys.readouterr().out


def test_offline_the_runner_refuses_bert_base_before_anything_runs_and_names_minilm(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderUnavailable, match="model.encoder=minilm"):
        check_encoder("bert-base-uncased")
    assert run.main(["--study", "main", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]) == 2
    assert "--set model.encoder=minilm" in capsys.readouterr().err
    assert not (tmp_path / "m.db").exists()  # refused before the store was opened


def test_a_local_folder_is_checked_without_transformers_and_a_wrong_one_is_refused(tiny_bert, tmp_path):
    check_encoder(str(tiny_bert))  # config.json names its model type
    check_encoder("minilm")
    (tmp_path / "config.json").write_text('{"hidden_size": 32}')
    with pytest.raises(EncoderUnavailable, match="names no model_type"):
        check_encoder(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(EncoderUnavailable, match=f"model.encoder={tmp_path}"):
        check_encoder(str(tmp_path))
