"""A corpus for output contracts: JSON Schemas of real extraction shapes and a correct object each.

    from contract_corpus import generate
    cases = generate(5000, seed=20240611)   # deterministic: same seed, same cases
    cases[7].schema, cases[7].obj            # the obj is valid against the schema

Each case comes from one of the templates below (invoices with line items,
calendar events, ticket triage with enums, product listings, resumes, lab
results, ... 36 in all), varied at random: which of a template's non-core
fields it has, whether the schema is OpenAI-strict (every property required;
optional ones nullable, ``"type": ["string", "null"]``) or not (optional
ones left out of ``required``, and then present in the object or not), array
lengths, and the values themselves. String values are drawn from realistic
pools, and about one in six from a pool of the strings that break naive JSON
handling (apostrophes, quotes, backslashes, newlines, unicode, strings that
read as ``null``/``true``/``42``, braces and fences inside text); numbers
include 0, -1.5, 1e-7, 2**53 + 1 and integers beyond 64 bits.

Every object is checked against its schema with ``jsonschema_rs`` (the
validator the gateway uses) as it is made: a case that does not validate is
a bug here, and generation fails. Each object also has at least one number
(a numeric leaf), which the strings-for-numbers damage needs.

Every case draws from its own ``random.Random("corpus:SEED:ID")``, so
``generate(100)`` is the first 100 cases of ``generate(5000)``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

DEFAULT_SEED = 20240611

# --------------------------------------------------------------------------- values

POOLS: dict[str, list[str]] = {
    "person": ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Torvalds",
               "Margaret Hamilton", "Chen Wei", "Priya Natarajan", "Olusegun Adeyemi",
               "María José García", "Sven Åkesson", "Zoë Saldaña", "Renée Dupont",
               "Seán O'Brien", "D'Arcy McGee", "Nguyễn Văn An", "Björk Guðmundsdóttir"],
    "company": ["Acme Corp", "Globex Ltd.", "Initech", "Umbrella GmbH", "Stark Industries",
                "Wayne Enterprises", "Müller & Söhne KG", "Tyrell Corporation", "O'Reilly Media",
                "株式会社テスト", "Soylent \"Green\" Inc.", "Cyberdyne Systems", "Hooli"],
    "city": ["Berlin", "Zürich", "São Paulo", "New York", "Reykjavík", "Kraków", "Tokyo", "Lagos",
             "Montréal", "München", "Québec", "Ho Chi Minh City", "St. John's", "Oslo"],
    "street": ["Main St", "Rue de l'Église", "Hauptstraße", "Elm Avenue", "Calle Mayor",
               "Baker Street", "Unter den Linden", "Avenida Paulista", "Königsallee"],
    "country": ["DE", "US", "FR", "BR", "JP", "NG", "CA", "CH", "PL", "IS", "VN", "GB"],
    "email": ["ada@example.com", "g.hopper@navy.example", "o'brien@example.ie",
              "zoe+receipts@example.org", "ops@acme.example", "jose.garcia@example.es"],
    "date": ["2024-01-31", "2023-12-01", "2025-02-28", "2024-07-04", "1999-12-31", "2024-02-29"],
    "datetime": ["2024-05-01T09:30:00Z", "2024-11-03T01:30:00-04:00", "2025-01-01T00:00:00+09:00",
                 "2024-06-15T14:05:59.123Z"],
    "word": ["urgent", "billing", "refund", "login", "shipping", "api", "mobile", "security",
             "feature-request", "bug", "onboarding", "invoice", "latency", "export"],
    "product": ["Stainless Steel Water Bottle", "USB-C Hub (7-in-1)", "Ergonomic Chair",
                "Noise-Cancelling Headphones", "Café Table 60\u00d760 cm", "Wireless Mouse",
                "Kids' Rain Jacket", "12\" Cast Iron Skillet", "LED Desk Lamp", "Yoga Mat 6mm"],
    "sentence": ["The customer cannot log in after the password reset.",
                 "Shipment arrived damaged; box was crushed on one side.",
                 "Please refund the duplicate charge from March.",
                 "Great product, but the manual is only in German.",
                 "Update the billing address to the new office.",
                 "Meeting moved to Thursday because of the holiday.",
                 "Battery drains in about two hours under load.",
                 "Works as described. Would buy again!"],
    "code": ["INV-2024-0042", "PO-77812", "TCK-10293", "SKU-AB-1234", "X9-00001", "A1B2C3",
             "2024/INV/17", "RMA#5521"],
    "unit": ["g", "kg", "ml", "l", "tsp", "tbsp", "cup", "pcs", "mg/dL", "mmol/L", "°C"],
}

# Strings that break naive JSON handling; drawn for about one string in six.
TRICKY: list[str] = [
    "O'Brien's \"special\" order", 'He said "ship it" and left', "It's 5 o'clock",
    "Line one\nLine two", "Tab\tseparated\tvalues", "C:\\Users\\ada\\invoice.pdf",
    "Ends with a backslash \\", "Zürich → São Paulo ✈", "東京都千代田区", "emoji 🚀✨🔥",
    "naïve café résumé", "null", "true", "False", "None", "42", "-1.5", "1e-7", "",
    "   leading and trailing   ", "{\"not\": \"an object\"}", "a, b, ], }", "```json```",
    "<script>alert('x')</script>", "50% off — today only", "semi;colon, comma: colon",
    "Ünïcödé \u00a0non-breaking space", "\u200bzero-width", "مرحبا بالعالم", "שלום",
    "multi\nline\n\nwith blank", "quote at end\"", "'single-quoted'", "\\n is not a newline",
]

NUMBERS: list[float] = [0.0, -1.5, 1e-7, 3.14159, 0.1, 2.5e-10, 123456.789, 1e21, -0.001,
                        99.99, 1.7976931348623157e308, 0.5, 19.95, 1234.5]
BIG_INTS: list[int] = [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 + 7, 12345678901234567890,
                       10**20, 4294967296]


def _string(rng: random.Random, pool: str) -> str:
    if rng.random() < 0.16:
        return rng.choice(TRICKY)
    if pool == "free":
        return rng.choice(POOLS["sentence"])
    if pool == "id":
        return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(10))
    return rng.choice(POOLS[pool])


# --------------------------------------------------------------------------- kinds
# A kind, built once per case, gives the schema fragment and a value maker; the
# schema is fixed for the case while arrays call the value maker once per item.

Node = tuple[dict[str, Any], Callable[[random.Random], Any]]
Kind = Callable[[random.Random, bool], Node]


def S(pool: str = "free") -> Kind:
    def build(rng: random.Random, strict: bool) -> Node:
        return {"type": "string"}, lambda r: _string(r, pool)
    return build


def I(lo: int = 0, hi: int = 100, big: float = 0.0) -> Kind:  # noqa: E743 - reads like the schema
    """An integer in [lo, hi]; with probability ``big`` one of BIG_INTS (then unbounded)."""
    def build(rng: random.Random, strict: bool) -> Node:
        bounded = big == 0.0 and rng.random() < 0.5
        schema: dict[str, Any] = {"type": "integer"}
        if bounded:
            schema.update(minimum=lo, maximum=hi)

        def value(r: random.Random) -> int:
            if big and r.random() < big:
                return r.choice(BIG_INTS)
            return r.randint(lo, hi)
        return schema, value
    return build


def N(lo: float = 0.0, hi: float = 1000.0, odd: float = 0.25) -> Kind:
    """A number in [lo, hi] (2 decimals), or with probability ``odd`` one of NUMBERS (unbounded)."""
    def build(rng: random.Random, strict: bool) -> Node:
        def value(r: random.Random) -> float | int:
            if odd and r.random() < odd:
                return r.choice(NUMBERS)
            if r.random() < 0.1:
                return r.randint(int(lo), int(hi))  # an integral number: 7, not 7.0
            return round(r.uniform(lo, hi), 2)
        return {"type": "number"}, value
    return build


def B() -> Kind:
    def build(rng: random.Random, strict: bool) -> Node:
        return {"type": "boolean"}, lambda r: r.random() < 0.5
    return build


def E(*values: str) -> Kind:
    def build(rng: random.Random, strict: bool) -> Node:
        return {"type": "string", "enum": list(values)}, lambda r: r.choice(values)
    return build


def A(item: Kind, lo: int = 0, hi: int = 4) -> Kind:
    def build(rng: random.Random, strict: bool) -> Node:
        schema, make = item(rng, strict)
        return {"type": "array", "items": schema}, (
            lambda r: [make(r) for _ in range(r.randint(lo, hi))])
    return build


@dataclass(frozen=True)
class F:
    """A property: ``core`` ones are always in the template's schemas, others in about 70%.
    ``opt``: nullable in strict schemas, left out of ``required`` in others."""

    name: str
    kind: Kind
    core: bool = True
    opt: bool = False


def O(*fields: F) -> Kind:  # noqa: E743 - reads like the schema
    def build(rng: random.Random, strict: bool) -> Node:
        chosen = [f for f in fields if f.core or rng.random() < 0.7]
        props: dict[str, Any] = {}
        makers: list[tuple[F, Callable[[random.Random], Any]]] = []
        for f in chosen:
            schema, make = f.kind(rng, strict)
            if f.opt and strict:
                schema = _nullable(schema)
                make = _maybe_null(make)
            props[f.name] = schema
            makers.append((f, make))
        required = [f.name for f in chosen if strict or not f.opt]
        schema = {"type": "object", "properties": props, "required": required,
                  "additionalProperties": False}

        def value(r: random.Random) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for f, make in makers:
                if f.opt and not strict and r.random() < 0.4:
                    continue  # an optional field the text did not mention
                out[f.name] = make(r)
            return out
        return schema, value
    return build


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI strict mode's optional field: the same type or null."""
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _maybe_null(make: Callable[[random.Random], Any]) -> Callable[[random.Random], Any]:
    return lambda r: None if r.random() < 0.35 else make(r)


