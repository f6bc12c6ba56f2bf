"""Output contracts: how often each method ends with the right object, and at what cost in calls.

    .venv/bin/python bench/contracts.py [--cases 5000] [--seed 1] [--concurrency 8]
        [--max-reasks 1] [--max-attempts N] [--stream] [--no-contract | --no-gateway]
        [--show 5] [--out PATH]

Every case of the corpus (bench/contract_corpus.py: a JSON Schema and the
correct object) is answered by a fake model whose answers are damaged as
models damage them (bench/contract_damage.py, the documented mix: 80% clean,
12% syntactic, 8% semantic; a re-ask draws again from the same mix). Three
methods meet the same draws:

- sluicegate: the real gateway in process, an alias with
  ``contract: {repair: true, max_reasks: 1, on_violation: error, stream: hold}``
  in front of bench/contract_upstream.py; each request carries the case's
  schema in ``response_format`` (json_schema) and goes through the openai SDK.
  The answer is the 200's message content (a 502 ``output_contract_violation``
  is a refusal to answer); the upstream counts the calls each case took. The
  alias keeps its default ``max_attempts``: with ``--max-attempts 1`` every
  re-ask is refused (503 ``no_healthy_target``), as a re-ask is one of the
  alias's attempts on this gateway.
- json-repair: ``json_repair.loads`` on the first answer, no re-ask and no
  validation gate: what a caller relying on it alone is handed.
- instructor-style: ``json.loads`` only (no extraction, no repair), schema
  validation, and on any failure a fresh attempt; up to 1 re-ask, and up to 3.
  After the last failure the caller gets an error, not an answer.

Scored against the correct object (equality of parsed JSON values: 1 == 1.0,
"1" != 1, True != 1): valid (an answer was handed over and it validates),
extra upstream calls per request, silent corruption (handed over, valid, but
not the correct object), invalid passed (handed over as fine, but invalid),
errors (no answer). Then the same per damage kind of the first attempt. Goals
for Sluicegate: valid >= 99.5%, extra calls <= 0.10, silent corruption <= 0.1%.
Sluicegate's cases that are silently corrupted, invalid but passed, or whose
syntactic damage was not repaired are written to ``--out`` (schema, damaged
text, what came back) and the first ``--show`` printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import openai
from contract_corpus import DEFAULT_SEED as CORPUS_SEED
from contract_corpus import TEMPLATES, Case, generate
from contract_damage import DEFAULT_SEED, MIX, SEMANTIC, SYNTACTIC, draw, mix_lines
from contract_upstream import ContractUpstream

KEY = "sk-contracts-bench"
ALIAS = "extract"
CONTRACT = {"repair": True, "max_reasks": 1, "on_violation": "error", "stream": "hold"}
HEADER = "x-sluicegate-contract"
RESULTS = Path(__file__).resolve().parent / "results" / "contracts.json"


# --------------------------------------------------------------------------- scoring


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values: numbers by value (1 == 1.0), but a bool is not a number
    and a string is not a number ("1" != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@dataclass
class Outcome:
    """One method on one case."""

    case: int
    kind: str  # the damage of the first attempt
    calls: int
    delivered: bool  # the caller was handed an answer as a success
    valid: bool = False  # ... and it validates against the schema
    correct: bool = False  # ... and it is the correct object
    header: str | None = None  # sluicegate: x-sluicegate-contract
    status: int = 200
    answer: str | None = None  # sluicegate: what came back (content or error body)

    @property
    def silent(self) -> bool:
        return self.delivered and self.valid and not self.correct

    @property
    def invalid_passed(self) -> bool:
        return self.delivered and not self.valid


def judge(case: Case, validator: Any, calls: int, kind: str, value: Any,
          delivered: bool = True, **extra: Any) -> Outcome:
    valid = delivered and validator.is_valid(value)
    return Outcome(case.id, kind, calls, delivered, valid,
                   valid and json_equal(value, case.obj), **extra)


# --------------------------------------------------------------------------- baselines


def json_repair_arm(cases: list[Case], validators: list[Any], seed: int) -> list[Outcome]:
    import json_repair

    out = []
    for case, validator in zip(cases, validators, strict=True):
        first = draw(case, 0, seed)
        try:
            value = json_repair.loads(first.text)
        except Exception:  # a repair library that gives up: nothing to hand over
            out.append(Outcome(case.id, first.kind, 1, delivered=False))
            continue
        out.append(judge(case, validator, 1, first.kind, value))
    return out


def instructor_arm(cases: list[Case], validators: list[Any], seed: int,
                   max_reasks: int) -> list[Outcome]:
    out = []
    for case, validator in zip(cases, validators, strict=True):
        kind = draw(case, 0, seed).kind
        for attempt in range(max_reasks + 1):
            answer = draw(case, attempt, seed)
            try:
                value = json.loads(answer.text)
            except json.JSONDecodeError:
                continue
            if validator.is_valid(value):
                out.append(judge(case, validator, attempt + 1, kind, value))
                break
        else:
            out.append(Outcome(case.id, kind, max_reasks + 1, delivered=False))
    return out


# --------------------------------------------------------------------------- sluicegate


def gateway_config(upstream_url: str, storage: str, contract: dict[str, Any] | None,
                   max_attempts: int | None = None) -> dict[str, Any]:
    """One alias on the fake model; ``contract`` None: none on the alias.
    ``max_attempts`` None: the alias's default (the fake never fails, so no retry
    happens; but on this gateway a re-ask is one of the alias's attempts)."""
    alias: dict[str, Any] = {"name": ALIAS, "targets": [{"provider": "model", "model": "gpt-4o"}]}
    if max_attempts is not None:
        alias["max_attempts"] = max_attempts
    config: dict[str, Any] = {
        "providers": [{"name": "model", "type": "openai", "base_url": upstream_url,
                       "api_key": "sk-upstream"}],
        "models": [alias],
        "tenants": [{"name": "bench", "keys": [{"name": "k", "key": KEY}]}],
        "storage": {"url": storage},
    }
    if contract is not None:
        config["models"][0]["contract"] = contract
    return config


