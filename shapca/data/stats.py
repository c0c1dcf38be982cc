"""Tables for `python -m shapca.data stats`: per dataset and split, the counts and the context coverage.

Counts. NER: tweets; entities = mentions opened by a B- tag, the figure the dataset papers publish; tweets of
Twitter-2015 also hold spans opened by an I- tag with no B- before it (kept by the readers and read as entities,
as UMT's evaluation and seqeval's default do), shown apart in the notes. MNRE: instances and those whose relation
is not None. JMERE: sentences, distinct typed entities and triples.
"""
from __future__ import annotations

from shapca.data import context_texts, datasets
from shapca.data.types import DATASETS, SPLITS, NERExample


def counts(dataset: str, split: str, mirror=None, cache=None) -> dict[str, int]:
    examples = datasets.load(dataset, split, mirror, cache)
    row = {"examples": len(examples)}
    if isinstance(examples[0], NERExample):
        spans = [s for ex in examples for s in ex.entities]
        row["entities"] = sum(tag.startswith("B-") for ex in examples for tag in ex.tags)
        row["spans_opened_by_I"] = len(spans) - row["entities"]
    elif dataset == "mnre":
        row["relations"] = sum(ex.relation != "None" for ex in examples)
    else:
        row["entities"] = sum(len(ex.entities) for ex in examples)
        row["relations"] = sum(len(ex.triples) for ex in examples)
    return row


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(r):
        return "  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def report(datasets_=DATASETS, mirror=None, cache=None) -> str:
    names = [g for d in datasets_ for g in context_texts.generators(d) if g != "none"]
    gens = list(dict.fromkeys(names))
    count_rows, cov_rows, notes = [], [], []
    for d in datasets_:
        for s in SPLITS:
            c = counts(d, s, mirror, cache)
            count_rows.append([d, s, c["examples"], c.get("entities", "-"), c.get("relations", "-")])
            if c.get("spans_opened_by_I"):
                notes.append(f"{d}/{s}: {c['spans_opened_by_I']} more entity spans open with an I- tag")
            skipped = datasets.notes(d, s, mirror, cache)
            if skipped:
                notes.append(f"{d}/{s}: " + ", ".join(f"{k} {v}" for k, v in skipped.items()))
            examples = datasets.load(d, s, mirror, cache)
            cells = []
            for g in gens:
                if g not in context_texts.generators(d):
                    cells.append("-")
                    continue
                _, cov = context_texts.load_contexts(d, s, g, examples, "empty", mirror, cache)
                cells.append("all" if cov.covered == cov.total else f"{cov.covered}/{cov.total}")
                if cov.fallback or cov.empty:
                    notes.append(f"{cov}")
            cov_rows.append([d, s] + cells)
    parts = ["Examples (entities: B- opened mentions; relations: non-None instances or triples)",
             _table(["dataset", "split", "examples", "entities", "relations"], count_rows), "",
             "Context coverage (examples whose image or tweet has a text from the generator; all = 100%)",
             _table(["dataset", "split"] + gens, cov_rows), "", "Notes"]
    parts += [f"- {n}" for n in notes] or ["- none"]
    return "\n".join(parts)
