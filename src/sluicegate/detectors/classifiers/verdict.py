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
    span: tuple[int, int] | None  # offsets into the text of that chunk; None when it has no words
    category: str | None = None  # moderation: which category; injection: None
