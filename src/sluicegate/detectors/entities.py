"""The kinds of personal data the PII detector finds: the one list the config and the
detector share (here, not in ``pii``, so the config can name them without loading the
detector's patterns and lexicons)."""

from __future__ import annotations

PII_ENTITIES: tuple[str, ...] = (
    "email", "phone", "credit_card", "iban", "ssn", "ip_address", "person", "location",
)  # fmt: skip
