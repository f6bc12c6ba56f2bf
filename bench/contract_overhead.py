"""What an output contract costs a request whose answer is already valid.

Times, in process, the two steps the EnforceContract stage adds to such a
request: working out its contract (the schema taken from ``response_format``,
compiled once and then found in the cache by its canonical JSON) and checking
the answer (reading its JSON, validating it with jsonschema-rs), on a small
extraction object and on a larger one (an invoice with 20 line items). The
goal: validation of a small object <= 50 us (p50 and p95 printed).

Usage: ``python bench/contract_overhead.py [--rounds 20000]``; exit status 1
when the goal is missed (``--no-fail`` only reports).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import orjson

from sluicegate.canonical import ChatRequest, ChatResponse, Choice, Message, TextPart
from sluicegate.config import ModelConfig
from sluicegate.contracts.check import check_answer
from sluicegate.contracts.contract import contract_for
from sluicegate.json_schema import SchemaCache
from sluicegate.pipeline import Request
from sluicegate.runtime.aliases import Alias

GOAL_US = 50.0

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0},
        "email": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "email", "tags"],
    "additionalProperties": False,
}
PERSON_ANSWER = {"name": "Ada Lovelace", "age": 36, "email": None, "tags": ["math", "poetry"]}
ITEM = {
    "type": "object",
    "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"},
                   "price": {"type": "number"}, "unit": {"enum": ["each", "kg", "box"]}},
    "required": ["sku", "qty", "price", "unit"], "additionalProperties": False,
}
INVOICE = {
    "type": "object",
    "properties": {"number": {"type": "string"}, "date": {"type": "string", "format": "date"},
                   "items": {"type": "array", "items": ITEM}, "total": {"type": "number"}},
    "required": ["number", "date", "items", "total"], "additionalProperties": False,
}
INVOICE_ANSWER = {
    "number": "INV-2026-0042", "date": "2026-12-07", "total": 1234.5,
    "items": [{"sku": f"SKU-{i:04d}", "qty": i, "price": 9.99, "unit": "each"} for i in range(20)],
}


def case(schema: dict[str, Any], answer: Any) -> tuple[Request, ChatResponse]:
    config = ModelConfig.model_validate(
        {"name": "extract", "targets": [{"provider": "p", "model": "m"}]})
    alias = Alias(name="extract", targets=(), fallbacks=(), pricing=None,  # type: ignore[arg-type]
                  config=config)
    body = ChatRequest(
        model="extract", messages=[Message(role="user", content=[TextPart(text="extract")])],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "x", "schema": schema, "strict": True}},
    )
    response = ChatResponse(id="r", model="m", created=0, choices=[Choice(
        index=0, finish_reason="stop",
        message=Message(role="assistant", content=[TextPart(text=orjson.dumps(answer).decode())]),
    )])
    return Request.of(body, alias=alias), response


def measure(name: str, schema: dict[str, Any], answer: Any, rounds: int) -> float:
    cache = SchemaCache()
    request, response = case(schema, answer)
    contract = contract_for(request, cache)  # the first request compiles the schema
    assert contract is not None and check_answer(response, contract).ok
    resolve, check = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        contract = contract_for(request, cache)
        t1 = time.perf_counter()
        verdict = check_answer(response, contract)  # type: ignore[arg-type]
        t2 = time.perf_counter()
        assert verdict.ok
        resolve.append((t1 - t0) * 1e6)
        check.append((t2 - t1) * 1e6)
    for label, times in (("contract_for", resolve), ("check_answer", check)):
        q = statistics.quantiles(times, n=100)
        print(f"{name:8} {label:13} p50 {q[49]:6.1f} us   p95 {q[94]:6.1f} us")
    return statistics.quantiles(check, n=100)[49]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()
    small = measure("small", PERSON, PERSON_ANSWER, args.rounds)
    measure("invoice", INVOICE, INVOICE_ANSWER, args.rounds)
    met = small <= GOAL_US
    print(f"goal: validating a small object <= {GOAL_US:.0f} us (p50): "
          f"{small:.1f} us, {'met' if met else 'MISSED'}")
    return 0 if met or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