def request_for(case: Case, response_format: bool = True) -> dict[str, Any]:
    """The request for ``case``; without ``response_format`` (a request the gateway does
    not check, since a json_schema response_format alone brings the contract's defaults)
    the schema is only in the prompt."""
    body: dict[str, Any] = {
        "model": ALIAS,
        "messages": [
            {"role": "system", "content": "Extract the fields as JSON that matches the schema."},
            {"role": "user", "content": f"case {case.id}: extract the {case.template} from the "
                                        "attached document."},
        ],
    }
    if response_format:
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": case.name, "schema": case.schema, "strict": case.strict}}
    else:
        body["messages"][0]["content"] += " Schema: " + json.dumps(case.schema)
    return body


async def sluicegate_arm(cases: list[Case], validators: list[Any], seed: int, concurrency: int,
                         contract: dict[str, Any] | None, stream: bool = False,  # None: control
                         max_attempts: int | None = None,
                         ) -> tuple[list[Outcome], ContractUpstream]:
    from aiohttp import web

    from sluicegate.app import create_app
    from sluicegate.config.loader import validate_config
    from sluicegate.gateway import Gateway
    from sluicegate.server.protocol import GatewayRunner

    by_id = {c.id: c for c in cases}
    with tempfile.TemporaryDirectory(prefix="sluicegate-contracts-") as tmp:
        async with ContractUpstream(by_id, seed) as upstream:
            config = validate_config(gateway_config(upstream.url, f"sqlite:///{tmp}/gw.db",
                                                    contract, max_attempts))
            runner = GatewayRunner(create_app(Gateway(config)), handle_signals=False,
                                   access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY,
                                        max_retries=0, timeout=60)
            gate = asyncio.Semaphore(concurrency)
            done = 0
            started = time.monotonic()

            async def one(case: Case, validator: Any) -> Outcome:
                nonlocal done
                async with gate:
                    outcome = await _ask(client, case, validator, seed, stream,
                                         response_format=contract is not None)
                done += 1
                if done % 500 == 0:
                    print(f"  sluicegate: {done}/{len(cases)} "
                          f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
                return outcome
            try:
                outcomes = await asyncio.gather(*(one(c, v) for c, v in
                                                  zip(cases, validators, strict=True)))
            finally:
                await client.close()
                await runner.cleanup()
    for outcome in outcomes:
        outcome.calls = upstream.calls[outcome.case]
    return list(outcomes), upstream


async def _ask(client: openai.AsyncOpenAI, case: Case, validator: Any, seed: int,
               stream: bool = False, response_format: bool = True) -> Outcome:
    kind = draw(case, 0, seed).kind
    body = request_for(case, response_format)
    try:
        raw = await client.chat.completions.with_raw_response.create(**body, stream=stream)
        header = raw.headers.get(HEADER)
        parsed = raw.parse()
        if isinstance(parsed, openai.AsyncStream):
            pieces = [chunk.choices[0].delta.content or ""
                      async for chunk in parsed if chunk.choices]
            content: str | None = "".join(pieces)
        else:
            content = parsed.choices[0].message.content
    except openai.APIStatusError as e:
        return Outcome(case.id, kind, 0, delivered=False, status=e.status_code,
                       header=e.response.headers.get(HEADER), answer=e.response.text)
    try:
        value = json.loads(content or "")
    except json.JSONDecodeError:
        return Outcome(case.id, kind, 0, delivered=True, valid=False, header=header,
                       answer=content)
    return judge(case, validator, 0, kind, value, header=header, answer=content)


def gateway_available(contract: dict[str, Any] | None) -> str | None:
    """Why the Sluicegate arm cannot run on this checkout (None: it can)."""
    from sluicegate.config.loader import validate_config

    try:
        validate_config(gateway_config("http://127.0.0.1:1/v1", "sqlite:///:memory:", contract))
    except Exception as e:
        return f"this checkout's config has no alias 'contract' ({str(e).splitlines()[0][:120]})"
    return None


# --------------------------------------------------------------------------- report


@dataclass
class Score:
    n: int = 0
    valid: int = 0
    correct: int = 0
    extra_calls: int = 0
    silent: int = 0
    invalid_passed: int = 0
    errors: int = 0

    @classmethod
    def of(cls, outcomes: Iterable[Outcome]) -> Score:
        s = cls()
        for o in outcomes:
            s.n += 1
            s.valid += o.valid
            s.correct += o.correct
            s.extra_calls += max(0, o.calls - 1)
            s.silent += o.silent
            s.invalid_passed += o.invalid_passed
            s.errors += not o.delivered
        return s

    def cells(self) -> list[str]:
        if not self.n:
            return ["-"] * len(COLUMNS)
        def pct(k: int) -> str:
            return f"{100 * k / self.n:.2f}%"
        return [pct(self.valid), pct(self.correct), f"{self.extra_calls / self.n:.3f}",
                pct(self.silent), pct(self.invalid_passed), pct(self.errors)]


# valid = correct + silent corruption; valid + invalid passed + errors = 100%.
COLUMNS = ["valid", "correct", "extra calls/req", "silent corr.", "invalid passed", "errors"]


def table(title: str, rows: list[tuple[str, Score]]) -> list[str]:
    head = [title, "n", *COLUMNS]
    body = [[label, str(s.n), *s.cells()] for label, s in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True)))
    return [fmt(head), "  ".join("-" * w for w in widths), *map(fmt, body)]


