"""Throughput with the pii and injection guardrails on every 1 KB request.

Against the shared nginx upstream, in interleaved rounds (neighbouring runs see
the same machine): the bare aiohttp pass-through, Sluicegate for a tenant with
no guardrails, and Sluicegate for a tenant with ``pii`` (redact, every entity,
input and output) and ``injection`` (flag, input) on, all sending the same
~1 KB user message (a support e-mail with an address and a phone number in it,
so that redaction and restoring do real work). Prints requests/s per arm and
per round, and the goal: guarded throughput over the pass-through's >= 0.5.

``--history N`` puts N earlier turns (the e-mail and a reply each, the same in every
request) before the new message, as a conversation resends its history: what a
guardrail has read before is not read again.

Usage: ``python bench/guardrail_throughput.py [--rounds 3] [--seconds 10]
[--entities email,phone,...] [--history N]``
(``make bench`` does not run it). Exit status 1 when the goal is missed
(``--no-fail`` only reports).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench

GOAL = 0.5
GUARDED_KEY = "sk-bench-guarded"
MESSAGE = (
    "Hello support team, I am writing about my order from last Tuesday. The parcel "
    "arrived with the box crushed and two of the glasses inside were broken. I have "
    "attached photos of the damage. Could you please send replacements, or refund the "
    "two broken items to the card I paid with? I would prefer replacements if they are "
    "in stock, since these were a gift for my sister's wedding next month. You can reach "
    "me at maria.jensen@example.org or on +44 20 7946 0958 during office hours. I have "
    "been a customer for several years and this is the first time anything like this has "
    "happened, so I am sure it was just bad luck in transit. Please let me know whether "
    "you need the broken pieces sent back, and if so whether you will provide a prepaid "
    "label. Also, the invoice lists the wrong delivery address; the right one is the "
    "address on my account. Thank you for your help, and have a good week. Kind regards."
)
# Every request's message differs (an order number counts up), so that no guardrail
# reads a text it has read before (see detectors.scans.Remembered): each is a new turn.
LUA = """-- a ~1 KB user message, new on every request; env: BENCH_KEY
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "sk-bench")
local template = '%s'
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format(template, n))
end
"""


# The earlier turns of a conversation (--history N): the same for every request, as a
# client resends them with each new turn.
REPLY = ("Thank you for letting us know, and sorry about the damage. Could you tell us the "
         "order number and which items arrived broken, so that we can arrange the rest?")


def lua_body(history: int = 0) -> str:
    message = MESSAGE.replace("my order from", "my order %%d from")
    earlier: list[dict[str, str]] = []
    for turn in range(history):
        earlier.append({"role": "user", "content": MESSAGE.replace(
            "my order from", f"my earlier order {turn} from")})
        earlier.append({"role": "assistant", "content": REPLY})
    body = {"model": "fast", "max_tokens": 32,
            "messages": [*earlier, {"role": "user", "content": message}]}
    return orjson.dumps(body).decode().replace("'", "\\'")


ENTITIES: list[str] | None = None  # --entities: the pii guardrail's (None: all)


def with_guardrails(config: dict[str, Any]) -> None:
    config["guardrails"] = [
        {"name": "pii", "type": "pii", "stage": ["input", "output"], "action": "redact",
         "entities": ENTITIES},
        # flag, not block: the detector does the same work, and a false positive on the
        # bench's message must not turn the run into one of cheap refusals.
        {"name": "injection", "type": "injection", "stage": ["input"], "action": "flag"},
    ]
    bench_tenant = config["tenants"][0]
    bench_tenant["guardrails"] = []
    guarded = {**bench_tenant, "name": "guarded", "guardrails": ["pii", "injection"],
               "keys": [{"name": "guarded", "key": GUARDED_KEY}]}
    config["tenants"].append(guarded)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--entities", help="comma-separated pii entities (default: all)")
    parser.add_argument("--history", type=int, default=0,
                        help="earlier turns resent with every request (default 0)")
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()
    global ENTITIES
    ENTITIES = args.entities.split(",") if args.entities else None
    opts = bench.parse_options(["--no-fail"])
    bench.ensure_tools()
    targets = bench.TARGETS
    gateway = targets["sluicegate"]
    guarded = bench.Target("guarded", "sluicegate, pii + injection", gateway.url,
                           api_key=GUARDED_KEY)
    print(f"bench: message {len(MESSAGE)} characters, {args.history} earlier turns resent",
          flush=True)
    with bench.processes() as procs:
        lua = Path(procs.workdir) / "guarded.lua"
        lua.write_text(LUA % lua_body(args.history).replace("%%d", "%d"))
        bench.start_nginx(procs, opts)
        bench.start_passthrough(procs)
        bench.start_gateway(procs, edit=with_guardrails)
        arms = {"pass-through": targets["passthrough"], "sluicegate": gateway,
                "sluicegate + pii + injection": guarded}
        for target in arms.values():
            bench.run_wrk(target, lua, opts.connections, 2)  # warm-up (and loads the models)
        rps: dict[str, list[float]] = {name: [] for name in arms}
        for n in range(args.rounds):
            order = list(arms.items()) if n % 2 == 0 else list(arms.items())[::-1]
            for name, target in order:
                result = bench.run_wrk(target, lua, opts.connections, args.seconds)
                if not result.ok:
                    print(f"bench: {name}: errors in the run", flush=True)
                    return 1
                rps[name].append(result.rps)
            print("bench: round " + str(n + 1) + ": " + ", ".join(
                f"{name} {values[-1]:,.0f} req/s" for name, values in rps.items()), flush=True)
    ratios = [g / p for g, p in zip(rps["sluicegate + pii + injection"], rps["pass-through"],
                                    strict=True)]
    plain = [g / p for g, p in zip(rps["sluicegate"], rps["pass-through"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"throughput / pass-through, 1 KB messages, c={opts.connections}, median of "
          f"{args.rounds} rounds: without guardrails {statistics.median(plain):.2f}, with pii "
          f"and injection {ratio:.2f} ({', '.join(f'{r:.2f}' for r in ratios)})")
    met = ratio >= GOAL
    print(f"goal: with pii and injection >= {GOAL}: {'met' if met else 'MISSED'}")
    return 0 if met or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
