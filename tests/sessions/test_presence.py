"""Issue 13, point 6: who is connected is kept by heartbeats with an expiry, so a
connection whose process died is not marked connected for longer than a heartbeat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from odr.models import AuditEvent
from sessions import presence, services
from sessions.models import RoomParticipant
from tests.sessions.conftest import drain, join, receive_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_connection_is_alive_while_its_key_lasts_and_gone_once_it_is_removed(room):
    presence.mark_alive(["test.one", "test.two"])
    assert presence.alive(["test.one", "test.two", "test.three"]) == {"test.one", "test.two"}
    presence.mark_gone("test.one")
    assert presence.alive(["test.one", "test.two"]) == {"test.two"}


def test_the_sweep_finds_only_participants_whose_connection_has_no_heartbeat(room):
    services.room_join(session_id=room.session.pk, user=room.mediator, channel_name="test.m")
    services.room_join(session_id=room.session.pk, user=room.applicant, channel_name="test.a")
    presence.mark_alive(["test.m"])
    # A connection younger than the expiry has not had its first beat: it is spared.
    assert presence.sweep() == []
    later = timezone.now() + timedelta(seconds=presence.expiry_seconds() + 1)
    gone = presence.sweep(now=later)
    assert [(g.session_id, g.channel_name) for g in gone] == [(room.session.pk, "test.a")]
    # Narrowed to some connections (those whose beats ran out on Redis).
    assert presence.sweep(now=later, channels=["test.m"]) == []
    assert [g.channel_name for g in presence.sweep(now=later, channels=["test.a"])] == ["test.a"]


def test_on_redis_a_beat_for_every_connection_is_one_round_trip_and_lasts_an_expiry(
    settings, monkeypatch
):
    """With Redis every process's connections are one sorted set (channel -> until when
    it lives): a beat for 999 connections is one round trip of three commands, not a
    key each, and a connection is gone once its time passed or it was removed."""
    import redis
    import time_machine

    location = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(location)
    client.flushdb()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    }
    commands: list[int] = []
    original = redis.client.Pipeline.execute

    def execute(self, *args, **kwargs):
        commands.append(len(self.command_stack))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    try:
        channels = [f"asgi.specific.p1!{n}" for n in range(999)]
        presence.mark_alive(channels)
        assert commands == [3]
        assert presence.alive([*channels[:3], "asgi.specific.p2!x"]) == set(channels[:3])
        # Another process reads the same set.
        [key] = client.keys("*room-alive*")
        assert client.zcard(key) == 999 and 0 < client.ttl(key) <= 30
        presence.mark_gone(channels[0])
        assert presence.alive(channels[:2]) == {channels[1]}
        later = timezone.now() + timedelta(seconds=presence.expiry_seconds() + 1)
        assert presence.lapsed() == []
        with time_machine.travel(later):
            assert presence.alive(channels[:2]) == set()
            # What ran out is what the sweeps between two whole ones look at.
            assert sorted(presence.lapsed()) == sorted(channels[1:])
        # A beat drops the entries no beat kept alive for an expiry more.
        with time_machine.travel(later + timedelta(seconds=presence.expiry_seconds())):
            presence.mark_alive(["asgi.specific.p2!x"])
        assert client.zcard(key) == 1
    finally:
        client.flushdb()


async def test_a_party_whose_process_died_is_left_within_a_heartbeat(room, settings):
    settings.ODR_ROOM_HEARTBEAT_SECONDS = 3
    med, med_welcome = await join(room.session, room.mediator)

    def party_on_a_dead_process() -> str:
        # Joined through another process that died since: its row says connected and
        # nobody beats for its connection.
        joined = services.room_join(
            session_id=room.session.pk, user=room.applicant, channel_name="dead.process!x"
        )
        services.room_admit(
            session_id=room.session.pk,
            actor_peer=med_welcome["peer_id"],
            peer_id=joined.peer.peer_id,
        )
        return joined.peer.peer_id

    app_id = await database_sync_to_async(party_on_a_dead_process)()
    await drain(med)
    # The mediator's process sweeps once a full expiry passed (1.5 s), at its next beat.
    left = await receive_until(med, "peer-left")
    assert left["peer_id"] == app_id

    def state() -> tuple[bool, int]:
        row = RoomParticipant.objects.get(peer_id=app_id)
        return row.connected, AuditEvent.objects.filter(action="session.leave").count()

    assert await database_sync_to_async(state)() == (False, 1)
    # The mediator's own connection beats and stays.
    assert await database_sync_to_async(
        lambda: RoomParticipant.objects.get(peer_id=med_welcome["peer_id"]).connected
    )()
    await med.disconnect()
