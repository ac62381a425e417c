"""The `marsad backfill` command: what the current watches would have matched in an archive (a dry run)."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from feeds.alerts.render.common import clean as clean_line
from feeds.errors import InvalidInput
from feeds.evaluation.backfill import Hit, Report, Tally, run
from feeds.models import Watch
from workers.cli import common
from workers.cli.common import config_option

# Bad lines listed in the table output; the rest are counted (all of them are in --json).
MAX_BAD_SHOWN = 20
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _when(end: bool) -> Any:
    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            d = datetime.fromisoformat(value.strip())
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an ISO date (2018-02-01 or 2018-02-01T12:00+03:00)") \
                from None
        d = d if d.tzinfo else d.replace(tzinfo=UTC)
        if end and _DAY.fullmatch(value.strip()):
            d += timedelta(days=1, microseconds=-1)  # --until 2018-02-20 includes that whole day
        return d

    return convert


def clean(text: str) -> Text:
    """Untrusted text as a rich Text: never read as markup, one line without control or bidi characters
    (the same cleaning as alert texts), so an escape sequence in an archived title cannot drive the terminal."""
    return Text(clean_line(text))


def _day(d: datetime | None, minutes: bool = False) -> str:
    if d is None:
        return "–"
    return d.astimezone(UTC).strftime("%Y-%m-%d %H:%M" if minutes else "%Y-%m-%d")


def _examples(t: Tally, show: int) -> list[Hit]:
    """The most recent matches first, undated ones last."""
    return (t.dated()[::-1] + [h for h in t.hits if h.date is None])[:show]


def render(report: Report, console: Console, show: int) -> None:
    """Per-watch counts, shares and first/last dates, then example matches and the bad lines."""
    notes = [f"{report.outside_dates:,} outside the dates"] if report.outside_dates else []
    notes += [f"{report.undated:,} undated (kept)"] if report.undated else []
    notes += [f"{report.bad_dates:,} of them with a date that does not parse"] if report.bad_dates else []
    notes += [f"{len(report.bad):,} bad lines skipped"] if report.bad else []
    notes += ["INTERRUPTED: partial results"] if report.interrupted else []
    source = report.files[0] if report.files and report.files[0].startswith("archive:") else \
        f"{len(report.files)} file(s)"
    head = (f"Dry run: {report.articles:,} articles from {source} in {report.seconds:.1f} s; "
            "nothing stored, no alerts sent")
    console.print(Text(head + "".join(f"; {n}" for n in notes)))
    table = Table(title=Text("Watches over the archive"), title_justify="left")
    for name, justify in (("watch", "left"), ("name", "left"), ("matched", "right"), ("share", "right"),
                          ("first (UTC)", "left"), ("last (UTC)", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.columns[0].no_wrap = True  # ids are what users type in --watch: never cut or wrapped
    table.columns[0].min_width = max((len(t.watch.id) for t in report.tallies), default=5)
    for t in report.tallies:
        table.add_row(clean(t.watch.id), clean(t.watch.name), Text(f"{len(t.hits):,}"),
                      Text(f"{report.share(t):.2%}"), Text(_day(t.first)), Text(_day(t.last)))
    console.print(table)
    for t in report.tallies:
        shown = _examples(t, show)
        if not shown:
            continue
        ex = Table(title=clean(f"{t.watch.id}: {len(shown)} most recent of {len(t.hits):,}"), title_justify="left")
        for name in ("date (UTC)", "outlet", "title", "matched terms"):
            ex.add_column(name)
        for h in shown:
            ex.add_row(Text(_day(h.date, minutes=True)), clean(h.outlet), clean(h.title or h.url or h.id),
                       clean(", ".join(h.terms)))
        console.print(ex)
    if report.bad:
        console.print(Text(f"{len(report.bad):,} bad lines (skipped):"))
        for b in report.bad[:MAX_BAD_SHOWN]:
            console.print(clean(f"  {b}"))
        if len(report.bad) > MAX_BAD_SHOWN:
            console.print(Text(f"  … and {len(report.bad) - MAX_BAD_SHOWN:,} more (all of them with --json)"))


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@config_option
@click.option("--archive", "from_archive", is_flag=True,
              help="Read Marsad's own archive (archive_url) instead of FILES.")
@click.option("--query", "queries", multiple=True, metavar="QUERY",
              help="Try this query, as a watch not saved yet (repeatable; with --archive or FILES): alone it runs "
                   "instead of the watches, with --watch beside those.")
@click.option("--since", callback=_when(False), metavar="DATE",
              help="Only articles dated on/after this ISO date or time.")
@click.option("--until", callback=_when(True), metavar="DATE",
              help="Only articles dated on/before this ISO date (the whole day) or time.")
@click.option("--watch", "watch_ids", multiple=True, metavar="ID",
              help="Only this watch (repeatable; default: every watch).")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop after N articles scanned (after the date filter).")
@click.option("--show", type=click.IntRange(min=0), default=5, show_default=True, metavar="N",
              help="Example matches per watch in the table (most recent first).")
@click.option("--json", "as_json", is_flag=True, help="Print counts and every matched article as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar (there is none when stderr is no terminal).")
def backfill(files: tuple[Path, ...], config: str | None, from_archive: bool, queries: tuple[str, ...],
             since: datetime | None, until: datetime | None, watch_ids: tuple[str, ...], limit: int | None, show: int,
             as_json: bool, no_progress: bool) -> None:
    """What would the current watches have matched? Run them over an archive of articles.

    FILES are JSON-lines files (.jsonl, or .jsonl.gz), one article a line, as in the ANT corpus:
    {docno, url, src, title, time, abstract, text}; `id`, `outlet` and `published` (ISO 8601 or
    RFC 2822) are accepted for docno, src and time. Articles are classified and matched with the
    config's gazetteer and watchlists as the workers would, but not deduplicated: each copy of a
    story counts.

    With --archive, Marsad's own archive is read instead (every article the workers processed,
    copies included), through the same search as the console: the full-text index finds candidates and
    each watch decides on the stored classification. --query tries a query before it is saved as a
    watch, e.g. --archive --query 'place:idlib NEAR/10 هدنة' --since 2018-02-01.

    This is a dry run: it needs no Redis, sends no alerts and writes no state. Articles without a
    date are kept by --since/--until (and counted); lines that are not JSON or have no text are
    skipped and listed as FILE:LINE. Ctrl-C prints what was found so far.
    """
    from feeds.nlp.classify import Classifier
    from feeds.query.watchset import WatchSet
    from workers.cli import progress

    s = common.load(config)
    known = {w.id for w in s.watches}
    unknown = [w for w in watch_ids if w not in known]
    if unknown:
        raise click.UsageError(f"unknown watch {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}")
    if from_archive == bool(files):
        raise click.UsageError("give FILES or --archive (one of them)")
    if since is not None and until is not None and until < since:
        raise click.UsageError(f"--until ({until:%Y-%m-%d %H:%M}) is before --since ({since:%Y-%m-%d %H:%M})")
    watches = [w for w in s.watches if w.id in watch_ids] if watch_ids or queries else list(s.watches)
    watches += [Watch(id=f"query-{i + 1}", name=q, query=q) for i, q in enumerate(queries)]
    try:
        matcher = WatchSet.compile(watches, s.gazetteer.ids) if watch_ids or queries else s.watchset
    except InvalidInput as exc:
        raise click.UsageError(exc.reason) from None
    if from_archive:
        if s.archive_url is None:
            raise click.UsageError("the archive is off (archive_url: off in marsad.yaml)")
        from workers.archive import backfill as archive_backfill
        from workers.archive.store import Archive

        report = archive_backfill.run(Archive(s.archive_url), watches, s.gazetteer.ids, since=since, until=until)
        _output(report, since, until, as_json, show)
        return
    quiet = no_progress or as_json
    total: int | None = None
    if progress.enabled(quiet):  # a pre-pass for the bar's total, only when a bar is drawn (~0.4 s per 25k)
        total = progress.count_lines(files)
        if limit is not None and since is None and until is None:
            total = min(total, limit)
    with progress.progress("backfill", total, disabled=quiet) as advance:
        report = run(list(files), watches, Classifier(s.gazetteer), matcher, since=since, until=until,
                     limit=limit, advance=advance)
    _output(report, since, until, as_json, show)
    if report.interrupted:
        sys.exit(130)
    if report.bad and report.articles + report.outside_dates == 0:
        sys.exit(1)  # not one usable line: most likely not an article archive


def _output(report: Report, since: datetime | None, until: datetime | None, as_json: bool, show: int) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(since, until), ensure_ascii=False, indent=2))
        return
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120  # a report saved to a file: rich's 80-column default wraps most titles
    render(report, console, show)
