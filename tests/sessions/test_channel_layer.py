"""The embedded default's channel layer (sessions.layers): channels' in-memory layer,
its O(connections) cleaning of expired messages run at most once a second instead of at
every receive and group send (issue 13)."""

from __future__ import annotations

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels.layers import get_channel_layer

from sessions.layers import InMemoryChannelLayer


def test_the_platform_runs_this_layer_without_redis():
    assert type(get_channel_layer()) is InMemoryChannelLayer


async def test_a_burst_of_messages_cleans_once_and_expired_messages_still_go(monkeypatch):
    cleanings: list[int] = []
    original = ChannelsInMemoryChannelLayer._clean_expired

    def counted(self) -> None:
        cleanings.append(1)
        original(self)

    monkeypatch.setattr(ChannelsInMemoryChannelLayer, "_clean_expired", counted)
    layer = InMemoryChannelLayer(expiry=60)
    channels = [await layer.new_channel() for _ in range(50)]
    for channel in channels:
        await layer.group_add("room-1", channel)
    for n in range(20):
        await layer.group_send("room-1", {"type": "room.send", "n": n})
    for channel in channels:
        for n in range(20):
            assert (await layer.receive(channel))["n"] == n
    # 20 group sends and 1000 receives: one walk over every channel, not 1020.
    assert len(cleanings) == 1
    # A message past its expiry is still dropped, at the next cleaning (a second later
    # at most), before a fresh one behind it is received.
    layer.expiry = -1
    await layer.send(channels[0], {"type": "room.send", "n": "stale"})
    layer.expiry = 60
    await layer.send(channels[0], {"type": "room.send", "n": "fresh"})
    assert len(cleanings) == 1
    layer._cleaned_at -= layer.clean_every
    assert (await layer.receive(channels[0]))["n"] == "fresh"
    assert len(cleanings) == 2
