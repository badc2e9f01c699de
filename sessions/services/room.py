"""The room (CONTRACT §4): join, leave, admit, remove, caucus, chat and end, and what each
change tells the people in it.

Each function locks the session row, so that changes to one room are serialised across
Daphne processes, writes an audit event, and hands the messages the change causes to
`broadcast.deliver_on_commit`. The room's state is read from the database as a
`RoomSnapshot` before and after the change; the messages are the difference."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.audit import log_action, log_actions
from odr.errors import DomainError, Forbidden, Invalid, NotFound
from odr.lifecycle import Refusal
from odr.middleware import mfa_refused_among
from odr.text import clean_text
from sessions import mirror, selectors
from sessions.broadcast import (
    CLOSE_REMOVED,
    CLOSE_SUPERSEDED,
    CacheWrite,
    Delivery,
    deliver_on_commit,
)
from sessions.models import (
    Attendance,
    ChatMessage,
    MediationSession,
    RoomParticipant,
    RoomTicket,
)
from sessions.selectors import MEDIATOR, OPEN_ROOM, Peer, RoomSnapshot, room_snapshot
from sessions.services.access import (
    TicketClaims,
    Unauthenticated,
    ticket_rows_for_use,
    tickets_mark_used,
)
from sessions.services.scheduling import session_end, sessions_start_locked
from sessions.transitions import lock_session, lock_sessions

S = MediationSession.Status
State = RoomParticipant.State

MAX_CHAT_CHARS = 2000


# --- the room --------------------------------------------------------------------------


@dataclass
class Joined:
    peer: Peer
    state: str
    peers: list[Peer]
    caucus: bool
    # peer id -> channel of whom this connection may signal now (see `_reach`).
    reach: dict[str, str]
    recording: bool = False
    # The caucus banner's state for this peer (`RoomSnapshot.caucus_view`).
    caucus_view: dict[str, Any] = field(default_factory=dict)


def _send(
    peer: Peer, message: dict, *, close: int | None = None, after: RoomSnapshot | None = None
) -> Delivery:
    return Delivery(
        message=message,
        channel=peer.channel_name,
        close=close,
        reach=_reach(after, peer.peer_id) if after is not None else None,
    )


def _reach(snapshot: RoomSnapshot, peer_id: str) -> dict[str, str]:
    """Whom this peer may signal, with their channels, as the committed room stands.
    Every room change delivers it to each peer it concerns, so the consumer relays a
    `signal` without a database read and drops one that crossed a change in flight; a
    (re)connection reads it from the database. It is per connection, never shared."""
    return {p.peer_id: p.channel_name for p in snapshot.visible_to(peer_id)}


def _lobby_update(after: RoomSnapshot) -> list[Delivery]:
    """The mediator's list of who waits in the lobby (beyond the contract: `lobby`)."""
    mediator = after.mediator
    if mediator is None or not mediator.connected:
        return []
    return [_send(mediator, {"type": "lobby", "peers": [p.public() for p in after.lobby()]})]


def _room_changes(
    before: RoomSnapshot, after: RoomSnapshot, *, caucus_changed: bool, skip: set[str]
) -> list[Delivery]:
    """What each connected peer in the room hears about a change: `peer-joined` and
    `peer-left` for who appeared and disappeared, or, when the caucus changed, one `caucus`
    with the new visible set and, in `call`, the newly visible peers this client must call
    (the smaller peer id calls, so two peers never call each other at once)."""
    out: list[Delivery] = []
    for peer in after.present():
        if peer.peer_id in skip:
            continue
        seen_before = before.visible_ids(peer.peer_id)
        seen_after = after.visible_ids(peer.peer_id)
        if caucus_changed:
            gained = seen_after - seen_before
            out.append(
                _send(
                    peer,
                    {
                        "type": "caucus",
                        "peers": [p.public() for p in after.visible_to(peer.peer_id)],
                        "active": bool(after.caucus),
                        "call": sorted(q for q in gained if peer.peer_id < q),
                        **after.caucus_view(peer.peer_id),
                    },
                    after=after,
                )
            )
            continue
        for q in sorted(seen_after - seen_before):
            out.append(
                _send(peer, {"type": "peer-joined", "peer": after.peers[q].public()}, after=after)
            )
        for q in sorted(seen_before - seen_after):
            out.append(_send(peer, {"type": "peer-left", "peer_id": q}, after=after))
    return out


