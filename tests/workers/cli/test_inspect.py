"""`marsad classify` and `marsad why` on bad input: a clear error naming the source, option or line, never a
traceback; `classify --jsonl` goes on past a bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from workers.cli.main import main

CONFIG = str(REPO / "config" / "marsad.yaml")


def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, [*args, "--config", CONFIG], input=stdin)


@pytest.mark.parametrize("command", [["classify"], ["why", "--watch", "idlib"]])
def test_bad_sources_and_dates_are_errors_naming_them(tmp_path: Path, command: list[str]) -> None:
    good = tmp_path / "a.txt"
    good.write_text("هدنة في إدلب\nأعلنت هدنة في إدلب.", encoding="utf-8")
    latin = tmp_path / "b.txt"
    latin.write_bytes("هدنة".encode("cp1256"))
    lines = tmp_path / "c.jsonl"
    lines.write_text('{"title": "x"}\n', encoding="utf-8")
    cases = [([str(good), "--date", "garbage"], 2, "Invalid value for '--date': 'garbage' is not a date"),
             ([str(tmp_path / "missing.txt")], 1, "missing.txt: No such file or directory"),
             ([str(latin)], 1, "b.txt: not UTF-8 text (byte 0)"),
             ([str(lines)], 1, "c.jsonl: give a URL, an .html or .txt file, or -")]
    for args, code, message in cases:
        res = invoke(*command, *args)
        assert res.exit_code == code and message in res.output, (args, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert invoke(*command, str(good), "--date", "2020-03-05").exit_code == 0


def test_jsonl_skips_a_bad_line_with_its_number_and_classifies_the_rest() -> None:
    stdin = ('{"id": "a", "title": "هدنة في إدلب", "text": "أعلنت هدنة في إدلب."}\nnot json\n'
             '{"id": "b", "title": 5}\n{"id": "c", "text": "ليبيا", "date": "nope"}\n'
             '{"id": "d", "text": "وصل الوفد إلى طرابلس الليبية."}\n')
    res = invoke("classify", "--jsonl", stdin=stdin)
    assert res.exit_code == 1
    assert [json.loads(line)["id"] for line in res.stdout.splitlines()] == ["a", "d"]
    assert res.stderr.splitlines() == ["stdin line 2: skipped: not JSON (Expecting value, column 1)",
                                       "stdin line 3: skipped: title: expected a string, got int",
                                       "stdin line 4: skipped: date: 'nope' is not an ISO date",
                                       "Error: 3 line(s) skipped"]


def test_jsonl_with_a_source_is_a_usage_error(tmp_path: Path) -> None:
    res = invoke("classify", "--jsonl", str(tmp_path / "a.txt"))
    assert res.exit_code == 2 and "not both" in res.output
