"""What a local detector says about one text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Where the text came from: a user turn; a document pasted inside a message; a tool result.
# Documents and tool results are long and mostly prose or JSON, so they get their own thresholds.
Source = Literal["user", "document", "tool"]


@dataclass(frozen=True, slots=True)
class Verdict:
    flagged: bool
    score: float  # 0..1, the highest-scoring chunk's
    # Offsets into the text of that chunk, widened to the sentence, line or JSON string around it
    # (at most 300 characters more each side); None when the text has no words.
    span: tuple[int, int] | None
    category: str | None = None  # moderation: which category; injection: None
