"""The `marsad` commands about stories: the recent ones (from the archive), and why-same (are two articles one
story, and why)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import click

from workers.cli import common
from workers.cli.common import config_option


def explain_pair(a: Any, b: Any, classifier: Any, same_outlet: bool) -> dict[str, Any]:
    """Every signal the story store weighs for article b against a story made of article a, with its threshold."""
    from feeds.dedup import df as dfmod
    from feeds.dedup import event as ev
    from feeds.dedup import story as st
    from feeds.dedup.fingerprint import similarity, sketch
    from feeds.dedup.lead import lead_similarity

    sa, sb = sketch(a.document), sketch(b.document)
    text, lead = similarity(sa, sb), lead_similarity(sa.lead, sb.lead)
    near = st.same_story(sa, sb, same_outlet)
    base, n = dfmod.base()
    when = [x.published.timestamp() if x.published else 0.0 for x in (a, b)]
    va, vb = (ev.vectorise(ev.event_terms(x, classifier.classify(x)), lambda h: base.get(h, 0), n, t)
              for x, t in zip((a, b), when, strict=True))
    sig = ev.pair_signals(va, vb)
    within = abs(when[0] - when[1]) <= ev.PAIR_HOURS * 3600
    parts = [("content", sig.content, ev.W_CONTENT), ("title", sig.title, ev.W_TITLE),
             ("entities", sig.entities, ev.W_ENTITIES),
             ("hours", min(sig.hours, ev.MAX_HOURS) / 24.0, ev.W_HOURS), ("rare", sig.rare / ev.RARE_CAP, ev.W_RARE)]
    return {
        "same_story": near or (within and sig.same),
        "decided_by": "near_duplicate" if near else ("event" if within and sig.same else None),
        "near_duplicate": {
            "text_similarity": round(text, 3), "lead_similarity": round(lead, 3), "same_outlet": same_outlet,
            "rule": (f"same outlet: text >= {st.SAME_OUTLET_THRESHOLD}" if same_outlet else
                     f"text >= {st.NEAR_DUP_THRESHOLD} (and lead >= {st.LEAD_VETO} while text < "
                     f"{st.LEAD_VETO_BELOW}), or text >= {st.LEAD_TEXT_THRESHOLD} and lead >= {st.LEAD_THRESHOLD}"),
            "same": near},
        "event": {"signals": [{"signal": name, "value": round(v, 3), "weight": w, "contributes": round(v * w, 3)}
                              for name, v, w in parts],
                  "rare_terms_shared": sig.rare, "hours_apart": round(sig.hours, 1), "bias": ev.BIAS,
                  "score": round(sig.score, 3), "threshold": 0.0, "same": sig.same,
                  "within_window": within, "window_hours": ev.PAIR_HOURS},
    }


@click.command(name="why-same")
@click.argument("first")
@click.argument("second")
@config_option
@click.option("--same-outlet", is_flag=True, help="The two come from one outlet (its own, stricter text rule).")
@click.option("--date", "dates", multiple=True, type=common.ISO_DATE, metavar="YYYY-MM-DD[THH:MM]",
              help="Publication time of FIRST then SECOND when the source has none (repeat: --date A --date B). "
                   "Both have a time or neither (then they are compared as published together).")
@click.option("--json", "as_json", is_flag=True, help="The signals as data.")
def why_same(first: str, second: str, config: str | None, same_outlet: bool, dates: tuple[datetime, ...],
             as_json: bool) -> None:
    """Are FIRST and SECOND (URLs, .html, or .txt with the title on line 1) one story, and why: each signal of
    the near-duplicate stage and of the event score, against its threshold (IDF: the shipped table)."""
    from feeds.nlp.classify import Classifier
    from workers.cli.inspect import load_source

    if len(dates) > 2:
        raise click.UsageError("--date at most twice: FIRST's time, then SECOND's")
    s = common.load(config)
    when: list[datetime | None] = [*dates, None, None]
    a, b = (load_source(src, s, when[i]) for i, src in enumerate((first, second)))
    if (a.published is None) != (b.published is None):
        # one dated and one not would be compared across decades (an undated article counts as time 0)
        raise click.UsageError(f"{'SECOND' if a.published else 'FIRST'} has no publication time and the other "
                               "has: give both with --date (FIRST's, then SECOND's)")
    res = explain_pair(a, b, Classifier(s.gazetteer), same_outlet)
    if as_json:
        click.echo(json.dumps(res, ensure_ascii=False, indent=2))
        return
    nd, e = res["near_duplicate"], res["event"]
    verdict = f"one story ({res['decided_by']})" if res["same_story"] else "two stories"
    click.echo(f"{verdict}")
    click.echo(f"near-duplicate stage: text {nd['text_similarity']}, lead {nd['lead_similarity']} → "
               f"{'same' if nd['same'] else 'not the same'}  [{nd['rule']}]")
    apart = f"{e['hours_apart']} h apart" if a.published else "no publication times: compared as published together"
    click.echo(f"event stage: score {e['score']:+.3f} (same when >= 0; {apart}, window "
               f"{e['window_hours']:g} h{'' if e['within_window'] else ': outside'})")
    for row in e["signals"]:
        click.echo(f"  {row['signal']:9} {row['value']:6.3f} × {row['weight']:+.2f} = {row['contributes']:+.3f}")
    click.echo(f"  bias      {e['bias']:+.2f}")


@click.command(name="stories")
@config_option
@click.option("--since", default="24h", show_default=True, metavar="WHEN",
              help="Stories active since: a duration back (6h, 7d) or an ISO date.")
@click.option("--until", default=None, metavar="WHEN", help="Stories begun by then (ISO date: the whole day).")
@click.option("--watch", default=None, metavar="ID", help="Only stories with an article this watch matched.")
@click.option("--region", "regions", multiple=True, metavar="CC", help="Only stories about this country.")
@click.option("--actor", "actors", multiple=True, metavar="ID", help="Only stories naming this actor.")
@click.option("--feed", "feeds", multiple=True, metavar="ID", help="Only stories this outlet carried.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="The stories as JSON.")
def stories(config: str | None, since: str, until: str | None, watch: str | None, regions: tuple[str, ...],
            actors: tuple[str, ...], feeds: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Recent events from the archive: each story with its outlets, first and last seen, and size."""
    import time

    from rich.console import Console
    from rich.table import Table

    from feeds.errors import InvalidInput
    from workers.archive.queries import story_rows
    from workers.archive.search import Filters
    from workers.archive.store import Archive
    from workers.cli.backfill import clean
    from workers.web.common import parse_time

    s = common.load(config)
    if s.archive_url is None:
        raise click.UsageError("the archive is off (archive_url: off in marsad.yaml)")
    now = time.time()
    try:
        f = Filters(since=parse_time(since, now), until=parse_time(until, now, end=True), feeds=feeds,
                    regions=tuple(r.upper() for r in regions), actors=actors, watch=watch)
    except InvalidInput as exc:
        raise click.UsageError(exc.reason) from None
    rows = story_rows(Archive(s.archive_url), f, limit)
    names = {fid: feed.name or fid for fid, feed in s.feeds.items()}
    if as_json:
        for r in rows:
            r["outlets"] = [{"id": o, "name": names.get(o, o)} for o in r.pop("outlet_ids")]
            for k in ("first_seen", "last_seen"):
                r[k] = datetime.fromtimestamp(r[k], UTC).isoformat()
        click.echo(json.dumps({"stories": rows}, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"no stories active since {datetime.fromtimestamp(f.since or 0, UTC):%Y-%m-%d %H:%M} UTC"
                   + (" with these filters" if (until or watch or regions or actors or feeds) else "")
                   + " in the archive (the running daemon fills it)")
        return
    table = Table(title=f"{len(rows)} stories, most recent activity first (UTC)", title_justify="left")
    for col in ("last seen", "first seen", "articles", "outlets", "title"):
        table.add_column(col, justify="right" if col == "articles" else "left")
    for r in rows:
        table.add_row(f"{datetime.fromtimestamp(r['last_seen'], UTC):%Y-%m-%d %H:%M}",
                      f"{datetime.fromtimestamp(r['first_seen'], UTC):%Y-%m-%d %H:%M}", str(r["size"]),
                      clean(", ".join(names.get(o, o) for o in r["outlet_ids"])), clean(r["title"]))
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120  # saved to a file: rich's 80 columns would wrap every title
    console.print(table)
