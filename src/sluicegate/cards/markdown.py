"""A model card as Markdown, for a wiki page or a change review."""

from __future__ import annotations

import datetime as dt
from typing import Any

# (label, how to read the figure from a card or its baseline)
_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("requests", ("requests",)),
    ("error rate (5xx)", ("error_rate",)),
    ("latency p50 ms", ("latency_ms", "p50")),
    ("latency p95 ms", ("latency_ms", "p95")),
    ("latency p99 ms", ("latency_ms", "p99")),
    ("time to first token p50 ms", ("ttft_ms", "p50")),
    ("time to first token p95 ms", ("ttft_ms", "p95")),
    ("output tokens mean", ("output_tokens", "mean")),
    ("output tokens p95", ("output_tokens", "p95")),
    ("refusal rate", ("refusal_rate",)),
    ("contract-valid rate", ("contract_valid_rate",)),
    ("cache hit rate", ("cache_hit_rate",)),
    ("cost per request USD", ("cost_per_request_usd",)),
)


def card_markdown(card: dict[str, Any]) -> str:
    window, baseline = card["window"], card["baseline"]
    lines = [
        f"# Model card: {card['alias']}",
        "",
        f"Targets: {', '.join(card['targets'])}",
        "",
        f"Window: {_span(window)}; baseline: {_span(baseline['window'])}.",
    ]
    if card.get("baseline_note"):
        lines += ["", f"Note: {card['baseline_note']}."]
    lines += ["", "| figure | window | baseline |", "|---|---:|---:|"]
    for label, path in _ROWS:
        lines.append(f"| {label} | {_cell(_get(card, path))} | {_cell(_get(baseline, path))} |")
    for title, key in (("Finish reasons", "finish_reasons"), ("Served models", "served_models"),
                       ("Errors", "errors")):
        if card[key] or baseline[key]:
            lines += ["", f"**{title}**: " + _counts(card[key]) + " (baseline: "
                      + _counts(baseline[key]) + ")"]
    if card["feedback"]:
        lines += ["", "**Feedback**: " + ", ".join(
            f"{name} n={f['n']} mean={_cell(f['mean'])}" for name, f in card["feedback"].items()
        )]
    lines += ["", "## Drift", "", "| metric | baseline | current | test | p-value | alert |",
              "|---|---:|---:|---|---:|---|"]
    for d in card["drift"]:
        alert = ("**yes** (" + d.get("direction", "") + ")") if d["alert"] else "no"
        test = d["test"] or f"not tested: {d.get('note', '')}"
        lines.append(f"| {d['metric']} | {_cell(d['baseline'])} | {_cell(d['current'])} | "
                     f"{test} | {_cell(d['p_value'])} | {alert} |")
    return "\n".join(lines) + "\n"


def _get(figures: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = figures
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _span(span: dict[str, Any]) -> str:
    def when(ts: float | None) -> str:
        if ts is None:
            return "..."
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    return f"{when(span['since'])} to {when(span['until'])} ({span['requests']} requests)"
