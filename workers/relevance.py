"""The configured watches' relevance models: trained from their examples at load, cached in data_dir/relevance.

A model is cached under a key of the examples' hash, the watch's query, the feature and model versions and the
gazetteer (the features count its entities), as the JSON of `RelevanceModel.to_json` (never pickle). A load
with unchanged examples reads the cache (or this process's memory: a hot reload rebuilds the runtime); changed
examples change the key, and the model is trained again. A training that fails is logged with the watch and
its file, and that watch keeps its query's decision: a bad model must not stop a worker. `add_example` is how
`marsad feedback` writes to an examples file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from feeds.errors import InvalidInput
from feeds.nlp.gazetteer import Gazetteer
from feeds.relevance.examples import Example, example_to_json, examples_hash
from feeds.relevance.model import RelevanceModel
from feeds.relevance.stage import Judge, make_judge
from feeds.relevance.train import fit_watch, label_examples, training_key
from workers.logging import get_logger

log = get_logger("marsad.relevance")
CACHE_DIR = "relevance"
# Models by key, in this process: the runtime is rebuilt on every config change, and most changes leave the
# examples alone. A few KB each; bounded by the configured watches (old keys are dropped when replaced).
_memo: dict[str, RelevanceModel] = {}
_memo_keys: dict[str, str] = {}  # watch id → its key in _memo


@dataclass(frozen=True)
class Trained:
    """One watch's model as this load got it: `source` is memory, cache or trained; failed with `error`."""

    watch_id: str
    examples: Path
    key: str
    model: RelevanceModel | None
    source: str
    error: str = ""
    seconds: float = 0.0


def gazetteer_digest(g: Gazetteer) -> str:
    """What of the gazetteer the features depend on: its entities, every name entry the classifier looks up
    (not only the first words), typos and dated offices; the dataclasses' reprs are deterministic."""
    h = hashlib.sha256()
    for kind, eid in sorted(g.entities):
        h.update(f"{kind}:{eid}\n".encode())
    for table in (g.index, g.typos, g.offices):
        for key in sorted(table, key=repr):
            h.update(f"{key!r}={table[key]!r}\n".encode())  # type: ignore[index]
    return h.hexdigest()


def model_key(watch: Any, examples_hash: str, gazetteer: str) -> str:
    """The cache key of a watch's model: its examples, its gate (the query with min_mentions and threshold),
    the gazetteer the features count entities by, and the feature and training versions."""
    return training_key(examples_hash, f"{watch.query}\0{watch.min_mentions}\0{watch.threshold}\0"
                                       f"gazetteer:{gazetteer}")


def cache_path(data_dir: Path, watch_id: str, key: str) -> Path:
    return data_dir / CACHE_DIR / f"{watch_id}.{key[:32]}.json"


def _read_cache(path: Path, ehash: str) -> RelevanceModel | None:
    try:
        model = RelevanceModel.from_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, InvalidInput):
        return None  # absent or corrupt: train again
    return model if model.examples_hash == ehash else None


def _write_cache(path: Path, watch_id: str, model: RelevanceModel) -> None:
    """Atomically (temporary file, then rename): a process reading the cache never sees half a model. The
    watch's models of other keys are removed (watch ids hold no ".", so the pattern is the watch's own)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(model.to_json(), encoding="utf-8")
        os.replace(tmp, path)
        for old in path.parent.glob(f"{watch_id}.*.json"):
            if old != path:
                with contextlib.suppress(OSError):
                    old.unlink()
    except OSError as exc:
        log.warning("relevance_cache_not_written", path=str(path), error=exc.strerror or str(exc))


@contextlib.contextmanager
def _training_lock(folder: Path, watch_id: str) -> Iterator[None]:
    """An exclusive flock per watch in the cache folder; without a writable folder, no lock (train anyway)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fh = open(folder / f".{watch_id}.lock", "ab")  # closed below
    except OSError:
        yield
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fh.close()