def _without(snapshot: RoomSnapshot, peer_id: str) -> RoomSnapshot:
    """The snapshot as if this peer were not connected."""
    peers = dict(snapshot.peers)
    if peer_id in peers:
        p = peers[peer_id]
        peers[peer_id] = Peer(**{**p.__dict__, "connected": False})
    return RoomSnapshot(
        session_id=snapshot.session_id, status=snapshot.status, caucus=snapshot.caucus, peers=peers
    )


def _remember(after: RoomSnapshot, *, recording: bool | None = None) -> CacheWrite:
    """The room's copy in the cache after this change (sessions.mirror), written after
    the commit in order with the change's messages."""
    return CacheWrite(
        lambda: mirror.remember(after, recording=recording),
        write_on_loop=lambda: mirror.remember_on_loop(after, recording=recording),
    )


def _joined(me: Peer, after: RoomSnapshot, *, recording: bool) -> Joined:
    return Joined(
        peer=me,
        state=State.ROOM if me.in_room else State.LOBBY,
        peers=after.visible_to(me.peer_id),
        caucus=me.in_room and bool(after.caucus),
        reach=_reach(after, me.peer_id),
        recording=recording,
        caucus_view=after.caucus_view(me.peer_id),
    )


def _entering_state(role: str, state: str | None) -> str:
    """Where a connection enters: the mediator the room; a party where it was (an
    admitted party stays admitted), the lobby when new or after a removal (removed people
    may knock again; the mediator decides)."""
    if role == MEDIATOR:
        return State.ROOM
    if state is None or state == State.REMOVED:
        return State.LOBBY
    return state


# --- a ticket's join without the database before `welcome` (issue 13) -------------------


def welcome_hint(*, claims: TicketClaims, mirrored: mirror.Mirrored, channel_name: str) -> Joined:
    """The `welcome` of a ticket's join, from the ticket and the room's copy in the cache
    alone (no database): the join as `room_enter_many` will make it, if no change races
    it. The consumer sends it, then has the database's join made (`sessions.joins`, in a
    batch with the joins that arrive with it; it tells the others) and sends the
    newcomer `welcome_corrections` for any difference. Refuses a room the copy knows
    closed, as the database would."""
    closed = mirrored.closed or (
        mirrored.snapshot is not None and mirrored.snapshot.status not in OPEN_ROOM
    )
    if closed:
        raise Refusal(409, "session_closed", _("This session's room is not open.")).error()
    before = mirrored.snapshot or RoomSnapshot(
        session_id=claims.session_id, status=S.SCHEDULED, caucus=frozenset(), peers={}
    )
    known = before.peers.get(claims.peer_id)
    me = Peer(
        peer_id=claims.peer_id,
        user_id=claims.user_id,
        name=claims.name,
        role=claims.role,
        state=_entering_state(claims.role, known.state if known else None),
        connected=True,
        channel_name=channel_name,
    )
    after = RoomSnapshot(
        session_id=before.session_id,
        status=before.status,
        caucus=before.caucus,
        peers={**before.peers, me.peer_id: me},
    )
    return _joined(me, after, recording=mirrored.recording)


def welcome_message(joined: Joined, *, session_id: int, ice_servers: list) -> dict[str, Any]:
    """The contract's `welcome` (CONTRACT §4) with this platform's extra fields."""
    return {
        "type": "welcome",
        "peer_id": joined.peer.peer_id,
        "role": joined.peer.role,
        "name": joined.peer.name,
        "state": joined.state,
        "peers": [p.public() for p in joined.peers],
        "ice_servers": ice_servers,
        "session_id": session_id,
        "caucus": joined.caucus,
        "recording": joined.recording,
        **joined.caucus_view,
    }


