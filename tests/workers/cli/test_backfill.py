"""`marsad backfill` over real ANT corpus lines, through click's runner with a real config and gazetteer."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from feeds.evaluation.backfill import run as run_backfill
from feeds.nlp.classify import Classifier
from tests.conftest import REPO
from workers.cli import backfill as cli_backfill
from workers.config.load import Settings, load_settings

ARCHIVE = REPO / "tests/fixtures/backfill/archive.jsonl"
IDLIB = {"CN-middleEast-1301-20180907", "CN-middleEast-1194-20180814"}
LIBYA = {"SK-middleEast-3492-20180902", "BB-middleEast-909-20180903"}

WATCHES = """watches:
  - {id: idlib, name: Idlib, query: 'place:idlib OR إدلب', notify: [console]}
  - id: libya-truce
    name: "Libya [bold]truce[/bold]"
    query: '(هدنة OR "وقف إطلاق النار") AND region:LY'
    notify: [console]
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """A real config (shipped gazetteer, the watches above) loaded once: loading takes ~1 s."""
    tmp = tmp_path_factory.mktemp("config")
    (tmp / "watchlists").mkdir()
    (tmp / "watchlists" / "w.yaml").write_text(WATCHES, encoding="utf-8")
    (tmp / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    cfg = tmp / "marsad.yaml"
    cfg.write_text("feeds: feeds.yaml\nwatchlists: watchlists/\nsinks: {console: {type: log}}\n", encoding="utf-8")
    return cfg, load_settings(cfg, env={})


@pytest.fixture
def config(loaded: tuple[Path, Settings], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The config's path; the command gets the already loaded settings for it (one test loads it for real)."""
    import workers.cli.common

    cfg, settings = loaded
    real = workers.cli.common.load
    monkeypatch.setattr(workers.cli.common, "load", lambda path: settings if path == str(cfg) else real(path))
    return cfg


def cli() -> click.Group:
    @click.group()
    def main() -> None:
        pass

    main.add_command(cli_backfill.backfill)
    return main


def run(config: Path, *args: str | Path) -> Result:
    # Wide enough that no title is wrapped inside its table cell.
    return CliRunner(env={"COLUMNS": "220"}).invoke(cli(), ["backfill", "--config", str(config), *map(str, args)],
                                                    catch_exceptions=False)


def as_json(config: Path, *args: str | Path) -> dict[str, Any]:
    res = run(config, "--json", *args)
    assert res.exit_code == 0, res.output
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def matched(data: dict[str, Any]) -> dict[str, set[str]]:
    return {w["id"]: {a["id"] for a in w["articles"]} for w in data["watches"]}


def test_each_watch_matches_the_articles_about_it(config: Path) -> None:
    data = as_json(config, ARCHIVE)
    assert data["articles"] == 6 and data["bad_lines"] == 0 and data["dry_run"] is True
    assert matched(data) == {"idlib": IDLIB, "libya-truce": LIBYA}
    libya = data["watches"][1]
    assert libya["matched"] == 2 and libya["share"] == pytest.approx(2 / 6, abs=1e-6)
    assert libya["first"].startswith("2018-09-02T20:03:23") and libya["last"].startswith("2018-09-03T00:42:03")
    art = libya["articles"][0]  # chronological
    assert set(art) == {"id", "url", "title", "outlet", "date", "regions", "actors", "terms"}
    assert art["id"] == "SK-middleEast-3492-20180902" and art["outlet"] == "skynews"
    assert "LY" in art["regions"] and "gna" in art["actors"]
    assert art["url"].startswith("http") and art["title"]
    assert {"هدنة", "وقف إطلاق النار"} & {t for t in art["terms"]}


def test_since_and_until_filter_on_the_article_date_until_taking_the_whole_day(config: Path) -> None:
    data = as_json(config, ARCHIVE, "--since", "2018-09-01", "--until", "2018-09-02")
    # 2 Sep 20:03 GMT is in; 3 Sep 00:42 and the idlib articles (Aug, 7 Sep) are out.
    assert data["articles"] == 1 and data["outside_dates"] == 5
    assert matched(data) == {"idlib": set(), "libya-truce": {"SK-middleEast-3492-20180902"}}
    assert data["since"] == "2018-09-01T00:00:00+00:00"
    assert as_json(config, ARCHIVE, "--since", "2018-09-03T00:00+00:00")["articles"] == 2  # 3 Sep, 7 Sep
    bad = run(config, ARCHIVE, "--since", "last month")
    assert bad.exit_code == 2 and "'last month' is not an ISO date" in bad.output


def test_watch_option_runs_only_the_named_watches(config: Path) -> None:
    data = as_json(config, ARCHIVE, "--watch", "idlib")
    assert matched(data) == {"idlib": IDLIB}
    bad = run(config, ARCHIVE, "--watch", "idlb")
    assert bad.exit_code == 2 and "unknown watch 'idlb'" in bad.output and "known: idlib, libya-truce" in bad.output


def test_limit_stops_after_n_articles(config: Path) -> None:
    data = as_json(config, ARCHIVE, "--limit", "2")
    assert data["articles"] == 2 and matched(data) == {"idlib": IDLIB, "libya-truce": set()}  # the first two


def test_bad_lines_are_counted_and_named_by_file_and_line_without_stopping_the_run(config: Path,
                                                                                    tmp_path: Path) -> None:
    good = ARCHIVE.read_text(encoding="utf-8").splitlines()[0]
    broken = tmp_path / "broken.jsonl"
    no_text = '{"docno": "x", "title": "بلا نص", "text": " ", "abstract": null}'
    broken.write_bytes("\n".join([good, '{"title": "نص مقطوع', "", no_text, "[1, 2]", good]).encode()
                       + b"\n\xff\xfe{}\n")
    data = as_json(config, broken)
    assert data["articles"] == 2 and data["bad_lines"] == 4
    where = {(b["line"], b["reason"].split(":")[0].split(" (")[0]) for b in data["bad"]}
    assert where == {(2, "not JSON"), (4, "no text"), (5, "not a JSON object but list"), (7, "not UTF-8")}
    table = run(config, broken)
    assert table.exit_code == 0
    assert f"{broken}:2: not JSON" in table.stdout and f"{broken}:4: no text" in table.stdout
    assert "4 bad lines" in table.stdout


def test_an_archive_with_no_usable_line_fails(config: Path, tmp_path: Path) -> None:
    csv = tmp_path / "export.jsonl"
    csv.write_text("docno,title,text\n1,a,b\n", encoding="utf-8")
    res = run(config, csv)
    assert res.exit_code == 1 and f"{csv}:1: not JSON" in res.stdout
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(csv.read_text(encoding="utf-8") + ARCHIVE.read_text(encoding="utf-8"), encoding="utf-8")
    assert run(config, mixed, "--since", "2030-01-01").exit_code == 0  # usable, only outside the dates


def test_ctrl_c_keeps_what_was_found_so_far(loaded: tuple[Path, Settings]) -> None:
    settings = loaded[1]
    seen: list[int] = []

    def advance(n: int) -> None:
        seen.append(n)
        if len(seen) == 3:
            raise KeyboardInterrupt

    report = run_backfill([ARCHIVE], settings.watches, Classifier(settings.gazetteer), settings.watchset,
                          advance=advance)
    assert report.interrupted and report.articles == 2
    assert {h.id for h in report.tallies[0].hits} == IDLIB


def test_gzipped_archives_give_the_same_result_and_a_truncated_one_is_reported(config: Path, tmp_path: Path) -> None:
    gz = tmp_path / "archive.jsonl.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(ARCHIVE.read_bytes())
    assert matched(as_json(config, gz)) == matched(as_json(config, ARCHIVE))
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gz.read_bytes()[: gz.stat().st_size // 2])
    data = as_json(config, cut, ARCHIVE)  # the next file is still read
    assert data["articles"] >= 6 and data["bad"][-1]["file"] == str(cut)
    assert data["bad"][-1]["reason"].startswith("cannot read further")


def test_user_exports_with_id_outlet_and_published_are_read(config: Path, tmp_path: Path) -> None:
    doc = json.loads(ARCHIVE.read_text(encoding="utf-8").splitlines()[0])  # an Idlib article
    export = tmp_path / "mine.jsonl"
    export.write_text(json.dumps({"id": "mine-1", "outlet": "cnn", "published": "2018-09-07T16:12:30Z",
                                  "url": doc["url"], "title": doc["title"], "text": doc["text"]},
                                 ensure_ascii=False) + "\n", encoding="utf-8")
    art = as_json(config, export, "--since", "2018-09-07")["watches"][0]["articles"][0]
    assert (art["id"], art["outlet"], art["date"]) == ("mine-1", "cnn", "2018-09-07T16:12:30+00:00")
    assert as_json(config, export, "--until", "2018-09-06")["outside_dates"] == 1


def test_table_shows_counts_dates_and_titles_and_prints_hostile_titles_literally(config: Path,
                                                                                tmp_path: Path) -> None:
    hostile = "[red]x[/red] [link=https://evil.example]انقر[/link] :smile: \x1b[31m\u202eإدلب"
    extra = tmp_path / "hostile.jsonl"
    shutil.copy(ARCHIVE, extra)
    with extra.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"docno": "h1", "title": hostile, "text": "اشتباكات في إدلب اليوم.",
                             "time": "Sat, 08 Sep 2018 10:00:00 GMT"}, ensure_ascii=False) + "\n")
    res = run(config, extra, "--show", "2")
    assert res.exit_code == 0
    out = res.stdout
    assert "Dry run: 7 articles" in out and "no alerts sent" in out
    assert "Libya [bold]truce[/bold]" in out  # the watch name is not markup either
    assert "[red]x[/red] [link=https://evil.example]انقر[/link] :smile:" in out
    assert "\x1b" not in out and "😄" not in out and "\u202e" not in out  # no escapes, emoji codes, bidi overrides
    assert "idlib: 2 most recent of 3" in out
    # the two newest Idlib matches are shown, the oldest (14 Aug) is not
    assert "2018-09-08 10:00" in out and "تحذير من دي ميتسورا" in out and "لواء روسي" not in out
    assert "2018-08-14" in out  # as the watch's first match date
    assert "42.86%" in out  # 3 of 7


