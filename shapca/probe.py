"""A check of the context-text alignment: can it be solved without any match in meaning?

Pairs (text, context) are encoded by the model's frozen encoder into the alignment's pooled views; only the two
alignment projections are trained, on the Shapley contrastive loss. Then, on held-out pairs in batches of
`batch` pairs, the probe reports how often each text's matched context gets the largest contribution (top-1
accuracy, chance 1/batch) and the held-out loss (log(batch) at chance).

With contexts drawn independently of their texts nothing can be learnt, so accuracy must stay near chance; where
it does not, the views leak which context was encoded with which text. `leaky=True` pools the views the way the
model did before the fix (joint states for both sides), to show the defect.
"""
from __future__ import annotations

import math

import torch

from shapca.config import Config
from shapca.features import collate, encode
from shapca.losses import alignment_loss
from shapca.model import ALIGN_DIM, ShapCA, masked_mean
from shapca.shapley import shapley_values


@torch.no_grad()
def pooled_views(model: ShapCA, tokenizer, examples, contexts, leaky: bool = False, chunk: int = 32):
    """[N, hidden] text and context vectors as the alignment reads them (or as it read them before, `leaky`)."""
    cfg = model.cfg
    enc = encode(examples, contexts, tokenizer, cfg.data.max_len, cfg.data.context_max_len, model.joint)
    model.eval()
    texts, ctxs = [], []
    for s in range(0, len(enc), chunk):
        batch = collate(enc[s: s + chunk], tokenizer.pad_token_id)
        states = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        alone = model.encoder(input_ids=batch["context_ids"], attention_mask=batch["context_mask"]).last_hidden_state
        if leaky:
            text = masked_mean(states, batch["text_mask"])
            ctx = (masked_mean(states, batch["joint_context_mask"]) if model.joint
                   else masked_mean(alone, batch["context_mask"]))
        else:
            text, ctx = model.alignment_views(batch, states, alone)
        texts.append(text)
        ctxs.append(ctx)
    return torch.cat(texts), torch.cat(ctxs)


def train_and_score(text: torch.Tensor, ctx: torch.Tensor, n_train: int, steps: int = 300, batch: int = 16,
                    tau: float = 0.1, seed: int = 0) -> dict:
    """Train the two projections on the first `n_train` pairs; score the rest in consecutive batches."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    proj_t, proj_c = torch.nn.Linear(text.shape[1], ALIGN_DIM), torch.nn.Linear(ctx.shape[1], ALIGN_DIM)
    opt = torch.optim.Adam([*proj_t.parameters(), *proj_c.parameters()], lr=1e-3)
    kw = dict(mode="shapley", tau=tau, value="max", estimator="closed_form")
    for _ in range(steps):
        idx = torch.randperm(n_train, generator=g)[:batch]
        loss = alignment_loss(proj_c(ctx[idx]), proj_t(text[idx]), **kw)
        opt.zero_grad()
        loss.backward()
        opt.step()
    hits, total, losses = 0, 0, []
    with torch.no_grad():
        for s in range(n_train, len(text) - batch + 1, batch):
            t, c = proj_t(text[s: s + batch]), proj_c(ctx[s: s + batch])
            losses.append(float(alignment_loss(c, t, **kw)))
            scores = torch.nn.functional.normalize(t, dim=-1) @ torch.nn.functional.normalize(c, dim=-1).T
            phi = shapley_values(scores, value="max", estimator="closed_form")  # [texts, contexts]
            hits += int((phi.argmax(dim=1) == torch.arange(batch)).sum())
            total += batch
    return {"accuracy": hits / max(1, total), "loss": sum(losses) / max(1, len(losses)), "chance": 1 / batch,
            "chance_loss": math.log(batch), "held_out": total}


def probe(cfg: Config, tokenizer, examples, contexts, n_train: int, leaky: bool = False, **train_kw) -> dict:
    """The whole probe for one config (its encoder and `model.encode_context`)."""
    torch.manual_seed(cfg.train.seed)
    model = ShapCA(cfg, "ner", ["PER"], [], None)
    text, ctx = pooled_views(model, tokenizer, examples, contexts, leaky=leaky)
    return train_and_score(text, ctx, n_train, **train_kw)
