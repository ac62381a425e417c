"""`marsad check`, `train`, `feedback`, `suggest`, `why` and `eval` with a watch that names examples: real config
files, a real SQLite archive, the real classifier; feedback from two processes at once loses nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feeds.models import Alert, Watch
from feeds.pipeline import article_id
from feeds.relevance.examples import Example, example_article, example_to_json, load_examples
from tests.feeds.relevance.test_train import GATE, examples, make, setup
from workers import relevance
from workers.archive.records import alert_record, article_record
from workers.archive.store import Archive
from workers.cli.main import main
from workers.config.load import load_settings


def write(folder: Path, *, examples_line: str = "    examples: ex/w.jsonl\n", archive: str | None = None,
          exs: list[Example] | None = None) -> Path:
    (folder / "watchlists" / "ex").mkdir(parents=True, exist_ok=True)
    (folder / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    (folder / "watchlists" / "w.yaml").write_text(
        f"watches:\n  - id: w\n    name: W\n    query: '{GATE}'\n    notify: [console]\n{examples_line}"
        f"  - id: bare\n    name: B\n    query: '{GATE}'\n    notify: [console]\n", encoding="utf-8")
    (folder / "watchlists" / "ex" / "w.jsonl").write_text(
        "\n".join(example_to_json(e) for e in (examples() if exs is None else exs)) + "\n", encoding="utf-8")
    url = archive or f"sqlite:///{folder / 'archive.db'}"
    path = folder / "marsad.yaml"
    path.write_text(f"data_dir: var\nfeeds: feeds.yaml\nwatchlists: watchlists/\nsinks: {{console: {{type: log}}}}\n"
                    f"archive_url: {url}\n", encoding="utf-8")
    return path


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_check_reports_a_bad_examples_file_with_its_file_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    ok = cli("check", "--config", str(cfg))
    assert ok.exit_code == 0 and ok.output.startswith("config OK"), ok.output
    f = tmp_path / "watchlists" / "ex" / "w.jsonl"
    lines = f.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2].replace('"relevant": true', '"relevant": "yes"').replace('"relevant": false', '"relevant": 1')
    f.write_text("\n".join(lines), encoding="utf-8")
    bad = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert bad.exit_code == 1
    assert f"{f}:3: relevant: expected true or false" in bad.output and "(examples of watch w)" in bad.output


def test_a_missing_examples_file_is_a_config_problem(tmp_path: Path) -> None:
    cfg = write(tmp_path, examples_line="    examples: nowhere.jsonl\n")
    bad = CliRunner().invoke(main, ["check", "--config", str(cfg)])
    assert bad.exit_code == 1 and f"{tmp_path / 'watchlists' / 'nowhere.jsonl'}: file: not found" in bad.output


def test_train_caches_by_the_examples_hash_and_changed_examples_retrain(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    res = cli("train", "--config", str(cfg))
    assert res.exit_code == 0 and res.stdout.startswith("w: ACTIVE (threshold "), res.output
    assert "bare" not in res.output  # no examples, no model
    cached = list((tmp_path / "var" / "relevance").glob("w.*.json"))
    assert len(cached) == 1
    relevance._memo.clear()  # a fresh process: the cache, not memory
    s = load_settings(cfg, env={})
    (t,) = relevance.train_models(s, setup()[0])
    assert t.source == "cache" and t.model is not None and t.model.active
    # an appended example (what `marsad feedback` does) changes the hash: the next load trains again
    relevance.add_example(Path(s.watches[0].examples or ""), make(False, 300))
    s2 = load_settings(cfg, env={})
    assert s2.watches[0].examples in {str(p) for p in s2.files}  # the reload watches the examples file
    (t2,) = relevance.train_models(s2, setup()[0])
    assert t2.source == "trained" and t2.key != t.key
    assert [p.name for p in (tmp_path / "var" / "relevance").glob("w.*.json")] == [
        relevance.cache_path(s2.data_dir, "w", t2.key).name]  # the old model is gone


def test_a_failing_training_leaves_the_watch_to_its_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path)
    relevance._memo.clear()

    def boom(*a: Any, **kw: Any) -> Any:
        raise ValueError("singular matrix")

    monkeypatch.setattr(relevance, "fit_watch", boom)
    s = load_settings(cfg, env={})
    (t,) = relevance.train_models(s, setup()[0])
    assert t.model is None and "singular matrix" in t.error and relevance.judges(s, [t]) == {}
    res = CliRunner().invoke(main, ["train", "--config", str(cfg)])
    assert res.exit_code == 1 and "w: FAILED, the query decides: ValueError: singular matrix" in res.output


def _archive_alert(tmp_path: Path, ex: Example, watch: str = "w") -> str:
    """The article of `ex` and one alert of `watch` on it, in the test config's SQLite archive."""
    a = example_article(ex)
    url = f"https://example.org/{ex.id}"
    a = type(a)(url=url, title=a.title, text=a.text, published=a.published)
    archive = Archive(f"sqlite:///{tmp_path / 'archive.db'}")
    archive.write_articles([article_record(article_id(url), a, "f", "new", "s-" + str(ex.id),
                                           setup()[0].classify(a), (), fetched=1.6e9)])
    alert = Alert(watch_id=watch, watch_name=watch, severity="medium", story_id="s-" + str(ex.id), url=url,
                  title=a.title, feed_id="f", feed_name="F", published=None)
    archive.write_alert(alert_record(alert, "console", "sent", now=1.6e9))
    archive.close()
    return alert.alert_id


