"""Examples -> model inputs: sub-word tokenisation done once per (split, settings), then padded batches.

Word-level labels live on each word's first sub-token (the run_ner.py convention). Relation extraction marks the
head with `@ ... @` and the tail with `# ... #` (typed-marker style with punctuation), so any tokenizer works
without new vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from shapca.data.bio import bio_from_spans
from shapca.data.types import JMEREExample, NERExample, REExample

HEAD_MARK, TAIL_MARK = "@", "#"


@dataclass
class Encoded:
    """One example, tokenised. Index lists are sub-token positions in `input_ids`."""
    input_ids: list[int]
    word_starts: list[int]  # first sub-token of each kept word (NER, JMERE); len <= number of words
    context_ids: list[int]  # the context alone ([CLS] context [SEP]), for separate encoding and alignment
    context_start: int  # in joint encoding, first context sub-token in input_ids (== len(input_ids) if none)
    marks: tuple[int, int]  # RE: positions of the opening head and tail markers
    index: int  # position of the example in its split


def _word_ids(tokenizer, words: list[str], second: list[str] | None, max_len: int, truncation: str):
    enc = tokenizer(words, second, is_split_into_words=True, truncation=truncation if second else True,
                    max_length=max_len)
    return enc["input_ids"], enc.word_ids(), enc.sequence_ids()


def _mark_relation(ex: REExample) -> tuple[list[str], int, int]:
    """Insert markers around head and tail; return the words and the word index of each opening marker."""
    inserts = sorted([(ex.head.start, HEAD_MARK, "h"), (ex.head.end, HEAD_MARK, None),
                      (ex.tail.start, TAIL_MARK, "t"), (ex.tail.end, TAIL_MARK, None)],
                     key=lambda x: (x[0], x[2] is None))  # at one position, a closing marker goes before an opening
    words, pos, k = [], {}, 0
    for i, tok in enumerate(ex.tokens + [""]):
        while k < len(inserts) and inserts[k][0] == i:
            if inserts[k][2]:
                pos[inserts[k][2]] = len(words)
            words.append(inserts[k][1])
            k += 1
        if i < len(ex.tokens):
            words.append(tok)
    return words, pos["h"], pos["t"]


def encode(examples, contexts: list[str], tokenizer, max_len: int, context_max_len: int,
           joint: bool) -> list[Encoded]:
    """Tokenise each example with its context. Joint mode puts the context after the text in one sequence."""
    out = []
    for idx, (ex, ctx) in enumerate(zip(examples, contexts)):
        ctx_words = ctx.split()
        if isinstance(ex, REExample):
            words, h_word, t_word = _mark_relation(ex)
        else:
            words, h_word, t_word = list(ex.tokens), 0, 0
        second = ctx_words if (joint and ctx_words) else None
        if second and len(tokenizer(words, is_split_into_words=True)["input_ids"]) + 2 > max_len:
            # the text alone fills the sequence: it keeps its tokens (truncated like a text without context) and
            # this example's joint part has no context; the context is still encoded alone (context_ids)
            second = None
        ids, word_ids, seq_ids = _word_ids(tokenizer, words, second, max_len, "only_second")
        starts, seen = [], set()
        for pos, (w, s) in enumerate(zip(word_ids, seq_ids)):
            if w is not None and s == 0 and w not in seen:
                seen.add(w)
                starts.append(pos)
        ctx_start = next((p for p, s in enumerate(seq_ids) if s == 1), len(ids))
        ctx_ids = tokenizer(ctx if ctx_words else "", truncation=True, max_length=context_max_len)["input_ids"]
        marks = (starts[h_word] if h_word < len(starts) else 0, starts[t_word] if t_word < len(starts) else 0)
        if isinstance(ex, REExample):
            starts = []  # RE needs only the markers
        out.append(Encoded(ids, starts, ctx_ids, ctx_start, marks, idx))
    return out


def _pad(seqs: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max(len(s) for s in seqs))
    ids = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = True
    return ids, mask


def collate(items: list[Encoded], pad_id: int) -> dict:
    """Pad a batch. `word_index` [B, W] gathers first sub-tokens; `text_mask` excludes the joint context part."""
    input_ids, attention = _pad([e.input_ids for e in items], pad_id)
    ctx_ids, ctx_mask = _pad([e.context_ids for e in items], pad_id)
    # the text alone, as the prefix of a joint sequence ([CLS] text [SEP]): the alignment's text view
    text_ids, text_ids_mask = _pad([e.input_ids[:e.context_start] for e in items], pad_id)
    text_mask = attention.clone()
    for i, e in enumerate(items):
        text_mask[i, e.context_start:] = False
    word_index, word_mask = _pad([e.word_starts for e in items], 0)
    return {
        "input_ids": input_ids, "attention_mask": attention, "text_mask": text_mask,
        "context_ids": ctx_ids, "context_mask": ctx_mask, "text_ids": text_ids, "text_ids_mask": text_ids_mask,
        "joint_context_mask": attention & ~text_mask,
        "word_index": word_index, "word_mask": word_mask,
        "marks": torch.tensor([e.marks for e in items], dtype=torch.long),
        "index": torch.tensor([e.index for e in items], dtype=torch.long),
    }


def ner_tag_ids(ex: NERExample | JMEREExample, tag2id: dict[str, int], n_words: int) -> list[int]:
    """Training targets: the example's entity spans written back as valid BIO.

    Upstream Twitter-2015 has I- tags with no B- before them; read as spans (as seqeval and UMT do) they open an
    entity. Written back as B-, the target path is one the BIO-constrained CRF can take.
    """
    tags = bio_from_spans(non_overlapping(ex.entities), len(ex.tokens))
    return [tag2id[t] for t in tags[:n_words]]


def non_overlapping(spans):
    """BIO holds one span per token: where gold spans overlap (JMERE has nested ones), the longer, then the earlier,
    is kept for the training targets. Scoring still uses every gold span."""
    kept, taken = [], set()
    for s in sorted(spans, key=lambda s: (s.start - s.end, s.start)):
        if not taken.intersection(range(s.start, s.end)):
            kept.append(s)
            taken.update(range(s.start, s.end))
    return sorted(kept, key=lambda s: s.start)