def welcome_corrections(
    sent: Joined, real: Joined, *, session_id: int, ice_servers: list
) -> list[dict[str, Any]]:
    """What the newcomer must still hear when the database's join (`real`) differs from
    the `welcome` it was sent (`sent`): admitted after all (`admitted`), other peers in
    view (`caucus` whose `call` lists every peer gained: they heard `peer-joined` of the
    newcomer, who calls), a recording's state; a different peer or a place taken back
    (rare: the copy was far behind) answers a fresh `welcome`."""
    if sent.peer.peer_id != real.peer.peer_id or (
        sent.state == State.ROOM and real.state == State.LOBBY
    ):
        return [welcome_message(real, session_id=session_id, ice_servers=ice_servers)]
    out: list[dict[str, Any]] = []
    if sent.state == State.LOBBY and real.state == State.ROOM:
        out.append(
            {
                "type": "admitted",
                "peers": [p.public() for p in real.peers],
                "caucus": real.caucus,
                **real.caucus_view,
            }
        )
    elif real.state == State.ROOM and (
        [p.peer_id for p in sent.peers] != [p.peer_id for p in real.peers]
        or sent.caucus_view != real.caucus_view
    ):
        seen = {p.peer_id for p in sent.peers}
        out.append(
            {
                "type": "caucus",
                "peers": [p.public() for p in real.peers],
                "active": real.caucus,
                "call": sorted(p.peer_id for p in real.peers if p.peer_id not in seen),
                **real.caucus_view,
            }
        )
    if sent.recording != real.recording:
        out.append({"type": "recording", "active": real.recording})
    return out


def _room_audit(action: str, session: MediationSession, actor, **after: Any) -> None:
    log_action(action=action, obj=session, actor=actor, dispute=session.dispute, after=after)


@dataclass(frozen=True)
class Entry:
    """One connection's join in a batch (`room_enter_many`): its ticket (which wins when
    given) or its cookie's user, and when it showed the ticket."""

    session_id: int
    channel_name: str
    user: AbstractBaseUser | None = None
    ticket: str = ""
    presented_at: datetime | None = None


def room_enter(
    *,
    session_id: int,
    channel_name: str,
    user: AbstractBaseUser | None = None,
    ticket: str = "",
    presented_at: datetime | None = None,
) -> Joined:
    """A connection opens, with a ticket or the cookie's user: a batch of one
    (`room_enter_many`), its refusal raised."""
    entry = Entry(
        session_id=session_id,
        channel_name=channel_name,
        user=user,
        ticket=ticket,
        presented_at=presented_at,
    )
    (result,) = room_enter_many(entries=[entry])
    if isinstance(result, DomainError):
        raise result
    return result


def room_join(*, session_id: int, user: AbstractBaseUser, channel_name: str) -> Joined:
    """A connection opens: the mediator enters the room (and the session goes live);
    a party waits in the lobby unless already admitted (a reconnect comes back to the
    same place with the same peer id)."""
    return room_enter(session_id=session_id, user=user, channel_name=channel_name)


def _not_participant() -> Forbidden:
    return Forbidden(_("You are not a participant of this session."), code="not_participant")


def _mfa_refusal() -> Forbidden:
    return Forbidden(
        _("Set up two-factor authentication before you enter the room."), code="mfa_required"
    )


@dataclass
class _Room:
    """One room's state while a batch of joins is made: its session row (locked), its
    participant rows by user id, and the room as the batch's joins so far left it."""

    session: MediationSession
    rows: dict[int, RoomParticipant]
    snapshot: RoomSnapshot
    recording: bool


class _Writes:
    """What a batch of joins writes, gathered in order and written together at its end:
    a few queries for the whole batch instead of a dozen per join (issue 13)."""

    def __init__(self) -> None:
        self.new: dict[int, RoomParticipant] = {}  # id() -> participant to insert
        self.changed: dict[int, RoomParticipant] = {}  # pk -> participant to update
        self.attendance: dict[tuple[int, int], Attendance] = {}  # (session, user) -> open one
        self.opened: list[Attendance] = []
        self.close_stored: dict[int, set[int]] = {}  # session id -> users whose rows close
        self.tickets: list[RoomTicket] = []
        self.audit: list[dict[str, Any]] = []
        self.deliveries: list[Delivery | CacheWrite] = []

    def save(self, participant: RoomParticipant) -> None:
        if participant.pk is None:
            self.new[id(participant)] = participant
        else:
            self.changed[participant.pk] = participant

    def open_attendance(self, session: MediationSession, user: AbstractBaseUser, self_test):
        key = (session.pk, user.pk)
        row = Attendance(session=session, user=user, self_test=self_test)
        self.attendance[key] = row
        self.opened.append(row)

    def close_attendance(self, session: MediationSession, user: AbstractBaseUser, now) -> None:
        key = (session.pk, user.pk)
        pending = self.attendance.get(key)
        if pending is not None:
            pending.left_at = now
        else:
            self.close_stored.setdefault(session.pk, set()).add(user.pk)

    def flush(self, *, now: datetime) -> None:
        tickets_mark_used(self.tickets, now=now)
        if self.new:
            RoomParticipant.objects.bulk_create(list(self.new.values()))
        if self.changed:
            _update_places(list(self.changed.values()))
        for session_id, user_ids in self.close_stored.items():
            # The connections these replace (or whose process died) left without a leave;
            # closed before this batch's own rows are inserted.
            Attendance.objects.filter(
                session_id=session_id, user_id__in=user_ids, left_at__isnull=True
            ).update(left_at=now)
        if self.opened:
            Attendance.objects.bulk_create(self.opened)
        log_actions(self.audit)
        deliver_on_commit(self.deliveries)


