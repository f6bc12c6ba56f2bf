"""Rules on what a prompt's text says: secrets and personal data do not belong in it.

A prompt is sent to a provider on every request, shown in the admin API and
kept in every replica's memory and in the database: a key or a customer's
details written into it leak everywhere at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sluicegate.detectors.pii.structured import iban_ok, luhn_ok
from sluicegate.prompts.lint.findings import Finding

_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "an OpenAI or Anthropic API key",
        re.compile(
        r"\bsk-(?:[A-Za-z0-9]+-){0,3}[A-Za-z0-9_-]{20,}"
    ),
    ),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "a GitHub token",
        re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"
    ),
    ),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{30,}")),
    ("a Stripe key", re.compile(r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}")),
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")),
    (
        "a JSON Web Token",
        re.compile(
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    ),
    ),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}=*")),
)
# "password: ..." and the like, with a value that looks chosen rather than a word.
_ASSIGNED = re.compile(
    r"(?i)\b(password|passwd|passphrase|pwd|secret|api[_ -]?key|access[_ -]?token|"
    r"auth[_ -]?token|client[_ -]?secret|token)\b[\"']?\s*(?:is|=|:)\s*[\"']?"
    r"([^\s\"'`,;<>{}()]{6,})"
)

_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")
# A person's address: a name split by a separator (jane.doe@, j_smith@) at any domain, or
# any address at a personal mail provider. One word at a company's domain (support@,
# retouren@, pharmacy@) is a role's or a team's mailbox.
_NAME_LIKE = re.compile(r"[a-z]+[._-][a-z]+(?:[._-][a-z]+)*\d{0,4}")
_PERSONAL_MAIL = frozenset(
    "gmail.com googlemail.com yahoo.com yahoo.co.uk hotmail.com outlook.com live.com msn.com "
    "icloud.com me.com aol.com gmx.de gmx.net web.de t-online.de proton.me protonmail.com "
    "mail.ru yandex.ru orange.fr free.fr laposte.net libero.it qq.com 163.com".split()
)
# Words of a team's or a role's mailbox name (it-desk@, customer.care@, no-reply@).
_ROLE_WORDS = frozenset(
    "it desk help helpdesk support service services team info admin billing sales reply "
    "noreply no contact office hr care customer orders order ops security privacy legal "
    "press media jobs careers hello mail news newsletter shop store booking bookings accounts "
    "finance payroll claims returns refunds service-desk servicedesk dispatch oncall alerts "
    "notifications donotreply do not system bot dev devops sre noc soc".split()
)
_PLACEHOLDERS = frozenset(
    "first.last firstname.lastname first_last your.name name.surname john.doe jane.doe".split()
)
_PHONE = re.compile(
    r"(?<![\w+-])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w-])"
    r"|(?<![\w-])\(\d{3}\)\s?\d{3}[\s.-]\d{4}(?![\w-])"
    r"|(?<![\w-])\d{3}[.-]\d{3}[.-]\d{4}(?![\w-])"
)
# A national number (0xx ...) counts only where the text says it is one.
_PHONE_WORD = re.compile(
    r"(?i)\b(?:phone|tel|telephone|call|ring|mobile|cell|fax|whatsapp|sms|text|dial|"
    r"telefon|handy|"
    r"téléphone|portable|teléfono|móvil)\b[^\n\d]{0,20}(0\d{1,4}(?:[\s/.-]?\d{2,8}){1,4})"
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_DATE = r"(?:\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\w+\.? \d{1,2},? \d{4}|\d{1,2}\.? \w+\.? \d{4})"
_BIRTH = re.compile(
    r"(?i)\b(?:born(?: on)?|date of birth|d\.?o\.?b\.?|birth ?date|birthday|geboren(?: am)?|"
    r"geb\.|geburtsdatum|née? le|date de naissance|nacid[oa] el|fecha de nacimiento)"
    rf"[\s:,-]{{0,4}}{_DATE}"
)


def secret_findings(text: str, path: str) -> Iterator[Finding]:
    for what, pattern in _SECRETS:
        match = pattern.search(text)
        if match is not None:
            yield _finding("secret", f"{what} in the prompt text", path, text, match.start())
            return
    for match in _ASSIGNED.finditer(text):
        value = match.group(2)
        if _looks_chosen(value):
            yield _finding(
                "secret",
                f"a {match.group(1).lower()} value in the prompt text",
                path,
                text,
                match.start(),
            )
            return


def _looks_chosen(value: str) -> bool:
    """A value someone set (digits or symbols among letters, or long and random), not a
    word or a placeholder like ``xxxxxx`` or ``<your-key>``."""
    if len(set(value.lower())) <= 2 or value.lower() in ("redacted", "hidden", "secret"):
        return False
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    has_symbol = any(not c.isalnum() for c in value)
    mixed_case = any(c.isupper() for c in value[1:]) and any(c.islower() for c in value)
    if value.isdigit():
        return False
    return has_alpha and (has_digit or (has_symbol and mixed_case) or len(value) >= 24)


def personal_data_findings(text: str, path: str) -> Iterator[Finding]:
    for match in _EMAIL.finditer(text):
        local, domain = match.group(1).lower(), match.group(2).lower()
        if local in _PLACEHOLDERS:
            continue
        parts = set(re.split(r"[._-]", local))
        if domain in _PERSONAL_MAIL or (
            _NAME_LIKE.fullmatch(local) and not parts & _ROLE_WORDS
        ):
            yield _finding("personal-data", "a person's email address", path, text, match.start())
            return
    for match in _PHONE_WORD.finditer(text):
        if _phone_like(match.group(1)):
            yield _finding("personal-data", "a phone number", path, text, match.start(1))
            return
    checks = (
        (_SSN, "a US social security number", None),
        (_CARD, "a payment card number", _luhn),
        (_IBAN, "an IBAN", _iban_valid),
        (_PHONE, "a phone number", _phone_like),
        (_BIRTH, "a date of birth", None),
    )
    for pattern, what, valid in checks:
        for match in pattern.finditer(text):
            if valid is None or valid(match.group(0)):
                yield _finding("personal-data", f"{what}", path, text, match.start())
                return


def _luhn(candidate: str) -> bool:
    digits = "".join(c for c in candidate if c.isdigit())
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def _iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    return 15 <= len(compact) <= 34 and iban_ok(compact)


def _phone_like(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not 9 <= digits <= 15:
        return False
    # A date or a time range (2024-01-15, 10.30-12.00) is not a phone number.
    return not re.fullmatch(r"\d{4}[-./]\d{2}[-./]\d{2}", candidate.strip())


def _finding(rule: str, what: str, path: str, text: str, at: int) -> Finding:
    line = text.count("\n", 0, at) + 1
    return Finding(rule, "error", f"{what}: remove it from the prompt", path, line)