# --------------------------------------------------------------------------- templates

ADDRESS = O(F("street", S("street")), F("number", S("code"), core=False),
            F("unit", S("code"), core=False, opt=True), F("city", S("city")),
            F("postal_code", S("code")), F("region", S("city"), core=False, opt=True),
            F("country", S("country")))
CURRENCY = E("USD", "EUR", "GBP", "JPY", "CHF", "BRL")
MONEY = O(F("amount", N(0, 100000)), F("currency", CURRENCY))

TEMPLATES: dict[str, Kind] = {
    "invoice": O(
        F("invoice_number", S("code")), F("issue_date", S("date")),
        F("due_date", S("date"), opt=True),
        F("vendor", O(F("name", S("company")), F("address", ADDRESS),
                      F("vat_id", S("id"), core=False, opt=True))),
        F("line_items", A(O(F("description", S("product")), F("quantity", I(1, 500)),
                            F("unit_price", N(0, 5000)), F("tax_rate", N(0, 0.3), core=False)),
                          1, 6)),
        F("subtotal", N(0, 100000)), F("total", N(0, 120000)), F("currency", CURRENCY),
        F("paid", B()), F("notes", S("free"), core=False, opt=True)),
    "calendar_event": O(
        F("title", S("free")), F("start", S("datetime")), F("end", S("datetime")),
        F("all_day", B()), F("location", S("city"), opt=True),
        F("attendees", A(O(F("name", S("person")), F("email", S("email")),
                           F("optional", B(), core=False)), 0, 5)),
        F("recurrence", E("none", "daily", "weekly", "monthly", "yearly"), core=False, opt=True),
        F("reminders_minutes", A(I(0, 10080), 0, 3))),
    "ticket_triage": O(
        F("category", E("billing", "technical", "account", "shipping", "other")),
        F("priority", I(1, 5)), F("sentiment", E("negative", "neutral", "positive")),
        F("needs_human", B()), F("summary", S("free")), F("tags", A(S("word"), 0, 5)),
        F("confidence", N(0, 1)), F("language", E("en", "de", "fr", "es", "ja"), core=False)),
    "product_listing": O(
        F("sku", S("code")), F("name", S("product")), F("price", N(0, 2000)),
        F("currency", CURRENCY), F("in_stock", B()), F("stock_count", I(0, 10000)),
        F("dimensions_cm", O(F("width", N(0, 300)), F("height", N(0, 300)),
                             F("depth", N(0, 300))), core=False, opt=True),
        F("colors", A(E("black", "white", "red", "blue", "green", "silver"), 0, 4), core=False),
        F("rating", N(0, 5), opt=True), F("review_count", I(0, 100000))),
    "contact": O(
        F("full_name", S("person")), F("emails", A(S("email"), 1, 3)),
        F("phone", S("id"), opt=True), F("address", ADDRESS), F("age", I(0, 120)),
        F("birthday", S("date"), core=False, opt=True), F("vip", B(), core=False)),
    "resume": O(
        F("name", S("person")), F("skills", A(S("word"), 1, 6)),
        F("experience", A(O(F("company", S("company")), F("title", S("free")),
                            F("start_year", I(1970, 2025)), F("end_year", I(1970, 2025), opt=True),
                            F("highlights", A(S("free"), 0, 3), core=False)), 1, 4)),
        F("education", A(O(F("school", S("company")), F("degree", E("BSc", "MSc", "PhD", "BA")),
                           F("year", I(1970, 2025))), 0, 2), core=False),
        F("years_experience", N(0, 50))),
    "recipe": O(
        F("title", S("free")), F("servings", I(1, 12)), F("prep_minutes", I(0, 240)),
        F("ingredients", A(O(F("name", S("product")), F("amount", N(0, 1000)),
                             F("unit", E("g", "kg", "ml", "l", "tsp", "tbsp", "cup", "pcs"))),
                           1, 8)),
        F("steps", A(S("free"), 1, 6)), F("vegetarian", B()),
        F("cuisine", S("city"), core=False, opt=True)),
    "flight_booking": O(
        F("pnr", S("id")), F("passengers", A(O(F("first_name", S("person")),
                                              F("last_name", S("person")),
                                              F("seat", S("code"), opt=True)), 1, 4)),
        F("segments", A(O(F("from", S("city")), F("to", S("city")), F("departure", S("datetime")),
                          F("flight_number", S("code")), F("duration_min", I(30, 1200))), 1, 3)),
        F("total_price", MONEY), F("refundable", B(), core=False)),
    "lab_results": O(
        F("patient_id", S("id")), F("collected_at", S("datetime")),
        F("tests", A(O(F("name", S("word")), F("value", N(-10, 500, odd=0.4)), F("unit", S("unit")),
                       F("flag", E("low", "normal", "high", "critical"))), 1, 6)),
        F("fasting", B(), core=False, opt=True), F("comment", S("free"), core=False, opt=True)),
    "receipt": O(
        F("merchant", S("company")), F("date", S("date")),
        F("items", A(O(F("name", S("product")), F("price", N(0, 500)),
                       F("qty", I(1, 20), core=False)), 1, 8)),
        F("total", N(0, 5000)), F("payment_method", E("cash", "card", "mobile", "voucher")),
        F("card_last4", S("code"), opt=True), F("tip", N(0, 100), core=False, opt=True)),
    "sentiment": O(
        F("label", E("negative", "neutral", "positive", "mixed")), F("score", N(-1, 1, odd=0.3)),
        F("aspects", A(O(F("aspect", S("word")), F("sentiment", E("negative", "neutral",
                                                                   "positive"))), 0, 4)),
        F("sarcasm", B(), core=False)),
    "entities": O(
        F("entities", A(O(F("text", S("person")), F("type", E("PERSON", "ORG", "LOC", "DATE",
                                                               "MONEY")),
                          F("start", I(0, 5000)), F("end", I(0, 5000))), 0, 6)),
        F("source_length", I(0, 100000)), F("language", S("country"), core=False)),
    "classification": O(
        F("label", E("spam", "ham", "phishing", "promotion")), F("confidence", N(0, 1)),
        F("reasons", A(S("free"), 0, 3)), F("flagged", B(), core=False)),
    "address_parse": O(
        F("street_number", S("code")), F("street", S("street")), F("unit", S("code"), opt=True),
        F("city", S("city")), F("region", S("city"), opt=True), F("postal_code", S("code")),
        F("country_code", E("DE", "US", "FR", "BR", "JP", "GB", "CH")),
        F("latitude", N(-90, 90, odd=0.1), core=False, opt=True),
        F("longitude", N(-180, 180, odd=0.1), core=False, opt=True),
        F("confidence", N(0, 1))),
    "job_posting": O(
        F("title", S("free")), F("company", S("company")),
        F("remote", E("onsite", "hybrid", "remote")), F("salary_min", I(0, 500000), opt=True),
        F("salary_max", I(0, 500000), opt=True), F("currency", CURRENCY),
        F("requirements", A(S("free"), 0, 5)), F("benefits", A(S("word"), 0, 4), core=False,
                                                    opt=True),
        F("openings", I(1, 50))),
    "weather": O(
        F("location", S("city")), F("temperature_c", N(-60, 60, odd=0.3)),
        F("humidity", I(0, 100)), F("conditions", E("clear", "cloudy", "rain", "snow", "fog")),
        F("wind", O(F("speed_kmh", N(0, 300)), F("direction", E("N", "NE", "E", "SE", "S", "SW",
                                                                 "W", "NW"))), core=False),
        F("forecast", A(O(F("day", S("date")), F("high", N(-60, 60)), F("low", N(-60, 60)),
                          F("precip_chance", N(0, 1))), 0, 5))),
    "transactions": O(
        F("account", S("id")),
        F("transactions", A(O(F("date", S("date")), F("amount", N(-10000, 10000, odd=0.3)),
                              F("description", S("free")),
                              F("category", E("groceries", "rent", "salary", "travel", "other")),
                              F("recurring", B())), 1, 8)),
        F("balance", N(-100000, 1000000)), F("currency", CURRENCY, core=False)),
    "meeting_notes": O(
        F("title", S("free")), F("date", S("date")), F("attendees", A(S("person"), 1, 6)),
        F("decisions", A(S("free"), 0, 4)),
        F("action_items", A(O(F("owner", S("person")), F("task", S("free")),
                              F("due", S("date"), opt=True)), 0, 5)),
        F("duration_min", I(5, 480))),
    "bug_report": O(
        F("title", S("free")), F("severity", E("trivial", "minor", "major", "critical",
                                               "blocker")),
        F("steps", A(S("free"), 1, 6)), F("expected", S("free")), F("actual", S("free")),
        F("environment", O(F("os", E("linux", "macos", "windows", "ios", "android")),
                           F("version", S("code")), F("browser", S("word"), opt=True))),
        F("reproducible", B()), F("occurrences", I(1, 10000))),
    "real_estate": O(
        F("address", ADDRESS), F("price", I(10000, 50000000)), F("bedrooms", I(0, 12)),
        F("bathrooms", N(0, 10)), F("sqft", I(100, 50000)),
        F("features", A(S("word"), 0, 6), core=False), F("hoa_fee", N(0, 5000), opt=True),
        F("listed", S("date"), core=False)),
    "movie": O(
        F("title", S("free")), F("year", I(1888, 2030)),
        F("genres", A(E("drama", "comedy", "horror", "sci-fi", "documentary"), 1, 3)),
        F("runtime_min", I(1, 600)),
        F("cast", A(O(F("name", S("person")), F("role", S("person"))), 0, 6)),
        F("rating", N(0, 10), opt=True), F("box_office", I(0, 3000000000, big=0.1), core=False,
                                           opt=True)),
    "order_status": O(
        F("order_id", S("code")),
        F("status", E("pending", "paid", "shipped", "delivered", "cancelled", "returned")),
        F("items", A(O(F("sku", S("code")), F("qty", I(1, 100))), 1, 6)),
        F("shipping", O(F("carrier", E("UPS", "DHL", "FedEx", "USPS", "PostNL")),
                        F("tracking", S("id"), opt=True), F("eta", S("date"), opt=True))),
        F("total", MONEY, core=False)),
    "survey": O(
        F("respondent_id", S("id")), F("nps", I(0, 10)),
        F("answers", A(O(F("question_id", I(1, 200)),
                         F("choice", E("a", "b", "c", "d"), opt=True),
                         F("free_text", S("free"), opt=True)), 1, 6)),
        F("completed", B()), F("duration_s", N(0, 7200), core=False)),
    "text_to_sql": O(
        F("query", S("free")), F("tables", A(S("word"), 1, 4)), F("confidence", N(0, 1)),
        F("dialect", E("postgres", "mysql", "sqlite", "bigquery"), core=False),
        F("estimated_rows", I(0, 10**9, big=0.1), core=False, opt=True)),
    "translation": O(
        F("source_lang", E("en", "de", "fr", "es", "ja", "zh", "ar")),
        F("target_lang", E("en", "de", "fr", "es", "ja", "zh", "ar")),
        F("text", S("free")), F("alternatives", A(S("free"), 0, 3)),
        F("quality", N(0, 1)), F("formal", B(), core=False, opt=True)),
    "company_profile": O(
        F("name", S("company")), F("founded", I(1800, 2025)), F("employees", I(1, 2000000)),
        F("public", B()), F("ticker", S("code"), opt=True), F("hq", ADDRESS),
        F("subsidiaries", A(O(F("name", S("company")), F("country", S("country"))), 0, 4),
          core=False),
        F("revenue_usd", I(0, 10**12, big=0.15), core=False, opt=True)),
    "shipment": O(
        F("weight_kg", N(0, 1000)), F("fragile", B()),
        F("dimensions_cm", O(F("l", N(0, 300)), F("w", N(0, 300)), F("h", N(0, 300)))),
        F("sender", O(F("name", S("person")), F("address", ADDRESS))),
        F("recipient", O(F("name", S("person")), F("address", ADDRESS),
                         F("phone", S("id"), opt=True))),
        F("service", E("standard", "express", "overnight"), core=False)),
    "log_event": O(
        F("timestamp", S("datetime")), F("level", E("debug", "info", "warn", "error", "fatal")),
        F("service", S("word")), F("latency_ms", N(0, 60000, odd=0.3)),
        F("status_code", I(100, 599)), F("trace_id", S("id")),
        F("attributes", O(F("user_id", S("id"), opt=True), F("region", S("country")),
                          F("retry", I(0, 10), core=False))),
        F("message", S("free"), core=False)),
    "quiz": O(
        F("topic", S("word")),
        F("questions", A(O(F("question", S("free")), F("options", A(S("free"), 2, 5)),
                           F("answer_index", I(0, 4)), F("explanation", S("free"), opt=True)),
                         1, 5)),
        F("difficulty", E("easy", "medium", "hard")), F("points", I(0, 100), core=False)),
    "nutrition": O(
        F("serving_g", N(0, 1000)), F("calories", I(0, 5000)), F("fat_g", N(0, 200)),
        F("protein_g", N(0, 200)), F("carbs_g", N(0, 500)), F("sugars_g", N(0, 300), opt=True),
        F("sodium_mg", I(0, 10000)),
        F("allergens", A(E("gluten", "milk", "egg", "peanut", "soy", "fish"), 0, 3))),
    "sports_match": O(
        F("home_team", S("city")), F("away_team", S("city")),
        F("score", O(F("home", I(0, 20)), F("away", I(0, 20)))),
        F("events", A(O(F("minute", I(0, 130)), F("type", E("goal", "yellow", "red", "sub")),
                        F("player", S("person"))), 0, 8)),
        F("finished", B()), F("attendance", I(0, 200000), core=False, opt=True)),
    "vehicle": O(
        F("make", S("company")), F("model", S("code")), F("year", I(1900, 2026)),
        F("mileage_km", I(0, 1000000)), F("price", MONEY),
        F("fuel", E("petrol", "diesel", "electric", "hybrid", "lpg")),
        F("features", A(S("word"), 0, 5), core=False), F("accident_history", B()),
        F("vin", S("id"), opt=True)),
    "measurement": O(
        F("sample_id", S("id")),
        F("measurements", A(O(F("quantity", S("word")), F("value", N(-1e6, 1e6, odd=0.6)),
                              F("uncertainty", N(0, 10, odd=0.5)), F("unit", S("unit"))), 1, 6)),
        F("count", I(0, 10**6, big=0.35)), F("calibrated", B(), core=False)),
    "search_flights_args": O(
        F("origin", S("city")), F("destination", S("city")), F("date", S("date")),
        F("return_date", S("date"), opt=True), F("passengers", I(1, 9)),
        F("cabin", E("economy", "premium", "business", "first")), F("flexible", B()),
        F("max_price", N(0, 20000), core=False, opt=True)),
    "code_review": O(
        F("file", S("free")),
        F("issues", A(O(F("line", I(1, 5000)), F("severity", E("info", "warning", "error")),
                        F("message", S("free")), F("suggestion", S("free"), opt=True)), 0, 6)),
        F("approve", B()), F("score", N(0, 10))),
    "expense_report": O(
        F("employee", S("person")), F("period", S("date")),
        F("expenses", A(O(F("date", S("date")), F("category", E("meals", "travel", "lodging",
                                                                 "supplies")),
                          F("amount", MONEY), F("receipt", B()),
                          F("note", S("free"), core=False, opt=True)), 1, 6)),
        F("total", N(0, 100000)), F("approved_by", S("person"), opt=True)),
}


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    id: int
    template: str
    strict: bool
    schema: dict[str, Any]
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        """The ``json_schema.name`` a request gives (``^[a-zA-Z0-9_-]+$``)."""
        return self.template