def report(methods: dict[str, list[Outcome]], args: argparse.Namespace, n_schemas: int) -> None:
    print(f"output contracts: {args.cases} cases ({len(TEMPLATES)} templates, {n_schemas} "
          f"distinct schemas), corpus seed {CORPUS_SEED}, damage seed {args.seed}")
    for line in mix_lines():
        print(line)
    s = sum(MIX[k] for k in SEMANTIC)
    print(f"a perfect contract stage (every syntactic damage repaired, every semantic one "
          f"re-asked) ends invalid only when all k+1 draws are semantic: valid = 1 - {s:.2f}^(k+1)"
          f", extra calls = {s:.2f} + ... + {s:.2f}^k: "
          + "; ".join(f"k={k}: {100 * (1 - s ** (k + 1)):.2f}%, "
                      f"{sum(s ** i for i in range(1, k + 1)):.3f}" for k in (1, 2, 3)))
    print()
    for line in table("method", [(m, Score.of(o)) for m, o in methods.items()]):
        print(line)
    kinds = list(MIX)
    for method, outcomes in methods.items():
        print()
        rows = [(k, Score.of(o for o in outcomes if o.kind == k)) for k in kinds]
        rows.append(("(syntactic)", Score.of(o for o in outcomes if o.kind in SYNTACTIC)))
        rows.append(("(semantic)", Score.of(o for o in outcomes if o.kind in SEMANTIC)))
        for line in table(f"{method}: first attempt", rows):
            print(line)


