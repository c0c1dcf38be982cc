"""predictions/test.jsonl rows carry the example's tokens (and RE's head/tail spans) beside the fields the reports
read."""
import json

from reports.mlflow_source import parse_predictions
from shapca.data.bio import Span
from shapca.data.types import JMEREExample, NERExample, REExample, Triple
from shapca.tasks import score

REPORT_FIELDS = {"id", "tp", "fp", "fn", "gold", "pred"}


def round_trip(rows):
    text = "".join(json.dumps(r) + "\n" for r in rows)
    return parse_predictions(text, "test")


def test_ner_rows_carry_tokens_and_show_the_wrong_word():
    ex = NERExample("twitter2017/test/0", ["RT", "Obama", "in", "Paris"], ["O", "B-PER", "O", "B-LOC"], "1.jpg")
    _, rows = score("ner", [ex], [["O", "B-PER", "O", "B-ORG"]])
    (row,) = rows
    assert set(row) == REPORT_FIELDS | {"tokens"}
    assert row["tokens"] == ex.tokens and (row["tp"], row["fp"], row["fn"]) == (1, 1, 1)
    wrong = [w for w, g, p in zip(row["tokens"], row["gold"], row["pred"]) if g != p]
    assert wrong == ["Paris"]
    parsed = round_trip(rows)
    assert parsed.ids == (ex.id,) and parsed.labels == ((ex.tags, row["pred"]),)


def test_re_rows_carry_tokens_and_head_tail_spans():
    ex = REExample("mnre/test/3", ["Messi", "joins", "Inter", "Miami"], Span(0, 1), Span(2, 4), "/per/org/member_of",
                   "3.jpg")
    _, rows = score("re", [ex], ["None"])
    (row,) = rows
    assert set(row) == REPORT_FIELDS | {"tokens", "head", "tail"}
    assert row["tokens"][slice(*row["head"])] == ["Messi"]
    assert row["tokens"][slice(*row["tail"])] == ["Inter", "Miami"]
    assert (row["gold"], row["pred"], row["fn"]) == ("/per/org/member_of", "None", 1)
    assert round_trip(rows).counts.tolist() == [[0, 0, 1]]


def test_jmere_rows_carry_tokens_the_quintuples_index():
    t = Triple(Span(0, 1, "PER"), Span(2, 3, "LOC"), "place_of_residence")
    ex = JMEREExample("jmere/test/1", ["Ann", "in", "Rome"], "1.jpg", [t])
    _, rows = score("jmere", [ex], [[[0, 1, "PER", 2, 3, "LOC", "place_of_residence"]]])
    (row,) = rows
    assert set(row) == REPORT_FIELDS | {"tokens"} and row["tp"] == 1
    head_start, head_end = row["gold"][0][:2]
    assert row["tokens"][head_start:head_end] == ["Ann"]
    round_trip(rows)


def test_rows_carry_the_context_text_they_were_read_with():
    ex = NERExample("twitter2017/test/0", ["RT", "Obama"], ["O", "B-PER"], "1.jpg")
    _, rows = score("ner", [ex], [["O", "B-PER"]], contexts=["a man at a podium"])
    assert rows[0]["context"] == "a man at a podium"
    round_trip(rows)  # the reports read such rows as before
