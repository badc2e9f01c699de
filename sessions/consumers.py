"""The mediation room's signaling consumer, speaking CONTRACT §4.

Thin (DESIGN.md §4.4): it authenticates, lets the services decide every change of the
room (they lock the session row and read the room from the database), and relays only
the contract's message types to only the peer addressed. A ticket's join answers
`welcome` before any database work (issue 13: the signed ticket and the room's copy in
the cache, sessions.mirror), then lets the services make the join. It keeps no room state of its
own beyond its peer id and whom it may signal (sent to it with every room change), so
any Daphne process can host any connection of a room.

Beyond the contract (extra fields and types a client may ignore):
- `welcome` also has `session_id`, `caucus` (a caucus is on and you are in the room) and
  `recording` (a recording runs); `admitted` also has `caucus`.
- `welcome`, `admitted` and `caucus` also have `side` ("all", "caucus": in it with the
  mediator, "apart": waiting while the mediator talks with others) and
  `caucus_peer_ids` (whom the mediator holds the caucus with; empty when none runs or
  you are not in the room): the caucus banner is drawn from these, never remembered.
- `lobby {peers}`: to the mediator, everyone waiting in the lobby, after each change.
- `caucus {peers, active, call}`: `call` lists the newly visible peers this client calls
  (of two peers the one with the smaller peer id calls, so they never call each other).
- `removed`, then close 4001, to whom the mediator removed; `ended`, then close 4002, to
  everyone when the session ends or is cancelled; `error {code: "superseded"}`, then
  close 4000, to a connection replaced by the same person's newer one.
- `recording {active}` (sessions.media) and other room-wide notices via
  `sessions.broadcast.send_to_room`.
- A refused connection is accepted, gets `error {code}` and is closed: 4401
  `unauthenticated` (no login, bad/used/expired ticket), 4403 `not_participant` (also
  for a session that does not exist) or `mfa_required` (staff without two-factor in
  production), 4409 `session_closed`.
- Error codes: bad_json, not_an_object, unknown_type, too_large, rate_limited,
  binary_not_supported, invalid_signal, not_in_room, peer_not_visible, mediator_only,
  unknown_peer, not_in_lobby, invalid_caucus, no_caucus, cannot_remove_mediator,
  already_removed, empty_message, message_too_long, invalid_status."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.errors import DomainError
from sessions import joins, mirror, presence, services
from sessions.broadcast import (
    CLOSE_CLOSED,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    call_delivering,
    room_group,
)


class TokenBucket:
    def __init__(self, *, burst: float, per_second: float) -> None:
        self.capacity = burst
        self.tokens = burst
        self.rate = per_second
        self.last = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def has_origin(scope: dict) -> bool:
    return any(name == b"origin" for name, _value in scope.get("headers", []))


def ticket_from(scope: dict) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("ticket") or [""])[0]


class RoomConsumer(AsyncWebsocketConsumer):
    peer_id: str | None = None
    in_room: bool = False
    # Whom this connection may signal now (peer id -> channel). Set at joining (from the
    # room's copy for a ticket's welcome, then from the database's join), then replaced
    # by each room-change event the services send this peer after their commit; a signal
    # is relayed only to a peer in it, and a relayed signal from a peer no longer in it
    # is dropped (it crossed a caucus or removal in flight).
    reach: dict[str, str]

    async def dispatch(self, message: dict) -> None:
        """Each event to its handler, without channels' `aclose_old_connections` first
        (channels 4.3, installed here, runs Django's close_old_connections in the
        database thread before EVERY event: each relayed `signal` and each welcome
        waited its turn behind the joins' database work; issue 13, the relay p99's
        regression). This consumer touches the database only through
        `database_sync_to_async` (`call_delivering`), which closes old connections
        itself before and after each call."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        # A newcomer in a room of five sends four offers and a burst of candidates at once;
        # the bucket lets that through and stops a client that floods the server. A
        # signaling message is an SDP or a candidate, a few KiB: anything near the limit
        # is abuse.
        self.bucket = TokenBucket(
            burst=settings.ODR_ROOM_RATE_BURST, per_second=settings.ODR_ROOM_RATE_PER_SECOND
        )
        self.max_bytes = settings.ODR_ROOM_MAX_MESSAGE_BYTES
        # Accept before any database work: the handshake completes at once even when
        # joins queue up (Daphne drops a handshake not accepted within 5 s), and a refused
        # client learns why (an `error`, then a close code) instead of a bare HTTP 403.
        await self.accept()
        ticket = ticket_from(self.scope)
        if ticket:
            await self._enter_with_ticket(ticket)
            return
        user = self._cookie_user()
        if user is None:
            await self._refuse(
                "unauthenticated",
                _("Log in, or connect with a valid ticket (single use, short-lived)."),
                CLOSE_UNAUTHENTICATED,
            )
            return
        # Join the room's group before the room learns of us, so no broadcast is missed;
        # this process beats for the connection from now on (sessions.presence).
        await self._hold()
        try:
            # A browser's cookie: its user was read from the database already, and its
            # join is the database's (made with the joins that arrive with it, in one
            # transaction: sessions.joins), then `welcome`.
            joined = await joins.enter(
                services.Entry(
                    session_id=self.session_id, user=user, channel_name=self.channel_name
                )
            )
        except DomainError as exc:
            await self._release()
            await self._refuse_error(exc)
            return
        self._take(joined)
        await self.send_json(self._welcome(joined))

    async def _enter_with_ticket(self, ticket: str) -> None:
        """A ticket's join (issue 13): no database work before `welcome`. The ticket is
        checked by its signature and spent in the cache; the welcome comes from the ticket
        and the room's copy in the cache (sessions.mirror). Then the database's join runs,
        in this process's database thread in arrival order, in one transaction with the
        joins that arrived with it (sessions.joins): the ticket's row marked used
        and audited, the participant, attendance and `session.join` audited, the others
        told; the newcomer hears any difference. A crash between the two leaves no
        trace but the spent ticket: the connection died with the process, so nobody is
        marked connected and nothing else changed; the client reconnects with a new
        ticket. The newcomer's own messages wait for its connect to finish (a consumer
        handles one event at a time), so its offers never overtake the `peer-joined` the
        others hear from the database's join."""
        presented_at = timezone.now()
        held = False
        try:
            claims = services.ticket_check(
                session_id=self.session_id, token=ticket, now=presented_at
            )
            if mirror.in_process():
                # Process memory: the spend and the read do no I/O.
                spent, mirrored = await services.ticket_spend_and_read(claims)
            else:
                # Redis: the room's group is joined (its first member in this process
                # subscribes it) while the ticket is spent, two round trips at once on
                # two connections, not one after the other.
                got = await asyncio.gather(
                    services.ticket_spend_and_read(claims), self._hold(), return_exceptions=True
                )
                held = not isinstance(got[1], BaseException)
                for result in got:
                    if isinstance(result, BaseException):
                        raise result
                spent, mirrored = got[0]
            if not spent:
                raise services.Unauthenticated()
            hint = services.welcome_hint(
                claims=claims, mirrored=mirrored, channel_name=self.channel_name
            )
        except BaseException as exc:
            if held:
                await self._release()
            if not isinstance(exc, DomainError):
                raise
            await self._refuse_error(exc)
            return
        if not held:
            await self._hold()
        ice_servers = services.ice_servers_for(claims.user_id)
        self._take(hint)
        await self.send_json(
            services.welcome_message(hint, session_id=self.session_id, ice_servers=ice_servers)
        )
        try:
            joined = await joins.enter(
                services.Entry(
                    session_id=self.session_id,
                    ticket=ticket,
                    presented_at=presented_at,
                    channel_name=self.channel_name,
                )
            )
        except DomainError as exc:
            self.peer_id = None
            await self._release()
            await self._refuse_error(exc)
            return
        self._take(joined)
        for message in services.welcome_corrections(
            hint, joined, session_id=self.session_id, ice_servers=ice_servers
        ):
            await self.send_json(message)

    async def _hold(self) -> None:
        await self.channel_layer.group_add(room_group(self.session_id), self.channel_name)
        presence.hold(self.channel_name)

    async def _release(self) -> None:
        await self.channel_layer.group_discard(room_group(self.session_id), self.channel_name)
        presence.release(self.channel_name)

    def _take(self, joined: services.Joined) -> None:
        self.peer_id = joined.peer.peer_id
        self.in_room = joined.state == "room"
        self.reach = joined.reach

    def _welcome(self, joined: services.Joined) -> dict:
        # A ticket's user is known only to the join (`user` is the cookie's).
        return services.welcome_message(
            joined,
            session_id=self.session_id,
            ice_servers=services.ice_servers_for(joined.peer.user_id),
        )

    async def _refuse_error(self, exc: DomainError) -> None:
        if exc.status == 401:
            code = CLOSE_UNAUTHENTICATED
        elif exc.status in (403, 404):
            code = CLOSE_FORBIDDEN
        else:
            code = CLOSE_CLOSED
        await self._refuse(exc.code, exc.message, code)

    async def disconnect(self, code: int) -> None:
        if self.peer_id is None:
            return
        await self.channel_layer.group_discard(room_group(self.session_id), self.channel_name)
        await call_delivering(
            services.room_leave,
            session_id=self.session_id,
            peer_id=self.peer_id,
            channel_name=self.channel_name,
        )
        presence.release(self.channel_name)
        self.peer_id = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.peer_id is None:
            return
        if text_data is None:
            await self.error("binary_not_supported", _("Send JSON text messages only."))
            return
        if len(text_data) > self.max_bytes or len(text_data.encode()) > self.max_bytes:
            await self.error(
                "too_large",
                _("A message may hold at most %(n)d bytes.") % {"n": self.max_bytes},
            )
            return
        if not self.bucket.take():
            await self.error("rate_limited", _("Too many messages: slow down."))
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.error("bad_json", _("The message is not valid JSON."))
            return
        if not isinstance(message, dict):
            await self.error("not_an_object", _("A message is one JSON object with a type."))
            return
        kind = message.get("type")
        handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.error("unknown_type", _("Unknown message type."))
            return
        try:
            await handler(self, message)
        except DomainError as exc:
            await self.error(exc.code, exc.message)

    # --- client messages --------------------------------------------------------------

    async def on_ping(self, message: dict) -> None:
        await self.send_json({"type": "pong"})

    async def on_signal(self, message: dict) -> None:
        to = message.get("to")
        if not isinstance(to, str) or "data" not in message:
            await self.error("invalid_signal", _("A signal carries `to` and `data`."))
            return
        if not self.in_room:
            await self.error("not_in_room", _("Wait until the mediator admits you."))
            return
        channel = self.reach.get(to)
        if channel is None:
            await self.error("peer_not_visible", _("That peer is not in your room."))
            return
        await self.channel_layer.send(
            channel, {"type": "room.signal", "from": self.peer_id, "data": message["data"]}
        )

    async def on_chat(self, message: dict) -> None:
        await call_delivering(
            services.room_chat,
            session_id=self.session_id,
            peer_id=self.peer_id,
            text=message.get("text"),
        )

    async def on_admit(self, message: dict) -> None:
        # Made with the admits that arrive with it, in one transaction (sessions.joins).
        await joins.admit(
            services.Admission(
                session_id=self.session_id,
                actor_peer=self.peer_id or "",
                peer_id=message.get("peer_id"),
            )
        )

    async def on_remove(self, message: dict) -> None:
        await call_delivering(
            services.room_remove,
            session_id=self.session_id,
            actor_peer=self.peer_id,
            peer_id=message.get("peer_id"),
        )

    async def on_caucus(self, message: dict) -> None:
        await call_delivering(
            services.room_caucus,
            session_id=self.session_id,
            actor_peer=self.peer_id,
            peer_ids=message.get("peer_ids"),
        )

    async def on_caucus_end(self, message: dict) -> None:
        await call_delivering(
            services.room_caucus_end, session_id=self.session_id, actor_peer=self.peer_id
        )

    async def on_end(self, message: dict) -> None:
        await call_delivering(
            services.room_end, session_id=self.session_id, actor_peer=self.peer_id
        )

    HANDLERS: dict[str, Callable[[Any, dict], Awaitable[None]]] = {
        "ping": on_ping,
        "signal": on_signal,
        "chat": on_chat,
        "admit": on_admit,
        "remove": on_remove,
        "caucus": on_caucus,
        "caucus_end": on_caucus_end,
        "end": on_end,
    }

    # --- channel layer events -----------------------------------------------------------

    async def room_send(self, event: dict) -> None:
        if self.peer_id is None:
            return
        if "reach" in event:
            self.reach = event["reach"]
        if event["message"].get("type") == "admitted":
            self.in_room = True
        await self.send_json(event["message"])

    async def room_signal(self, event: dict) -> None:
        # Checked on this side too: the sender's view may be a change behind ours.
        if self.peer_id is not None and event["from"] in self.reach:
            await self.send_json({"type": "signal", "from": event["from"], "data": event["data"]})

    async def room_close(self, event: dict) -> None:
        if self.peer_id is None:
            return
        await self.send_json(event["message"])
        await self.close(code=event["code"])

    # --- helpers ------------------------------------------------------------------------

    def _cookie_user(self) -> AbstractBaseUser | None:
        """The cookie session's user counts only for browsers, which always send Origin;
        a client without Origin (aiortc, scripts) must use a ticket (CONTRACT §4). A
        ticket wins when given (a bad one is refused even with a cookie)."""
        if not has_origin(self.scope):
            return None
        user = self.scope.get("user")
        return user if user is not None and user.is_authenticated else None

    async def _refuse(self, code: str, message: str, close_code: int) -> None:
        await self.error(code, message)
        await self.close(code=close_code)

    async def error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False))