def gateway_details(outcomes: list[Outcome]) -> list[str]:
    """The header against the first attempt's damage, and the goals."""
    headers = ["valid", "repaired", "reasked", "invalid", None]
    lines = ["", "sluicegate: x-sluicegate-contract by first-attempt damage (count)"]
    lines.append("  " + "kind".ljust(20) + "".join(str(h).rjust(10) for h in headers))
    for kind in MIX:
        counts = Counter(o.header for o in outcomes if o.kind == kind)
        lines.append("  " + kind.ljust(20) + "".join(str(counts[h]).rjust(10) for h in headers))
    statuses = Counter(o.status for o in outcomes)
    lines.append(f"  HTTP statuses: {dict(sorted(statuses.items()))}")
    s = Score.of(outcomes)
    goals = [("final valid >= 99.5%", s.valid / s.n >= 0.995, f"{100 * s.valid / s.n:.2f}%"),
             ("extra calls/request <= 0.10", s.extra_calls / s.n <= 0.10,
              f"{s.extra_calls / s.n:.3f}"),
             ("silent corruption <= 0.1%", s.silent / s.n <= 0.001,
              f"{100 * s.silent / s.n:.2f}%")]
    lines.append("goals:")
    lines += [f"  {'PASS' if ok else 'FAIL'}  {name}: {value}" for name, ok, value in goals]
    return lines


def findings(outcomes: list[Outcome], cases: list[Case], upstream: ContractUpstream,
             ) -> list[dict[str, Any]]:
    """Sluicegate's cases worth a look: silent corruption, invalid passed, a syntactic
    damage not repaired, a semantic one the gateway answered without re-asking."""
    out = []
    for o in outcomes:
        reason = None
        if o.silent:
            reason = "silent corruption"
        elif o.invalid_passed:
            reason = "invalid passed"
        elif o.kind in SYNTACTIC and o.header != "repaired":
            reason = f"syntactic damage not repaired (header {o.header})"
        elif o.kind in SEMANTIC and o.delivered and o.calls < 2:
            reason = "semantic damage answered without a re-ask"
        if reason is None:
            continue
        case = cases[o.case]
        attempts = sorted(a for (c, a) in upstream.answers if c == o.case)
        out.append({"reason": reason, "case": o.case, "template": case.template,
                    "strict": case.strict, "schema": case.schema, "correct": case.obj,
                    "attempts": [asdict(upstream.answers[(o.case, a)]) for a in attempts],
                    "status": o.status, "header": o.header, "returned": o.answer})
    return out


# --------------------------------------------------------------------------- main


@dataclass
class Run:
    methods: dict[str, list[Outcome]] = field(default_factory=dict)
    gateway_skipped: str | None = None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=5000)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the damage draws' seed")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-reasks", type=int, default=1, help="the gateway alias's max_reasks")
    p.add_argument("--max-attempts", type=int, default=None,
                   help="the gateway alias's max_attempts (default: the alias default)")
    p.add_argument("--no-gateway", action="store_true", help="the two baselines only")
    p.add_argument("--stream", action="store_true",
                   help="streamed requests (the alias holds the stream: stream: hold)")
    p.add_argument("--no-contract", action="store_true",
                   help="a control: no contract on the alias and no response_format in the "
                   "requests (the gateway relays the answers unchecked)")
    p.add_argument("--show", type=int, default=5, help="findings printed (all go to --out)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    cases = generate(args.cases)
    validators = [jsonschema_rs.validator_for(c.schema) for c in cases]
    n_schemas = len({json.dumps(c.schema, sort_keys=True) for c in cases})
    contract = None if args.no_contract else {**CONTRACT, "max_reasks": args.max_reasks}
    run = Run()
    run.gateway_skipped = "--no-gateway" if args.no_gateway else gateway_available(contract)
    upstream = None
    if run.gateway_skipped is None:
        outcomes, upstream = asyncio.run(
            sluicegate_arm(cases, validators, args.seed, args.concurrency, contract,
                           args.stream, args.max_attempts))
        label = "no contract" if contract is None else f"max_reasks {args.max_reasks}"
        label += ", streamed" if args.stream else ""
        label += f", max_attempts {args.max_attempts}" if args.max_attempts else ""
        run.methods[f"sluicegate ({label})"] = outcomes
    run.methods["json-repair"] = json_repair_arm(cases, validators, args.seed)
    for k in (1, 3):
        run.methods[f"instructor-style ({k} re-ask{'s' if k > 1 else ''})"] = instructor_arm(
            cases, validators, args.seed, k)
    report(run.methods, args, n_schemas)
    if run.gateway_skipped is not None:
        print(f"\nsluicegate: not measured: {run.gateway_skipped}")
        return 0
    assert upstream is not None
    gateway = next(iter(run.methods.values()))
    for line in gateway_details(gateway):
        print(line)
    found = findings(gateway, cases, upstream)
    print(f"\nfindings: {len(found)} "
          f"({dict(Counter(f['reason'] for f in found))}); all written to {args.out}")
    for f in found[:args.show]:
        print(json.dumps({k: f[k] for k in ("reason", "case", "template", "attempts", "status",
                                            "header", "returned")}, ensure_ascii=False)[:1500])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(found, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
