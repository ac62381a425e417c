"""Score classifier output against hand-labelled gold: micro P/R/F1 for countries and actors, with errors."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from feeds.errors import InvalidInput
from feeds.evaluation.topics import TopicScore, evaluate_topics, format_topic_scores
from feeds.models import Article, Classification, WatchMatch

# The actor ids the labelling guidelines allow; other gazetteer actors are not scored.
GUIDELINE_ACTORS = frozenset(
    "putin erdogan assad haftar sarraj salame de_mistura lavrov cavusoglu trump macron sisi rouhani "
    "khamenei netanyahu guterres kremlin unsc un nato eu hts isis sdf ypg fsa_nlf lna gna hezbollah irgc"
    .split()
)

ErrorKind = Literal["fp", "fn"]


@dataclass(frozen=True)
class EvalError:
    """One disagreement with gold: a false positive or a false negative."""

    docno: str
    kind: Literal["country", "actor"]
    id: str
    error: ErrorKind


@dataclass(frozen=True)
class PRF:
    """Micro-averaged counts and the figures derived from them."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def format(self, label: str) -> str:
        return (f"{label:<10} P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f} "
                f"(tp={self.tp} fp={self.fp} fn={self.fn})")


@dataclass
class EvalReport:
    """The scores of one run and every error, printable with `format()`."""

    countries: PRF
    actors: PRF
    errors: list[EvalError] = field(default_factory=list)
    documents: int = 0
    missing: list[str] = field(default_factory=list)  # gold docnos absent from the predictions
    notes: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (docno, kind, id) -> evidence
    topics: list[TopicScore] = field(default_factory=list)  # when topic watches were given

    def format(self) -> str:
        lines = [f"documents: {self.documents}", self.countries.format("countries"),
                 self.actors.format("actors")]
        if self.topics:
            lines.append(format_topic_scores(self.topics))
        if self.missing:
            lines.append(f"missing from corpus: {', '.join(self.missing)}")
        lines.append(f"errors: {len(self.errors)}")
        for e in self.errors:
            note = self.notes.get((e.docno, e.kind, e.id), "")
            lines.append(f"  {e.docno} {e.kind} {e.id} {e.error}" + (f"  {note}" if note else ""))
        return "\n".join(lines)


Prediction = tuple[set[str], set[str]]


def score(gold: Iterable[Mapping[str, Any]], predicted: Mapping[str, Prediction]) -> EvalReport:
    """Compare predictions (docno → (countries, actors)) with gold; optional items are not scored."""
    counts = {"country": [0, 0, 0], "actor": [0, 0, 0]}
    errors: list[EvalError] = []
    missing: list[str] = []
    n = 0
    for g in gold:
        docno = str(g["docno"])
        if docno not in predicted:
            missing.append(docno)
            continue
        n += 1
        pred_c, pred_a = predicted[docno]
        pairs: list[tuple[Literal["country", "actor"], set[str], set[str], set[str]]] = [
            ("country", set(g.get("countries", [])), set(g.get("countries_optional", [])), pred_c),
            ("actor", set(g.get("actors", {})), set(g.get("actors_optional", [])),
             pred_a & GUIDELINE_ACTORS),
        ]
        for kind, want, optional, got in pairs:
            c = counts[kind]
            c[0] += len(want & got)
            for x in sorted(got - want - optional):
                c[1] += 1
                errors.append(EvalError(docno, kind, x, "fp"))
            for x in sorted(want - got):
                c[2] += 1
                errors.append(EvalError(docno, kind, x, "fn"))
    return EvalReport(PRF(*counts["country"]), PRF(*counts["actor"]), errors, n, missing)


class _Classifier(Protocol):
    def classify(self, article: Article) -> Classification: ...


class _Matcher(Protocol):
    def match(self, article: Article, classification: Classification) -> list[WatchMatch]: ...


