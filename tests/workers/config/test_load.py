"""Config loading: env expansion, relative paths, every problem reported as `file: field: message`."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.errors import InvalidInput
from tests.conftest import REPO
from workers.config.env import expand_env, parse_duration
from workers.config.load import load_settings


def write_config(tmp: Path, main: str, feeds: str = "feeds: []\n", watches: str = "watches: []\n") -> Path:
    (tmp / "watchlists").mkdir(exist_ok=True)
    (tmp / "watchlists" / "w.yaml").write_text(watches, encoding="utf-8")
    (tmp / "feeds.yaml").write_text(feeds, encoding="utf-8")
    (tmp / "marsad.yaml").write_text(main, encoding="utf-8")
    return tmp / "marsad.yaml"


BASE = "feeds: feeds.yaml\nwatchlists: watchlists/\nsinks: {console: {type: log}}\n"


def test_shipped_example_config_is_valid() -> None:
    s = load_settings(REPO / "config/marsad.yaml", env={})
    assert {"idlib", "libya-ceasefire"} <= {w.id for w in s.watches}
    assert len(s.feeds) >= 8
    # Secrets unset → those sinks are "not configured", not errors.
    assert set(s.unconfigured_sinks) == {"desk-slack", "analysts"}
    assert "console" in s.sinks
    assert s.data_dir == (REPO / "var").resolve()


def test_env_variables_are_expanded_with_defaults() -> None:
    env = {"A": "x"}
    assert expand_env({"k": ["${A}", "${B:-dflt}", "${B}", "$A"]}, env) == {"k": ["x", "dflt", "", "$A"]}


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("2h", 7200), (45, 45), ("1.5m", 90)])
def test_durations_parse(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_every_problem_is_reported_with_file_and_field(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        BASE + "fetch: {timeout_s: -1}\nbogus: 1\n",
        feeds="feeds:\n  - {id: ok, url: 'https://example.org/rss'}\n  - {id: Bad Id, url: 'ftp://x'}\n"
              "  - {id: ok, url: 'https://example.org/2'}\n",
    )
    with pytest.raises(InvalidInput) as err:
        load_settings(cfg, env={})
    text = err.value.reason
    assert f"{cfg}: fetch.timeout_s:" in text
    assert f"{cfg}: bogus:" in text


def test_feed_errors_name_the_feeds_file_and_index(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, BASE,
        feeds="feeds:\n  - {id: ok, url: 'https://example.org/rss'}\n  - {id: Bad Id, url: 'ftp://x'}\n"
              "  - {id: ok, url: 'https://example.org/2', interval: soon}\n",
    )
    with pytest.raises(InvalidInput) as err:
        load_settings(cfg, env={})
    lines = err.value.reason.splitlines()
    feeds_file = tmp_path / "feeds.yaml"
    assert any(line.startswith(f"{feeds_file}: feeds[1].id:") for line in lines), lines
    assert any(line.startswith(f"{feeds_file}: feeds[1].url:") for line in lines), lines


def test_unknown_sink_in_a_watch_is_an_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BASE, watches="watches:\n  - {id: w1, name: W, query: إدلب, notify: [nope]}\n")
    with pytest.raises(InvalidInput) as err:
        load_settings(cfg, env={})
    assert "w1" in err.value.reason and "unknown sink 'nope'" in err.value.reason


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BASE, feeds="feeds: [\n")
    with pytest.raises(InvalidInput) as err:
        load_settings(cfg, env={})
    assert str(tmp_path / "feeds.yaml") in err.value.reason and "not valid YAML" in err.value.reason


def test_a_query_naming_a_feed_the_config_lacks_is_an_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BASE, feeds="feeds:\n  - {id: bbc-arabic, url: 'https://example.org/rss'}\n",
                       watches="watches:\n  - {id: w1, name: W, query: 'إدلب AND feed:bbc-arabc'}\n"
                               "  - {id: w2, name: W, query: 'إدلب AND feed:bbc-arabic'}\n")
    with pytest.raises(InvalidInput) as err:
        load_settings(cfg, env={})
    assert err.value.reason.splitlines() == [
        f"{tmp_path / 'watchlists' / 'w.yaml'}: watches[0] w1: query: column 10: unknown feed id 'bbc-arabc'; "
        "did you mean bbc-arabic?"]


def test_an_unknown_key_names_the_keys_known_there(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, BASE + "dedup_windw: 7d\nweb: {hots: 127.0.0.1}\narchive_keep: 180 days\n")
    with pytest.raises(InvalidInput) as err:
        load_settings(cfg, env={})
    lines = err.value.reason.splitlines()
    assert any(line.startswith(f"{cfg}: dedup_windw: unknown field; did you mean dedup_window? (known: ")
               for line in lines), lines
    assert any(line.startswith(f"{cfg}: web.hots: unknown field; did you mean host? (known: ") for line in lines)
    assert f"{cfg}: archive_keep: not a duration: '180 days' (use e.g. 90s, 5m, 2h, 1d)" in lines
