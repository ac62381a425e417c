"""The `examples:` field of a watch: resolved against its watchlist's folder, its file checked line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.errors import InvalidInput
from feeds.query.load import load_watch_examples, load_watches

GOOD = '{"title": "هدنة", "text": "نص", "relevant": true}\n{"title": "t", "text": "x", "relevant": false, "id": "a"}\n'


def watchlist(folder: Path, examples: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "w.yaml"
    path.write_text(f"watches:\n  - {{id: w, name: W, query: هدنة, examples: {examples}}}\n"
                    "  - {id: plain, name: P, query: هدنة}\n", encoding="utf-8")
    return path


def test_a_relative_path_resolves_against_the_watchlists_folder_not_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wl = watchlist(tmp_path / "conf", "ex/w.jsonl")
    (tmp_path / "conf" / "ex").mkdir()
    (tmp_path / "conf" / "ex" / "w.jsonl").write_text(GOOD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    w, plain = load_watches([wl])
    assert w.examples == str((tmp_path / "conf" / "ex" / "w.jsonl").resolve()) and plain.examples is None
    got = load_watch_examples([w, plain])
    assert list(got) == ["w"] and [e.relevant for e in got["w"]] == [True, False]


def test_an_absolute_path_is_kept(tmp_path: Path) -> None:
    f = tmp_path / "abs.jsonl"
    f.write_text(GOOD, encoding="utf-8")
    (w, _) = load_watches([watchlist(tmp_path / "c", str(f))])
    assert w.examples == str(f)


@pytest.mark.parametrize("value", ["''", "[a.jsonl]", "3"])
def test_examples_must_be_a_path(tmp_path: Path, value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_watches([watchlist(tmp_path, value)])
    assert "watches[0] w: examples: expected the path of a JSON-lines file" in err.value.reason


@pytest.mark.parametrize(("content", "where"), [
    (GOOD + '{"title": "t", "text": "x"}\n', ":3: relevant: missing"),
    ('{"title": "t", "text": "x", "relevant": true}\n\n{not json\n', ":3: json: not valid JSON"),
    (GOOD + '{"title": "t", "text": "x", "relevant": "yes"}\n', ":3: relevant: expected true or false"),
    ('{"title": "t", "text": "x", "relevant": true, "label": 1}\n', ":1: label: unknown field"),
])
def test_a_bad_examples_file_is_reported_with_its_file_and_line(tmp_path: Path, content: str, where: str) -> None:
    f = tmp_path / "ex.jsonl"
    f.write_text(content, encoding="utf-8")
    watches = load_watches([watchlist(tmp_path, "ex.jsonl")])
    with pytest.raises(InvalidInput) as err:
        load_watch_examples(watches)
    assert err.value.reason.startswith(f"{f}{where}") and err.value.reason.endswith("(examples of watch w)")


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    a, b = watchlist(tmp_path / "a", "missing.jsonl"), watchlist(tmp_path / "b", "bad.jsonl")
    (tmp_path / "b" / "bad.jsonl").write_bytes(b'{"title": "t", "text": "\xff", "relevant": true}\n')
    b.write_text(b.read_text(encoding="utf-8").replace("id: w,", "id: w2,").replace("id: plain", "id: plain2"),
                 encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        load_watch_examples(load_watches([a, b]))
    lines = err.value.reason.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'a' / 'missing.jsonl'}: file: not found (to start labelling")
    assert lines[1].startswith(f"{tmp_path / 'b' / 'bad.jsonl'}:1: line: not UTF-8")
