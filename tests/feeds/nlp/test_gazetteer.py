"""Loading, validating and indexing the gazetteer, and what the shipped data covers."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.errors import InvalidInput
from feeds.nlp.arabic import nisba_forms, typo_keys
from feeds.nlp.gazetteer import Gazetteer, default_gazetteer_paths, load_gazetteer

REQUIRED_ACTORS = (
    "putin erdogan assad haftar sarraj salame de_mistura lavrov cavusoglu trump macron sisi rouhani "
    "khamenei netanyahu guterres kremlin unsc un nato eu hts isis sdf ypg fsa_nlf lna gna hezbollah irgc"
).split()
# The 193 UN member states (ISO 3166-1 alpha-2), written out here independently of the data.
UN_MEMBERS = (
    "AF AL DZ AD AO AG AR AM AU AT AZ BS BH BD BB BY BE BZ BJ BT BO BA BW BR BN BG BF BI CV KH CM CA CF TD "
    "CL CN CO KM CG CD CR CI HR CU CY CZ DK DJ DM DO EC EG SV GQ ER EE SZ ET FJ FI FR GA GM GE DE GH GR GD "
    "GT GN GW GY HT HN HU IS IN ID IR IQ IE IL IT JM JP JO KZ KE KI KP KR KW KG LA LV LB LS LR LY LI LT LU "
    "MG MW MY MV ML MT MH MR MU MX FM MD MC MN ME MA MZ MM NA NR NP NL NZ NI NE NG MK NO OM PK PW PA PG PY "
    "PE PH PL PT QA RO RU RW KN LC VC WS SM ST SA SN RS SC SL SG SK SI SB SO ZA SS ES LK SD SR SE CH SY TJ "
    "TZ TH TL TG TO TT TN TR TM TV UG UA AE GB US UY UZ VU VE VN YE ZM ZW"
).split()


@pytest.fixture(scope="module")
def shipped() -> Gazetteer:
    return load_gazetteer(default_gazetteer_paths())


def test_shipped_gazetteer_has_every_un_member_plus_palestine_and_kosovo(shipped: Gazetteer) -> None:
    assert len(UN_MEMBERS) == 193
    assert set(UN_MEMBERS) | {"PS", "XK"} <= shipped.ids("region")
    ly = shipped.get("region", "LY")
    assert ly is not None and ly.name == "Libya" and ly.name_ar == "ليبيا"


def test_every_region_has_english_and_arabic_names(shipped: Gazetteer) -> None:
    for ident in shipped.ids("region"):
        e = shipped.get("region", ident)
        assert e is not None and e.name and e.name_ar, ident


def test_required_actors_exist_with_their_countries(shipped: Gazetteer) -> None:
    assert set(REQUIRED_ACTORS) <= shipped.ids("actor")
    putin = shipped.get("actor", "putin")
    assert putin is not None and putin.country == "RU" and putin.name_ar == "فلاديمير بوتين"
    un = shipped.get("actor", "un")
    assert un is not None and un.country is None


def test_every_place_has_a_known_country_or_is_marked_contested(shipped: Gazetteer) -> None:
    regions = shipped.ids("region")
    places = shipped.ids("place")
    assert {"idlib", "sirte", "benghazi", "afrin", "tripoli_lb", "marib", "arish"} <= places
    idlib = shipped.get("place", "idlib")
    assert idlib is not None and idlib.country == "SY"
    for ident in places:
        e = shipped.get("place", ident)
        assert e is not None and (e.country in regions or ident in {"jerusalem", "golan", "crimea"}), ident


def test_generated_places_exclude_common_words(shipped: Gazetteer) -> None:
    for word in ("كان", "بيان", "الخميس", "وان", "فان", "مدينه", "سلطات"):
        entry = shipped.index.get(word)
        assert entry is None or not any(t.kind == "place" for p in entry.single for t in p.targets), word


def test_nisba_forms_agree_on_every_word() -> None:
    assert nisba_forms("ليبي") == ["ليبي", "ليبيه", "ليبيون", "ليبيين", "ليبيات"]
    assert "كوريه شماليه" in nisba_forms("كوري شمالي")


def test_typo_keys_cover_inner_substitutions_and_transpositions_only() -> None:
    keys = set(typo_keys("ليبيا"))
    assert "ليب?ا" in keys and "لبييا" in keys
    assert "?يبيا" not in keys and "ليبي?" not in keys  # first and last letters are not typo sites


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_yaml_adds_actors_and_places(tmp_path: Path, shipped: Gazetteer) -> None:
    _write(tmp_path, "mine.yaml", """
actors:
- {id: bathily, name: Abdoulaye Bathily, name_ar: عبد الله باتيلي, names: [باتيلي]}
places:
- {id: tawergha, name: Tawergha, name_ar: تاورغاء, country: LY}
""")
    g = load_gazetteer([*default_gazetteer_paths(), tmp_path])
    assert "bathily" in g.ids("actor") and "tawergha" in g.ids("place")
    assert len(g.ids("region")) == len(shipped.ids("region"))


def test_a_name_listed_as_weak_is_weak_even_among_names(tmp_path: Path) -> None:
    _write(tmp_path, "mine.yaml", """
places:
- {id: marsa_x, name: Marsa X, name_ar: مرسى مطروحي, country: EG, names: [مطروحي], weak: [مطروحي]}
""")
    g = load_gazetteer([*default_gazetteer_paths(), tmp_path])
    entry = g.index.get("مطروحي")
    assert entry is not None
    targets = [t for p in entry.single for t in p.targets if t.id == "marsa_x"]
    assert targets and all(t.weak for t in targets)


def test_bad_data_lists_every_problem_with_file_and_field(tmp_path: Path) -> None:
    _write(tmp_path, "bad.yaml", """
regions:
- {id: ZZ, name: Nowhere, name_ar: لا مكان}
places:
- {id: x, name: X, name_ar: اكس, country: QQ}
- {id: y, name: Y}
actors:
- {id: z, name: Z, name_ar: زد, roles: [{office: head, from: yesterday, titles: [الرئيس]}]}
- {id: z, name: Z2, name_ar: زد}
oops: []
""")
    with pytest.raises(InvalidInput) as err:
        load_gazetteer([tmp_path])
    reason = err.value.reason
    assert "bad.yaml: places[0](x).country: unknown country 'QQ'" in reason
    assert "bad.yaml: places[1](y).name_ar: missing Arabic name" in reason
    assert "bad.yaml: places[1](y).country: a place needs its country" in reason
    assert "bad.yaml: actors[0](z).roles[0].from: must be a date" in reason
    assert "bad.yaml: actors[1](z).id: duplicate actor id" in reason
    assert "bad.yaml: oops: unknown section" in reason


def test_unreadable_yaml_and_missing_files_are_reported(tmp_path: Path) -> None:
    bad = _write(tmp_path, "broken.yaml", "actors: [ {id: a\n")
    with pytest.raises(InvalidInput) as err:
        load_gazetteer([bad, tmp_path / "absent.yaml"])
    assert "broken.yaml: file: not valid YAML: line" in err.value.reason
    assert "absent.yaml: file: does not exist" in err.value.reason


def test_default_paths_point_at_the_shipped_folder() -> None:
    (path,) = default_gazetteer_paths()
    assert path.is_dir() and (path / "countries.yaml").exists()
