"""What model cards, drift tests, sessions and feedback read and write.

Every figure comes from the ledger's rows (and the feedback table), never from
one process's memory, so every replica shows the same card and raises the same
alerts. The per-request signals are read as :class:`SignalRow` tuples, the one
shape both backends answer and both the card and the drift monitor compute on.
"""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple, Protocol

import msgspec
import orjson

from sluicegate.ids import GENERATED_REQUEST_ID_PREFIX

# The most rows one card or drift pass reads: the most recent ones of its window
# (a figure over 50,000 requests is as good as over all; memory stays a few MB).
MAX_SIGNAL_ROWS = 50_000


class SignalRow(NamedTuple):
    ts: float
    status: int
    error_code: str | None
    latency_ms: float
    ttft_ms: float | None
    output_tokens: int
    finish_reason: str | None
    refusal: bool
    contract: str | None
    cache: str | None
    cost_usd: float
    served_model: str | None
    target: str | None


SIGNAL_COLUMNS = (
    "ts, status, error_code, latency_ms, ttft_ms, output_tokens, finish_reason, refusal,"
    " contract, cache, cost_usd, served_model, target"
)


class Feedback(msgspec.Struct, kw_only=True):
    tenant_id: str
    id: str
    ledger_id: str
    request_id: str
    alias: str | None
    session: str | None
    name: str
    value: float | bool | str
    comment: str | None
    correction: str | None
    ts: float

    @property
    def score(self) -> float | None:
        """The value as a number (a boolean as 0 or 1); None for a string."""
        value = self.value
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, int | float):
            return float(value)
        return None

    def answer(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "feedback",
            "request_id": self.request_id,
            "name": self.name,
            "value": self.value,
            "comment": self.comment,
            "correction": self.correction,
            "created_at": self.ts,
        }


class RequestRef(NamedTuple):
    """A ledger record feedback can be about."""

    ledger_id: str
    request_id: str
    alias: str | None
    session: str | None
    ts: float
    response_id: str | None = None


