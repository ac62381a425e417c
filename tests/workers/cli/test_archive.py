"""`marsad archive prune`: what it deleted, of each kind."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.workers.archive.conftest import classified, record
from workers.archive.store import Archive
from workers.cli.web import archive


def test_prune_says_what_it_deleted_of_each_kind(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "marsad.yaml").write_text(f"data_dir: {tmp_path}\narchive_keep: 1d\n", encoding="utf-8")
    ar = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    rows = classified(3)
    ar.write_articles([record(d, a, c, story="old") | {"fetched": 100.0} for d, a, c in rows[:2]]
                      + [record(d, a, c, story="kept") for d, a, c in rows[2:]])  # fetched in 2033
    ar.close()
    res = CliRunner().invoke(archive, ["prune", "--config", str(tmp_path / "marsad.yaml")])
    assert res.exit_code == 0, res.output
    # (the last line: structlog, not configured in this process, prints the migration to stdout)
    assert res.output.strip().splitlines()[-1] == "deleted 2 articles, 1 stories, 0 alerts older than 1 days"
