"""Per-task targets, losses and predictions: what turns model outputs into a loss and into scored predictions."""
from __future__ import annotations

import torch
from torch import nn

from shapca import metrics
from shapca.heads import gold_pairs, predicted_pairs
from shapca.features import ner_tag_ids


def task_loss(model, out: dict, batch: dict, examples: list) -> torch.Tensor:
    """The supervised loss of one batch; `examples` are the batch's examples in order."""
    if model.task == "re":
        rel2id = {r: i for i, r in enumerate(model.relation.labels)}
        gold = torch.tensor([rel2id[e.relation] for e in examples], device=out["states"].device)
        return nn.functional.cross_entropy(model.relation.logits(out["states"], batch["marks"]), gold)
    words, mask = out["words"], batch["word_mask"].to(out["words"].device)
    tag2id = {t: i for i, t in enumerate(model.tagger.tags)}
    tags = torch.zeros(mask.shape, dtype=torch.long, device=mask.device)
    n_words = mask.sum(1).tolist()
    for i, e in enumerate(examples):
        tags[i, : n_words[i]] = torch.tensor(ner_tag_ids(e, tag2id, n_words[i]), dtype=torch.long)
    loss = model.tagger.loss(words, tags, mask)
    if model.task == "jmere":
        rel2id = {r: i for i, r in enumerate(model.pairs.relations)}
        pairs, labels = gold_pairs([e.triples for e in examples], n_words, rel2id)
        if pairs:
            logits = model.pairs.logits(words, pairs)
            loss = loss + nn.functional.cross_entropy(logits, torch.tensor(labels, device=logits.device))
    return loss


def quintuples(triples) -> set[tuple]:
    return {(t.head.start, t.head.end, t.head.type, t.tail.start, t.tail.end, t.tail.type, t.relation)
            for t in triples}


@torch.no_grad()
def predict(model, out: dict, batch: dict, examples: list) -> list:
    """Predictions of one batch, as JSON-able values: tag lists (NER), labels (RE), quintuple lists (JMERE)."""
    if model.task == "re":
        ids = model.relation.logits(out["states"], batch["marks"]).argmax(-1).tolist()
        return [model.relation.labels[i] for i in ids]
    mask = batch["word_mask"].to(out["words"].device)
    rows = model.tagger.decode(out["words"], mask)
    rows = [r + ["O"] * (len(e.tokens) - len(r)) for r, e in zip(rows, examples)]  # words cut by max_len
    if model.task == "ner":
        return rows
    pairs, spans = predicted_pairs(rows)
    found = [set() for _ in examples]
    if pairs:
        labels = model.pairs.logits(out["words"], pairs).argmax(-1).tolist()
        span_of = [{(s.start, s.end): s for s in row} for row in spans]
        for (b, h, t), lab in zip(pairs, labels):
            rel = model.pairs.relations[lab]
            if rel != "None":
                hs, ts = span_of[b][h], span_of[b][t]
                found[b].add((hs.start, hs.end, hs.type, ts.start, ts.end, ts.type, rel))
    return [sorted(f) for f in found]


def score(task: str, examples: list, preds: list, contexts: list[str] | None = None) -> tuple[dict, list[dict]]:
    """Micro P/R/F1 (computed, as DESIGN.md says) and per example: its words, counts for paired significance tests,
    gold and prediction, and (where given) the context text it was read with."""
    if task == "ner":
        gold = [e.tags for e in examples]
    elif task == "re":
        gold = [e.relation for e in examples]
    else:
        gold = [quintuples(e.triples) for e in examples]
        preds = [set(map(tuple, p)) for p in preds]
    counts = metrics.per_example_counts(task, gold, preds)
    prf = metrics.prf_from_counts(*(sum(c[i] for c in counts) for i in range(3)))
    rows = [{"id": e.id, **_words(task, e), "tp": tp, "fp": fp, "fn": fn, "gold": _jsonable(g), "pred": _jsonable(p)}
            for e, (tp, fp, fn), g, p in zip(examples, counts, gold, preds)]
    if contexts is not None:
        for row, text in zip(rows, contexts):
            row["context"] = text
    return {k: float(prf[k]) for k in ("precision", "recall", "f1")}, rows


def _words(task: str, example) -> dict:
    """What a reader of the predictions needs to see which words were wrong: the tokens (tags and quintuple spans
    index them), and for RE the head and tail spans as [start, end) token offsets. No text field: the tokens are it."""
    out = {"tokens": list(example.tokens)}
    if task == "re":
        out.update(head=[example.head.start, example.head.end], tail=[example.tail.start, example.tail.end])
    return out


def _jsonable(value):
    """Tags and labels as they are; quintuple sets as sorted lists."""
    return sorted(value) if isinstance(value, set) else value
