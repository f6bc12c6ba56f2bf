"""The shared Redis client, configured for a request path rather than for batch jobs.

redis-py's defaults suit scripts: a pool that raises past 100 connections and
ten reconnect attempts with backoff, so a request would wait seconds for an
answer that is "Redis is down". Here the pool blocks briefly for a free
connection instead, and an unreachable Redis is reported within about a second.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

MAX_CONNECTIONS = 512


def connect_redis(url: str) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=1.0,  # waiting for a free connection
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
        # RESP2, whatever the client library's default (redis-py 8 moved to RESP3): the
        # replies' shapes the stores read are those of RESP2.
        protocol=2,
    )
    return aioredis.Redis(connection_pool=pool)
