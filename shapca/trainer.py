"""The single-process training loop: seeded, dev-based model selection, test at the best dev epoch, resumable.

Distribution is supplied from outside (`Distributed`: rank, world size, a model wrapper such as DDP, the device),
and so is reporting (`Callback`): the Ray layer wraps this loop without the method code knowing about Ray.
Resuming from a checkpoint continues to the same result as an uninterrupted run: the data order of each epoch
and the Shapley permutations of each step come from seeds, and the RNG states are restored.
"""
from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from shapca.batching import epoch_order, evaluation_order, sequence_length
from shapca.config import Config
from shapca.features import collate
from shapca.model import ShapCA
from shapca.precision import autocast, native_bf16, resolve_amp
from shapca.prepare import Prepared, prepare
from shapca.tasks import predict, score, task_loss


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite: every later step would train on it, and the run would end with F1 0
    as if it had finished."""


# steps between two reads of the non-finite check (a read waits for the accelerator; the check itself does not)
FINITE_CHECK_EVERY = 50


class Callback:
    """Hooks for the layer above. `checkpoint()` builds the full training state only when asked for (a copy;
    `checkpoint(copy_tensors=False)` for a caller that serialises it before returning)."""

    def on_start(self, info: dict) -> None: ...

    def on_epoch_end(self, record: dict, checkpoint: Callable[[], dict]) -> None: ...


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    wrap: Callable = staticmethod(lambda m: m)  # e.g. DDP; must keep `.module` or be the model itself
    device: str | None = None


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=dict)
    predictions: list[dict] = field(default_factory=list)  # per test example at the best dev epoch
    active: dict = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _numpy_state() -> tuple:
    """numpy's RNG state as plain values, so a checkpoint loads with torch.load(weights_only=True)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return name, keys.tolist(), int(pos), int(has_gauss), float(cached)