PLACE_FIELDS = ("state", "role", "connected", "channel_name")


def _update_places(rows: list[RoomParticipant]) -> None:
    """The participant rows a batch of joins changed, written in ONE statement executed
    for each row (executemany). Django's `bulk_update` builds and compiles a CASE
    expression per row and field: with a morning's batch of a few hundred joins that
    was a quarter of the batch's time in the database thread (issue 13, profiled)."""
    meta = RoomParticipant._meta
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(meta.get_field(f).column)} = %s" for f in PLACE_FIELDS)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[*(getattr(r, f) for f in PLACE_FIELDS), r.pk] for r in rows])


@transaction.atomic
def room_enter_many(*, entries: list[Entry]) -> list[Joined | DomainError]:
    """A batch of connections opening at once, in several rooms (issue 13: a morning's
    joins arrive together and the one database thread of an ASGI process served them one
    transaction each): everything they write (tickets used, participants, attendance, the
    audit events in order) in ONE transaction of a few queries, whatever the batch's
    size. The joins are made in the order given, each seeing the room as the ones before
    it left it; each answer is its `Joined` or the refusal (a refused join writes
    nothing, its ticket stays unused in the database). The session rows are locked first,
    in the order of their ids (`lock_sessions`: two batches never deadlock), then the
    tickets, then the audit chain's head (the order of every change to a room)."""
    now = timezone.now()
    sessions = lock_sessions(e.session_id for e in entries)
    tickets = ticket_rows_for_use(
        [(e.session_id, e.ticket, e.presented_at) for e in entries if e.ticket]
    )
    results: list[Joined | DomainError | None] = [None] * len(entries)
    users: list[AbstractBaseUser | None] = [None] * len(entries)
    spent: set[int] = set()
    for i, e in enumerate(entries):
        if e.session_id not in sessions:
            # The same answer as for someone else's session: ids cannot be probed.
            results[i] = _not_participant()
        elif e.ticket:
            row = tickets.get((e.session_id, e.ticket))
            if row is None or row.pk in spent:
                results[i] = Unauthenticated()
            else:
                spent.add(row.pk)
                users[i] = row.user
        elif e.user is None or not e.user.is_authenticated:
            results[i] = Unauthenticated()
        else:
            users[i] = e.user
    # The two-factor rule asked again of every ticket's holder (the welcome trusted the
    # ticket's word, which is as old as the ticket): for the whole batch at once.
    refused_mfa = mfa_refused_among(
        users[i] for i, e in enumerate(entries) if e.ticket and users[i] is not None
    )
    for i, e in enumerate(entries):
        if e.ticket and users[i] is not None and users[i].pk in refused_mfa:
            results[i], users[i] = _mfa_refusal(), None
    roles = selectors.room_roles_of(
        (sessions[e.session_id], users[i]) for i, e in enumerate(entries) if users[i] is not None
    )
    for i, e in enumerate(entries):
        if users[i] is None:
            continue
        session = sessions[e.session_id]
        role = roles.get((session.pk, users[i].pk))
        refused = selectors.room_refusal(session, users[i], role=role) if role is not None else None
        if role is None:
            results[i] = _not_participant()
        elif refused is not None:
            results[i] = refused.error()
        if results[i] is not None:
            users[i] = None
    wanted = {e.session_id for i, e in enumerate(entries) if users[i] is not None}
    participants = selectors.room_participants_of(wanted)
    recording = selectors.recordings_active(wanted)
    rooms = {
        pk: _Room(
            session=sessions[pk],
            rows={r.user_id: r for r in participants[pk]},
            snapshot=selectors.snapshot_of(sessions[pk], participants[pk]),
            recording=pk in recording,
        )
        for pk in wanted
    }
    # The mediator's first join starts a scheduled session: every room of the batch that
    # starts, started together (one machine transition each, audited together, before
    # the joins' events as one by one), on copies, so that the joins before the
    # mediator's in the batch see the room as it was, as one by one.
    starting: dict[int, AbstractBaseUser] = {}
    for i, e in enumerate(entries):
        user = users[i]
        if (
            user is not None
            and rooms[e.session_id].session.status == S.SCHEDULED
            and roles[(e.session_id, user.pk)] == MEDIATOR
        ):
            starting.setdefault(e.session_id, user)
    started = dict(
        zip(
            starting,
            sessions_start_locked(
                [(copy.copy(rooms[pk].session), actor) for pk, actor in starting.items()]
            ),
            strict=True,
        )
    )
    writes = _Writes()
    for i, e in enumerate(entries):
        user = users[i]
        if user is None:
            continue
        room = rooms[e.session_id]
        role = roles[(room.session.pk, user.pk)]
        if role == MEDIATOR and room.session.status == S.SCHEDULED:
            start = started[room.session.pk]
            if isinstance(start, DomainError):
                results[i] = start
                continue
            room.session = start
        if e.ticket:
            ticket = tickets[(e.session_id, e.ticket)]
            writes.tickets.append(ticket)
            writes.audit.append(
                {
                    "action": "session.ticket_use",
                    "obj": ticket,
                    "actor": user,
                    "dispute": room.session.dispute,
                    "after": {"session": room.session.pk},
                }
            )
        results[i] = _join_in(room, writes, user=user, role=role, channel_name=e.channel_name)
    for room in rooms.values():
        writes.deliveries.append(_remember(room.snapshot, recording=room.recording))
    writes.flush(now=now)
    return results  # type: ignore[return-value]


