"""The archive's tables (SQLAlchemy Core); the migrations in migrations/versions create exactly these."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Times are epoch seconds (double precision): one type on both databases, cheap to compare and bucket.
# `at` is when the article happened for the archive: its publication time, or when it was fetched when the
# feed gave none or gave a time in the future. `day` = at // 86400 is kept beside it for the trend queries.
articles = sa.Table(
    "articles", metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),  # the pipeline's article id
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("feed_id", sa.String(200), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("lang", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # page, description or text
    sa.Column("published", sa.Float, nullable=True),
    sa.Column("fetched", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("story_id", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("classification", sa.Text, nullable=False),  # JSON: hits and every mention with its offsets
    sa.Column("search", sa.Text, nullable=False),  # feeds.query.prefilter.index_tokens: what search looks up
    sa.Index("ix_articles_at", "at"),
    sa.Index("ix_articles_fetched", "fetched"),
    sa.Index("ix_articles_story", "story_id"),
    sa.Index("ix_articles_feed_at", "feed_id", "at"),
)

entities = sa.Table(
    "article_entities", metadata,
    sa.Column("article_pk", sa.Integer, sa.ForeignKey("articles.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("entity_id", sa.String(100), primary_key=True),
    sa.Column("mentions", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),  # 0 = the article's main region/place/actor
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("story_id", sa.String(64), nullable=True),
    sa.Index("ix_entities_lookup", "kind", "entity_id", "at"),
    sa.Index("ix_entities_day", "kind", "day"),
)

matches = sa.Table(
    "matches", metadata,
    sa.Column("article_pk", sa.Integer, sa.ForeignKey("articles.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("watch_id", sa.String(200), primary_key=True),
    sa.Column("evidence", sa.Text, nullable=False),  # JSON: [[start, end, text], …] in the article's document
    sa.Column("relevance", sa.Float, nullable=True),  # the watch's relevance model's probability, when it decided
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("story_id", sa.String(64), nullable=True),
    sa.Index("ix_matches_watch", "watch_id", "at"),
    sa.Index("ix_matches_day", "day"),
)

stories = sa.Table(
    "stories", metadata,
    sa.Column("story_id", sa.String(64), primary_key=True),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("outlets", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),  # the first article's
    sa.Column("first_article_pk", sa.Integer, nullable=True),
    sa.Index("ix_stories_last_seen", "last_seen"),
)

story_outlets = sa.Table(
    "story_outlets", metadata,
    sa.Column("story_id", sa.String(64), primary_key=True),
    sa.Column("feed_id", sa.String(200), primary_key=True),
    sa.Column("first_seen", sa.Float, nullable=False),
)

# One row per (watch, story, sink): its latest status. `alert_id` is what users quote (per watch and story,
# the same on every sink), e.g. to `marsad feedback`.
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("alert_id", sa.String(16), nullable=False),
    sa.Column("watch_id", sa.String(200), nullable=False),
    sa.Column("story_id", sa.String(64), nullable=False),
    sa.Column("sink", sa.String(200), nullable=False),
    sa.Column("article_key", sa.String(64), nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # alert, follow_up, breaking, spike, surge
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the Alert as JSON: what a retry sends again
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Index("ix_alerts_updated", "updated"),
    sa.Index("ix_alerts_status", "status", "updated"),
    sa.Index("ix_alerts_alert_id", "alert_id"),
)
