"""Generate the labelled PII sentences that bench/guardrail_pii.py measures.

    .venv/bin/pip install presidio-evaluator   # measurement only, not a gateway dependency
    .venv/bin/python bench/data/guardrails/pii/generate.py [dev|test|test2|test3 ...]

Writes ``dev.jsonl``, ``test.jsonl`` and ``test2.jsonl`` (or the named ones) beside this
file, one sentence a line:
``{"text": ..., "spans": [[start, end, entity], ...], "ignore": [[start, end], ...]}``.

Each split has two parts:

- presidio-evaluator's ``PresidioSentenceFaker`` (its templates, its FakeNameGenerator
  person records, Faker ``en_US`` for the rest). The templates are split in two by a
  hash of their text and the person records by the parity of their ``Number``, so the
  test split has templates and people the detector was never tuned on; it also has
  another seed. HospitalProvider is left out: it queries WikiData at start-up.
- our own templates filled straight from Faker, mostly for the structured entities
  that presidio's templates hardly have (IBAN, SSN, IPv6, national phone formats).
  ``dev`` uses the locales en_US, en_GB and de_DE and DEV_TEMPLATES; ``test`` uses
  fr_FR, en_IN, en_GB and de_AT and TEST_TEMPLATES (written before any tuning and never
  looked at while tuning). ``test2`` uses nl_NL, es_ES, it_IT, pl_PL, pt_PT and en_CA,
  TEST2_TEMPLATES and presidio's test half of templates with another seed; it was
  written after test's figures had been seen, before further tuning, and is measured
  once at the end. ``test3`` (sv_SE, da_DK, cs_CZ, ro_RO, tr_TR, en_AU, hu_HU,
  TEST3_TEMPLATES, presidio's test half with a fourth seed) was written before the name
  classifier was trained and is measured once at the end of that round.

The presidio part is not byte-reproducible (about 4% of its rows, middle initials among
them, differ between runs of the same seed), so the committed files are the record; a
split is rewritten only when named on the command line, and then only its own part: the
presidio rows already in the file are kept.

Gold entity mapping: presidio's PERSON -> person, GPE -> location, and the structured
types to ours. Street addresses and ZIP codes are "ignore" zones: they hold city and
state names that a location detector rightly finds, and house numbers, so a
prediction that overlaps one is neither a true nor a false positive, and they are not
in recall. Every other presidio type (ORGANIZATION, DATE_TIME, AGE, NRP, ...) is
unlabelled text for us, so a prediction there is a false positive.

The benign look-alike sentences (no PII) are ``benign_dev.txt`` and ``benign_test.txt``,
made by ``benign.py`` beside this file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

GOLD = {
    "PERSON": "person",
    "GPE": "location",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "ssn",
    "IP_ADDRESS": "ip_address",
}
IGNORE = {"STREET_ADDRESS", "ZIP_CODE"}

# {entity:provider} placeholders; provider is a Faker method name (or one of ours below).
DEV_TEMPLATES = [
    "Please call me on {phone:phone_number} after 5pm.",
    "My mobile is {phone:phone_number}, text me when you land.",
    "You can reach the office at {phone:phone_number} or by email at {email:email}.",
    "Send the invoice to {email:email} and cc {email:email}.",
    "Transfer the deposit to IBAN {iban:iban}, reference 2024-03.",
    "My account {iban:iban} was charged twice.",
    "The IBAN on file is {iban:iban_spaced}; please confirm.",
    "My SSN is {ssn:ssn} and my date of birth is 1984-02-11.",
    "Social security number: {ssn:ssn}",
    "The server at {ip_address:ipv4} stopped answering at 03:14.",
    "Block {ip_address:ipv6} at the firewall, it is scanning us.",
    "Traffic from {ip_address:ipv4_public} spiked after release 4.2.",
    "Card {credit_card:credit_card_number} was declined at checkout.",
    "Charge {credit_card:card_spaced}, expiry 09/27.",
    "{person:name} asked whether the meeting moved to Thursday.",
    "Please forward this to {person:name}; she owns the budget.",
    "I met {person:first_name} at the conference in {location:city_real}.",
    "Dear {person:name}, your order has shipped.",
    "We are moving from {location:city_real} to {location:country} next spring.",
    "{person:name} lives in {location:city_real} and works remotely.",
    "Ask {person:last_name_titled} about the lease before Friday.",
    "My name is {person:name} and my number is {phone:phone_number}.",
    # Added in the second round: the lower-case and unseparated layouts people type.
    "my ssn is {ssn:ssn_bare}, do you need anything else?",
    "SSN {ssn:ssn_spaced} is on the W-2 form.",
    "please use iban {iban:iban_lower} for the refund",
    "iban: {iban:iban_spaced_lower} (joint account)",
    "card no. {credit_card:card_plain} expires next month.",
    "The new card is {credit_card:card_dashed}.",
    "Thanks {person:first_name}, I will tell {person:name} tomorrow.",
    "Greetings from {location:city_real}!",
]

TEST_TEMPLATES = [
    "If the line drops, ring {phone:phone_number} again.",
    "Contact details: {person:name}, tel. {phone:phone_number}, {email:email}",
    "Her number changed to {phone:phone_number} last week.",
    "Reply to {email:email} with the signed copy.",
    "Wire the refund to {iban:iban} (account holder {person:name}).",
    "IBAN: {iban:iban_spaced}",
    "For the tax form I gave my SSN, {ssn:ssn}, to the accountant.",
    "SSN {ssn:ssn_spaced} appears on the old application.",
    "Login attempts from {ip_address:ipv4} and {ip_address:ipv6} were rejected.",
    "The VPN endpoint is {ip_address:ipv4_public}, port 51820.",
    "Pay with {credit_card:credit_card_number} and keep the receipt.",
    "The card ending differs: {credit_card:card_dashed} is the new one.",
    "{person:name} will present the results on Monday.",
    "I spoke to {person:first_name} yesterday about the contract.",
    "Our new hire, {person:name}, starts in {location:city_real}.",
    "She flew from {location:city_real} to {location:city_real} for the wedding.",
    "The parcel is stuck somewhere in {location:country}.",
    "Could {person:last_name_titled} sign the form before noon?",
    "We visited {location:country} and {location:city_real} last summer.",
    "Thanks, {person:name}",
]

# The second held-out split: written after the test figures were seen and before any
# further tuning; other templates, locales (nl_NL, es_ES, it_IT, pl_PL, pt_PT, en_CA)
# and seed than dev and test, measured once at the very end.
TEST2_TEMPLATES = [
    "hey, it's {person:first_name} again, my new cell is {phone:phone_number}",
    "Kind regards, {person:name} | {phone:phone_number} | {email:email}",
    "Forwarding {person:name}'s CV; she is currently based in {location:city_real}.",
    "{person:name} (tel {phone:phone_number}) will pick up the keys.",
    "The payment went to iban {iban:iban_lower} instead of the old account.",
    "Bank details -- IBAN {iban:iban_spaced}, holder {person:name}.",
    "Could you update my ssn to {ssn:ssn_bare} in the HR system?",
    "Employee SSN: {ssn:ssn_spaced}. Start date: 03/04/2025.",
    "ssn {ssn:ssn} belongs to the second applicant.",
    "Failed SSH logins from {ip_address:ipv4_public} overnight; {ip_address:ipv6} too.",
    "Whitelist {ip_address:ipv4} for the build agents.",
    "Card number {credit_card:card_plain}, CVV on the back.",
    "I paid with my card {credit_card:card_spaced} at the airport.",
    "The old card ({credit_card:card_dashed}) was cancelled in January.",
    "Our supplier in {location:city_real} delayed the shipment again.",
    "After ten years in {location:country}, {person:first_name} moved back home.",
    "{person:last_name_titled} from accounting approved the refund.",
    "Meeting notes: {person:name}, {person:name} and {person:first_name} attended.",
    "The conference in {location:city_real}, {location:country} was cancelled.",
    "WhatsApp me on {phone:phone_number} or write to {email:email}.",
    "Is {email:email} still the right address for {person:name}?",
    "My grandmother grew up near {location:city_real}.",
    "Shipping address changed; the customer, {person:name}, now lives in {location:country}.",
    "Please ask {person:first_name} to call {phone:phone_number} before noon.",
]

# The third held-out split: written at the start of the classifier round, before any
# training or tuning; its own templates, locales (sv_SE, da_DK, cs_CZ, ro_RO, tr_TR,
# en_AU, hu_HU: none used by another split or by the training data) and seed; measured
# once, at the end of that round.
TEST3_TEMPLATES = [
    "Hi {person:first_name}, the courier from {location:city_real} rang twice.",
    "{person:name} and {person:name} co-signed the lease in {location:city_real}.",
    "We hired {person:name} last month; she relocated from {location:country}.",
    "Note from {person:last_name_titled}: the samples arrive Tuesday.",
    "Can you book a table for {person:first_name} and me on Friday?",
    "Passenger: {person:name}. Departure: {location:city_real}. Seat 14C.",
    "My landlord, {person:name}, wants the deposit by the end of the month.",
    "Sent from {location:city_real} -- {person:first_name}",
    "Witness statement by {person:name}, resident of {location:city_real}, {location:country}.",
    "Our team in {location:country} reports to {person:name}.",
    "I grew up in {location:city_real} but have lived in {location:country} since 2010.",
    "Best wishes to {person:first_name} and the kids!",
    "Please add {person:name} ({email:email}) to the mailing list.",
    "call {person:first_name} at {phone:phone_number} if the alarm goes off",
    "Account holder {person:name}, IBAN {iban:iban_spaced}",
    "Refund to {iban:iban} please, the old card {credit_card:card_spaced} is closed.",
    "SSN on the claim form: {ssn:ssn}.",
    "Repeated 401s from {ip_address:ipv4_public} and {ip_address:ipv6} since midnight.",
    "The hotel in {location:city_real} charged {credit_card:credit_card_number} twice.",
    "Reach {person:last_name_titled} on {phone:phone_number} between 9 and 5.",
    "Interview with {person:name} moved to Thursday.",
    "{person:first_name} said the office in {location:city_real} closes early on Fridays.",
]

PLACEHOLDER = re.compile(r"\{(\w+):(\w+)\}")
# Locales whose Faker city() gives real places; en_US/en_GB make up names like
# "Port Jenniferside", which no gazetteer has and no reader would call a city.
REAL_CITY_LOCALES = {"de_DE", "de_AT", "fr_FR", "en_IN", "nl_NL", "es_ES", "it_IT", "pl_PL",
                     "pt_PT", "sv_SE", "da_DK", "cs_CZ", "hu_HU", "ro_RO",
                     # the training data's (train_names.py)
                     "de_CH", "fi_FI", "nl_BE", "sk_SK", "sl_SI", "hr_HR", "id_ID", "es_AR",
                     "es_CL", "es_CO", "az_AZ", "zu_ZA"}


def _value(fake: Any, provider: str, locale: str) -> str:
    if provider == "iban_spaced":
        iban: str = fake.iban()
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    if provider == "iban_spaced_lower":
        return _value(fake, "iban_spaced", locale).lower()
    if provider == "iban_lower":
        return str(fake.iban()).lower()
    if provider == "card_plain":
        return str(fake.credit_card_number())
    if provider == "ssn_bare":
        return _us_ssn(fake).replace("-", "")
    if provider in ("card_spaced", "card_dashed"):
        number: str = fake.credit_card_number()
        sep = " " if provider == "card_spaced" else "-"
        return sep.join(number[i : i + 4] for i in range(0, len(number), 4))
    if provider == "ssn_spaced":
        # Through "ssn": other locales' ssn() is their national number, not a US SSN.
        # (test.jsonl was written before this fix: its spaced "SSNs" of fr_FR, en_IN,
        # en_GB and de_AT rows are those national numbers, labelled ssn.)
        return _value(fake, "ssn", locale).replace("-", " ")
    if provider == "ipv4_public":
        return str(fake.ipv4_public())
    if provider == "last_name_titled":
        return f"{fake.random_element(['Mr.', 'Mrs.', 'Ms.', 'Dr.'])} {fake.last_name()}"
    if provider == "country" or (provider == "city_real" and locale not in REAL_CITY_LOCALES):
        # Country names in English whatever the locale: the text around them is English.
        return _english(fake).country()  # type: ignore[no-any-return]
    if provider == "city_real":
        return str(fake.city())
    if provider == "ssn":
        return str(fake.ssn()) if locale == "en_US" else _us_ssn(fake)
    return str(getattr(fake, provider)())


def _english(fake: Any) -> Any:
    from faker import Faker

    us = Faker("en_US")
    us.seed_instance(fake.random.randint(0, 2**31))
    return us


def _us_ssn(fake: Any) -> str:
    # Non-US Faker locales make their own national numbers under ssn(); ours is the US one.
    return str(_english(fake).ssn())


def own_part(templates: list[str], locales: list[str], count: int, seed: int) -> list[dict]:
    from faker import Faker

    fakers = {loc: Faker(loc) for loc in locales}
    for i, f in enumerate(fakers.values()):
        f.seed_instance(seed + i)
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        locale = rng.choice(locales)
        fake = fakers[locale]
        template = rng.choice(templates)
        text, spans, pos = "", [], 0
        for m in PLACEHOLDER.finditer(template):
            text += template[pos : m.start()]
            value = _value(fake, m.group(2), locale)
            entity = m.group(1)
            if m.group(2) == "city_real" and locale not in REAL_CITY_LOCALES:
                entity = "location"
            if m.group(2) == "last_name_titled":
                title, _, last = value.partition(" ")
                text += title + " "
                spans.append([len(text), len(text) + len(last), entity])
                text += last
            else:
                spans.append([len(text), len(text) + len(value), entity])
                text += value
            pos = m.end()
        text += template[pos:]
        rows.append({"text": text, "spans": spans, "ignore": [], "source": f"own:{locale}"})
    return rows


def presidio_part(split: str, count: int, seed: int, quarter: int | None = None) -> list[dict]:
    from presidio_evaluator.data_generator import (
        PresidioSentenceFaker,
        presidio_additional_entity_providers,
        presidio_templates_file_path,
    )
    from presidio_evaluator.data_generator.faker_extensions import HospitalProvider
    from presidio_evaluator.data_generator.faker_extensions.datasets import load_fake_person_df

    # dev has one half of presidio's templates; test and test2 the other (test2 with
    # another seed: presidio has no third set of templates).
    # The training data (train_names.py) has dev's half, with its own seed.
    want = 0 if split in ("dev", "train") else 1
    templates = [
        line.strip()
        for line in presidio_templates_file_path.read_text().splitlines()
        if line.strip()
        and hashlib.sha1(line.strip().encode()).digest()[0] % 2 == want
        # train_names.py --validate trains on one quarter (0 or 2) and validates on the other
        and (quarter is None or hashlib.sha1(line.strip().encode()).digest()[0] % 4 == quarter)
    ]
    people = load_fake_person_df()
    people = people[people["number"] % 2 == want].reset_index(drop=True)
    providers = [p for p in presidio_additional_entity_providers if p is not HospitalProvider]
    faker = PresidioSentenceFaker(
        "en_US",
        lower_case_ratio=0.05,
        sentence_templates=templates,
        entity_providers=providers,
        base_records=people,
        random_seed=seed,
    )
    rows = []
    for sample in faker.generate_new_fake_sentences(count):
        text = sample.full_text
        spans, ignore = [], []
        for s in sample.spans:
            value = text[s.start_position : s.end_position]
            if not value.strip() or value.strip().lower() == "nan":
                continue  # empty record fields come out as "nan"
            if s.entity_type in GOLD:
                spans.append([s.start_position, s.end_position, GOLD[s.entity_type]])
            elif s.entity_type in IGNORE:
                ignore.append([s.start_position, s.end_position])
        rows.append({"text": text, "spans": sorted(spans), "ignore": sorted(ignore),
                     "source": "presidio"})
    return rows


def main(splits: list[str]) -> None:
    version = importlib.metadata.version("presidio-evaluator")
    faker_version = importlib.metadata.version("faker")
    plans = {
        "dev": (DEV_TEMPLATES, ["en_US", "en_GB", "de_DE"], 11),
        "test": (TEST_TEMPLATES, ["fr_FR", "en_IN", "en_GB", "de_AT"], 97),
        "test2": (TEST2_TEMPLATES, ["nl_NL", "es_ES", "it_IT", "pl_PL", "pt_PT", "en_CA"], 2027),
        "test3": (TEST3_TEMPLATES,
                  ["sv_SE", "da_DK", "cs_CZ", "ro_RO", "tr_TR", "en_AU", "hu_HU"], 4099),
    }
    for split in splits or list(plans):
        templates, locales, seed = plans[split]
        path = HERE / f"{split}.jsonl"
        kept = []
        if path.exists():
            # The committed presidio rows stay (they are not reproducible, see above);
            # only our own part is written again.
            kept = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[1:]]
            kept = [row for row in kept if row["source"] == "presidio"]
        rows = (kept or presidio_part(split, 3000, seed)) + own_part(templates, locales, 2000, seed)
        header = {"generator": f"presidio-evaluator {version}", "faker": faker_version,
                  "split": split, "seed": seed, "locales": locales}
        with (HERE / f"{split}.jsonl").open("w", encoding="utf-8") as out:
            out.write(json.dumps({"header": header}) + "\n")
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(split, len(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
