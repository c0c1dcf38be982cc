"""The assembled model and the single-process trainer, on small slices of the real data."""
import math

import pytest
import torch

from shapca.config import Config
from shapca.features import collate
from shapca.prepare import prepare
from shapca import trainer as trainer_module
from shapca.trainer import Callback, NonFiniteLoss, Trainer, fit

QUIET = dict(log=lambda *a, **k: None)


def small(dataset="twitter2017", context="blip2", **over) -> Config:
    cfg = Config()
    cfg.update({"data.dataset": dataset, "data.context": context, "data.limit_train": 16, "data.limit_eval": 8,
                "data.max_len": 64, "data.context_max_len": 24, "train.epochs": 1, "train.batch_size": 8,
                "train.eval_batch_size": 8, **over})
    return cfg


@pytest.fixture(scope="module")
def prep_joint():
    return prepare(small(), **QUIET)


@pytest.fixture(scope="module")
def prep_separate():
    return prepare(small(**{"model.encode_context": "separate"}), **QUIET)


def first_batch_loss(cfg: Config, prep, seed_step: int = 0) -> tuple[torch.Tensor, dict, Trainer]:
    tr = Trainer(cfg, prep=prep, **QUIET)
    tr.net.train()
    torch.manual_seed(0)
    enc, exs = prep.encoded["train"][:8], prep.examples["train"][:8]
    batch = collate(enc, prep.tokenizer.pad_token_id)
    loss, terms = tr.batch_loss(batch, exs, torch.Generator().manual_seed(seed_step))
    terms.pop("task")  # the alignment terms alone
    return loss, terms, tr


SWITCHES = [
    ("model.fusion_gate", "scalar"), ("model.fusion_gate", "vector"), ("model.fusion_gate", "none"),
    ("model.fusion", False), ("model.crf", False), ("align.alignment", "infonce"), ("align.alignment", "none"),
    ("align.context_text", 0.5), ("align.tau", 0.5), ("shapley.samples", 2), ("shapley.value", "logsumexp"),
    ("shapley.estimator", "closed_form"), ("shapley.antithetic", True), ("align.both_directions", False),
]


@pytest.mark.parametrize("key,value", SWITCHES)
def test_every_switch_changes_the_computation(prep_separate, key, value):
    # on the Monte Carlo estimator, so that its own switches (samples, antithetic) have something to change
    base = small(**{"model.encode_context": "separate", "shapley.estimator": "permutation"})
    ref, _, _ = first_batch_loss(base, prep_separate)
    changed, _, _ = first_batch_loss(base.copy().update({key: value}), prep_separate)
    assert math.isfinite(float(changed))
    assert abs(float(changed) - float(ref)) > 1e-6, f"{key}={value} left the loss unchanged"


def test_encode_context_joint_differs_from_separate(prep_joint, prep_separate):
    joint, _, _ = first_batch_loss(small(), prep_joint)
    sep, _, _ = first_batch_loss(small(**{"model.encode_context": "separate"}), prep_separate)
    assert abs(float(joint) - float(sep)) > 1e-6
    assert prep_joint.encoded["train"][0].input_ids != prep_separate.encoded["train"][0].input_ids


