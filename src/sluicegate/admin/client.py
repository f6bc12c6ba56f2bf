"""The CLI's side of the admin API: small HTTP calls and plain-text tables.

The CLI changes a running gateway only through its admin API, so every
change goes through the same validation and reaches every worker.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any


class AdminError(Exception):
    """The gateway refused the call, or could not be reached; the message says why.

    ``status`` and ``body`` are the refusal's HTTP status and JSON body (None when the
    gateway could not be reached or did not answer JSON)."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AdminClient:
    def __init__(self, url: str, admin_key: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.admin_key = admin_key
        self.timeout_s = timeout_s

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, str | None] | None = None,
        *,
        text: bool = False,
    ) -> Any:
        """The answer's JSON, or with ``text`` its body as text (CSV exports)."""
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.admin_key}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                raw = resp.read()
                return raw.decode() if text else json.loads(raw or b"null")
        except urllib.error.HTTPError as exc:
            answer: Any = None
            try:
                answer = json.loads(exc.read())
                message = answer["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = exc.reason
            raise AdminError(f"{exc.code}: {message}", status=exc.code, body=answer) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise AdminError(f"cannot reach the gateway at {self.url}: {exc}") from exc


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as an aligned plain-text table (numbers right-aligned)."""
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float) for row in rows) and bool(rows) for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(list(columns)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def format_value(value: Any) -> str:
    """A value as a table shows it: ``-`` for null, floats without trailing zeros."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)
