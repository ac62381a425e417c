"""The `marsad` commands that look at articles: classify, why, eval."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from feeds.errors import MarsadError
from feeds.models import Article, Classification, EntityHit, WatchMatch
from workers.cli import common
from workers.cli.common import config_option

if TYPE_CHECKING:  # the command imports its evaluation code when it runs, so `marsad --help` stays fast
    from feeds.evaluation.gold import Classified


# What SOURCE may be besides a URL or '-': a page, or text with the title on line 1 (a file without suffix too).
PAGE_SUFFIXES, TEXT_SUFFIXES = (".html", ".htm"), (".txt", "")


def load_source(source: str, settings: Any, published: datetime | None = None) -> Article:
    """SOURCE: a URL, an .html file, a .txt file (first line = title), or '-' (stdin, same as .txt). Any
    problem reading it is a click error naming SOURCE (exit status 1), never a traceback."""
    try:
        return _load_source(source, settings, published)
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{source}: not UTF-8 text (byte {exc.start}); save it as UTF-8, or give "
                                   "the page as .html (its charset is read)") from None
    except OSError as exc:
        raise click.ClickException(f"{source}: {exc.strerror or exc}") from None
    except MarsadError as exc:
        raise click.ClickException(f"{source}: {exc.reason}") from None


def _load_source(source: str, settings: Any, published: datetime | None) -> Article:
    from feeds.ingest.extract import extract_article
    from feeds.ingest.http import fetch

    if source.startswith(("http://", "https://")):
        res = fetch(source, settings.fetch.policy())
        return extract_article(res.body, res.headers, res.url)
    suffix = Path(source).suffix.lower()
    if suffix in PAGE_SUFFIXES:
        return extract_article(Path(source).read_bytes(), {}, Path(source).resolve().as_uri())
    if source != "-" and suffix not in TEXT_SUFFIXES:
        raise click.ClickException(f"{source}: give a URL, an .html or .txt file, or - (a {suffix} file is neither;"
                                   " JSON lines go to `marsad classify --jsonl` on stdin)")
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
@click.option("--date", "published", type=common.ISO_DATE, default=None,
              help="Publication date (YYYY-MM-DD) for role titles.")
@click.option("--redis", "redis_url", default=None,
              help="Also assign the article to a story in this live Redis (records it) and report story_id.")
def classify(source: str | None, config: str | None, as_json: bool, jsonl: bool, published: datetime | None,
             redis_url: str | None) -> None:
    """Classify SOURCE (URL, .html, .txt with the title on line 1, or -) by region, place, actor and watch.
    Entities are listed most prominent first (a mention in the title or lead counts more than one in the body;
    ×N is how many mentions). With --jsonl, a line that cannot be read is skipped with its number on stderr
    (exit status 1 at the end)."""
    from feeds.nlp.classify import Classifier

    if jsonl and source:
        raise click.UsageError("give a SOURCE or --jsonl (which reads stdin), not both")
    if not jsonl and not source:
        raise click.UsageError("give a SOURCE, or --jsonl")
    s = common.load(config)
    clf = Classifier(s.gazetteer)
    if jsonl:
        skipped = 0
        for n, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                art, doc_id = _jsonl_article(line, published)
            except ValueError as exc:
                skipped += 1
                click.echo(f"stdin line {n}: skipped: {exc}", err=True)
                continue
            c = clf.classify(art)
            click.echo(json.dumps(result_dict(art, c, s.watchset.match(art, c), doc_id), ensure_ascii=False))
        if skipped:
            raise click.ClickException(f"{skipped} line(s) skipped")
        return
    assert source is not None
    art = load_source(source, s, published)
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


def _jsonl_article(line: str, published: datetime | None) -> tuple[Article, Any]:
    """One stdin line of `classify --jsonl` as an Article and its id; ValueError saying what is wrong."""
    try:
        d = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    for key in ("title", "text", "url", "date"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise ValueError(f"{key}: expected a string, got {type(d[key]).__name__}")
    try:
        when = datetime.fromisoformat(d["date"]) if d.get("date") else published
    except ValueError:
        raise ValueError(f"date: {d['date'][:40]!r} is not an ISO date") from None
    return Article(url=d.get("url") or "", title=d.get("title") or "", text=d.get("text") or "",
                   published=when), d.get("id")


@click.command()
@click.argument("source")
@click.option("--watch", "watch_id", required=True, help="The watch to explain.")
@config_option
@click.option("--json", "as_json", is_flag=True, help="The explanation as data.")
@click.option("--no-color", is_flag=True, help="Mark matches with [[ ]] instead of colours.")
@click.option("--date", "published", type=common.ISO_DATE, default=None,
              help="Publication date (YYYY-MM-DD) for role titles.")
def why(source: str, watch_id: str, config: str | None, as_json: bool, no_color: bool,
        published: datetime | None) -> None:
    """Show why a watch matches SOURCE or not: the query tree with each node true/false, matches highlighted."""
    from feeds.nlp.classify import Classifier

    s = common.load(config)
    if watch_id not in {w.id for w in s.watches}:
        known = ", ".join(sorted(w.id for w in s.watches))
        raise click.ClickException(f"unknown watch {watch_id!r}; known: {known}")
    art = load_source(source, s, published)
    clf = Classifier(s.gazetteer)
    c = clf.classify(art)
    exp = s.watchset.explain(watch_id, art, c)
    rel = _relevance(s, clf, watch_id, art, c)
    if as_json:
        click.echo(json.dumps(exp.to_dict() | ({"relevance": rel} if rel else {}), ensure_ascii=False, indent=2))
    else:
        click.echo(exp.render(color=not no_color and sys.stdout.isatty()))
        if rel:
            click.echo("\n" + "\n".join(_relevance_lines(rel)))


def _relevance(s: Any, clf: Any, watch_id: str, art: Article, c: Classification) -> dict[str, Any] | None:
    """The watch's relevance model on the article (None when the watch names no examples): its state and, when
    it is active and the query matched, its score, threshold and the features that moved the score most."""
    from feeds.relevance.stage import explain, make_judge
    from workers.relevance import train_models

    if watch_id not in s.examples:
        return None
    (t,) = train_models(s, clf, only={watch_id})
    if t.model is None:
        return {"state": "failed", "note": t.error}
    out: dict[str, Any] = {"state": "active" if t.model.active else "inactive", "note": t.model.note,
                           "threshold": t.model.threshold if t.model.active else None}
    match = next((m for m in s.watchset.match(art, c) if m.watch_id == watch_id), None)
    if t.model.active and match is not None:
        v = explain(make_judge(s.watchset, watch_id, t.model), art, c, match)
        out |= {"score": v.score, "relevant": v.keep,
                "contributions": [{"feature": k, "weight": w} for k, w in v.contributions]}
    return out


def _relevance_lines(rel: dict[str, Any]) -> list[str]:
    from feeds.alerts.render.common import clean

    if rel["state"] != "active":
        return [f"relevance model: {rel['state']}, the query decides: {clean(rel['note'])}"]
    lines = [f"relevance model: active, threshold {rel['threshold']:.3f}"]
    if "score" not in rel:
        return [*lines, "  not consulted: the query does not match"]
    verdict = "relevant: the match alerts" if rel["relevant"] else "NOT relevant: the model vetoes the match"
    lines.append(f"  score {rel['score']:.3f} {'≥' if rel['relevant'] else '<'} {rel['threshold']:.3f}: {verdict}")
    lines.append("  features that moved it most (log-odds; + towards relevant):")
    # feature names hold article words (word:…, pair:…): cleaned like any untrusted text
    lines += [f"    {x['weight']:+.3f}  {clean(x['feature'])}" for x in rel["contributions"]]
    return lines


@click.command(name="eval")
@config_option
@click.option("--labels", type=click.Path(exists=True, dir_okay=False), default="../shared/corpus/labels-dev.jsonl",
              show_default=True)
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False),
              default="../shared/corpus/ant-v2.1-dev.jsonl.gz", show_default=True)
@click.option("--topic-labels", type=click.Path(dir_okay=False), default="eval/labels-topics.jsonl",
              show_default=True, help="More topic labels with a tune/held-out `split`, scored with --labels when "
                                      "a topic watch names examples (skipped when the file is absent).")
@click.option("--no-progress", is_flag=True, help="No progress bar (there is none when stderr is no terminal).")
def eval_(config: str | None, labels: str, corpus: str, topic_labels: str, no_progress: bool) -> None:
    """Score the classifier (countries, actors) and the topic watches against hand-labelled gold; when topic
    watches name examples, also the topics without and with them, on the tune and the held-out part. Paths are
    relative to the current folder: the defaults fit a checkout of Marsad beside the shared corpus (../shared)."""
    from feeds.evaluation.gold import classify_labelled, run_eval
    from feeds.nlp.classify import Classifier
    from workers.cli import progress

    s = common.load(config)
    clf = Classifier(s.gazetteer)
    # Topic labels are read with the corpus only when a topic watch names examples: then one pass serves both.
    extra = [Path(topic_labels)] if _examples_watches(s) and Path(topic_labels).is_file() else []
    paths = [Path(labels), *extra]
    # The bar's total is the corpus's line count, counted only when a bar is drawn.
    total = progress.count_lines([Path(corpus)]) if progress.enabled(no_progress) else None
    with progress.progress("eval: corpus read", total, disabled=no_progress) as advance:
        classified = classify_labelled(paths, Path(corpus), clf, advance)
    report = run_eval(Path(labels), Path(corpus), clf, s.watchset, classified=classified)
    click.echo(report.format())
    _eval_examples(s, clf, paths, Path(corpus), classified)


def _examples_watches(s: Any) -> list[str]:
    from feeds.evaluation.topics import TOPICS, topic_watch_id

    return [topic_watch_id(t) for t in TOPICS if topic_watch_id(t) in s.examples]


def _eval_examples(s: Any, clf: Any, paths: list[Path], corpus: Path, classified: Classified) -> None:
    """Topic figures without and with the watches' examples (their relevance models), per tune/held-out part."""
    from feeds.evaluation.gold import labelled_items
    from feeds.evaluation.topics import evaluate_splits, format_splits
    from feeds.relevance.stage import JudgedWatchSet
    from workers.relevance import judges, train_models

    with_examples = _examples_watches(s)
    if not with_examples:
        return
    trained = train_models(s, clf, only=set(with_examples))
    click.echo(f"\nexamples: {len(with_examples)} topic watches name examples; "
               f"{sum(1 for t in trained if t.model is not None and t.model.active)} models active")
    items = labelled_items(paths, corpus, clf, classified)
    variants = {"without examples (the query)": s.watchset,
                "with examples (query + model)": JudgedWatchSet(s.watchset, judges(s, trained))}
    click.echo("labels: " + ", ".join(str(p) for p in paths) + "; examples come from the tune part only, so its "
               "figures with examples are in-sample, the held-out ones are not\n")
    click.echo(format_splits(evaluate_splits(variants, items)))
