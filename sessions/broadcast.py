"""Messages from the server to the people in a room, through the channel layer.

Every connected client (lobby and room) belongs to the group `room_group(session_id)`;
one peer is reached through the channel name its current connection stored on its
RoomParticipant row. Both work across Daphne processes on the Redis layer. Services
deliver with `deliver_on_commit`, so nobody hears of a change that rolled back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

# Close codes of the room socket (4000-4999 are the application's to define).
CLOSE_SUPERSEDED = 4000  # the same person connected again elsewhere
CLOSE_REMOVED = 4001  # the mediator removed this person
CLOSE_ENDED = 4002  # the session ended or was cancelled
CLOSE_UNAUTHENTICATED = 4401  # no login, or a bad, used or expired ticket
CLOSE_FORBIDDEN = 4403  # not a participant of this session (or no such session)
CLOSE_CLOSED = 4409  # the session is not open (not scheduled yet, ended, cancelled)


def room_group(session_id: int) -> str:
    return f"room-{session_id}"


@dataclass(frozen=True)
class Delivery:
    """One message for one connection (`channel`) or a whole room (`group`); with
    `close` set the connection sends the message, then closes with that code."""

    message: dict
    channel: str = ""
    group: str = ""
    close: int | None = None
    # For the receiving consumer only (never sent to the client): whom this peer may
    # signal now, peer id -> channel, after the change this message announces.
    reach: dict[str, str] | None = None

    def event(self) -> dict:
        if self.close is not None:
            return {"type": "room.close", "message": self.message, "code": self.close}
        event = {"type": "room.send", "message": self.message}
        if self.reach is not None:
            event["reach"] = self.reach
        return event


async def deliver(deliveries: Iterable[Delivery]) -> None:
    layer = get_channel_layer()
    for d in deliveries:
        if d.group:
            await layer.group_send(d.group, d.event())
        elif d.channel:
            await layer.send(d.channel, d.event())


def deliver_sync(deliveries: Iterable[Delivery]) -> None:
    deliveries = list(deliveries)
    if deliveries:
        async_to_sync(deliver)(deliveries)


def deliver_on_commit(deliveries: Iterable[Delivery]) -> None:
    deliveries = list(deliveries)
    if deliveries:
        transaction.on_commit(lambda: deliver_sync(deliveries))


async def send_to_room(session_id: int, message: dict) -> None:
    """Tell everyone connected to the room, e.g. `{"type": "recording", "active": true}`.
    `message` must be one JSON object with a `type`."""
    await deliver([Delivery(message=message, group=room_group(session_id))])


def send_to_room_sync(session_id: int, message: dict) -> None:
    async_to_sync(send_to_room)(session_id, message)
