"""``storage.bodies``: the conversation asked and the answer given, kept with the ledger.

capture   the stage that collects them (in the chain only when bodies are on)
messages  canonical messages as OpenAI chat messages, the size bound
redact    PII redaction of captured bodies, done when the records ship
"""

from sluicegate.bodies.capture import Capture
from sluicegate.bodies.messages import MAX_BYTES, TRUNCATED
from sluicegate.bodies.redact import RedactingStore, redact_bodies

__all__ = ["MAX_BYTES", "TRUNCATED", "Capture", "RedactingStore", "redact_bodies"]
