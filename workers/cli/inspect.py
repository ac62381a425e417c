"""The `marsad` commands that look at articles: classify, why, eval."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from feeds.errors import MarsadError
from feeds.models import Article, Classification, EntityHit, WatchMatch
from workers.cli import common
from workers.cli.common import config_option


def load_source(source: str, settings: Any, published: datetime | None = None) -> Article:
    """SOURCE: a URL, an .html file, a .txt file (first line = title), or '-' (stdin, same as .txt)."""
    from feeds.ingest.extract import extract_article
    from feeds.ingest.http import fetch

    if source.startswith(("http://", "https://")):
        res = fetch(source, settings.fetch.policy())
        return extract_article(res.body, res.headers, res.url)
    if source.endswith((".html", ".htm")):
        return extract_article(Path(source).read_bytes(), {}, Path(source).resolve().as_uri())
    raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    title, _, text = raw.strip("\ufeff").partition("\n")
    return Article(url="" if source == "-" else Path(source).resolve().as_uri(), title=title.strip(),
                   text=text.strip(), published=published, source="text")


def _hits(hits: tuple[EntityHit, ...], country: bool = False) -> list[dict[str, Any]]:
    out = []
    for h in hits:
        d: dict[str, Any] = {"id": h.id, "name": h.name, "name_ar": h.name_ar}
        if country:
            d["country"] = h.country
        d["mentions"] = h.mentions
        out.append(d)
    return out


def result_dict(article: Article, c: Classification, matches: list[WatchMatch], doc_id: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": doc_id} if doc_id is not None else {}
    out |= {
        "title": article.title,
        "regions": _hits(c.regions),
        "places": _hits(c.places, country=True),
        "actors": _hits(c.actors, country=True),
        "watches": [{"id": m.watch_id, "evidence": [{"start": s.start, "end": s.end, "text": s.text}
                                                    for s in m.evidence]} for m in matches],
        "mentions": [{"kind": m.kind, "id": m.id, "start": m.start, "end": m.end, "text": m.surface, "how": m.how}
                     for m in c.mentions],
    }
    return out


def _print_human(res: dict[str, Any]) -> None:
    click.echo(f"title:   {res['title']}")
    click.echo("regions: " + ", ".join(f"{r['id']} {r['name']} ×{r['mentions']}" for r in res["regions"]))
    click.echo("places:  " + ", ".join(f"{p['id']} ({p['country']}) ×{p['mentions']}" for p in res["places"]))
    click.echo("actors:  " + ", ".join(f"{a['id']} ×{a['mentions']}" for a in res["actors"]))
    click.echo("watches: " + ", ".join(w["id"] for w in res["watches"]))
    for key in ("story_id", "duplicate_of"):
        if key in res:
            click.echo(f"{key}: {res[key]}")


@click.command()
@click.argument("source", required=False)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--jsonl", is_flag=True,
              help='Read {"id","title","text","url"?} lines on stdin, write one result a line.')
@click.option("--date", "date", default=None, help="Publication date (YYYY-MM-DD) for role titles.")
@click.option("--redis", "redis_url", default=None,
              help="Also assign the article to a story in this live Redis (records it) and report story_id.")
def classify(source: str | None, config: str | None, as_json: bool, jsonl: bool, date: str | None,
             redis_url: str | None) -> None:
    """Classify SOURCE (URL, .html, .txt with the title on line 1, or -) by region, place, actor and watch."""
    from feeds.nlp.classify import Classifier

    s = common.load(config)
    clf = Classifier(s.gazetteer)
    published = datetime.fromisoformat(date) if date else None
    if jsonl:
        for line in sys.stdin:
            if not line.strip():
                continue
            d = json.loads(line)
            art = Article(url=d.get("url", ""), title=d.get("title", ""), text=d.get("text", ""),
                          published=datetime.fromisoformat(d["date"]) if d.get("date") else published)
            c = clf.classify(art)
            click.echo(json.dumps(result_dict(art, c, s.watchset.match(art, c), d.get("id")), ensure_ascii=False))
        return
    if not source:
        raise click.UsageError("give a SOURCE, or --jsonl")
    try:
        art = load_source(source, s, published)
    except (OSError, MarsadError) as exc:
        raise click.ClickException(f"{source}: {getattr(exc, 'reason', exc)}") from exc
    c = clf.classify(art)
    res = result_dict(art, c, s.watchset.match(art, c))
    if redis_url:
        from feeds.dedup.fingerprint import sketch, text_fingerprint
        from feeds.pipeline import article_id
        from workers.stores import connect
        from workers.stores.stories import RedisStoryStore

        try:
            client = connect.require(redis_url)
        except connect.NotRunning as exc:
            raise click.ClickException(exc.message) from exc
        st = RedisStoryStore(client, window_s=s.dedup_window_s)
        a = st.assign(article_id(art.url or source), "cli", text_fingerprint(art.document),
                      sketch(art.document), time.time())
        res |= {"story_id": a.story_id, "duplicate_of": a.duplicate_of}
    if as_json:
        click.echo(json.dumps(res, ensure_ascii=False, indent=2))
    else:
        _print_human(res)


@click.command()
@click.argument("source")
@click.option("--watch", "watch_id", required=True, help="The watch to explain.")
@config_option
@click.option("--json", "as_json", is_flag=True, help="The explanation as data.")
@click.option("--no-color", is_flag=True, help="Mark matches with [[ ]] instead of colours.")
@click.option("--date", "date", default=None, help="Publication date (YYYY-MM-DD) for role titles.")
def why(source: str, watch_id: str, config: str | None, as_json: bool, no_color: bool, date: str | None) -> None:
    """Show why a watch matches SOURCE or not: the query tree with each node true/false, matches highlighted."""
    from feeds.nlp.classify import Classifier

    s = common.load(config)
    if watch_id not in {w.id for w in s.watches}:
        known = ", ".join(sorted(w.id for w in s.watches))
        raise click.ClickException(f"unknown watch {watch_id!r}; known: {known}")
    art = load_source(source, s, datetime.fromisoformat(date) if date else None)
    c = Classifier(s.gazetteer).classify(art)
    exp = s.watchset.explain(watch_id, art, c)
    if as_json:
        click.echo(json.dumps(exp.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(exp.render(color=not no_color and sys.stdout.isatty()))


@click.command(name="eval")
@config_option
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default="../shared/corpus/labels-dev.jsonl",
              show_default=True)
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False),
              default="../shared/corpus/ant-v2.1-dev.jsonl.gz", show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bar (there is none when stderr is no terminal).")
def eval_(config: str | None, labels: str, corpus: str, no_progress: bool) -> None:
    """Score the classifier (countries, actors) and the topic watches against hand-labelled gold."""
    from feeds.evaluation.gold import run_eval
    from feeds.nlp.classify import Classifier
    from workers.cli import progress

    s = common.load(config)
    # The bar's total is the corpus's line count, counted only when a bar is drawn.
    total = progress.count_lines([Path(corpus)]) if progress.enabled(no_progress) else None
    with progress.progress("eval: corpus read", total, disabled=no_progress) as advance:
        report = run_eval(Path(labels), Path(corpus), Classifier(s.gazetteer), s.watchset, progress=advance)
    click.echo(report.format())
