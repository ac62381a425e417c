"""The quoted sentence of an alert: whole words, the matches' offsets kept, stops only before a space."""

from __future__ import annotations

from feeds.alerts.build import MAX_SENTENCE, sentence_around
from feeds.models import Span


def spans_of(text: str, word: str) -> list[Span]:
    out, i = [], text.find(word)
    while i >= 0:
        out.append(Span(i, i + len(word), word))
        i = text.find(word, i + 1)
    return out


def test_a_long_sentence_is_cut_on_words_with_an_ellipsis_and_the_marks_still_fit() -> None:
    before = "حلقت الطائرات على علو منخفض فوق القرى " * 20
    text = before + "ثم قصفت إدلب " + "وعادت الطائرات إلى قواعدها بعد ساعات طويلة " * 20 + "."
    sentence, marks = sentence_around(text, spans_of(text, "إدلب"))
    assert sentence.startswith("…") and sentence.endswith("…") and len(sentence) <= MAX_SENTENCE + len("إدلب") + 2
    words = set(text.split())
    assert all(w in words for w in sentence.strip("…").split())  # no half word at either end
    assert [sentence[a:b] for a, b in marks] == ["إدلب"]


def test_a_short_sentence_is_whole_and_unmarked() -> None:
    text = "خبر أول. قصفت الطائرات إدلب صباح اليوم. خبر آخر."
    sentence, marks = sentence_around(text, spans_of(text, "إدلب"))
    assert sentence == "قصفت الطائرات إدلب صباح اليوم."
    assert [sentence[a:b] for a, b in marks] == ["إدلب"]


def test_a_stop_inside_a_token_does_not_end_the_sentence() -> None:
    text = "اجتماع تركي روسي حول إدلب <!here> بنسبة 3.5 في المئة"
    sentence, _ = sentence_around(text, spans_of(text, "المئة"))
    assert sentence == text
