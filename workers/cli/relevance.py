"""The `marsad` commands of learned relevance: train a watch's model, feed an alert back as an example, suggest
query terms."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from feeds.alerts.render.common import clean
from workers.cli import common
from workers.cli.common import config_option


def watch_with_examples(s: Any, watch_id: str) -> Any:
    """The configured watch, which must name an examples file; a clear error otherwise."""
    w = next((w for w in s.watches if w.id == watch_id), None)
    if w is None:
        known = ", ".join(sorted(w.id for w in s.watches))
        raise click.ClickException(f"unknown watch {watch_id!r}; known: {known}")
    if w.examples is None:
        raise click.ClickException(f"watch {w.id} has no examples file: add `examples: PATH` (JSON lines) to it "
                                   f"in {w.source}")
    return w


def describe_model(t: Any) -> str:
    """One line on a `workers.relevance.Trained`: state, why, what it learnt from."""
    if t.model is None:
        return f"{t.watch_id}: FAILED, the query decides: {clean(t.error)}"
    m, st = t.model, t.model.stats
    state = f"ACTIVE (threshold {m.threshold:.3f})" if m.active else "inactive, the query decides"
    return (f"{t.watch_id}: {state}: {clean(m.note)}; the query passes {st.positives} relevant and "
            f"{st.negatives} irrelevant examples, misses {st.outside_relevant} relevant ({t.source})")


@click.command()
@click.option("--watch", "watch_ids", multiple=True, help="Only this watch (repeatable); default: every watch "
              "that names an examples file.")
@config_option
def train(watch_ids: tuple[str, ...], config: str | None) -> None:
    """Train the relevance model of each watch with examples now, cache it in data_dir, and say what it learnt."""
    from feeds.nlp.classify import Classifier
    from workers.relevance import cache_path, train_models

    s = common.load(config)
    for wid in watch_ids:
        watch_with_examples(s, wid)
    if not any(w.examples for w in s.watches):
        click.echo("no watch names an examples file (see docs/watchlists.md, \"Examples and feedback\")")
        return
    trained = train_models(s, Classifier(s.gazetteer), only=set(watch_ids) or None, retrain=True)
    for t in trained:
        click.echo(describe_model(t))
        if t.model is not None:
            click.echo(f"  {len(s.examples.get(t.watch_id, []))} examples in {t.examples}; "
                       f"model cached in {cache_path(s.data_dir, t.watch_id, t.key)}")
    if any(t.model is None for t in trained):
        sys.exit(1)


def _published(value: float | None) -> str | None:
    return datetime.fromtimestamp(value, UTC).isoformat() if value is not None else None


@click.command()
@click.argument("alert_id")
@click.argument("label", type=click.Choice(["relevant", "irrelevant"]))
@config_option
def feedback(alert_id: str, label: str, config: str | None) -> None:
    """Mark the article of alert ALERT_ID (shown in Slack, e-mail and the console) relevant or irrelevant: it is
    added to its watch's examples file (or its label there replaced), and the next reload retrains the model."""
    from feeds.relevance.examples import Example
    from workers.archive import queries
    from workers.archive.store import Archive
    from workers.relevance import add_example

    s = common.load(config)
    if s.archive_url is None:
        raise click.ClickException("the archive is off (archive_url: off in marsad.yaml): feedback needs it to "
                                   "find the alert's article")
    archive = Archive(s.archive_url)
    shown = clean(alert_id)
    rows = queries.alerts_by_id(archive, alert_id.strip().lower())
    if not rows:
        raise click.ClickException(f"no alert {shown!r} in the archive")
    w = watch_with_examples(s, rows[0]["watch_id"])
    key = next((r["article_key"] for r in rows if r["article_key"]), None)
    found = queries.article(archive, key) if key else None
    if found is None:
        raise click.ClickException(f"alert {shown}: its article is no longer in the archive (archive_keep)")
    row = found.row
    ex = Example(title=row["title"], text=row["text"], relevant=label == "relevant", id=row["key"],
                 url=row["url"] or None, published=_published(row["published"]))
    outcome = add_example(Path(w.examples), ex)
    what = {"added": "added to", "relabelled": "relabelled in", "unchanged": "already so in"}[outcome]
    click.echo(f"alert {shown} ({w.id}): «{clean(row['title'])}» {label}: {what} {w.examples}")
    if outcome != "unchanged":
        click.echo("workers retrain the watch's model at their next config reload (`marsad train` to see it now)")


@click.command()
@click.option("--watch", "watch_id", required=True, help="The watch whose examples to read.")
@config_option
@click.option("--top", default=15, show_default=True, help="Terms to add, at most.")
@click.option("--json", "as_json", is_flag=True, help="The suggestions as data.")
def suggest(watch_id: str, config: str | None, top: int, as_json: bool) -> None:
    """Terms frequent in the watch's relevant examples and missing from its query (those of relevant examples the
    query misses first), and query terms that fire on as many irrelevant examples as relevant ones."""
    from feeds.nlp.classify import Classifier
    from feeds.relevance.examples import example_article
    from feeds.relevance.suggest import suggest as suggest_terms

    s = common.load(config)
    w = watch_with_examples(s, watch_id)
    examples = s.examples.get(w.id, [])
    clf = Classifier(s.gazetteer)
    arts = [example_article(e) for e in examples]
    cs = [clf.classify(a) for a in arts]
    gated = [any(m.watch_id == w.id for m in s.watchset.match(a, c)) for a, c in zip(arts, cs, strict=True)]
    res = suggest_terms(examples, w.query, gated=gated, classifications=cs, top=top)
    if as_json:
        click.echo(json.dumps({kind: [{"term": x.term, "relevant": x.relevant, "irrelevant": x.irrelevant,
                                       "missed": x.missed} for x in xs]
                               for kind, xs in (("add", res.add), ("drop", res.drop))}, ensure_ascii=False, indent=2))
        return
    rel = sum(e.relevant for e in examples)
    passed = [e.relevant for e, g in zip(examples, gated, strict=True) if g]
    click.echo(f"watch {w.id}: {len(examples)} examples, {rel} relevant; the query passes {sum(passed)} relevant "
               f"and {len(passed) - sum(passed)} irrelevant, misses {rel - sum(passed)} relevant")
    click.echo("\nadd (stories: relevant / irrelevant / relevant the query misses):")
    for x in res.add:
        click.echo(f"  {clean(x.term):<32} {x.relevant:>4} {x.irrelevant:>4} {x.missed:>4}")
    if not res.add:
        click.echo("  (none)")
    click.echo("\nreconsider (examples the query passes: relevant / irrelevant it fires on):")
    for x in res.drop:
        click.echo(f"  {clean(x.term):<32} {x.relevant:>4} {x.irrelevant:>4}")
    if not res.drop:
        click.echo("  (none)")