@pytest.mark.parametrize("alignment", ["shapley", "infonce"])
def test_alignment_gradient_reaches_the_encoder(prep_separate, alignment):
    cfg = small(**{"model.encode_context": "separate", "align.alignment": alignment})
    _, terms, tr = first_batch_loss(cfg, prep_separate)
    assert set(terms) == {"align_context_text"}
    terms["align_context_text"].backward()
    grads = [p.grad for p in tr.model.encoder.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0


def test_text_only_turns_every_context_part_off():
    cfg = small(context="none")
    prep = prepare(cfg, **QUIET)
    _, terms, tr = first_batch_loss(cfg, prep)
    assert terms == {}
    assert tr.model.active["context"] is False and tr.model.active["alignment"] == "off"
    assert tr.model.fusion is None


class Keep(Callback):
    def __init__(self):
        self.states = []

    def on_epoch_end(self, record, checkpoint):
        self.states.append(checkpoint())


def test_resume_from_checkpoint_equals_an_uninterrupted_run():
    cfg = small(**{"train.epochs": 2, "data.limit_train": 12, "train.batch_size": 4})
    prep = prepare(cfg, **QUIET)
    keep = Keep()
    straight = Trainer(cfg, prep=prep, **QUIET).fit((keep,))
    resumed_trainer = Trainer(cfg, prep=prep, **QUIET)
    resumed_trainer.load_state(keep.states[0])  # as if the run had died after epoch 1
    resumed = resumed_trainer.fit()
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    assert resumed.best["dev_f1"] == straight.best["dev_f1"]
    a, b = keep.states[-1]["model"], resumed_trainer.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_injected_failure_fires_once_and_not_after_resume():
    cfg = small(**{"train.epochs": 2, "train.fail_at_epoch": 2})
    keep = Keep()
    with pytest.raises(RuntimeError, match="injected failure"):
        fit(cfg, callbacks=(keep,), **QUIET)
    result = fit(cfg, resume=keep.states[0], **QUIET)
    assert [r["epoch"] for r in result.history] == [1, 2]


@pytest.mark.parametrize("dataset,context", [("twitter2015", "blip2"), ("twitter2017", "chatgpt"),
                                             ("mnre", "llava_next"), ("jmere", "qwen_vl")])
def test_short_real_run_on_each_dataset(dataset, context):
    result = fit(small(dataset, context), **QUIET)
    rec = result.history[0]
    assert math.isfinite(rec["train_loss"]) and rec["train_loss"] > 0
    for split in ("dev", "test"):
        assert 0.0 <= rec[f"{split}_f1"] <= 1.0
    assert len(result.predictions) == 8
    assert all(set(r) >= {"id", "tokens", "tp", "fp", "fn", "gold", "pred"} for r in result.predictions)
    assert all(r["tokens"] and all(isinstance(w, str) for w in r["tokens"]) for r in result.predictions)
    if dataset in ("twitter2015", "twitter2017"):
        assert all(len(r["tokens"]) == len(r["gold"]) == len(r["pred"]) for r in result.predictions)
    if dataset == "mnre":
        assert all({"head", "tail"} <= set(r) for r in result.predictions)


def test_measuring_the_gradient_shares_leaves_training_unchanged(prep_joint):
    def history(every: int) -> list[dict]:
        cfg = small(**{"train.epochs": 2, "train.grad_share_every": every, "train.batch_size": 4})
        return Trainer(cfg, prep=prep_joint, **QUIET).fit().history

    measured, plain = history(1), history(0)
    drop = lambda h: {k: v for k, v in h.items() if not k.startswith("grad_") and not k.endswith("_s")}  # noqa: E731
    assert [drop(h) for h in measured] == [drop(h) for h in plain]  # every loss and score, to the last bit
    for epoch in measured:
        shares = {k: v for k, v in epoch.items() if k.startswith("grad_share_")}
        assert set(shares) == {"grad_share_task", "grad_share_align_context_text"}
        assert math.isclose(sum(shares.values()), 1.0, rel_tol=1e-9)
        assert 0 < shares["grad_share_align_context_text"] < 1 and epoch["grad_norm_task"] > 0
    assert not any(k.startswith("grad_") for k in plain[0])


def test_a_term_weighted_out_has_no_share(prep_joint):
    cfg = small(**{"align.context_text": 0.0, "train.grad_share_every": 1})
    epoch = Trainer(cfg, prep=prep_joint, **QUIET).fit().history[0]
    assert {k for k in epoch if k.startswith("grad_share_")} == {"grad_share_task"}


def test_a_loss_that_becomes_nan_fails_the_run_naming_the_epoch_and_step(prep_joint, monkeypatch):
    """Without the check the run went on with NaN weights and ended as if finished, with F1 0. The check is read
    every FINITE_CHECK_EVERY steps (here 2), yet names the first bad step. The steps are stand-ins: the check is
    the loop's, whatever made the loss NaN."""
    monkeypatch.setattr(trainer_module, "FINITE_CHECK_EVERY", 2)
    tr = Trainer(small(**{"train.batch_size": 4, "train.epochs": 2}), prep=prep_joint, **QUIET)  # 4 steps an epoch
    steps = []

    def step(batch, examples, global_step, measure=False):
        steps.append(global_step)
        loss = torch.tensor(float("nan") if global_step == 6 else 1.0)
        return loss, {"task": loss}, None

    tr.train_step = step
    tr.evaluate = lambda split: ({"f1": 0.5, "precision": 0.5, "recall": 0.5}, [])
    with pytest.raises(NonFiniteLoss, match=r"not finite from epoch 2, step 3 of 4 \(global step 7; .*loss nan"):
        tr.fit()
    assert len(tr.history) == 1  # the first epoch was kept; nothing of the second was reported
    assert steps == list(range(8))  # the bad step was noticed at the next read, after the step that followed it
