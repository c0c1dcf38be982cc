"""bf16 where the device computes it natively, float32 elsewhere; what needs float32 stays float32 under autocast."""
import pytest
import torch

from shapca import precision
from shapca.config import Config
from shapca.crf import CRF
from shapca.heads import RelationHead, TaggingHead
from shapca.losses import alignment_loss


@pytest.fixture
def fake_cpu(monkeypatch):
    """Make the CPU report (or not) native bf16, as PyTorch's own checks would."""
    def fake(native: bool):
        for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
            monkeypatch.setattr(torch.cpu, name, lambda native=native: native, raising=False)
    return fake


@pytest.mark.parametrize("native,expected", [(True, "bf16"), (False, "none")])
def test_auto_follows_the_cpu(fake_cpu, native, expected):
    fake_cpu(native)
    assert precision.resolve_amp("auto", "cpu") == expected


def test_auto_follows_the_cuda_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for native, expected in ((True, "bf16"), (False, "none")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True, n=native: n)
        assert precision.resolve_amp("auto", "cuda") == expected


def test_without_pytorch_checks_the_os_flags_decide(monkeypatch):
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    assert precision.native_bf16("cpu")
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert not precision.native_bf16("cpu")


@pytest.mark.parametrize("amp", ["bf16", "none"])
def test_an_explicit_precision_is_kept(fake_cpu, amp):
    fake_cpu(amp == "none")  # the opposite of what auto would choose
    assert precision.resolve_amp(amp, "cpu") == amp


def test_an_unresolved_precision_cannot_compute():
    with pytest.raises(ValueError, match="must be resolved"):
        precision.autocast("auto", "cpu")


def under_bf16():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_the_alignment_loss_is_float32_under_autocast():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(8, 16, generator=gen), torch.randn(8, 16, generator=gen)
    with under_bf16():
        half_a, half_b = torch.nn.functional.linear(a, torch.eye(16)), torch.nn.functional.linear(b, torch.eye(16))
        assert half_a.dtype == torch.bfloat16  # autocast is on: products come out in bf16
        loss = alignment_loss(half_a, half_b, "shapley", estimator="closed_form")
    assert loss.dtype == torch.float32
    # the scores, Shapley values and logits were computed in float32 from the bf16 inputs, not in bf16
    expected = alignment_loss(half_a.float(), half_b.float(), "shapley", estimator="closed_form")
    torch.testing.assert_close(loss, expected, rtol=0, atol=0)


def test_the_heads_scores_and_the_crf_are_float32_under_autocast():
    torch.manual_seed(0)
    tagger = TaggingHead(16, ["PER", "LOC"], crf=True, dropout=0.0)
    words, mask = torch.randn(2, 5, 16), torch.ones(2, 5, dtype=torch.bool)
    tags = torch.zeros(2, 5, dtype=torch.long)
    with under_bf16():
        assert tagger.emit(words).dtype == torch.bfloat16
        assert tagger.emissions(words).dtype == torch.float32
        nll = tagger.loss(words, tags, mask)
        assert RelationHead(16, ["None", "r"], 0.0).logits(torch.randn(2, 5, 16), torch.tensor([[0, 1], [2, 3]])
                                                           ).dtype == torch.float32
    assert nll.dtype == torch.float32
    crf = CRF(3)
    with under_bf16():
        assert crf.neg_log_likelihood(torch.randn(2, 4, 3), torch.zeros(2, 4, dtype=torch.long),
                                      torch.ones(2, 4, dtype=torch.bool)).dtype == torch.float32


@pytest.mark.parametrize("native,expected", [(True, "bf16"), (False, "none")])
def test_a_direct_run_resolves_its_precision_for_its_device(fake_cpu, native, expected):
    from shapca.features import collate
    from shapca.trainer import Trainer

    fake_cpu(native)
    cfg = Config().update({"data.limit_train": 4, "data.limit_eval": 2, "train.device": "cpu"})
    trainer = Trainer(cfg, log=lambda *a, **k: None)
    assert trainer.cfg.train.amp == expected
    assert trainer.state()["config_hash"] == Config().update({"data.limit_train": 4, "data.limit_eval": 2,
                                                               "train.amp": expected}).hash()
    # the encoder's products run in the resolved precision when the trainer takes a step
    seen = []
    first_linear = next(m for m in trainer.model.encoder.modules() if isinstance(m, torch.nn.Linear))
    first_linear.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    examples = trainer.prep.examples["train"][:2]
    trainer.train_step(collate(trainer.prep.encoded["train"][:2], trainer.prep.tokenizer.pad_token_id), examples, 0)
    assert seen and set(seen) == {torch.bfloat16 if expected == "bf16" else torch.float32}
