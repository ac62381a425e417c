"""fit_watch through a real gate and classifier: gated examples train, others are counted; run-time verdicts."""

from __future__ import annotations

import random
from functools import cache

from feeds.models import Watch
from feeds.nlp.classify import Classifier
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer
from feeds.query.watchset import WatchSet
from feeds.relevance.examples import Example, example_article, examples_hash
from feeds.relevance.features import prepare
from feeds.relevance.model import RelevanceModel
from feeds.relevance.train import fit_watch, label_examples, relevant, training_key, watch_view

GATE = '"إطلاق النار" AND region:SY'
# Written for the test: a truce in Syria (relevant) against shootings in Syria (irrelevant), both through the
# gate's words, plus filler common to both, so only the topic's own words tell them apart.
TRUCE = ["اتفقت الأطراف على وقف إطلاق النار في سوريا", "دخلت الهدنة حيز التنفيذ صباح اليوم",
         "قالت الدول الضامنة إن الاتفاق صامد", "دعت الأمم المتحدة إلى احترام الهدنة",
         "تبادل الطرفان الاتهامات بخرق وقف إطلاق النار"]
SHOOTING = ["قتل شخصان في إطلاق النار على سوق في سوريا", "أصيب متظاهرون بعد إطلاق النار عليهم",
            "اعتقلت الشرطة مسلحا بعد حادث إطلاق النار", "نقل الجرحى إلى المستشفى بعد الحادث",
            "قال شهود إن مسلحين أطلقوا الرصاص"]
FILLER = ["وقال مسؤول محلي إن الوضع متوتر", "وذكرت وكالة أنباء أن السكان قلقون", "ولم يصدر تعليق رسمي حتى الآن",
          "وأضاف أن التحقيقات مستمرة", "وتشهد المنطقة أوضاعا صعبة منذ سنوات"]


def make(rel: bool, i: int) -> Example:
    rng = random.Random(i * 2 + rel)
    pool = TRUCE if rel else SHOOTING
    lines = [pool[0], *rng.sample(pool[1:], 2), *rng.sample(FILLER, 2)]
    rng.shuffle(lines)
    title = ("هدنة جديدة في سوريا" if rel else "إطلاق نار في سوريا") + f" {i}"
    return Example(title, ". ".join(lines) + ".", rel, id=f"{'t' if rel else 's'}{i}",
                   published="2018-09-01T00:00:00+00:00")


@cache
def setup() -> tuple[Classifier, WatchSet]:
    gaz = load_gazetteer(default_gazetteer_paths())
    return Classifier(gaz), WatchSet.compile([Watch(id="w", name="w", query=GATE)], gaz.ids)


def examples() -> list[Example]:
    out = [make(rel, i) for i in range(10) for rel in (True, False)]
    # outside the gate: a relevant one in other words (no إطلاق النار) and an irrelevant one on sport
    out.append(Example("هدنة في سوريا", "أعلنت الأطراف هدنة إنسانية في سوريا.", True, id="out-rel"))
    out.append(Example("مباراة", "فاز الفريق في المباراة النهائية.", False, id="out-irr"))
    return out


def test_fit_watch_learns_through_the_gate_and_counts_the_rest() -> None:
    classifier, watchset = setup()
    exs = examples()
    model = fit_watch(watchset, "w", label_examples(exs, classifier), examples_hash(exs))
    assert model.active, model.note
    st = model.stats
    assert (st.positives, st.negatives, st.outside_relevant, st.outside_irrelevant) == (10, 10, 1, 1)
    assert model.examples_hash == examples_hash(exs)
    # articles the model never saw, through the run-time path
    for rel, i in ((True, 100), (False, 101)):
        art = example_article(make(rel, i))
        c = classifier.classify(art)
        (match,) = watchset.match(art, c)
        ok, p = relevant(model, prepare(art, c), match, watch_view(watchset, "w"))
        assert ok == rel and 0.0 <= p <= 1.0
    # and the reloaded model gives the same verdicts
    assert RelevanceModel.from_json(model.to_json()) == model


def test_an_untrainable_watch_keeps_the_query() -> None:
    classifier, watchset = setup()
    exs = [make(True, i) for i in range(5)]
    model = fit_watch(watchset, "w", label_examples(exs, classifier), examples_hash(exs))
    assert not model.active and "5 relevant, 0 irrelevant" in model.note
    art = example_article(make(False, 7))
    c = classifier.classify(art)
    (match,) = watchset.match(art, c)
    assert relevant(model, prepare(art, c), match, watch_view(watchset, "w")) == (True, 1.0)


def test_training_key_changes_with_query_and_examples() -> None:
    assert training_key("a", GATE) == training_key("a", GATE)
    assert training_key("a", GATE) != training_key("b", GATE)
    assert training_key("a", GATE) != training_key("a", GATE + " OR هدنة")
