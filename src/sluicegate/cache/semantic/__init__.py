"""The semantic cache index: paraphrases of a stored question find its answer.

    base.py        SemanticIndex, SemanticHit, Embedder, DEFAULT_THRESHOLD
    minilm.py      all-MiniLM-L6-v2 on onnxruntime, weights from site-packages
    embedders.py   LocalEmbedder (that model, in a thread), CallableEmbedder (any call)
    guard.py       the lexical check that a near neighbour asks the same question
    vectors.py     one scope's vectors: exact search with a bit prefilter, expiry, cap
    memory.py      MemorySemanticIndex (one process)
    redis_index.py RedisSemanticIndex (shared: Redis plus a mirror per replica)

The caller (the cache stage) chooses the scope, a key covering everything that
must match exactly (tenant, alias, targets, system prompt, tools, parameters,
earlier turns), and the text, the last user turn; the index decides whether a
stored text in that scope means the same. ``entry_key`` names an answer that
the exact cache holds.

Why the last user turn, with the earlier turns in the scope: the model reads
256 tokens and blurs what it reads, so embedding a whole conversation would
let two conversations that end in different questions meet ("...and in
Python?" vs "...and in Rust?" after a long shared history). Earlier turns
must match exactly; only the question being asked now may be paraphrased.
Texts past ``max_text_chars`` (1,000: what the model reads) are skipped.

Needs the ``semantic`` extra (numpy, onnxruntime, ...): import this package
only where a semantic cache is configured. Wiring, roughly::

    embedder = LocalEmbedder()                      # ~1 s, ~220 MB; once per process
    index = RedisSemanticIndex(redis, embedder)     # or MemorySemanticIndex(embedder)
    await index.start()                             # Redis only; close() at shutdown
    hit = await index.lookup(scope, text, threshold=alias_threshold)
"""

from sluicegate.cache.semantic.base import DEFAULT_THRESHOLD, Embedder, SemanticHit, SemanticIndex
from sluicegate.cache.semantic.embedders import CallableEmbedder, LocalEmbedder, normalize
from sluicegate.cache.semantic.memory import MemorySemanticIndex
from sluicegate.cache.semantic.redis_index import RedisSemanticIndex

__all__ = [
    "DEFAULT_THRESHOLD",
    "CallableEmbedder",
    "Embedder",
    "LocalEmbedder",
    "MemorySemanticIndex",
    "RedisSemanticIndex",
    "SemanticHit",
    "SemanticIndex",
    "normalize",
]
