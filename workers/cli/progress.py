"""Progress bars for long CLI work (eval, backfill): drawn on stderr, only when it is a terminal."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Advance = Callable[[int], None]

# Bytes per read when counting lines: large enough that counting a 25,000-article archive is ~0.4 s.
_CHUNK = 1 << 20


class RateColumn(ProgressColumn):
    """Items per second, averaged by rich over its recent samples."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("–/s" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


def stderr_console() -> Console:
    return Console(stderr=True)


def enabled(disabled: bool = False, console: Console | None = None) -> bool:
    """Whether a bar would be drawn: not turned off, and stderr (or the given console) is a terminal."""
    return not disabled and (console or stderr_console()).is_terminal


def _noop(n: int) -> None:
    return None


@contextmanager
def progress(description: str, total: int | None, *, disabled: bool = False,
             console: Console | None = None) -> Iterator[Advance]:
    """Yield `advance(n)`; on a terminal it moves a bar showing done/total, rate, elapsed time and ETA.

    When `disabled` or when the console is not a terminal (a pipe, a file, a test runner), `advance`
    does nothing and nothing is printed, so scripts see exactly the output they saw before.
    """
    con = console or stderr_console()
    if disabled or not con.is_terminal:
        yield _noop
        return
    bar = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   RateColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=con, transient=False)
    with bar:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def count_lines(paths: Iterable[Path]) -> int:
    """Lines in the files (gzipped when named *.gz), for a bar's total; unreadable files count 0."""
    total = 0
    for path in paths:
        opener = gzip.open if path.suffix == ".gz" else open
        last = b"\n"
        try:
            with opener(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    total += chunk.count(b"\n")
                    last = chunk[-1:]
        except (OSError, EOFError):
            continue  # the run itself reports the broken file; the bar only loses its total
        total += last != b"\n"  # a last line without a newline
    return total
