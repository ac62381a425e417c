"""The archive: articles, entities, matches, stories, alerts

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-02 22:18:35.251309
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('alert_id', sa.String(length=16), nullable=False),
    sa.Column('watch_id', sa.String(length=200), nullable=False),
    sa.Column('story_id', sa.String(length=64), nullable=False),
    sa.Column('sink', sa.String(length=200), nullable=False),
    sa.Column('article_key', sa.String(length=64), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.Column('updated', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_alert_id', ['alert_id'], unique=False)
        batch_op.create_index('ix_alerts_status', ['status', 'updated'], unique=False)
        batch_op.create_index('ix_alerts_updated', ['updated'], unique=False)

    op.create_table('articles',
    sa.Column('pk', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('feed_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('lang', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('published', sa.Float(), nullable=True),
    sa.Column('fetched', sa.Float(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('story_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('classification', sa.Text(), nullable=False),
    sa.Column('search', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('pk'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index('ix_articles_at', ['at'], unique=False)
        batch_op.create_index('ix_articles_feed_at', ['feed_id', 'at'], unique=False)
        batch_op.create_index('ix_articles_fetched', ['fetched'], unique=False)
        batch_op.create_index('ix_articles_story', ['story_id'], unique=False)

    op.create_table('stories',
    sa.Column('story_id', sa.String(length=64), nullable=False),
    sa.Column('first_seen', sa.Float(), nullable=False),
    sa.Column('last_seen', sa.Float(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('outlets', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('first_article_pk', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('story_id')
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index('ix_stories_last_seen', ['last_seen'], unique=False)

    op.create_table('story_outlets',
    sa.Column('story_id', sa.String(length=64), nullable=False),
    sa.Column('feed_id', sa.String(length=200), nullable=False),
    sa.Column('first_seen', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('story_id', 'feed_id')
    )
    op.create_table('article_entities',
    sa.Column('article_pk', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('entity_id', sa.String(length=100), nullable=False),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['article_pk'], ['articles.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_pk', 'kind', 'entity_id')
    )
    with op.batch_alter_table('article_entities', schema=None) as batch_op:
        batch_op.create_index('ix_entities_day', ['kind', 'day'], unique=False)
        batch_op.create_index('ix_entities_lookup', ['kind', 'entity_id', 'at'], unique=False)

    op.create_table('matches',
    sa.Column('article_pk', sa.Integer(), nullable=False),
    sa.Column('watch_id', sa.String(length=200), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('relevance', sa.Float(), nullable=True),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('story_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['article_pk'], ['articles.pk'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_pk', 'watch_id')
    )
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.create_index('ix_matches_day', ['day'], unique=False)
        batch_op.create_index('ix_matches_watch', ['watch_id', 'at'], unique=False)

    _full_text(op.get_bind().dialect.name)


def _full_text(dialect: str) -> None:
    """The search index over articles.search (normalised tokens, feeds.query.prefilter.index_tokens)."""
    if dialect == "sqlite":
        # External-content FTS5 over articles.search; the `ascii` tokenizer splits on ASCII spaces and
        # punctuation only, so every normalised Arabic token is indexed exactly as written.
        op.execute("CREATE VIRTUAL TABLE article_fts USING fts5(search, content='articles', content_rowid='pk', "
                   "tokenize='ascii')")
        op.execute("CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
                   "INSERT INTO article_fts(rowid, search) VALUES (new.pk, new.search); END")
        op.execute("CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
                   "INSERT INTO article_fts(article_fts, rowid, search) VALUES ('delete', old.pk, old.search); END")
        op.execute("CREATE TRIGGER articles_fts_update AFTER UPDATE OF search ON articles BEGIN "
                   "INSERT INTO article_fts(article_fts, rowid, search) VALUES ('delete', old.pk, old.search); "
                   "INSERT INTO article_fts(rowid, search) VALUES (new.pk, new.search); END")
    else:
        # The tokens become lexemes as they are (no text-search parser, whose idea of a letter depends on the
        # database's locale), in a generated column with a GIN index.
        op.execute("ALTER TABLE articles ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS "
                   "(array_to_tsvector(string_to_array(search, ' '))) STORED")
        op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE article_fts")
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_index('ix_matches_watch')
        batch_op.drop_index('ix_matches_day')
    op.drop_table('matches')
    with op.batch_alter_table('article_entities', schema=None) as batch_op:
        batch_op.drop_index('ix_entities_lookup')
        batch_op.drop_index('ix_entities_day')
    op.drop_table('article_entities')
    op.drop_table('story_outlets')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index('ix_stories_last_seen')
    op.drop_table('stories')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_story')
        batch_op.drop_index('ix_articles_fetched')
        batch_op.drop_index('ix_articles_feed_at')
        batch_op.drop_index('ix_articles_at')
    op.drop_table('articles')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_updated')
        batch_op.drop_index('ix_alerts_status')
        batch_op.drop_index('ix_alerts_alert_id')
    op.drop_table('alerts')