def pick_device(cfg: Config, dist: Distributed) -> torch.device:
    if dist.device:
        return torch.device(dist.device)
    if cfg.train.device == "cuda" or (cfg.train.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def _to(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def _schedule(total: int, warmup: float):
    warm = max(1, int(total * warmup))
    return lambda step: (step + 1) / warm if step < warm else max(0.0, (total - step) / max(1, total - warm))


class Trainer:
    def __init__(self, cfg: Config, prep: Prepared | None = None, dist: Distributed | None = None, log=print):
        self.cfg, self.dist, self.log = cfg, dist or Distributed(), log
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        seed_everything(cfg.train.seed)
        self.prep = prep or prepare(cfg, log=log)
        self.device = pick_device(cfg, self.dist)
        # a planned trial comes with its precision resolved (it is part of its identity); a direct run resolves here
        cfg.train.amp = resolve_amp(cfg.train.amp, self.device.type)
        if cfg.train.amp == "bf16" and not native_bf16(self.device.type):
            log(f"warning: train.amp=bf16 on a {self.device.type} without native bf16: it computes as configured, "
                f"more slowly than float32")
        src = self.prep.image_source
        self.model = ShapCA(cfg, self.prep.task, self.prep.types, self.prep.relations,
                            src.dim if src is not None else None).to(self.device)
        self.net = self.dist.wrap(self.model)
        enc = {id(p) for p in self.model.encoder_params()}
        t = cfg.train
        groups = [{"params": [p for p in self.model.parameters() if id(p) in enc], "lr": t.lr},
                  {"params": [p for p in self.model.parameters() if id(p) not in enc], "lr": t.head_lr}]
        # fused: one pass over each parameter per step, on CUDA and on CPU (4x faster there than the foreach AdamW:
        # its 22M MiniLM parameters took a sixth of a bf16 step; `python benchmarks/train_step.py`)
        self.opt = torch.optim.AdamW(groups, weight_decay=t.weight_decay, fused=True)
        self.lengths = {split: [sequence_length(e) for e in enc] for split, enc in self.prep.encoded.items()}
        self.per_rank = max(1, t.batch_size // self.dist.world)
        self.steps_per_epoch = math.ceil(len(self.prep.encoded["train"]) / (self.per_rank * self.dist.world))
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, _schedule(self.steps_per_epoch * t.epochs, t.warmup))
        self.epoch, self.history, self.best, self.predictions = 0, [], {}, []
        self.resumed = False

    # ---- state --------------------------------------------------------------------------------------------
    def state(self, copy_tensors: bool = True) -> dict:
        """The full training state. Copied by default, so that it does not change when training goes on; a caller
        that serialises it at once (a checkpoint writer) passes copy_tensors=False and saves the copy's time."""
        keep = copy.deepcopy if copy_tensors else (lambda x: x)
        return {"model": keep(self.model.state_dict()), "opt": keep(self.opt.state_dict()),
                "sched": self.sched.state_dict(), "epoch": self.epoch, "history": copy.deepcopy(self.history),
                "best": dict(self.best), "predictions": list(self.predictions),
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": _numpy_state()},
                "config_hash": self.cfg.hash()}

    def load_state(self, st: dict) -> None:
        if st.get("config_hash") not in (None, self.cfg.hash()):
            raise ValueError(f"checkpoint belongs to config {st['config_hash']}, not {self.cfg.hash()}")
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["opt"])
        self.sched.load_state_dict(st["sched"])
        self.epoch, self.history, self.best = st["epoch"], st["history"], st["best"]
        self.predictions = st["predictions"]
        self.resumed = True
        torch.set_rng_state(st["rng"]["torch"])
        random.setstate(st["rng"]["python"])
        name, keys, pos, has_gauss, cached = st["rng"]["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))

    # ---- loop ---------------------------------------------------------------------------------------------
    def batch_order(self, epoch: int) -> list[int]:
        """This rank's training examples of an epoch in batch order (length-bucketed unless the pool is 0)."""
        t = self.cfg.train
        return epoch_order(self.lengths["train"], t.seed, epoch, self.per_rank, self.dist.world, self.dist.rank,
                           t.length_bucket_pool)

    def _images(self, examples):
        if self.prep.image_source is None:
            return None, None
        feats, present = self.prep.image_source.features([e.img_id for e in examples])
        return feats.to(self.device), present.to(self.device)

    def _autocast(self):
        return autocast(self.cfg.train.amp, self.device.type)

    def batch_loss(self, batch: dict, examples: list, generator=None) -> tuple[torch.Tensor, dict]:
        """The training loss of one batch: the task loss plus each alignment term at its weight; and each term."""
        img, present = self._images(examples)
        with self._autocast():
            out = self.net(batch, img, present, generator)
            terms = {"task": task_loss(self.model, out, batch, examples), **out["terms"]}
            loss = sum(self._weight(name) * value for name, value in terms.items())
        return loss, terms

    def _weight(self, term: str) -> float:
        return self.model.term_weights.get(term, 1.0)

    def train_step(self, batch: dict, examples: list, step: int,
                   measure: bool = False) -> tuple[torch.Tensor, dict, dict | None]:
        """One optimisation step, as training takes it: the loss, backward, gradient clipping, AdamW and the
        learning-rate schedule. `step` is the global step, which seeds the step's Shapley permutations. Returns the
        loss and each term (not detached; the caller reads them when it needs to), and with `measure` the encoder
        gradient norm of each weighted term (gradient_norms), else None."""
        self.net.train()
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed * 7919 + step)
        loss, terms = self.batch_loss(_to(batch, self.device), examples, gen)
        norms = self.gradient_norms(terms) if measure else None
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.train.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.opt.step()
        self.sched.step()
        return loss, terms, norms

    def gradient_norms(self, terms: dict) -> dict[str, float]:
        """The norm of each weighted loss term's gradient in the encoder's parameters: how much of the encoder's
        update each term drives (docs/tracking.md, `grad_share_*`). Taken with autograd.grad on the step's own graph
        before its backward: no gradient is accumulated and no random number drawn, so training is unchanged."""
        params = [p for p in self.model.encoder_params() if p.requires_grad]
        norms = {}
        for name, value in terms.items():
            if not value.requires_grad:
                continue
            grads = torch.autograd.grad(self._weight(name) * value, params, retain_graph=True, allow_unused=True)
            norms[name] = float(torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(g.float()) for g in grads if g is not None] or [value.new_zeros(())])))
        return norms

    def _measures_gradients(self, n_steps: int) -> bool:
        every = self.cfg.train.grad_share_every
        # autograd.grad bypasses DDP's gradient hooks, so data-parallel workers do not measure
        return bool(every) and self.dist.world == 1 and n_steps % every == 0

    def train_epoch(self, epoch: int, progress=None) -> dict:
        enc, exs = self.prep.encoded["train"], self.prep.examples["train"]
        pad = self.prep.tokenizer.pad_token_id
        order = self.batch_order(epoch)
        sums, n_steps, n_seen, busy, measured = {}, 0, 0, 0.0, []
        first_bad = torch.full((), -1, dtype=torch.long, device=self.device)  # the epoch's first non-finite step
        for s in range(0, len(order), self.per_rank):
            idx = order[s: s + self.per_rank]
            t0 = time.perf_counter()
            batch, examples = _to(collate([enc[i] for i in idx], pad), self.device), [exs[i] for i in idx]
            loss, terms, norms = self.train_step(batch, examples, epoch * self.steps_per_epoch + n_steps,
                                                 measure=self._measures_gradients(n_steps))
            busy += time.perf_counter() - t0
            if norms:
                measured.append(norms)
            # summed on the device (in double, as the Python floats were): a float() per step would wait for the
            # accelerator every step; the sums are read once per epoch
            for k, v in {"loss": loss, **terms}.items():
                sums[k] = sums.get(k, 0.0) + v.detach().double()
            # kept on the device as well, and read only every FINITE_CHECK_EVERY steps and at the end of the epoch
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), n_steps, first_bad)
            n_steps, n_seen = n_steps + 1, n_seen + len(idx)
            if n_steps % FINITE_CHECK_EVERY == 0:
                self._check_finite(first_bad, epoch, sums)
            if progress:
                progress(n_steps, loss.detach())  # read only when the bar draws
        if progress and hasattr(progress, "close"):
            progress.close()
        self._check_finite(first_bad, epoch, sums)
        rec = {f"loss_{k}" if k != "loss" else "train_loss": float(v) / max(1, n_steps) for k, v in sums.items()}
        rec.update(step_time_s=busy / max(1, n_steps), samples_per_s=n_seen * self.dist.world / max(busy, 1e-9))
        rec.update(gradient_shares(measured))
        return rec

    def _check_finite(self, first_bad: torch.Tensor, epoch: int, sums: dict) -> None:
        step = int(first_bad)
        if step < 0:
            return
        bad = ", ".join(f"{k} {float(v)}" for k, v in sums.items() if not math.isfinite(float(v)))
        t = self.cfg.train
        raise NonFiniteLoss(f"the training loss is not finite from epoch {epoch + 1}, step {step + 1} of "
                            f"{self.steps_per_epoch} (global step {epoch * self.steps_per_epoch + step + 1}; summed "
                            f"over the epoch so far: {bad}); lower train.lr ({t.lr:g}) or train.head_lr "
                            f"({t.head_lr:g}), or train in float32 (train.amp=none) if it trains in bf16")

    @torch.no_grad()
    def evaluate(self, split: str) -> tuple[dict, list[dict]]:
        self.model.eval()
        enc, exs = self.prep.encoded[split], self.prep.examples[split]
        bs, pad = self.cfg.train.eval_batch_size, self.prep.tokenizer.pad_token_id
        order = evaluation_order(self.lengths[split], by_length=self.cfg.train.length_bucket_pool > 0)
        preds = [None] * len(enc)
        for s in range(0, len(order), bs):
            idx = order[s: s + bs]
            batch, examples = _to(collate([enc[i] for i in idx], pad), self.device), [exs[i] for i in idx]
            img, present = self._images(examples)
            with self._autocast():
                out = self.model(batch, img, present)
                for i, p in zip(idx, predict(self.model, out, batch, examples)):
                    preds[i] = p
        return score(self.prep.task, exs, preds, self.prep.contexts.get(split))

    def fit(self, callbacks: tuple[Callback, ...] = (), progress_factory=None) -> FitResult:
        for cb in callbacks:
            cb.on_start({"active": self.model.active, "coverage": self.prep.coverage,
                         "steps_per_epoch": self.steps_per_epoch, "start_epoch": self.epoch})
        while self.epoch < self.cfg.train.epochs:
            epoch = self.epoch
            if self.cfg.train.fail_at_epoch == epoch + 1 and not self.resumed:
                # a test hook: the first attempt dies here; an attempt resumed from a checkpoint goes on
                raise RuntimeError(f"injected failure at epoch {epoch + 1} (train.fail_at_epoch)")
            t0 = time.perf_counter()
            progress = progress_factory(epoch, self.steps_per_epoch) if progress_factory else None
            rec = {"epoch": epoch + 1, **self.train_epoch(epoch, progress)}
            for split in ("dev", "test"):
                prf, rows = self.evaluate(split)
                rec.update({f"{split}_{k}": v for k, v in prf.items()})
                if split == "test":
                    test_rows = rows
            rec["epoch_time_s"] = time.perf_counter() - t0
            self.history.append(rec)
            if not self.best or rec["dev_f1"] > self.best["dev_f1"]:
                self.best, self.predictions = dict(rec), test_rows
            self.epoch = epoch + 1
            for cb in callbacks:
                cb.on_epoch_end(dict(rec, best_epoch=self.best["epoch"]), self.state)
        return FitResult(self.history, self.best, self.predictions, dict(self.model.active))


def gradient_shares(measured: list[dict[str, float]]) -> dict[str, float]:
    """Per loss term, over the measured steps of an epoch: the mean encoder gradient norm (`grad_norm_<term>`) and
    the mean share of the terms' summed norms (`grad_share_<term>`)."""
    if not measured:
        return {}
    out = {}
    for name in measured[0]:
        out[f"grad_norm_{name}"] = sum(m[name] for m in measured) / len(measured)
        out[f"grad_share_{name}"] = sum(m[name] / max(sum(m.values()), 1e-12) for m in measured) / len(measured)
    return out


def fit(cfg: Config, callbacks: tuple[Callback, ...] = (), resume: dict | None = None,
        dist: Distributed | None = None, log=print, progress_factory=None) -> FitResult:
    """Train and evaluate one config; `resume` is a state from `Callback.on_epoch_end`'s checkpoint()."""
    trainer = Trainer(cfg, dist=dist, log=log)
    if resume is not None:
        trainer.load_state(resume)
    return trainer.fit(callbacks, progress_factory)