def numeric_leaves(value: Any) -> int:
    """How many numbers (not booleans) the value holds."""
    if isinstance(value, dict):
        return sum(numeric_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(numeric_leaves(v) for v in value)
    return int(isinstance(value, int | float) and not isinstance(value, bool))


def make_case(case_id: int, seed: int = DEFAULT_SEED) -> Case:
    """Case ``case_id`` of the corpus: template by rotation, the rest from its own rng."""
    names = sorted(TEMPLATES)
    template = names[case_id % len(names)]
    rng = random.Random(f"corpus:{seed}:{case_id}")
    for _ in range(100):
        strict = rng.random() < 0.6
        schema, make = TEMPLATES[template](rng, strict)
        obj = make(rng)
        if numeric_leaves(obj):
            break
    else:  # every template has a core number, so this is a bug in a template
        raise AssertionError(f"case {case_id} ({template}) has no number")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    if not jsonschema_rs.validator_for(schema).is_valid(obj):
        errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(obj)]
        raise AssertionError(f"case {case_id} ({template}) is invalid: {errors[:3]}")
    return Case(case_id, template, strict, schema, obj)


def generate(n: int = 5000, seed: int = DEFAULT_SEED) -> list[Case]:
    """The first ``n`` cases of the corpus for ``seed``."""
    return [make_case(i, seed) for i in range(n)]


if __name__ == "__main__":
    import collections
    import json
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    cases = generate(count)
    print(f"{len(cases)} cases, {len(TEMPLATES)} templates, "
          f"{sum(c.strict for c in cases)} strict")
    shapes = collections.Counter(json.dumps(c.schema, sort_keys=True) for c in cases)
    print(f"distinct schemas: {len(shapes)}")