def train_models(settings: Any, classifier: Any, *, only: Collection[str] | None = None,
                 retrain: bool = False) -> list[Trained]:
    """The models of the watches that name examples (`only`: those ids), from memory, the cache, or trained
    now (`retrain`: trained now, and cached). Never raises for one watch's sake: a failure is a `Trained`
    with `error`, and logged."""
    out: list[Trained] = []
    gdigest = gazetteer_digest(settings.gazetteer)
    for w in settings.watches:
        if w.examples is None or (only is not None and w.id not in only):
            continue
        t0 = time.monotonic()
        path = Path(w.examples)
        examples = settings.examples.get(w.id, [])
        ehash = examples_hash(examples)
        key = model_key(w, ehash, gdigest)
        cpath = cache_path(settings.data_dir, w.id, key)
        source = "memory"
        model = None if retrain else _memo.get(key)
        if model is None and not retrain:
            model, source = _read_cache(cpath, ehash), "cache"
        if model is None:
            # One process trains, the others (the worker's pool processes, the console, all reloading the same
            # change at once) wait for it and read its cache instead of each training the same model.
            with _training_lock(cpath.parent, w.id):
                if not retrain:
                    model = _read_cache(cpath, ehash)
                if model is None:
                    source = "trained"
                    try:
                        model = fit_watch(settings.watchset, w.id, label_examples(examples, classifier), ehash)
                    except Exception as exc:  # any failure: this watch keeps its query's decision, the worker
                        log.error("relevance_training_failed", watch=w.id, file=str(path),  # runs on
                                  error=f"{type(exc).__name__}: {exc}", effect="the query decides")
                        out.append(Trained(w.id, path, key, None, "failed", f"{type(exc).__name__}: {exc}",
                                           time.monotonic() - t0))
                        continue
                    _write_cache(cpath, w.id, model)
        old = _memo_keys.get(w.id)
        if old is not None and old != key:
            _memo.pop(old, None)
        _memo[key], _memo_keys[w.id] = model, key
        seconds = time.monotonic() - t0
        if source != "memory":
            log.info("relevance_model_loaded", watch=w.id, source=source, active=model.active,
                     examples=len(examples), duration_ms=round(seconds * 1000), note=model.note)
        out.append(Trained(w.id, path, key, model, source, seconds=seconds))
    return out


def judges(settings: Any, trained: Collection[Trained]) -> dict[str, Judge]:
    """The pipeline's judges: one per watch whose model is active (an inactive one changes nothing)."""
    return {t.watch_id: make_judge(settings.watchset, t.watch_id, t.model) for t in trained
            if t.model is not None and t.model.active}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    """The file opened to read and append, under an exclusive flock. A writer that replaced the file (a relabel
    renames a new version over it) while this one waited leaves it a lock on the old file: open again."""
    while True:
        fh = open(path, "a+b")  # closed below, once the lock's work is done
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            if os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        fh.close()
    try:
        yield fh
    finally:
        fh.close()  # releases the lock


def add_example(path: Path, example: Example) -> str:
    """Add a labelled article to an examples file, safe against other writers (`marsad feedback` of two analysts
    at once): "added" (a line appended), "relabelled" (the line of the same `id` replaced, so the file never
    holds two lines for one article) or "unchanged" (already there with this label)."""
    line = example_to_json(example).encode("utf-8")
    with _locked(path) as fh:
        fh.seek(0)
        raw = fh.read()
        lines = raw.split(b"\n")
        same: list[int] = []  # lines of the same article (the last one counts, as `parse_examples` reads them)
        label = None
        for i, old in enumerate(lines):
            try:
                obj = json.loads(old) if old.strip() else None
            except ValueError:
                continue  # the file's own problem, reported by `marsad check`; not this line's to fix
            if isinstance(obj, dict) and example.id is not None and obj.get("id") == example.id:
                same.append(i)
                label = obj.get("relevant")
        if len(same) == 1 and label is example.relevant:
            return "unchanged"
        if not same:
            fh.write((b"" if not raw or raw.endswith(b"\n") else b"\n") + line + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
            return "added"
        kept = [line if i == same[0] else old for i, old in enumerate(lines) if i == same[0] or i not in same]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            out.write(b"\n".join(kept))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)  # while holding the old file's lock: a waiting writer then reopens the new one
        return "relabelled"