def corpus_article(doc: Mapping[str, Any]) -> Article:
    """An ANT corpus record as the Article the pipeline would build: title, abstract, text."""
    text = str(doc.get("text") or "")
    abstract = str(doc.get("abstract") or "").strip()
    # The RSS abstract usually repeats the text's opening; only keep it when it adds something.
    if abstract and abstract[:60] not in text:
        text = f"{abstract}\n\n{text}"
    published: datetime | None = None
    try:
        published = parsedate_to_datetime(str(doc["time"])) if doc.get("time") else None
    except (TypeError, ValueError):
        published = None
    return Article(url=str(doc.get("url", "")), title=str(doc.get("title") or ""), text=text,
                   feed_id=str(doc.get("src", "")), published=published)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Lines of a JSON-lines file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InvalidInput(f"{path}: line {n}: not JSON: {exc}") from exc
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from exc


Classified = Mapping[str, tuple[Article, Classification]]


def classify_labelled(labels_paths: Iterable[Path], corpus_path: Path, classifier: _Classifier,
                      progress: Callable[[int], None] | None = None) -> dict[str, tuple[Article, Classification]]:
    """The article and classification of every docno labelled in `labels_paths`, in one pass over the corpus
    (it is the slow part: several label files share it); `progress(1)` after each corpus record read."""
    wanted = {str(g["docno"]) for p in labels_paths for g in read_jsonl(p)}
    out: dict[str, tuple[Article, Classification]] = {}
    for doc in read_jsonl(corpus_path):
        if progress is not None:
            progress(1)
        docno = str(doc.get("docno"))
        if docno in wanted and docno not in out:
            article = corpus_article(doc)
            out[docno] = (article, classifier.classify(article))
    return out


def run_eval(labels_path: Path, corpus_path: Path, classifier: _Classifier,
             topic_watches: _Matcher | None = None, progress: Callable[[int], None] | None = None,
             classified: Classified | None = None) -> EvalReport:
    """Classify every labelled article found in the corpus and score the result (and the topic
    watches of config/watchlists/topics.yaml, when a compiled WatchSet is given); `progress(1)` is
    called after each corpus record read, for a caller's progress bar. `classified`: the articles already
    read and classified (`classify_labelled`), so the corpus is not read again."""
    gold = list(read_jsonl(labels_path))
    by_docno = {str(g["docno"]): g for g in gold}
    if classified is None:
        classified = classify_labelled([labels_path], corpus_path, classifier, progress)
    items: list[tuple[Mapping[str, Any], Article, Classification]] = []
    predicted: dict[str, Prediction] = {}
    evidence: dict[tuple[str, str, str], str] = {}
    for docno, (article, result) in classified.items():
        if docno not in by_docno:
            continue
        items.append((by_docno[docno], article, result))
        predicted[docno] = (result.ids("region"), result.ids("actor"))
        for m in result.mentions:  # the first mention behind each prediction, to explain errors
            kind = "country" if m.kind == "region" else m.kind
            evidence.setdefault((docno, kind, m.id), f"{m.surface!r}@{m.start} ({m.how})")
    report = score(gold, predicted)
    report.notes = evidence
    if topic_watches is not None:
        report.topics = evaluate_topics(topic_watches, items)
    return report


def labelled_items(labels_paths: Iterable[Path], corpus_path: Path, classifier: _Classifier,
                   classified: Classified | None = None
                   ) -> list[tuple[Mapping[str, Any], Article, Classification]]:
    """(gold, article, classification) of every labelled article found in the corpus, in corpus order; a docno
    labelled in several files counts once, with the last file's labels. `classified`: as for `run_eval`."""
    paths = list(labels_paths)
    by_docno = {str(g["docno"]): g for p in paths for g in read_jsonl(p)}
    if classified is None:
        classified = classify_labelled(paths, corpus_path, classifier)
    return [(by_docno[k], a, c) for k, (a, c) in classified.items() if k in by_docno]
