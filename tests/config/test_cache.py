"""The Redis cache's client is the process's, not each request's (odr/cache.py)."""

from __future__ import annotations

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache import caches

from odr.cache import SharedRedisCache, forget_clients
from tests.config.test_settings import clean_env, run

LOCATION = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_cache(settings):
    client = redis.Redis.from_url(LOCATION)
    client.flushdb()
    forget_clients()

    def use(backend: str) -> redis.Redis:
        settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": LOCATION}}
        return client

    yield use
    client.flushdb()
    forget_clients()
    client.close()


def test_with_redis_url_the_platform_caches_through_the_shared_backend(tmp_path):
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])"
    )
    env = clean_env(tmp_path, DJANGO_DEBUG="1", REDIS_URL=LOCATION)
    found = run(["-c", code], env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["odr.cache.SharedRedisCache"]


async def _contexts_holding_a_backend(contexts: int) -> tuple[int, int]:
    """Each asyncio task is a context of its own (a request, a room connection): each
    sets a key through `caches["default"]` and keeps its backend until all have. The
    connection pools they used, and the connections Redis gained meanwhile."""
    client = redis.asyncio.Redis.from_url(LOCATION)
    before = (await client.info("clients"))["connected_clients"]
    used = asyncio.Event()
    done = 0
    pools: set[int] = set()

    async def context(n: int) -> None:
        nonlocal done
        backend = caches["default"]
        await sync_to_async(backend.set)(f"k{n}", n)
        pools.add(id(backend._cache._get_connection_pool(True)))
        done += 1
        if done == contexts:
            used.set()
        await used.wait()
        await asyncio.sleep(0.2)

    tasks = [asyncio.create_task(context(n)) for n in range(contexts)]
    await used.wait()
    during = (await client.info("clients"))["connected_clients"]
    await asyncio.gather(*tasks)
    await client.aclose()
    return len(pools), during - before


async def test_forty_contexts_share_one_connection(redis_cache):
    redis_cache("odr.cache.SharedRedisCache")
    pools, connections = await _contexts_holding_a_backend(40)
    assert pools == 1
    assert connections <= 2


async def test_djangos_own_backend_opens_one_per_context(redis_cache):
    """The yardstick: why the shared backend exists."""
    redis_cache("django.core.cache.backends.redis.RedisCache")
    pools, _ = await _contexts_holding_a_backend(40)
    assert pools == 40


def test_backends_of_two_contexts_share_the_client_and_still_work(redis_cache):
    import contextvars

    redis_cache("odr.cache.SharedRedisCache")
    first = contextvars.copy_context().run(lambda: caches["default"])
    second = contextvars.copy_context().run(lambda: caches["default"])
    assert first is not second
    assert isinstance(first, SharedRedisCache)
    assert first._cache is second._cache
    assert first.add("spent", 1, 60) is True
    assert second.add("spent", 1, 60) is False
    assert second.get("spent") == 1