def test_the_config_is_loaded_from_the_config_option(loaded: tuple[Path, Settings],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARSAD_CONFIG", raising=False)  # the command sets it (as every command does)
    assert matched(as_json(loaded[0], ARCHIVE, "--watch", "libya-truce")) == {"libya-truce": LIBYA}
    missing = run(loaded[0].parent / "nope.yaml", ARCHIVE)
    assert missing.exit_code == 1 and "nope.yaml: (file): not found" in missing.output


def test_backfill_is_a_command_of_the_marsad_group() -> None:
    from workers.cli.main import main

    cmd = main.commands["backfill"]
    assert cmd is cli_backfill.backfill
    assert "dry run" in (cmd.help or "") and "no Redis" in (cmd.help or "")


def test_a_date_that_does_not_parse_is_said_a_field_of_the_wrong_type_is_named_and_dates_in_reverse_refused(
        config: Path, tmp_path: Path) -> None:
    good = json.loads(ARCHIVE.read_text(encoding="utf-8").splitlines()[0])
    odd = tmp_path / "odd.jsonl"
    odd.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in [
        good | {"docno": "a", "time": "garbage-date"}, good | {"docno": "b", "text": ["a"]}]) + "\n",
        encoding="utf-8")
    data = as_json(config, odd)
    assert data["articles"] == 1 and data["undated"] == 1 and data["bad_dates"] == 1
    assert [b["reason"] for b in data["bad"]] == ["text: expected a string, got list"]
    assert "1 of them with a date that does not parse" in run(config, odd).stdout
    reverse = run(config, odd, "--since", "2018-10-01", "--until", "2018-09-01")
    assert reverse.exit_code == 2 and "--until (2018-09-01 23:59) is before --since (2018-10-01 00:00)" in \
        reverse.output
