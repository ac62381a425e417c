"""A sample alert for `marsad alerts test`, built by the real classifier from a real article excerpt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feeds.alerts.build import sentence_around
from feeds.models import Alert, Article, Span
from feeds.nlp.classify import Classifier

# Excerpt of the article Marsad was conceived from (Putin–Erdogan call, 30 Sep 2020; © its publisher).
TITLE = "لبحث الأوضاع في ليبيا وسوريا.. بوتين يجري اتصالًا هاتفيًا بأردوغان"
TEXT = ("أجرى الرئيس الروسي فلاديمير بوتين، اتصالًا هاتفيًا بنظيره التركي رجب طيب أردوغان؛ لبحث مستجدات "
        "الأوضاع في كل من سوريا وليبيا، وذلك بعد ساعات من الإعلان عن تفجير مدرعة تركية في إطار دورية سورية "
        "تركية مشتركة في إدلب.\nوأكد بيان الكرملين، أن التركيز الرئيسي للمكالمة كان على الأزمة في ليبيا، "
        "مسلطًا الضوء على الحاجة إلى اتخاذ خطوات حقيقية نحو وقف إطلاق نار مستدام.")


def sample_alert(settings: Any) -> Alert:
    article = Article(url="https://example.org/marsad-sample", title=TITLE, text=TEXT,
                      published=datetime(2020, 9, 30, 11, 42, tzinfo=UTC))
    c = Classifier(settings.gazetteer).classify(article)
    matches = settings.watchset.match(article, c)
    spans = matches[0].evidence if matches else (Span(0, len(TITLE), TITLE),)
    sentence, marks = sentence_around(article.document, spans)
    return Alert(watch_id=matches[0].watch_id if matches else "sample", watch_name="Marsad test alert",
                 severity="low", story_id="sample", url=article.url, title=TITLE, feed_id="sample",
                 feed_name="Marsad sample", published=article.published.isoformat() if article.published else None,
                 regions=c.regions, places=c.places, actors=c.actors, sentence=sentence, highlights=marks)