def _join_in(
    room: _Room, writes: _Writes, *, user: AbstractBaseUser, role: str, channel_name: str
) -> Joined:
    """One join of a batch, in memory: the participant's place (the mediator in the
    room, a party where it was or in the lobby), its attendance and audit event gathered
    for the batch's writes, what the others hear, and the room after it (the next join
    of the batch starts from it)."""
    session = room.session
    before = RoomSnapshot(
        session_id=session.pk,
        status=session.status,
        caucus=room.snapshot.caucus,
        peers=room.snapshot.peers,
    )
    participant = room.rows.get(user.pk)
    was_connected = participant is not None and participant.connected
    superseded = participant.channel_name if was_connected else ""
    if participant is None:
        participant = RoomParticipant(session=session, user=user, role=role)
        participant.state = _entering_state(role, None)
        room.rows[user.pk] = participant
    else:
        participant.state = _entering_state(role, participant.state)
    participant.role = role
    participant.connected = True
    participant.channel_name = channel_name
    writes.save(participant)
    if was_connected:
        writes.close_attendance(session, user, timezone.now())
    writes.open_attendance(session, user, participant.self_test)
    writes.audit.append(
        {
            "action": "session.join",
            "obj": session,
            "actor": user,
            "dispute": session.dispute,
            "after": {"peer_id": participant.peer_id, "state": participant.state},
        }
    )
    if "user" not in participant._state.fields_cache:
        participant.user = user
    me = selectors.peer_of(participant)
    after = RoomSnapshot(
        session_id=session.pk,
        status=session.status,
        caucus=before.caucus,
        peers={**before.peers, me.peer_id: me},
    )
    room.snapshot = after
    deliveries = writes.deliveries
    if superseded and superseded != channel_name:
        deliveries.append(
            Delivery(
                message={
                    "type": "error",
                    "code": "superseded",
                    "message": _("You joined this room from another window."),
                },
                channel=superseded,
                close=CLOSE_SUPERSEDED,
            )
        )
        # Those who saw the old connection hang up on it before the new one calls.
        for peer in before.present():
            if peer.peer_id != me.peer_id and me.peer_id in before.visible_ids(peer.peer_id):
                deliveries.append(
                    _send(
                        peer,
                        {"type": "peer-left", "peer_id": me.peer_id},
                        after=_without(before, me.peer_id),
                    )
                )
    if me.in_room:
        deliveries += _room_changes(
            _without(before, me.peer_id), after, caucus_changed=False, skip={me.peer_id}
        )
    if me.role == MEDIATOR:
        deliveries += [_send(me, {"type": "knock", "peer": p.public()}) for p in after.lobby()]
    elif me.state == State.LOBBY and after.mediator is not None and after.mediator.connected:
        deliveries.append(_send(after.mediator, {"type": "knock", "peer": me.public()}))
    if me.state == State.LOBBY or me.role == MEDIATOR:
        deliveries += _lobby_update(after)
    return _joined(me, after, recording=room.recording)


