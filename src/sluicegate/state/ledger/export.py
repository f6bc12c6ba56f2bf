"""Usage answers as CSV, for spreadsheets and billing scripts.

One row per group (or one row of totals when the answer is not grouped), the
group's key first (by tenant: its name, then its id), then every sum in the
answer's own order. JSON needs no
exporter: it is the answer itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from sluicegate.state.ledger.store import SUM_FIELDS


def usage_csv(answer: dict[str, Any], *, group_by: str | None) -> str:
    rows: list[dict[str, Any]] = answer["groups"] if group_by else [answer["totals"]]
    columns = [group_by, *SUM_FIELDS] if group_by else list(SUM_FIELDS)
    if group_by == "tenant":  # a tenant is its id; the name alone can be two tenants
        columns.insert(1, "tenant_id")
    return rows_csv([{**row, group_by: row["key"]} if group_by else row for row in rows], columns)


def rows_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV with a header line; missing and null values are empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue()