class BehaviourStore(Protocol):
    async def signals(
        self,
        alias: str,
        since: float | None,
        until: float | None,
        *,
        first: int | None = None,
        last: int | None = None,
    ) -> list[SignalRow]:
        """The alias's rows over ``[since, until)`` in time order: the first ``first``
        of them, or else the most recent ``last`` (at most :data:`MAX_SIGNAL_ROWS`)."""
        ...

    async def feedback_scores(
        self, alias: str, since: float | None, until: float | None
    ) -> list[tuple[str, float, float]]:
        """(name, score, ts) of the alias's numeric feedback over ``[since, until)``,
        by the time of the request it is about, in time order."""
        ...

    async def find_request(self, tenant_id: str, request_id: str) -> RequestRef | None:
        """The tenant's ledger record whose x-request-id or answer id is ``request_id``."""
        ...

    async def add_feedback(self, feedback: Feedback) -> Feedback | None:
        """Store it; None when the tenant has one with that id already (nothing stored)."""
        ...

    async def feedback(self, tenant_id: str, id: str) -> Feedback | None: ...

    async def sessions(
        self,
        tenant_id: str | None,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Per (tenant, session): requests, tokens, cost, first and last, errors,
        feedback by name; the most recently active first."""
        ...

    async def baseline_since(self, alias: str) -> float | None: ...

    async def set_baseline_since(self, alias: str, since: float) -> None: ...

    async def served_model(self, target: str) -> str | None: ...

    async def set_served_model(self, target: str, model: str, at: float) -> None: ...


_FOUND = "SELECT id, request_id, alias, session, ts, response_id FROM ledger WHERE tenant_id = "


def _lookups(request_id: str, mark: str) -> list[tuple[str, str]]:
    """The queries, each by an index, that may find ``request_id`` (in ``mark``'s
    placeholder style: ``?`` or ``$``), most likely first: the row whose id it names,
    a client-chosen x-request-id, the answer's id."""
    one = "$1" if mark == "$" else "?"
    two = "$2" if mark == "$" else "?"
    queries = []
    if request_id.startswith(GENERATED_REQUEST_ID_PREFIX):
        queries.append((f"{_FOUND}{one} AND id = {two} AND request_id = 'req_' || id",
                        request_id[len(GENERATED_REQUEST_ID_PREFIX):]))
    queries.append((f"{_FOUND}{one} AND request_id = {two} AND request_id <> 'req_' || id"
                    " ORDER BY ts DESC LIMIT 1", request_id))
    queries.append((f"{_FOUND}{one} AND response_id = {two} ORDER BY ts DESC LIMIT 1",
                    request_id))
    return queries


def _window(since: float | None, until: float | None, mark: str = "?") -> tuple[str, list[Any]]:
    where, params = [], []
    if since is not None:
        where.append(f"ts >= {mark}")
        params.append(since)
    if until is not None:
        where.append(f"ts < {mark}")
        params.append(until)
    return (" AND " + " AND ".join(where)) if where else "", params


class SQLiteBehaviourStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def signals(
        self,
        alias: str,
        since: float | None,
        until: float | None,
        *,
        first: int | None = None,
        last: int | None = None,
    ) -> list[SignalRow]:
        window, params = _window(since, until)
        base = f"SELECT {SIGNAL_COLUMNS} FROM ledger WHERE alias = ?{window}"
        if first is not None:
            sql = f"{base} ORDER BY ts LIMIT ?"
        else:
            sql = f"SELECT * FROM ({base} ORDER BY ts DESC LIMIT ?) ORDER BY ts"
        limit = first if first is not None else min(last or MAX_SIGNAL_ROWS, MAX_SIGNAL_ROWS)
        rows = self._conn.execute(sql, [alias, *params, limit]).fetchall()
        return [SignalRow._make((*r[:7], bool(r[7]), *r[8:])) for r in rows]

    async def feedback_scores(
        self, alias: str, since: float | None, until: float | None
    ) -> list[tuple[str, float, float]]:
        window, params = _window(since, until, "?")
        window = window.replace("ts ", "l.ts ")
        rows = self._conn.execute(
            "SELECT f.name, f.score, l.ts FROM feedback f JOIN ledger l ON l.id = f.ledger_id"
            f" WHERE f.alias = ? AND f.score IS NOT NULL{window} ORDER BY l.ts",
            [alias, *params],
        ).fetchall()
        return [(r[0], float(r[1]), float(r[2])) for r in rows]

    async def find_request(self, tenant_id: str, request_id: str) -> RequestRef | None:
        conn, found = self._conn, None
        for sql, param in _lookups(request_id, "?"):
            found = conn.execute(sql, (tenant_id, param)).fetchone()
            if found is not None:
                break
        return None if found is None else RequestRef(*found)

    async def add_feedback(self, feedback: Feedback) -> Feedback | None:
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO feedback (tenant_id, id, ledger_id, request_id, alias,"
            " session, name, value, score, comment, correction, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _feedback_row(feedback),
        )
        return feedback if cursor.rowcount == 1 else None

    async def feedback(self, tenant_id: str, id: str) -> Feedback | None:
        row = self._conn.execute(
            "SELECT tenant_id, id, ledger_id, request_id, alias, session, name, value,"
            " comment, correction, ts FROM feedback WHERE tenant_id = ? AND id = ?",
            (tenant_id, id),
        ).fetchone()
        return None if row is None else _feedback_of(row)

    async def sessions(
        self,
        tenant_id: str | None,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        window, params = _window(since, until)
        tenant = ""
        if tenant_id is not None:
            tenant = " AND tenant_id = ?"
            params = [tenant_id, *params]
        rows = self._conn.execute(
            "SELECT session, tenant, tenant_id, COUNT(*), SUM(input_tokens), SUM(output_tokens),"
            " SUM(cost_usd), MIN(ts), MAX(ts), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END)"
            f" FROM ledger WHERE session IS NOT NULL{tenant}{window}"
            " GROUP BY tenant_id, session ORDER BY MAX(ts) DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        sessions = [_session(r) for r in rows]
        for item in sessions:
            marks = self._conn.execute(
                "SELECT name, COUNT(*), AVG(score) FROM feedback WHERE tenant_id = ?"
                " AND session = ? GROUP BY name ORDER BY name",
                (item["tenant_id"], item["session"]),
            ).fetchall()
            item["feedback"] = _feedback_summary(marks)
        return sessions

    async def baseline_since(self, alias: str) -> float | None:
        row = self._conn.execute(
            "SELECT since FROM drift_baselines WHERE alias = ?", (alias,)
        ).fetchone()
        return None if row is None else float(row[0])

    async def set_baseline_since(self, alias: str, since: float) -> None:
        self._conn.execute(
            "INSERT INTO drift_baselines (alias, since) VALUES (?, ?)"
            " ON CONFLICT (alias) DO UPDATE SET since = excluded.since",
            (alias, since),
        )

    async def served_model(self, target: str) -> str | None:
        row = self._conn.execute(
            "SELECT model FROM served_models WHERE target = ?", (target,)
        ).fetchone()
        return None if row is None else str(row[0])

    async def set_served_model(self, target: str, model: str, at: float) -> None:
        self._conn.execute(
            "INSERT INTO served_models (target, model, at) VALUES (?, ?, ?)"
            " ON CONFLICT (target) DO UPDATE SET model = excluded.model, at = excluded.at",
            (target, model, at),
        )


def _feedback_row(f: Feedback) -> tuple[Any, ...]:
    return (
        f.tenant_id,
        f.id,
        f.ledger_id,
        f.request_id,
        f.alias,
        f.session,
        f.name,
        orjson.dumps(f.value).decode(),
        f.score,
        f.comment,
        f.correction,
        f.ts,
    )


def _feedback_of(row: Any) -> Feedback:
    value = row[7]
    return Feedback(
        tenant_id=row[0],
        id=row[1],
        ledger_id=row[2],
        request_id=row[3],
        alias=row[4],
        session=row[5],
        name=row[6],
        value=orjson.loads(value) if isinstance(value, str) else value,
        comment=row[8],
        correction=row[9],
        ts=float(row[10]),
    )


def _session(r: Any) -> dict[str, Any]:
    return {
        "session": r[0],
        "tenant": r[1],
        "tenant_id": r[2],
        "requests": int(r[3]),
        "input_tokens": int(r[4] or 0),
        "output_tokens": int(r[5] or 0),
        "cost_usd": round(float(r[6] or 0.0), 10),
        "first_at": float(r[7]),
        "last_at": float(r[8]),
        "errors": int(r[9] or 0),
    }


def _feedback_summary(rows: Any) -> dict[str, dict[str, Any]]:
    return {
        name: {"n": int(n), "mean": None if mean is None else round(float(mean), 6)}
        for name, n, mean in rows
    }


__all__ = [
    "MAX_SIGNAL_ROWS",
    "BehaviourStore",
    "Feedback",
    "RequestRef",
    "SQLiteBehaviourStore",
    "SignalRow",
]
