"""Django's Redis cache with one client per process.

Django keeps its cache backends per context (`caches` is an asgiref `Local`): under ASGI
every request and every room connection is a context of its own, so each one that
reached the cache made its own `RedisCache`, its own redis-py connection pool and its
own socket to Redis, opened on its first call and closed only when the garbage collector
found it (issue 14: a TCP connection per request to the stats pages' cache; issue 13: a
Redis client per room connection for presence and the recorder's route). This backend
keeps Django's per-context objects, which are cheap, and shares what is not: the client
and its connection pool, one per process and server list. redis-py's pool is safe across
threads and makes itself new in a forked child."""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple[tuple[str, ...], str], RedisCacheClient] = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
            return client


def forget_clients() -> None:
    """Tests: the next backend makes a new client (after a server was flushed or moved)."""
    with _lock:
        _clients.clear()
