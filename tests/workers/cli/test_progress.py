"""The CLI progress bar: drawn through rich on a terminal, silent otherwise; line counts for its total."""

from __future__ import annotations

import gzip
from io import StringIO
from pathlib import Path

from rich.console import Console

from feeds.evaluation.gold import run_eval
from feeds.nlp.classify import Classifier
from feeds.nlp.gazetteer import default_gazetteer_paths, load_gazetteer
from tests.conftest import REPO
from workers.cli import progress


def terminal() -> tuple[Console, StringIO]:
    out = StringIO()
    return Console(file=out, force_terminal=True, width=120), out


def test_on_a_terminal_the_bar_shows_done_of_total() -> None:
    con, out = terminal()
    with progress.progress("backfill", 3, console=con) as advance:
        for _ in range(3):
            advance(1)
    text = out.getvalue()
    assert "backfill" in text and "3/3" in text and "/s" in text and "ETA" in text


def test_nothing_is_drawn_when_not_a_terminal_or_turned_off() -> None:
    out = StringIO()
    with progress.progress("backfill", 3, console=Console(file=out)) as advance:
        advance(3)
    con, tty_out = terminal()
    with progress.progress("backfill", 3, disabled=True, console=con) as advance:
        advance(3)
    assert out.getvalue() == "" and tty_out.getvalue() == ""
    assert progress.enabled(console=terminal()[0])
    assert not progress.enabled(console=Console(file=StringIO()))
    assert not progress.enabled(True, console=terminal()[0])


def test_lines_are_counted_in_plain_and_gzipped_files(tmp_path: Path) -> None:
    plain = tmp_path / "a.jsonl"
    plain.write_text("{}\n{}\n{}", encoding="utf-8")  # the last line has no newline
    gz = tmp_path / "b.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("{}\n" * 1000)
    cut = tmp_path / "c.jsonl.gz"
    cut.write_bytes(b"not gzip")
    assert progress.count_lines([plain]) == 3
    assert progress.count_lines([plain, gz, cut]) == 1003


def test_eval_reports_progress_once_per_corpus_record() -> None:
    fixtures = REPO / "tests/fixtures/classify"
    calls: list[int] = []
    report = run_eval(fixtures / "labels.jsonl", fixtures / "corpus.jsonl.gz",
                      Classifier(load_gazetteer(default_gazetteer_paths())), progress=calls.append)
    assert sum(calls) == progress.count_lines([fixtures / "corpus.jsonl.gz"]) and set(calls) == {1}
    assert report.documents > 0
