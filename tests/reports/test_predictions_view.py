"""The predictions page: words with gold and predicted entities marked, the context, errors first, a type filter."""
import re

from reports.predictions_view import predictions_html
from shapca.data.bio import Span
from shapca.data.types import JMEREExample, NERExample, REExample, Triple
from shapca.tasks import score


def cards(page: str) -> list[str]:
    return page.split('<div class="ex ')[1:]


def test_ner_marks_found_missed_and_wrong_entities_errors_first():
    right = NERExample("t/0", ["Obama", "spoke"], ["B-PER", "O"], "0.jpg")
    wrong = NERExample("t/1", ["RT", "Obama", "in", "New", "York"], ["O", "B-PER", "O", "B-LOC", "I-LOC"], "1.jpg")
    _, rows = score("ner", [right, wrong], [["B-PER", "O"], ["O", "B-PER", "O", "B-ORG", "O"]],
                    contexts=["a man at a podium", "a <b>city</b> skyline"])
    page = predictions_html(rows, "run abc")
    first, second = cards(page)
    assert "t/1" in first and "t/0" in second  # the example with errors comes first
    assert re.search(r'class="ent ok"[^>]*>Obama<span class="t">PER', first)
    # the missed gold span holds the wrongly predicted one that overlaps it
    assert re.search(r'class="ent miss"[^>]*><span class="ent bad"[^>]*>New<span class="t">ORG</span></span> '
                     r'York<span class="t">LOC</span></span>', first)
    assert "context: a &lt;b&gt;city&lt;/b&gt; skyline" in first  # the context, escaped
    assert 'data-types="LOC ORG PER"' in first
    assert re.search(r'<option value="LOC">LOC \(1\)</option>', page) and "errors only" in page
    assert "2 test examples, 1 with an error" in page


def test_re_marks_head_tail_and_both_relations():
    ex = REExample("m/3", ["Messi", "joins", "Inter", "Miami"], Span(0, 1), Span(2, 4), "/per/org/member_of", "3.jpg")
    _, rows = score("re", [ex], ["None"])
    (card,) = cards(predictions_html(rows, "re run"))
    assert '<span class="head">Messi</span>' in card and '<span class="tail">Miami</span>' in card
    assert "gold <span class=\"lab\">/per/org/member_of</span>" in card and 'lab ent bad">None' in card


def test_jmere_lists_found_missed_and_wrong_triples():
    t = Triple(Span(0, 1, "PER"), Span(2, 3, "LOC"), "place_of_residence")
    ex = JMEREExample("j/1", ["Ann", "in", "Rome"], "1.jpg", [t])
    _, rows = score("jmere", [ex], [[[0, 1, "PER", 2, 3, "LOC", "place_of_birth"]]])
    (card,) = cards(predictions_html(rows, "jmere run"))
    assert re.search(r'class="ent miss">Ann .*→place_of_residence→ Rome', card)
    assert re.search(r'class="ent bad">Ann .*→place_of_birth→ Rome', card)
