"""A trial's test predictions as a page a person reads: each example's words with its gold and predicted entities
(NER), relation (RE) or triples (JMERE) marked, the context text it was read with, errors first, filterable by
type. Self-contained HTML (inline style and script, nothing fetched), logged beside predictions/test.jsonl.

    python -m reports.predictions_view predictions/test.jsonl > test.html
"""
from __future__ import annotations

import html
import json
import sys
from collections import Counter

from shapca.data.bio import spans_from_bio

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:70em;color:#222}
.bar{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ccc}
.ex{border:1px solid #ddd;border-radius:6px;padding:.6em .8em;margin:.6em 0}
.ex.wrong{border-left:5px solid #c0392b}.ex.right{border-left:5px solid #27ae60}
.id{color:#777;font-size:.85em}.ctx{color:#555;background:#f6f6f6;padding:.3em .5em;margin-top:.4em;font-size:.9em}
.ent{padding:0 .15em;border-radius:3px}.ok{background:#d5f5e3}.miss{background:#fadbd8;text-decoration:underline}
.bad{background:#fdebd0;text-decoration:line-through}.t{font-size:.7em;vertical-align:super;color:#555}
.head{font-weight:bold;border-bottom:2px solid #2e86c1}.tail{font-weight:bold;border-bottom:2px dashed #8e44ad}
.lab{font-family:monospace}
"""
SCRIPT = """
function show(){const t=document.getElementById('type').value,e=document.getElementById('errors').checked;
let n=0;for(const d of document.querySelectorAll('.ex')){const types=d.dataset.types.split(' ');
const on=(t===''||types.includes(t))&&(!e||d.classList.contains('wrong'));d.style.display=on?'':'none';n+=on}
document.getElementById('shown').textContent=n}
"""


def task_of(rows: list[dict]) -> str:
    """RE rows carry head and tail spans; NER gold is a tag per word (a word at least); JMERE gold is a list of
    quintuples, possibly empty."""
    if any("head" in r for r in rows):
        return "re"
    return "ner" if any(r["gold"] and isinstance(r["gold"][0], str) for r in rows) else "jmere"


def _spans(tags: list[str]) -> set[tuple[int, int, str]]:
    return {(s.start, s.end, s.type) for s in spans_from_bio(tags)}


def _ner(row: dict) -> tuple[str, set[str]]:
    gold, pred = _spans(row["gold"]), _spans(row["pred"])
    marks = [("ok", s) for s in gold & pred] + [("miss", s) for s in gold - pred] + [("bad", s) for s in pred - gold]
    words = [html.escape(w) for w in row["tokens"]]
    opened: dict[int, list[str]] = {}
    closed: dict[int, list[str]] = {}
    for kind, (start, end, etype) in sorted(marks, key=lambda m: (m[1][0], -m[1][1])):
        title = {"ok": "found", "miss": "missed (gold)", "bad": "predicted, not gold"}[kind]
        opened.setdefault(start, []).append(f'<span class="ent {kind}" title="{title} {html.escape(etype)}">')
        closed.setdefault(end - 1, []).insert(0, f'<span class="t">{html.escape(etype)}</span></span>')
    text = " ".join("".join(opened.get(i, [])) + w + "".join(closed.get(i, [])) for i, w in enumerate(words))
    return text, {s[2] for s in gold | pred}


def _re(row: dict) -> tuple[str, set[str]]:
    (hs, he), (ts, te) = row["head"], row["tail"]
    words = []
    for i, w in enumerate(row["tokens"]):
        w = html.escape(w)
        words.append(f'<span class="head">{w}</span>' if hs <= i < he else
                     f'<span class="tail">{w}</span>' if ts <= i < te else w)
    verdict = "ok" if row["gold"] == row["pred"] else "bad"
    text = (" ".join(words) + f'<br>gold <span class="lab">{html.escape(row["gold"])}</span>, predicted '
            f'<span class="lab ent {verdict}">{html.escape(row["pred"])}</span>')
    return text, {row["gold"], row["pred"]}


def _triple(tokens: list[str], q: list) -> str:
    hs, he, htype, ts, te, ttype, rel = q
    head, tail = html.escape(" ".join(tokens[hs:he])), html.escape(" ".join(tokens[ts:te]))
    return f'{head} <span class="t">{html.escape(htype)}</span> →{html.escape(rel)}→ {tail} ' \
           f'<span class="t">{html.escape(ttype)}</span>'


def _jmere(row: dict) -> tuple[str, set[str]]:
    gold, pred = {tuple(q) for q in row["gold"]}, {tuple(q) for q in row["pred"]}
    items = [("ok", q) for q in sorted(gold & pred)] + [("miss", q) for q in sorted(gold - pred)] + \
            [("bad", q) for q in sorted(pred - gold)]
    listed = "".join(f'<li class="ent {kind}">{_triple(row["tokens"], list(q))}</li>' for kind, q in items)
    text = html.escape(" ".join(row["tokens"])) + (f"<ul>{listed}</ul>" if listed else "<br>(no triples)")
    return text, {q[6] for q in gold | pred}


RENDER = {"ner": _ner, "re": _re, "jmere": _jmere}


def predictions_html(rows: list[dict], title: str) -> str:
    """The page for one trial's prediction rows (as shapca.tasks.score writes them)."""
    task = task_of(rows)
    cards, types = [], Counter()
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["fp"] + rows[i]["fn"] == 0, i))  # errors first
    for i in order:
        row = rows[i]
        text, row_types = RENDER[task](row)
        types.update(row_types)
        wrong = row["fp"] + row["fn"] > 0
        context = f'<div class="ctx">context: {html.escape(row["context"])}</div>' if row.get("context") else ""
        cards.append(f'<div class="ex {"wrong" if wrong else "right"}" data-types="'
                     f'{html.escape(" ".join(sorted(t.replace(" ", "_") for t in row_types)))}">'
                     f'<div class="id">{html.escape(str(row["id"]))} · tp {row["tp"]} fp {row["fp"]} fn {row["fn"]}'
                     f'</div>{text}{context}</div>')
    tp, fp, fn = (sum(r[k] for r in rows) for k in ("tp", "fp", "fn"))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    options = "".join(f'<option value="{html.escape(t.replace(" ", "_"))}">{html.escape(t)} ({n})</option>'
                      for t, n in sorted(types.items()))
    legend = {"ner": '<span class="ent ok">found</span> <span class="ent miss">missed</span> '
                     '<span class="ent bad">predicted, not gold</span>',
              "re": '<span class="head">head</span> <span class="tail">tail</span>',
              "jmere": '<span class="ent ok">found</span> <span class="ent miss">missed</span> '
                       '<span class="ent bad">predicted, not gold</span>'}[task]
    errors = sum(1 for r in rows if r["fp"] + r["fn"])
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<style>{STYLE}</style><script>{SCRIPT}</script></head><body>'
            f'<h1>{html.escape(title)}</h1><p>{len(rows)} test examples, {errors} with an error (shown first); '
            f'micro F1 {100 * f1:.1f} (tp {tp}, fp {fp}, fn {fn}). {legend}</p>'
            f'<div class="bar">type <select id="type" onchange="show()"><option value="">any</option>{options}'
            f'</select> <label><input type="checkbox" id="errors" onchange="show()"> errors only</label> · '
            f'<span id="shown">{len(rows)}</span> shown</div>{"".join(cards)}</body></html>')


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m reports.predictions_view predictions/test.jsonl > test.html", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    sys.stdout.write(predictions_html(rows, args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
