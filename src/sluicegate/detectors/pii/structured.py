"""Structured PII: a compiled pattern per type, then the check that type's values obey.

The patterns are deliberately loose and the checks strict (Luhn, mod-97, SSA rules,
``ipaddress``, phone digit counts and shapes): the checks are what keep precision high,
and they run only on the rare substrings a pattern matched, never per token.
Candidates are ``(start, end, entity)`` triples; overlaps between types are settled by
the caller (pii/__init__.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

Candidate = tuple[int, int, str]

EMAIL = re.compile(
    r"(?<![\w.%+-])[\w][\w.%+-]{0,63}@[^\W_](?:[\w-]{0,62}[^\W_])?"
    r"(?:\.[^\W_](?:[\w-]{0,62}[^\W_])?)*\.[^\W\d_]{2,24}\b"
)

# --- payment cards -------------------------------------------------------------------
CARD = re.compile(r"(?<![\w.,-])\d{4}(?:[ -]?\d){8,15}(?![\w-]|[.,]\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iin_ok(d: str) -> bool:
    """Known issuer prefixes with the lengths each issues (ISO/IEC 7812 registries)."""
    n = len(d)
    p2, p4 = int(d[:2]), int(d[:4])
    if d[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if p4 == 6011 or 644 <= int(d[:3]) <= 649 or p2 == 65:  # Discover
        return 16 <= n <= 19
    if p2 == 35:  # JCB (3528-3589 assigned; test-card generators use all of 35)
        return 16 <= n <= 19
    if p4 in (2131, 1800):  # JCB, old 15-digit ranges
        return n == 15
    if 300 <= int(d[:3]) <= 305 or p2 in (36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if p2 == 62 or 2200 <= p4 <= 2204:  # UnionPay, Mir
        return 16 <= n <= 19
    if p2 == 50 or 56 <= p2 <= 69 or p4 == 604:  # Maestro (0604: an old UK range)
        return 12 <= n <= 19
    return False


def _cards(text: str, pos: int, endpos: int) -> Iterable[Candidate]:
    for m in CARD.finditer(text, pos, endpos):
        raw = m.group()
        digits = raw.replace(" ", "").replace("-", "")
        # One separator style throughout: "4111-1111 1111" is two numbers, not a card.
        if " " in raw and "-" in raw:
            continue
        if 12 <= len(digits) <= 19 and _iin_ok(digits) and luhn_ok(digits):
            yield m.start(), m.end(), "credit_card"


# --- IBAN ------------------------------------------------------------------------------
# Per-country IBAN lengths (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
    "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", re.IGNORECASE)


def iban_ok(compact: str) -> bool:
    s = (compact[4:] + compact[:4]).upper()
    # int() of the letter-expanded string; letters A..Z are 10..35 (ISO 13616).
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def _ibans(text: str, pos: int, endpos: int) -> Iterable[Candidate]:
    for m in IBAN.finditer(text, pos, endpos):
        raw = m.group()
        length = IBAN_LENGTHS.get(raw[:2].upper())
        if length is None:
            continue
        # The pattern may run on into a following code or word: cut at the country's length.
        count, end = 0, 0
        for i, ch in enumerate(raw):
            if ch != " ":
                count += 1
                if count == length:
                    end = i + 1
                    break
        if not end or (end < len(raw) and raw[end] != " "):
            continue  # too short, or a longer unbroken token
        compact = raw[:end].replace(" ", "")
        if compact[2:].isalnum() and iban_ok(compact):
            yield m.start(), m.start() + end, "iban"


# --- US SSN ----------------------------------------------------------------------------
SSN = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w-]|[.,]\d)")
SSN_BARE = re.compile(r"(?<![\w-])(\d{3})(\d{2})(\d{4})(?![\w-]|[.,]\d)")
SSN_CONTEXT = re.compile(r"\b(?:ssn|ss#|ssa|social security|social sec|taxpayer|tin)\b", re.I)


def ssn_ok(area: str, group: str, serial: str) -> bool:
    a = int(area)
    return a != 0 and a != 666 and a < 900 and group != "00" and serial != "0000"


def _ssns(text: str, pos: int, endpos: int) -> Iterable[Candidate]:
    for m in SSN.finditer(text, pos, endpos):
        if ssn_ok(m.group(1), m.group(3), m.group(4)):
            yield m.start(), m.end(), "ssn"
    for m in SSN_BARE.finditer(text, pos, endpos):
        if ssn_ok(*m.groups()) and SSN_CONTEXT.search(text, max(0, m.start() - 40), m.start()):
            yield m.start(), m.end(), "ssn"


# --- IP addresses ----------------------------------------------------------------------
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}|:)?(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w.]+)?(?![\w:])"
)
# "version 1.2.3.4", "v1.2.3.4", "build 10.0.19041.1": dotted quads that are versions.
# We treat such a quad as a version, not an address: a version word or "v" right before
# it decides. Anything else that ipaddress accepts is an address.
VERSION_BEFORE = re.compile(
    r"(?:\b(?:version|ver|v|release|build|firmware|update|upgrade|patch|rev|revision|"
    r"python|node|java|ios|android|windows|chrome|firefox)\.?\s*(?:to\s+|is\s+)?)$",
    re.I,
)

VERSION_WORD = re.compile(r"\b(?:version|release|build|firmware|upgrade|patch|v\d)", re.I)
IP_WORD = re.compile(r"\b(?:ip|ips|ipv4|address|addresses|host|server|subnet|gateway|dns|"
                     r"proxy|vpn|firewall|ping|traffic|login|logins|connect\w*|block\w*)\b",
                     re.I)


def _ipv4s(text: str, pos: int, endpos: int) -> Iterable[Candidate]:
    for m in IPV4.finditer(text, pos, endpos):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if VERSION_BEFORE.search(text, max(0, m.start() - 20), m.start()):
            continue
        # "Upgrade to version 11.4.10.8 ...; 17.2.9.10 is no longer supported": a quad in
        # a clause about versions is one too, unless the clause also says network.
        before = text[max(0, m.start() - 60) : m.start()]
        if VERSION_WORD.search(before) and not IP_WORD.search(before):
            continue
        yield m.start(), m.end(), "ip_address"


def ipv6s(text: str) -> Iterable[Candidate]:
    """IPv6 addresses; a whole-text pass, so only where the text has their colons."""
    if "::" in text or text.count(":") >= 7:
        for m in IPV6.finditer(text):
            value = m.group().split("%", 1)[0]
            if sum(c.isalnum() for c in value) < 2:
                continue  # "::" alone, or "a::" in code
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            yield m.start(), m.end(), "ip_address"


# --- phone numbers ---------------------------------------------------------------------
PHONE = re.compile(
    r"(?<![\w+#/.,:-])"
    r"(?:\+|00)?(?:\(\+?\d{1,5}\)|\d{1,5})"
    r"(?:(?:[ .-]|\s?/\s?)?(?:\((?:0|\d{1,5})\)|\d{1,5})){1,7}"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?"
    r"(?![\w+/-]|[.,:]\d)",
    re.I,
)
# Cue words are looked up in a set among the window's words (one C-level findall), not
# searched for with a \b-alternation, which re tries at every character of the window.
PHONE_CUES = frozenset(
    "phone telephone tel mobile cell cellphone call calls calling ring fax whatsapp sms "
    "text texts message messages dial reach contact number no hotline line landline handy "
    "portable desk office direct answering answer telefon telefono mob ph".split()
)
# A label after the number, as in signatures and contact cards ("... 0151 2345678 mobile").
PHONE_AFTER = re.compile(r"\W{0,3}(?:office|fax|mobile|cell|home|work|direct|landline|tel)\b",
                         re.I)
# The last word before the number (or the one before "no", "number", "is") saying that
# it is some other kind of number.
NOT_PHONE_CUES = frozenset(
    "order invoice ticket ref reference tracking account acct case id serial sku po "
    "transaction confirmation booking policy isbn zip postcode code pin version build year "
    "since card iban".split()
)
NOT_PHONE_LINKS = frozenset({"no", "number", "is"})
WORDS = re.compile(r"[^\W\d_]+")
_NO_DIGITS = str.maketrans("", "", "0123456789")
EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?", re.I)
DATE_LIKE = re.compile(
    r"^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$"
)


def _phone_ok(text: str, start: int, end: int) -> bool:
    raw = text[start:end]
    main = EXTENSION.split(raw, maxsplit=1)[0] if raw[-1].isdigit() and not raw.isdigit() else raw
    seps = len(main.translate(_NO_DIGITS))  # str.translate counts in C
    digits = len(main) - seps
    if digits < 6 or digits > 15:
        return False
    international = main.startswith("+") or (main.startswith("00") and main[2:3] != "0")
    if DATE_LIKE.match(main):
        return False
    words = WORDS.findall(text[max(0, start - 40) : start].lower())
    if words and (words[-1] in NOT_PHONE_CUES or (
        len(words) > 1 and words[-1] in NOT_PHONE_LINKS and words[-2] in NOT_PHONE_CUES
    )):
        return False
    context = not PHONE_CUES.isdisjoint(words) or (
        PHONE_AFTER.match(text, end, end + 16) is not None
    )
    if context and seps and digits >= 6:
        return True  # a grouped number where the text says phone: any national layout
    if "." in main and not context:
        # Dotted runs are versions, amounts and IPs unless laid out as 3.3.4 (US style).
        parts = main.split(".")
        if [len(p) for p in parts] != [3, 3, 4]:
            return False
    if international:
        return digits >= 8 or context
    if "(" in main:
        return digits >= 9 or context
    if seps == 0:
        # A bare digit run is a phone only where the text says so: otherwise it is an
        # order number, an amount or an id.
        return context and digits >= 7
    if digits >= 10 and main[0] == "0":
        return True  # national trunk prefix: UK 0xxxx, DE 0xxx, FR 0x, IN 0xx
    if digits == 10:
        # US 3-3-4, IN 5-5 mobile, FR 2-2-2-2-2.
        return True
    return context


def _phones(text: str, pos: int, endpos: int) -> Iterable[Candidate]:
    for m in PHONE.finditer(text, pos, endpos):
        if _phone_ok(text, m.start(), m.end()):
            yield m.start(), m.end(), "phone"


def emails_at(text: str, at: int) -> Iterable[Candidate]:
    """The e-mail address around the "@" at index ``at``, if that is one."""
    for m in EMAIL.finditer(text, max(0, at - 64), min(len(text), at + 256)):
        if m.start() <= at < m.end():
            yield m.start(), m.end(), "email"


Finder = Callable[[str, int, int], Iterable[Candidate]]
# Finders run on the window around a numeric or IBAN-shaped candidate of the one
# combined pass (scan.py), not on the whole text. In priority order: where two types
# claim overlapping text, the earlier one wins.
WINDOW_FINDERS: dict[str, Finder] = {
    "iban": _ibans,
    "credit_card": _cards,
    "ssn": _ssns,
    "ip_address": _ipv4s,
    "phone": _phones,
}
# The fewest digits a value of each type has (a phone's: without its extension).
MIN_DIGITS = {"credit_card": 12, "ssn": 9, "ip_address": 4, "phone": 6}
PRIORITY = ("email", "iban", "credit_card", "ssn", "ip_address", "phone")
