"""Semantic cache lookup cost at 100,000 entries in one scope, embedding included.

Builds one scope of ``--entries`` entries (default 100,000) from the labelled
set's real questions: each entry is a real question's embedding plus a little
noise (renormalised), so the scope is clustered like real traffic rather than
uniform noise, and dense: ~250 near-duplicates per question, a hard case for
any index. Then it asks the labelled paraphrases of those questions through
``MemorySemanticIndex.lookup``, the way the cache stage does (embedding in
the thread pool, search on the loop), and prints p50/p95 for:

- lookup: the whole call, embedding + search + guard (the goal: p50 <= 5 ms);
- embed: the model alone;
- search: the vector search (bit prefilter + exact rerank) and guard alone;
- brute force: numpy float32 matmul over the same vectors, for comparison;
- store: one insert into the full scope, and whether every stored entry is
  found again by its own text (an HNSW graph, tried first, lost many);
- with ``--redis URL``: the same entries written to Redis, then the time a new
  replica (RedisSemanticIndex) takes to load its mirror from them, and the
  delay until an entry stored by one replica is found by another. Uses the
  key prefix ``bench:sem:`` and deletes its keys afterwards.

``--quantized`` embeds with the int8 graph instead of the default float32
one (faster, but CPU-dependent: see minilm.py), for comparison.

Usage: ``python bench/semantic.py [--entries 100000] [--queries 400] [--redis URL]``.
Exit status 1 when the lookup p50 goal is missed or a stored entry is not found
again (``--no-fail`` only reports).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from sluicegate.cache.semantic import DEFAULT_THRESHOLD, LocalEmbedder, MemorySemanticIndex
from sluicegate.cache.semantic.guard import signature
from sluicegate.cache.semantic.minilm import MiniLMEncoder

DATA = Path(__file__).resolve().parents[1] / "tests" / "cache" / "data" / "paraphrase_pairs.tsv"
SCOPE = "bench:alias:scope"
GOAL_P50_MS = 5.0


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"p50 {statistics.median(ms):6.3f} ms   p95 {p95:6.3f} ms   (n={len(ms)})"


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--noise", type=float, default=0.15, help="perturbation, L2 norm")
    parser.add_argument("--redis", help="also measure a replica's load from this Redis")
    parser.add_argument("--quantized", action="store_true", help="the int8 graph")
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()

    with DATA.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    stored = sorted({r["a"] for r in rows} | {r["b"] for r in rows if r["label"] == "0"})
    asked = [r["b"] for r in rows if r["label"] == "1"]

    t = time.perf_counter()
    embedder = LocalEmbedder(MiniLMEncoder(quantized=args.quantized))
    print(f"model built in {time.perf_counter() - t:.2f} s")
    base = embedder.encode(stored)
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(stored), args.entries)
    pick[: len(stored)] = np.arange(len(stored))  # every real question once, unperturbed
    noise = rng.standard_normal((args.entries, base.shape[1])).astype(np.float32)
    noise *= args.noise / np.linalg.norm(noise, axis=1, keepdims=True)
    noise[: len(stored)] = 0.0
    vectors = base[pick] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    index = MemorySemanticIndex(embedder, max_entries_per_scope=args.entries + 1000)
    t = time.perf_counter()
    index.add_vectors(
        SCOPE,
        [stored[i] for i in pick],
        [f"answer-{n}" for n in range(args.entries)],
        vectors,
        ttl_s=3600,
    )
    print(f"built a scope of {len(index):,} entries in {time.perf_counter() - t:.1f} s "
          f"(bulk insert)")

    queries = [asked[i % len(asked)] for i in range(args.queries)]
    for text in queries[:20]:  # warm-up: thread pool, onnxruntime arenas
        await index.lookup(SCOPE, text + " ")
    lookups: list[float] = []
    hits = 0
    for text in queries:
        index.recent.clear()  # measure the embedding every time
        began = time.perf_counter()
        hit = await index.lookup(SCOPE, text)
        lookups.append(time.perf_counter() - began)
        hits += hit is not None

    # Each measured in its own loop: OpenBLAS threads left spinning after the
    # brute-force product would otherwise slow the embedding that follows.
    embeds: list[float] = []
    for text in queries:
        began = time.perf_counter()
        embedder.encode([text])
        embeds.append(time.perf_counter() - began)
    query_vectors = embedder.encode(queries)
    signatures = [signature(text) for text in queries]
    scope = index._scopes[SCOPE]  # the search alone
    searches: list[float] = []
    for vector, sig in zip(query_vectors, signatures, strict=True):
        began = time.perf_counter()
        scope.search(vector, sig, DEFAULT_THRESHOLD, time.time())
        searches.append(time.perf_counter() - began)
    brute: list[float] = []
    for vector in query_vectors:
        began = time.perf_counter()
        int(np.argmax(vectors @ vector))
        brute.append(time.perf_counter() - began)

    stores: list[float] = []
    for n in range(200):
        began = time.perf_counter()
        await index.store(SCOPE, f"{queries[n % len(queries)]} #{n}", f"new-{n}", ttl_s=3600)
        stores.append(time.perf_counter() - began)
    # Entries added next to a dense cluster must stay findable (an HNSW graph lost many).
    found_again = 0
    for n in range(200):
        hit = await index.lookup(SCOPE, f"{queries[n % len(queries)]} #{n}")
        found_again += hit is not None and hit.entry_key == f"new-{n}"

    if args.redis:
        await redis_phase(args.redis, embedder, [stored[i] for i in pick], vectors, queries)

    p50 = statistics.median(lookups) * 1000
    print(f"\nscope: {len(index):,} entries, {base.shape[1]} dims; threshold {DEFAULT_THRESHOLD}")
    print(f"lookup (embed + search + guard)  {percentiles(lookups)}   hits {hits}/{len(queries)}")
    graph = "int8" if args.quantized else "float32"
    print(f"  embed alone (MiniLM, {graph:7}) {percentiles(embeds)}")
    print(f"  search + guard alone           {percentiles(searches)}")
    print(f"  numpy f32 brute force, compare {percentiles(brute)}")
    print(f"store (embed + insert)           {percentiles(stores)}")
    print(f"stored entries found again by their own text: {found_again}/200")
    met = p50 <= GOAL_P50_MS and found_again == 200
    print(f"\ngoal: lookup p50 <= {GOAL_P50_MS} ms at {len(index):,} entries: "
          f"{p50:.2f} ms, {'met' if met else 'NOT MET'}")
    embedder.close()
    return 0 if met or args.no_fail else 1


async def redis_phase(
    url: str, embedder: LocalEmbedder, texts: list[str], vectors: np.ndarray, queries: list[str]
) -> None:
    import redis.asyncio as aioredis

    from sluicegate.cache.semantic import RedisSemanticIndex
    from sluicegate.cache.semantic.redis_index import _encode, _Record

    prefix = "bench:sem:"
    client = aioredis.from_url(url)
    expires_at = time.time() + 3600
    t = time.perf_counter()
    async with client.pipeline(transaction=False) as pipe:
        for n, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
            record = _Record(f"answer-{n}", expires_at, text, vector.astype("<f2").tobytes())
            pipe.hset(f"{prefix}e:{SCOPE}", f"d{n}", _encode(record))
            pipe.zadd(f"{prefix}x:{SCOPE}", {f"d{n}": expires_at})
        pipe.zadd(f"{prefix}scopes", {SCOPE: 0})
        await pipe.execute()
    print(f"\nredis: wrote {len(texts):,} entries in {time.perf_counter() - t:.1f} s")
    try:
        t = time.perf_counter()
        replica = RedisSemanticIndex(client, embedder, prefix=prefix,
                                     max_entries_per_scope=len(texts) + 1000)
        await replica.start()
        print(f"redis: a new replica loaded {len(replica):,} entries in "
              f"{time.perf_counter() - t:.1f} s")
        other = RedisSemanticIndex(aioredis.from_url(url), embedder, prefix=prefix,
                                   max_entries_per_scope=len(texts) + 1000)
        await other.start()
        delays = []
        for n, text in enumerate(queries[:50]):
            await other.lookup(SCOPE, f"{text} #{n}")  # embed the query ahead
            began = time.perf_counter()
            await replica.store(SCOPE, f"{text} #{n}", f"shared-{n}", ttl_s=60)
            while await other.lookup(SCOPE, f"{text} #{n}") is None:
                if time.perf_counter() - began > 2:
                    raise RuntimeError("an entry never reached the other replica")
                await asyncio.sleep(0.0005)
            delays.append(time.perf_counter() - began)
        print(f"redis: store on one replica -> found on another  {percentiles(delays)}")
        await replica.close()
        await other.close()
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
