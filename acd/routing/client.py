"""The Redis client routing and agents accept: one server or a Redis Cluster.

Every routing key carries the `{prefix}` hash tag (acd.routing.keys), so all of
them live in one cluster slot and each Lua script touches a single node; the
same code therefore runs on `redis.asyncio.Redis` and on
`redis.asyncio.cluster.RedisCluster` (scripts by EVALSHA with reload on
NOSCRIPT, BLPOP on the inbox, pipelines on one key, and the kick channel through
redis-py's cluster pub/sub, which SUBSCRIBEs on the node owning the channel's
slot while PUBLISH reaches every node over the cluster bus).

acd/app.py builds one or the other (setting `redis_cluster`).
"""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

RedisClient: TypeAlias = aioredis.Redis | RedisCluster