def test_feedback_adds_the_alerts_article_then_relabels_it_in_place(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    f = tmp_path / "watchlists" / "ex" / "w.jsonl"
    before = len(load_examples(f))
    aid = _archive_alert(tmp_path, make(True, 400))
    res = cli("feedback", aid, "relevant", "--config", str(cfg))
    assert res.exit_code == 0 and "added to" in res.output, res.output
    key = article_id("https://example.org/t400")
    exs = load_examples(f)
    assert len(exs) == before + 1 and exs[-1].id == key and exs[-1].relevant
    assert "already so in" in cli("feedback", aid, "relevant", "--config", str(cfg)).output
    res = cli("feedback", aid, "irrelevant", "--config", str(cfg))
    assert "relabelled in" in res.output
    text = f.read_text(encoding="utf-8")
    assert text.count(key) == 1  # one line per article, never a second one
    assert load_examples(f)[-1].relevant is False and len(load_examples(f)) == before + 1


def test_feedback_refuses_clearly(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    aid = _archive_alert(tmp_path, make(True, 401), watch="bare")
    res = CliRunner().invoke(main, ["feedback", aid, "relevant", "--config", str(cfg)])
    assert res.exit_code == 1 and "watch bare has no examples file: add `examples: PATH`" in res.output
    res = CliRunner().invoke(main, ["feedback", "0123456789", "relevant", "--config", str(cfg)])
    assert res.exit_code == 1 and "no alert '0123456789' in the archive" in res.output
    off = write(tmp_path / "off", archive='"off"')
    res = CliRunner().invoke(main, ["feedback", aid, "relevant", "--config", str(off)])
    assert res.exit_code == 1 and "the archive is off" in res.output


def _appender(path: str, start: Any, n: int) -> None:
    start.wait()
    for i in range(n):
        relevance.add_example(Path(path), Example(f"t{i}", f"نص {i}", True, id=f"new-{i}"))


def _relabeller(path: str, start: Any, n: int) -> None:
    start.wait()
    for i in range(n):
        relevance.add_example(Path(path), Example("flip", "نص", i % 2 == 0, id="flip"))


def test_two_analysts_at_once_lose_nothing(tmp_path: Path) -> None:
    """One process appends while another relabels (which rewrites the file and renames it over the old one):
    without the lock, or if a writer kept appending to the replaced file, appended lines would be lost."""
    f = tmp_path / "w.jsonl"
    f.write_text(example_to_json(Example("flip", "نص", False, id="flip")) + "\n", encoding="utf-8")
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_appender, args=(str(f), start, 60)),
             ctx.Process(target=_relabeller, args=(str(f), start, 60))]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ids = [json.loads(x)["id"] for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert sorted(i for i in ids if i != "flip") == sorted(f"new-{i}" for i in range(60))
    assert ids.count("flip") == 1 and not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_suggest_lists_terms_to_add_and_to_reconsider(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    res = cli("suggest", "--watch", "w", "--config", str(cfg))
    assert res.exit_code == 0 and res.stdout.startswith("watch w: 22 examples, 11 relevant;"), res.output
    assert "add (stories" in res.output and "reconsider" in res.output
    data = json.loads(cli("suggest", "--watch", "w", "--json", "--config", str(cfg)).stdout)
    added = {x["term"] for x in data["add"]}
    assert "هدنه" in added  # the truce word of the relevant examples, absent from the query
    assert any(x["missed"] for x in data["add"])  # the relevant example outside the gate comes first
    res = CliRunner().invoke(main, ["suggest", "--watch", "bare", "--config", str(cfg)])
    assert res.exit_code == 1 and "has no examples file" in res.output


def test_why_shows_the_models_score_threshold_and_features(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    src = tmp_path / "a.txt"
    ex = make(False, 500)
    src.write_text(f"{ex.title}\n{ex.text}", encoding="utf-8")
    res = cli("why", "--watch", "w", "--no-color", "--config", str(cfg), str(src))
    assert res.exit_code == 0 and "watch w: MATCH" in res.output  # the query's tree, as before
    assert "relevance model: active, threshold " in res.output
    assert "NOT relevant: the model vetoes the match" in res.output and "features that moved it most" in res.output
    data = json.loads(cli("why", "--watch", "w", "--json", "--config", str(cfg), str(src)).stdout)
    rel = data["relevance"]
    assert rel["state"] == "active" and rel["score"] < rel["threshold"] and not rel["relevant"]
    assert rel["contributions"] and data["tree"]
    plain = json.loads(cli("why", "--watch", "bare", "--json", "--config", str(cfg), str(src)).stdout)
    assert "relevance" not in plain


def test_eval_prints_topics_without_and_with_examples_per_part(tmp_path: Path) -> None:
    """A topic watch with examples: the figures per tune/held-out part, with and without its model."""
    cfg = write(tmp_path)
    wl = tmp_path / "watchlists" / "w.yaml"
    wl.write_text(wl.read_text(encoding="utf-8").replace("id: w\n", "id: topic-syria-ceasefire\n"), encoding="utf-8")
    docs, labels = [], []
    for n, (rel, i, day) in enumerate([(True, 600, "20180301"), (False, 601, "20180302"), (True, 602, "20180901"),
                                       (False, 603, "20180902")]):
        ex = make(rel, i)
        docno = f"XX-test-{n}-{day}"
        docs.append({"docno": docno, "title": ex.title, "text": ex.text, "url": f"https://example.org/{n}"})
        labels.append({"docno": docno, "countries": [], "actors": {}, "topics": {"syria_ceasefire": rel}})
    corpus, lab = tmp_path / "corpus.jsonl", tmp_path / "labels.jsonl"
    corpus.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs), encoding="utf-8")
    lab.write_text("\n".join(json.dumps(d) for d in labels), encoding="utf-8")
    res = cli("eval", "--config", str(cfg), "--labels", str(lab), "--corpus", str(corpus), "--no-progress",
              "--topic-labels", str(tmp_path / "absent.jsonl"))
    assert res.exit_code == 0, res.output
    assert "examples: 1 topic watches name examples; 1 models active" in res.output
    for part in ("tune part (2 articles)", "heldout part (2 articles)"):
        assert f"topics, {part}, without examples (the query): micro F1 0.667" in res.output
        assert f"topics, {part}, with examples (query + model): micro F1 1.000" in res.output


def test_the_runtime_judges_with_active_models_only_and_a_reload_picks_up_changed_examples(tmp_path: Path) -> None:
    import redis

    from workers.runtime import Runtime

    cfg = write(tmp_path)
    client = redis.Redis(unix_socket_path=str(tmp_path / "none.sock"))  # never used: nothing here talks to Redis
    rt = Runtime(load_settings(cfg, env={}), client=client)
    assert set(rt.judges) == {"w"} and [t.watch_id for t in rt.relevance_models] == ["w"]
    # examples the query passes that are all relevant: nothing to learn, so no judge and no work per article
    write(tmp_path, exs=[make(True, i) for i in range(6)])
    rt2 = Runtime(load_settings(cfg, env={}), client=client)
    assert rt2.judges == {} and rt2.relevance_models[0].model is not None
    assert rt2.relevance_models[0].key != rt.relevance_models[0].key


def test_the_models_cache_key_changes_with_everything_the_model_depends_on() -> None:
    w = Watch(id="w", name="w", query="هدنة AND region:SY")
    key = relevance.model_key(w, "examples-1", "gaz-1")
    assert relevance.model_key(w, "examples-1", "gaz-1") == key
    for other in (relevance.model_key(replace(w, min_mentions=2), "examples-1", "gaz-1"),
                  relevance.model_key(replace(w, threshold=1.5), "examples-1", "gaz-1"),
                  relevance.model_key(replace(w, query="هدنة"), "examples-1", "gaz-1"),
                  relevance.model_key(w, "examples-2", "gaz-1"), relevance.model_key(w, "examples-1", "gaz-2")):
        assert other != key
