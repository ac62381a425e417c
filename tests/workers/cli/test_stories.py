"""`marsad why-same`: each signal against its threshold, and the verdict the store would reach."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from feeds.dedup import story as st
from tests.conftest import REPO, event_fixtures
from workers.cli.main import main

DOCS, PAIRS = event_fixtures()


def txt(tmp: Path, docno: str) -> str:
    p = tmp / f"{docno}.txt"
    p.write_text(DOCS[docno]["title"] + "\n" + DOCS[docno]["text"], encoding="utf-8")
    return str(p)


def run(*args: str) -> dict[str, object]:
    res = CliRunner().invoke(main, ["why-same", *args, "--config", str(REPO / "config" / "marsad.yaml"), "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)  # type: ignore[no-any-return]


def test_a_rewrite_is_one_story_by_the_event_score(tmp_path: Path) -> None:
    a, b = PAIRS["same_event"][3]  # the Havana air crash, by Al Arabiya and CNN
    out = run(txt(tmp_path, a), txt(tmp_path, b), "--date", "2018-05-18T20:00", "--date", "2018-05-18T21:30")
    assert out["same_story"] is True and out["decided_by"] == "event"
    event = out["event"]
    assert isinstance(event, dict) and event["score"] >= 0 and {s["signal"] for s in event["signals"]} == {
        "content", "title", "entities", "hours", "rare"}


def test_a_look_alike_event_is_two_stories_and_says_why(tmp_path: Path) -> None:
    a, b = PAIRS["different_event"][0]  # Hodeidah: two reports of different battles
    out = run(txt(tmp_path, a), txt(tmp_path, b), "--date", "2018-06-14T10:00", "--date", "2018-06-14T12:00")
    assert out["same_story"] is False and out["decided_by"] is None
    near = out["near_duplicate"]
    assert isinstance(near, dict) and near["same"] is False and near["same_outlet"] is False
    assert str(near["rule"]).startswith(f"text >= {st.NEAR_DUP_THRESHOLD}")  # the cross-outlet rule, and it fails:
    assert near["text_similarity"] < st.NEAR_DUP_THRESHOLD  # too little shared text for a copy


def test_one_date_for_two_articles_is_a_usage_error_and_none_is_said(tmp_path: Path) -> None:
    a, b = PAIRS["same_event"][3]
    args = [txt(tmp_path, a), txt(tmp_path, b), "--config", str(REPO / "config" / "marsad.yaml")]
    res = CliRunner().invoke(main, ["why-same", *args, "--date", "2018-05-18T20:00"])
    assert res.exit_code == 2 and "SECOND has no publication time and the other has" in res.output
    res = CliRunner().invoke(main, ["why-same", *args, "--date", "2018-05-18", "--date", "2018-05-18",
                                    "--date", "2018-05-19"])
    assert res.exit_code == 2 and "--date at most twice" in res.output
    res = CliRunner().invoke(main, ["why-same", *args])
    assert res.exit_code == 0 and "no publication times: compared as published together" in res.output


def test_stories_lists_the_archive_and_says_when_there_are_none(tmp_path: Path) -> None:
    import time

    from feeds.pipeline import article_id
    from tests.harness import WatchSpec, write_config
    from tests.workers.archive.conftest import classified
    from workers.archive.records import article_record
    from workers.archive.store import Archive

    cfg = write_config(tmp_path / "config", "redis://127.0.0.1:1/0", {"f1": "http://127.0.0.1:9/rss"},
                       [WatchSpec("w", "إدلب", ("console",))],
                       data_dir="../var", extra=f"archive_url: sqlite:///{tmp_path / 'a.db'}\n")
    empty = CliRunner().invoke(main, ["stories", "--config", str(cfg)])
    assert empty.exit_code == 0 and "no stories active since" in empty.stdout, empty.output
    _, a, c = classified(1)[0]
    rec = article_record(article_id(a.url), a, "f1", "new", "story-1", c, (), fetched=time.time())
    Archive(f"sqlite:///{tmp_path / 'a.db'}").write_articles([rec])
    listed = CliRunner().invoke(main, ["stories", "--config", str(cfg), "--since", "2000-01-01"])
    assert listed.exit_code == 0 and "1 stories" in listed.stdout and "no stories" not in listed.stdout