@transaction.atomic
def room_leave(*, session_id: int, peer_id: str, channel_name: str) -> None:
    """A connection closed. A superseded connection's close changes nothing; otherwise
    the peer stays where it was (lobby or room) for its return, only disconnected."""
    session = lock_session(session_id)
    participant = (
        RoomParticipant.objects.select_for_update().filter(session=session, peer_id=peer_id).first()
    )
    if participant is None or not participant.connected:
        return
    if participant.channel_name != channel_name:
        return
    before = room_snapshot(session)
    participant.connected = False
    participant.channel_name = ""
    participant.save(update_fields=["connected", "channel_name"])
    Attendance.objects.filter(
        session=session, user_id=participant.user_id, left_at__isnull=True
    ).update(left_at=timezone.now())
    _room_audit("session.leave", session, participant.user, peer_id=peer_id)
    after = room_snapshot(session)
    deliveries = _room_changes(before, after, caucus_changed=False, skip=set())
    if participant.state == State.LOBBY:
        deliveries += _lobby_update(after)
    deliver_on_commit([*deliveries, _remember(after)])


def _mediator_in(snapshot: RoomSnapshot, actor_peer: str) -> Peer:
    me = snapshot.peers.get(actor_peer)
    if me is None or me.role != MEDIATOR:
        raise Forbidden(_("Only the mediator can do this."), code="mediator_only")
    return me


def _target(snapshot: RoomSnapshot, peer_id: Any) -> Peer:
    if not isinstance(peer_id, str) or peer_id not in snapshot.peers:
        raise Invalid(_("There is no such peer in this room."), code="unknown_peer")
    return snapshot.peers[peer_id]


@dataclass(frozen=True)
class Admission:
    """The mediator's `admit` of one peer, in a batch (`room_admit_many`): the room, the
    mediator's peer id (the connection that asked) and the peer to admit, as sent."""

    session_id: int
    actor_peer: str
    peer_id: Any


def room_admit(*, session_id: int, actor_peer: str, peer_id: Any) -> None:
    """The mediator lets a peer in from the lobby: a batch of one (`room_admit_many`),
    its refusal raised."""
    (result,) = room_admit_many(
        entries=[Admission(session_id=session_id, actor_peer=actor_peer, peer_id=peer_id)]
    )
    if result is not None:
        raise result


