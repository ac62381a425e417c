"""The gazetteer: load regions, places, actors and masks from YAML, validate them, compile a token index."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from feeds import yamlfile
from feeds.errors import InvalidInput
from feeds.models import MentionHow, MentionKind
from feeds.nlp.arabic import TYPO_MIN_LEN, nisba_forms, normalize_words, typo_keys

KINDS: dict[str, MentionKind] = {"regions": "region", "places": "place", "actors": "actor"}
# How a name was recognised, strongest first: when one name fits several entities (عمان = Oman and
# Amman, طرابلس = Tripoli of Libya and of Lebanon) and the article gives no other clue, the stronger wins.
HOW_PRIORITY: dict[str, int] = {"name": 0, "nisba": 1, "capital": 2, "place": 3, "role": 4, "typo": 5}


@dataclass(frozen=True)
class Entity:
    """One region (ISO alpha-2), place or actor, with its display names and country."""

    kind: MentionKind
    id: str
    name: str
    name_ar: str
    country: str | None = None


@dataclass(frozen=True)
class Role:
    """A title that denoted an actor during a period (`to` exclusive, None = still holds it)."""

    actor: str
    office: str
    country: str | None
    start: date | None
    end: date | None

    def valid_on(self, day: date | None) -> bool:
        if day is None:  # undated text: only titles still held today can be trusted
            return self.end is None
        return (self.start is None or self.start <= day) and (self.end is None or day < self.end)


@dataclass(frozen=True)
class Target:
    """What a matched name stands for; `article` says whether the Arabic article ال may precede it."""

    kind: MentionKind | None  # None for a mask: a phrase that is no entity and hides names inside it
    id: str
    how: MentionHow
    article: bool = True
    weak: bool = False  # a name that is also a common word: counts only when the article corroborates it
    role: Role | None = None


@dataclass
class Pattern:
    """A name as normalised words after its first one, and every entity it may stand for."""

    rest: tuple[str, ...]
    targets: list[Target] = field(default_factory=list)


@dataclass
class Entry:
    """Everything the index holds under one first word: the one-word name and longer names by next word.

    Keying longer names by their second word keeps a lookup's cost flat however many names share
    a first word ("جبهة ..."، "حركة ...", or a user's thousand "مدينة ..." places).
    """

    single: list[Pattern] = field(default_factory=list)  # the one-word name, if any: [] or [pattern]
    # next word -> the names to try, longest first, ending with the one-word name (ready to iterate)
    multi: dict[str, list[Pattern]] = field(default_factory=dict)


@dataclass
class Gazetteer:
    """Entities by kind and id, plus the first-word index the classifier matches with."""

    entities: dict[tuple[str, str], Entity] = field(default_factory=dict)
    # first normalised word -> names starting with it
    index: dict[str, Entry] = field(default_factory=dict)
    # one-edit variants of long region names -> region id (see `typo_keys`)
    typos: dict[str, str] = field(default_factory=dict)
    # (office, country) -> roles, to resolve "نظيره التركي" to the Turkish holder of the same office
    offices: dict[tuple[str, str], list[Role]] = field(default_factory=dict)
    roles_by_actor: dict[str, list[Role]] = field(default_factory=dict)
    # words that sit one edit from a long name but are ordinary Arabic words (never typos)
    not_typos: set[str] = field(default_factory=set)
    # the word introducing a counterpart ("نظيره") in normalised form
    counterpart_words: frozenset[str] = frozenset({"نظيره", "نظيرته", "نظيرها", "نظيرهم"})

    def ids(self, kind: MentionKind) -> set[str]:
        return {i for k, i in self.entities if k == kind}

    def get(self, kind: MentionKind, id: str) -> Entity | None:
        return self.entities.get((kind, id))

    def add(self, words: Sequence[str], target: Target) -> None:
        if not words:
            return
        entry = self.index.setdefault(words[0], Entry())
        rest = tuple(words[1:])
        if not rest:
            if not entry.single:
                entry.single.append(Pattern(rest))
                for patterns in entry.multi.values():
                    patterns.append(entry.single[0])
            if target not in entry.single[0].targets:
                entry.single[0].targets.append(target)
            return
        patterns = entry.multi.setdefault(rest[0], list(entry.single))
        for p in patterns:
            if p.rest == rest:
                if target not in p.targets:
                    p.targets.append(target)
                return
        patterns.append(Pattern(rest, [target]))
        patterns.sort(key=lambda p: -len(p.rest))  # stable: the one-word name stays last


class _Loader:
    """Collects entities and problems across files, so every bad field is reported at once."""

    def __init__(self) -> None:
        self.g = Gazetteer()
        self.problems: list[str] = []
        self.pending_countries: list[tuple[str, str, str]] = []  # (where, field, code)

    def load_file(self, path: Path) -> None:
        try:
            data = yamlfile.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{path}: file: cannot read: {exc}".replace("\n", " ")[:300])
            return
        except yaml.YAMLError as exc:
            self.problems.append(f"{path}: file: not valid YAML: {yamlfile.describe(exc)}")
            return
        if data is None:
            return
        if not isinstance(data, dict):
            self.problems.append(f"{path}: file: top level must be a mapping of sections")
            return
        for section, items in data.items():
            where = str(path)
            if section == "masks":
                self._masks(where, items)
            elif section == "not_typos":
                self.g.not_typos.update(normalize_words(str(w)) for w in _as_list(items))
            elif section in KINDS:
                if not isinstance(items, list):
                    self.problems.append(f"{where}: {section}: must be a list")
                    continue
                for n, item in enumerate(items):
                    self._entity(f"{where}", f"{section}[{n}]", KINDS[section], item)
            else:
                self.problems.append(f"{where}: {section}: unknown section (expected regions, places, "
                                     "actors, masks, not_typos)")

    def _masks(self, where: str, items: Any) -> None:
        for phrase in _as_list(items):
            words = normalize_words(str(phrase)).split()
            if not words:
                self.problems.append(f"{where}: masks: empty phrase")
                continue
            self.g.add(words, Target(None, "", "name"))

    def _names(self, where: str, fld: str, item: dict[str, Any], key: str) -> list[list[str]]:
        out = []
        for raw in _as_list(item.get(key, [])):
            if not isinstance(raw, str) or not normalize_words(raw):
                self.problems.append(f"{where}: {fld}.{key}: {raw!r} is not a name")
                continue
            out.append(normalize_words(raw).split())
        return out

    def _entity(self, where: str, fld: str, kind: MentionKind, item: Any) -> None:
        if not isinstance(item, dict):
            self.problems.append(f"{where}: {fld}: must be a mapping")
            return
        ident = item.get("id")
        if not isinstance(ident, str) or not ident.strip():
            self.problems.append(f"{where}: {fld}.id: missing")
            return
        fld = f"{fld}({ident})"
        if (kind, ident) in self.g.entities:
            self.problems.append(f"{where}: {fld}.id: duplicate {kind} id")
            return
        name, name_ar = item.get("name"), item.get("name_ar")
        if not isinstance(name, str) or not name:
            self.problems.append(f"{where}: {fld}.name: missing English name")
        if not isinstance(name_ar, str) or not name_ar:
            self.problems.append(f"{where}: {fld}.name_ar: missing Arabic name")
        country = ident if kind == "region" else item.get("country")
        if kind == "place" and "country" not in item:  # null is allowed: contested (القدس، الجولان)
            self.problems.append(f"{where}: {fld}.country: a place needs its country (or null)")
        if country is not None and kind != "region":
            if not isinstance(country, str):
                self.problems.append(f"{where}: {fld}.country: must be an ISO alpha-2 code")
                country = None
            else:
                self.pending_countries.append((where, f"{fld}.country", country))
        unknown = set(item) - {"id", "name", "name_ar", "country", "names", "article_names", "nisba",
                               "nisba_forms", "capitals", "weak", "roles", "note"}
        if unknown:
            self.problems.append(f"{where}: {fld}: unknown fields {sorted(unknown)}")
        self.g.entities[(kind, ident)] = Entity(kind, ident, str(name or ident), str(name_ar or ""),
                                                 country if isinstance(country, str) else None)
        # Names of places and regions are written with their article when they have one (العراق);
        # person names never take it, so "الروحاني" (the spiritual) is not روحاني.
        # A name listed as weak is only weak, even when it is also the main name or among `names`.
        weak = {" ".join(w) for w in self._names(where, fld, item, "weak")}
        own = [name_ar] if isinstance(name_ar, str) and name_ar else []
        main_how: MentionHow = "place" if kind == "place" else "name"
        for words in self._names(where, fld, {"names": own + _as_list(item.get("names", []))}, "names"):
            if " ".join(words) not in weak:
                self.g.add(words, Target(kind, ident, main_how, article=False))
        for words in self._names(where, fld, item, "article_names"):
            self.g.add(words, Target(kind, ident, main_how, article=True))
        for words in self._names(where, fld, item, "weak"):
            self.g.add(words, Target(kind, ident, main_how, article=False, weak=True))
        for words in self._names(where, fld, item, "capitals"):
            self.g.add(words, Target(kind, ident, "capital", article=False))
        for words in self._names(where, fld, item, "nisba"):
            for form in nisba_forms(" ".join(words)):
                self.g.add(form.split(), Target(kind, ident, "nisba"))
                if len(words) > 1:  # definite agreement: الكوري الشمالي
                    fw = form.split()
                    self.g.add([fw[0], *("ال" + w for w in fw[1:])], Target(kind, ident, "nisba"))
        for words in self._names(where, fld, item, "nisba_forms"):
            self.g.add(words, Target(kind, ident, "nisba"))
        if kind == "region":
            for words in self._names(where, fld, {"n": own + _as_list(item.get("names", []))}, "n"):
                bare = words[0][2:] if words[0].startswith("ال") else words[0]
                if len(words) == 1 and len(bare) >= TYPO_MIN_LEN:
                    for k in typo_keys(words[0]):
                        self.g.typos.setdefault(k, ident)
        for n, role in enumerate(_as_list(item.get("roles", []))):
            self._role(where, f"{fld}.roles[{n}]", ident, kind, role)

    def _role(self, where: str, fld: str, actor: str, kind: MentionKind, item: Any) -> None:
        if kind != "actor" or not isinstance(item, dict):
            self.problems.append(f"{where}: {fld}: roles belong to actors and must be mappings")
            return
        start, end = item.get("from"), item.get("to")
        for label, value in (("from", start), ("to", end)):
            if value is not None and not isinstance(value, date):
                self.problems.append(f"{where}: {fld}.{label}: must be a date YYYY-MM-DD or null")
                return
        office, country = item.get("office"), item.get("country")
        if not isinstance(office, str) or not office:
            self.problems.append(f"{where}: {fld}.office: missing")
            return
        if country is not None:
            self.pending_countries.append((where, f"{fld}.country", str(country)))
        role = Role(actor, office, str(country) if country else None, start, end)
        self.g.roles_by_actor.setdefault(actor, []).append(role)
        if role.country:
            self.g.offices.setdefault((office, role.country), []).append(role)
        titles = self._names(where, fld, item, "titles")
        if not titles and not item.get("counterpart_only"):
            self.problems.append(f"{where}: {fld}.titles: missing")
        for words in titles:
            self.g.add(words, Target("actor", actor, "role", article=True, role=role))

    def finish(self) -> Gazetteer:
        regions = self.g.ids("region")
        for where, fld, code in self.pending_countries:
            if code not in regions:
                self.problems.append(f"{where}: {fld}: unknown country {code!r}")
        if self.problems:
            raise InvalidInput("invalid gazetteer:\n" + "\n".join(self.problems))
        return self.g


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _yaml_files(paths: Iterable[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(p.glob("*.yaml"))
        else:
            yield p


def load_gazetteer(paths: Sequence[Path]) -> Gazetteer:
    """Load and validate YAML files (or folders of *.yaml); raise InvalidInput listing every problem."""
    loader = _Loader()
    for path in _yaml_files(paths):
        if not path.exists():
            loader.problems.append(f"{path}: file: does not exist")
            continue
        loader.load_file(path)
    return loader.finish()


def default_gazetteer_paths() -> list[Path]:
    """The gazetteer shipped with Marsad, as package data (feeds/data/gazetteer), so an installed wheel finds it
    from any folder. Wheels install unzipped, so the resource is a real folder."""
    return [Path(str(resources.files("feeds") / "data" / "gazetteer"))]
