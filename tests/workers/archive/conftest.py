"""Archives on both databases (a real PostgreSQL server, see tests/services/postgres.py), and archived articles."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from feeds.evaluation.gold import corpus_article
from feeds.models import Article, Classification
from feeds.nlp.classify import Classifier
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer
from feeds.pipeline import article_id
from tests.conftest import FIXTURES
from workers.archive.records import article_record
from workers.archive.store import Archive

GAZETTEER = load_gazetteer(default_gazetteer_paths())
CLASSIFIER = Classifier(GAZETTEER)


def corpus(limit: int | None = None) -> list[dict[str, Any]]:
    with gzip.open(FIXTURES / "archive" / "articles.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[:limit]


def classified(limit: int | None = None) -> list[tuple[dict[str, Any], Article, Classification]]:
    return [(d, a, CLASSIFIER.classify(a)) for d in corpus(limit) for a in [corpus_article(d)]]


def record(d: dict[str, Any], a: Article, c: Classification, story: str | None = None, **kw: Any) -> dict[str, Any]:
    return article_record(article_id(a.url), a, d["src"], "new", story or d["docno"], c, (), fetched=2e9, **kw)


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archive]:
    """An empty, migrated archive on SQLite (a file) or on the session's PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'archive.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:  # a fresh schema for every test
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    ar = Archive(url)
    yield ar
    ar.close()