@transaction.atomic
def room_admit_many(*, entries: list[Admission]) -> list[DomainError | None]:
    """Admits that arrive together, made together (issue 13: at nine in the morning every
    room's mediator admits both parties at once, and each admit was a transaction of its
    own behind the joins in the one database thread): ONE transaction of a few queries
    whatever the batch's size (the session rows locked in the order of their ids, the
    rooms' participants read at once, the admitted rows updated at once, the audit
    events chained in the batch's order). The admits are made in the order given, each
    seeing the room as the ones before it left it, and each tells exactly what an admit
    alone tells (CONTRACT §4): `admitted` to the newcomer, `peer-joined` to those who now
    see it, the mediator's `lobby`. Each answer is None, or the refusal of that admit
    (mediator_only, unknown_peer, not_in_lobby), which writes nothing."""
    sessions = lock_sessions(e.session_id for e in entries)
    participants = selectors.room_participants_of(sessions)
    rows = {pk: {r.peer_id: r for r in participants[pk]} for pk in sessions}
    rooms = {pk: selectors.snapshot_of(sessions[pk], participants[pk]) for pk in sessions}
    changed: dict[int, None] = {}  # the rooms an admit changed, in order
    results: list[DomainError | None] = [None] * len(entries)
    admitted: list[int] = []
    audit: list[dict[str, Any]] = []
    deliveries: list[Delivery | CacheWrite] = []
    for i, e in enumerate(entries):
        session = sessions.get(e.session_id)
        if session is None:
            results[i] = NotFound()
            continue
        before = rooms[session.pk]
        try:
            mediator = _mediator_in(before, e.actor_peer)
            target = _target(before, e.peer_id)
            if target.state != State.LOBBY:
                raise Invalid(_("This person is not waiting in the lobby."), code="not_in_lobby")
        except DomainError as exc:
            results[i] = exc
            continue
        me = replace(target, state=State.ROOM)
        after = RoomSnapshot(
            session_id=before.session_id,
            status=before.status,
            caucus=before.caucus,
            peers={**before.peers, me.peer_id: me},
        )
        rooms[session.pk] = after
        changed[session.pk] = None
        admitted.append(rows[session.pk][me.peer_id].pk)
        audit.append(
            {
                "action": "session.admit",
                "obj": session,
                "actor": rows[session.pk][mediator.peer_id].user,
                "dispute": session.dispute,
                "after": {"peer_id": me.peer_id},
            }
        )
        deliveries += _admit_deliveries(before, after, me)
    if admitted:
        RoomParticipant.objects.filter(pk__in=admitted).update(state=State.ROOM)
    log_actions(audit)
    deliveries += [_remember(rooms[pk]) for pk in changed]
    deliver_on_commit(deliveries)
    return results


def _admit_deliveries(before: RoomSnapshot, after: RoomSnapshot, me: Peer) -> list[Delivery]:
    """What one admit tells: `admitted` to the newcomer (if connected), the others what
    they now see, the mediator's lobby list."""
    deliveries: list[Delivery] = []
    if me.connected:
        deliveries.append(
            _send(
                me,
                {
                    "type": "admitted",
                    "peers": [p.public() for p in after.visible_to(me.peer_id)],
                    "caucus": bool(after.caucus),
                    **after.caucus_view(me.peer_id),
                },
                after=after,
            )
        )
    deliveries += _room_changes(before, after, caucus_changed=False, skip={me.peer_id})
    deliveries += _lobby_update(after)
    return deliveries


@transaction.atomic
def room_remove(*, session_id: int, actor_peer: str, peer_id: Any) -> None:
    """The mediator sends someone out: their connection closes (`removed`), the others
    hang up on them; a caucus left without anyone in it ends."""
    session = lock_session(session_id)
    before = room_snapshot(session)
    mediator = _mediator_in(before, actor_peer)
    target = _target(before, peer_id)
    if target.role == MEDIATOR:
        raise Invalid(_("The mediator cannot remove themself."), code="cannot_remove_mediator")
    if target.state == State.REMOVED:
        raise Invalid(_("This person was already removed."), code="already_removed")
    RoomParticipant.objects.filter(session=session, peer_id=target.peer_id).update(
        state=State.REMOVED, connected=False, channel_name=""
    )
    Attendance.objects.filter(session=session, user_id=target.user_id, left_at__isnull=True).update(
        left_at=timezone.now()
    )
    caucus = [p for p in session.caucus_peer_ids if p != target.peer_id]
    caucus_changed = caucus != list(session.caucus_peer_ids)
    if caucus_changed:
        session.caucus_peer_ids = caucus
        session.save(update_fields=["caucus_peer_ids"])
    _room_audit("session.remove", session, _user(mediator), peer_id=target.peer_id)
    after = room_snapshot(session)
    deliveries: list[Delivery] = []
    if target.connected:
        deliveries.append(_send(target, {"type": "removed"}, close=CLOSE_REMOVED))
    # The target's departure first, then (if the caucus emptied) the new sides.
    deliveries += _room_changes(
        before, _without(before, target.peer_id), caucus_changed=False, skip=set()
    )
    if caucus_changed and not caucus:
        deliveries += _room_changes(
            _without(before, target.peer_id), after, caucus_changed=True, skip=set()
        )
    deliveries += _lobby_update(after)
    deliver_on_commit([*deliveries, _remember(after)])


@transaction.atomic
def room_caucus(*, session_id: int, actor_peer: str, peer_ids: Any) -> None:
    """A private caucus (背对背): the mediator and these peers stay together, everyone
    else in the room waits apart. The partition is enforced in `visible_to`, which every
    signal and chat is checked against."""
    session = lock_session(session_id)
    before = room_snapshot(session)
    mediator = _mediator_in(before, actor_peer)
    if (
        not isinstance(peer_ids, list)
        or not peer_ids
        or len(peer_ids) > 50
        or not all(isinstance(p, str) for p in peer_ids)
    ):
        raise Invalid(_("Name the peers of the caucus."), code="invalid_caucus")
    chosen = sorted(set(peer_ids))
    for pid in chosen:
        target = _target(before, pid)
        if target.role == MEDIATOR or not target.in_room:
            raise Invalid(_("A caucus is held with people in the room."), code="invalid_caucus")
    session.caucus_peer_ids = chosen
    session.save(update_fields=["caucus_peer_ids"])
    _room_audit("session.caucus", session, _user(mediator), peer_ids=chosen)
    after = room_snapshot(session)
    deliver_on_commit(
        [*_room_changes(before, after, caucus_changed=True, skip=set()), _remember(after)]
    )


@transaction.atomic
def room_caucus_end(*, session_id: int, actor_peer: str) -> None:
    session = lock_session(session_id)
    before = room_snapshot(session)
    mediator = _mediator_in(before, actor_peer)
    if not session.caucus_peer_ids:
        raise Invalid(_("There is no caucus to end."), code="no_caucus")
    session.caucus_peer_ids = []
    session.save(update_fields=["caucus_peer_ids"])
    _room_audit("session.caucus_end", session, _user(mediator))
    after = room_snapshot(session)
    deliver_on_commit(
        [*_room_changes(before, after, caucus_changed=True, skip=set()), _remember(after)]
    )


def room_end(*, session_id: int, actor_peer: str) -> None:
    """The mediator ends the session from the room (the session machine's `end`)."""
    with transaction.atomic():
        snapshot = room_snapshot(session_id)
        mediator = _mediator_in(snapshot, actor_peer)
        session_end(session=session_id, actor=_user(mediator))


@transaction.atomic
def room_chat(*, session_id: int, peer_id: str, text: Any) -> ChatMessage:
    """A chat line goes to the sender's visible set only (a caucus chat stays inside the
    caucus), and is kept with that audience and whether a caucus was on (issue 11, M1:
    who was not in it never reads it). The text is cleaned of invisible and
    direction-changing characters first (issue 11, L7): a line of those alone is empty."""
    text = clean_text(text) if isinstance(text, str) else ""
    if not text:
        raise Invalid(_("Write a message first."), code="empty_message")
    if len(text) > MAX_CHAT_CHARS:
        raise Invalid(
            _("A chat message holds at most %(n)d characters.") % {"n": MAX_CHAT_CHARS},
            code="message_too_long",
        )
    session = lock_session(session_id)
    snapshot = room_snapshot(session)
    me = snapshot.peers.get(peer_id)
    if me is None or not me.in_room or not me.connected:
        raise Forbidden(_("Only people in the room can chat."), code="not_in_room")
    audience = [me, *snapshot.visible_to(peer_id)]
    message = ChatMessage.objects.create(
        session=session,
        sender_id=me.user_id,
        text=text,
        audience=sorted(p.peer_id for p in audience),
        in_caucus=bool(snapshot.caucus),
    )
    log_action(
        action="session.chat",
        obj=message,
        actor=_user(me),
        dispute=session.dispute,
        after={
            "length": len(message.text),
            "audience": message.audience,
            "in_caucus": message.in_caucus,
        },
    )
    payload = {
        "type": "chat",
        "from": me.peer_id,
        "name": me.name,
        "text": message.text,
        "at": message.at.isoformat(),
    }
    deliver_on_commit([_send(p, payload) for p in audience])
    return message


def _user(peer: Peer) -> AbstractBaseUser:
    return get_user_model().objects.get(pk=peer.user_id)
