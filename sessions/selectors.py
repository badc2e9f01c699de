"""Reads of mediation sessions and rooms, filtered by who is asking.

The room's state (who is in the lobby, who in the room, the caucus) is read from the
database as a `RoomSnapshot`, so that every Daphne process sees the same room and a
reconnecting client comes back to the same place (DESIGN.md §1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connections
from django.db.models import Exists, JSONField, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONArray
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import selectors as odr_selectors
from odr.errors import NotFound
from odr.lifecycle import Refusal
from odr.models import Dispute, Party
from odr.people import display_name
from sessions.models import Attendance, ChatMessage, MediationSession, Recording, RoomParticipant

S = MediationSession.Status
MEDIATOR = RoomParticipant.Role.MEDIATOR
# Sessions that may still take place: the case page's "next session", and what closing
# the case cancels.
UPCOMING = (S.PROPOSED, S.SCHEDULED, S.LIVE)
# Sessions whose room may be entered.
OPEN_ROOM = (S.SCHEDULED, S.LIVE)


def session_summaries_for(dispute: Dispute) -> list[dict[str, Any]]:
    return session_summaries_by_dispute([dispute.pk]).get(dispute.pk, [])


def session_summaries_by_dispute(dispute_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The session summaries of many disputes in one query (for the API's case list)."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not dispute_ids:
        return out
    # Four columns, not the sessions' whole rows (their minutes, their peers): a page of
    # the list reads this for fifty cases (issue 14).
    sessions = MediationSession.objects.filter(dispute_id__in=dispute_ids).order_by(
        "scheduled_at", "pk"
    )
    for pk, dispute_id, status, scheduled_at in sessions.values_list(
        "pk", "dispute_id", "status", "scheduled_at"
    ):
        out.setdefault(dispute_id, []).append(
            {
                "id": pk,
                "status": status,
                "scheduled_at": scheduled_at,
                "room_url": MediationSession(pk=pk).room_url,
            }
        )
    return out


def session_summaries_column() -> Subquery:
    """The summaries of a case's sessions as one column of a list's row (issue 14: read
    with the row, not in a query of their own): one JSON array of [id, status,
    scheduled_at] arrays, read by `session_summaries_from_column`."""
    sessions = (
        MediationSession.objects.filter(dispute_id=OuterRef("pk"))
        .order_by()
        .values("dispute_id")
        .annotate(rows=odr_selectors.JSONList(JSONArray("pk", "status", "scheduled_at")))
        .values("rows")
    )
    return Subquery(sessions, output_field=JSONField())


def session_summaries_from_column(value: list[list[Any]] | None) -> list[dict[str, Any]]:
    """`session_summaries_for` from a row's `session_summaries_column`: the same
    summaries in the same order (by time, the database's place for a session without
    one, then id), each time the instant the database holds, in UTC as read."""
    if not value:
        return []
    nulls_last = connections[MediationSession.objects.db].features.nulls_order_largest
    sessions = []
    for pk, status, scheduled_at in value:
        when = None
        if scheduled_at is not None:
            when = datetime.fromisoformat(scheduled_at)
            when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        sessions.append((pk, status, when))
    timed = sorted((s for s in sessions if s[2] is not None), key=lambda s: (s[2], s[0]))
    untimed = sorted((s for s in sessions if s[2] is None), key=lambda s: s[0])
    sessions = [*timed, *untimed] if nulls_last else [*untimed, *timed]
    return [
        {
            "id": pk,
            "status": status,
            "scheduled_at": when,
            "room_url": MediationSession(pk=pk).room_url,
        }
        for pk, status, when in sessions
    ]


def sessions_visible_to(user: AbstractBaseUser) -> QuerySet[MediationSession]:
    """A session is seen by whoever sees its dispute."""
    return MediationSession.objects.filter(
        dispute__in=odr_selectors.disputes_visible_to(user)
    ).select_related("dispute", "dispute__mediator")


def session_get_for(*, user: AbstractBaseUser, session_id: int) -> MediationSession:
    session = sessions_visible_to(user).filter(pk=session_id).first()
    if session is None:
        raise NotFound()
    return session


def sessions_of(dispute: Dispute) -> list[MediationSession]:
    return list(MediationSession.objects.filter(dispute=dispute).order_by("scheduled_at", "pk"))


def next_session_for(dispute: Dispute) -> MediationSession | None:
    """The session the case page announces: the live one, else the next one ahead."""
    sessions = MediationSession.objects.filter(dispute=dispute, status__in=UPCOMING)
    live = sessions.filter(status=S.LIVE).first()
    if live is not None:
        return live
    return (
        sessions.filter(status=S.SCHEDULED, scheduled_at__gte=timezone.now())
        .order_by("scheduled_at")
        .first()
        or sessions.filter(status=S.PROPOSED).order_by("created_at").first()
    )


def host_id_of(session: MediationSession) -> int | None:
    """Who hosts the room: the judge of a hearing (询问) held in it, else the case's
    mediator. The host takes the mediator's place in the room's protocol (CONTRACT §4)."""
    return session.host_id or session.dispute.mediator_id


def room_role_of(session: MediationSession, user: AbstractBaseUser) -> str | None:
    """Who may join a room: the dispute's parties (as applicant/respondent) and its host
    (the mediator, or the judge of a hearing). Staff who merely see the case do not enter
    the room."""
    if not user.is_authenticated:
        return None
    dispute = session.dispute
    if host_id_of(session) == user.pk:
        return MEDIATOR
    party = Party.objects.filter(dispute_id=dispute.pk, user=user).first()
    return party.role if party is not None else None


def room_roles_of(
    pairs: Iterable[tuple[MediationSession, AbstractBaseUser]],
) -> dict[tuple[int, int], str]:
    """`room_role_of` for several (session, user) pairs in one query (a batch of joins,
    issue 13): (session id, user id) -> role, for those who take part."""
    pairs = [(s, u) for s, u in pairs if u.is_authenticated]
    roles: dict[tuple[int, int], str] = {}
    asked: set[tuple[int, int]] = set()
    for session, user in pairs:
        if host_id_of(session) == user.pk:
            roles[(session.pk, user.pk)] = MEDIATOR
        else:
            asked.add((session.dispute_id, user.pk))
    if not asked:
        return roles
    found: dict[tuple[int, int], str] = {}
    parties = (
        Party.objects.filter(
            dispute_id__in={d for d, _u in asked}, user_id__in={u for _d, u in asked}
        )
        .values_list("dispute_id", "user_id", "role")
        .order_by("pk")
    )
    for dispute_id, user_id, role in parties:
        found.setdefault((dispute_id, user_id), role)
    for session, user in pairs:
        role = found.get((session.dispute_id, user.pk))
        if role is not None and (session.pk, user.pk) not in roles:
            roles[(session.pk, user.pk)] = role
    return roles


def is_session_mediator(session: MediationSession, user: AbstractBaseUser) -> bool:
    return user.is_authenticated and host_id_of(session) == user.pk


def is_session_party(session: MediationSession, user: AbstractBaseUser) -> bool:
    return room_role_of(session, user) not in (None, MEDIATOR)


def case_refusal(session: MediationSession) -> Refusal | None:
    """A session lives only while its case is in mediation: once the case is withdrawn,
    failed, settled or sent up, its sessions were closed (sessions.receivers) and nobody
    may act on one, even from a page opened before. A hearing the court holds in a room
    is the court's, after mediation ended: its case is settled."""
    if session.host_id is not None or session.dispute.status == Dispute.Status.IN_MEDIATION:
        return None
    return Refusal(409, "case_not_in_mediation", _("This case is no longer in mediation."))


def room_refusal(
    session: MediationSession, user: AbstractBaseUser, *, role: str | None = None
) -> Refusal | None:
    """Why this user may not enter the session's room now (a ticket, the WebSocket), or
    None. Staff who see the case are not participants (403). `role`: the caller's
    `room_role_of`, when already read."""
    if (role or room_role_of(session, user)) is None:
        return Refusal(
            403, "not_participant", _("Only the parties and the mediator join the room.")
        )
    if session.status not in OPEN_ROOM:
        return Refusal(409, "session_closed", _("This session's room is not open."))
    return case_refusal(session)


def participant_for(session: MediationSession, user: AbstractBaseUser) -> RoomParticipant | None:
    return RoomParticipant.objects.filter(session=session, user=user).first()


def attendance_of(session: MediationSession) -> list[Attendance]:
    return list(Attendance.objects.filter(session=session).select_related("user", "user__profile"))


@dataclass(frozen=True)
class ChatLine:
    """One entry of a session's chat log as its viewer may read it. `withheld`: a private
    caucus the viewer was not in: when it was, not who said what."""

    at: datetime
    name: str = ""
    text: str = ""
    withheld: bool = False


def chat_visible_to(session: MediationSession, user: AbstractBaseUser) -> list[ChatLine]:
    """The chat log as this viewer may read it (issue 11, M1). A line's words are read by
    those who heard it (its stored audience). Beyond that, a party reads nothing (it was in
    the lobby, apart or away); the mediator and the staff who see the case read the lines
    said in the open room, and of a caucus they were not in only that it happened: one
    withheld entry, with its time, for each run of its lines."""
    messages = ChatMessage.objects.filter(session=session).select_related(
        "sender", "sender__profile"
    )
    participant = participant_for(session, user) if user.is_authenticated else None
    peer_id = participant.peer_id if participant is not None else None
    party = is_session_party(session, user)
    lines: list[ChatLine] = []
    for m in messages:
        if peer_id is not None and peer_id in (m.audience or []):
            lines.append(ChatLine(at=m.at, name=display_name(m.sender), text=m.text))
        elif party:
            continue
        elif not m.in_caucus:
            lines.append(ChatLine(at=m.at, name=display_name(m.sender), text=m.text))
        elif not (lines and lines[-1].withheld):
            lines.append(ChatLine(at=m.at, withheld=True))
    return lines


def recordings_of(session: MediationSession) -> list[Recording]:
    return list(Recording.objects.filter(session=session).order_by("started_at"))


# --- the room ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    peer_id: str
    user_id: int
    name: str
    role: str
    state: str
    connected: bool
    channel_name: str

    def public(self) -> dict[str, str]:
        """The contract's `peer` object."""
        return {"peer_id": self.peer_id, "name": self.name, "role": self.role}

    @property
    def in_room(self) -> bool:
        return self.state == RoomParticipant.State.ROOM


@dataclass(frozen=True)
class RoomSnapshot:
    session_id: int
    status: str
    caucus: frozenset[str]
    peers: dict[str, Peer] = field(default_factory=dict)

    @property
    def mediator(self) -> Peer | None:
        return next((p for p in self.peers.values() if p.role == MEDIATOR), None)

    def present(self) -> list[Peer]:
        """Connected and in the room (the mediator is always in the room)."""
        return [p for p in self.peers.values() if p.in_room and p.connected]

    def lobby(self) -> list[Peer]:
        return [
            p for p in self.peers.values() if p.state == RoomParticipant.State.LOBBY and p.connected
        ]

    def side_of(self, peer_id: str) -> str:
        """In a caucus the mediator and the chosen peers are one side, everyone else the
        other; without one, everyone in the room is on one side."""
        if not self.caucus:
            return "all"
        peer = self.peers.get(peer_id)
        if peer is not None and (peer.role == MEDIATOR or peer_id in self.caucus):
            return "caucus"
        return "apart"

    def visible_to(self, peer_id: str) -> list[Peer]:
        """Whom this peer may see, hear, signal and chat with right now: the connected
        peers in the room on the same side of any caucus. A peer outside the room sees
        nobody."""
        me = self.peers.get(peer_id)
        if me is None or not me.in_room:
            return []
        side = self.side_of(peer_id)
        return sorted(
            (p for p in self.present() if p.peer_id != peer_id and self.side_of(p.peer_id) == side),
            key=lambda p: p.peer_id,
        )

    def visible_ids(self, peer_id: str) -> set[str]:
        return {p.peer_id for p in self.visible_to(peer_id)}

    def caucus_view(self, peer_id: str) -> dict[str, Any]:
        """What this peer's caucus banner says, from the server's state (issue 13: never
        remembered by the client): `side` "all" (no caucus, or not in the room), "caucus"
        (with the mediator in it) or "apart" (waiting while the mediator talks with
        others), and `caucus_peer_ids`, the peers the mediator holds it with (empty
        when none runs or this peer is not in the room)."""
        me = self.peers.get(peer_id)
        if me is None or not me.in_room or not self.caucus:
            return {"side": "all", "caucus_peer_ids": []}
        return {"side": self.side_of(peer_id), "caucus_peer_ids": sorted(self.caucus)}


def room_participants(session_id: int) -> list[RoomParticipant]:
    """The room's participant rows with the names shown (one query)."""
    return list(
        RoomParticipant.objects.filter(session_id=session_id).select_related(
            "user", "user__profile"
        )
    )


def peer_of(p: RoomParticipant) -> Peer:
    return Peer(
        peer_id=p.peer_id,
        user_id=p.user_id,
        name=display_name(p.user),
        role=p.role,
        state=p.state,
        connected=p.connected,
        channel_name=p.channel_name,
    )


def snapshot_of(session: MediationSession, participants: list[RoomParticipant]) -> RoomSnapshot:
    """The room from a session row and its participant rows already read."""
    return RoomSnapshot(
        session_id=session.pk,
        status=session.status,
        caucus=frozenset(session.caucus_peer_ids or []),
        peers={p.peer_id: peer_of(p) for p in participants},
    )


def room_snapshot(session: MediationSession | int) -> RoomSnapshot:
    """The room as the database holds it now (call inside the service's transaction
    after locking the session row, to see a consistent room). Given the locked session
    row itself, it is not read again."""
    if isinstance(session, int):
        row = MediationSession.objects.filter(pk=session).only("status", "caucus_peer_ids")
        session = row.first()
        if session is None:
            raise NotFound()
    return snapshot_of(session, room_participants(session.pk))


def recording_active(session_id: int) -> bool:
    return Recording.objects.filter(session_id=session_id, ended_at__isnull=True).exists()


def recordings_active(session_ids: Iterable[int]) -> set[int]:
    """Which of these sessions have a recording running (one query)."""
    return set(
        Recording.objects.filter(session_id__in=set(session_ids), ended_at__isnull=True)
        .values_list("session_id", flat=True)
        .distinct()
    )


def room_participants_of(session_ids: Iterable[int]) -> dict[int, list[RoomParticipant]]:
    """`room_participants` of several rooms in one query, by session id."""
    out: dict[int, list[RoomParticipant]] = {pk: [] for pk in session_ids}
    rows = RoomParticipant.objects.filter(session_id__in=list(out)).select_related(
        "user", "user__profile"
    )
    for row in rows:
        out[row.session_id].append(row)
    return out


@dataclass(frozen=True)
class ConnectedPeer:
    session_id: int
    peer_id: str
    channel_name: str


def connected_peers(
    *, joined_before: datetime, channels: list[str] | None = None
) -> list[ConnectedPeer]:
    """Every participant marked connected to a room that is open and whose connection
    opened before `joined_before` (sessions.presence checks each against its heartbeat;
    a newer one may not have had its first beat yet); only those connections when
    `channels` is given."""
    recent = Attendance.objects.filter(
        session_id=OuterRef("session_id"),
        user_id=OuterRef("user_id"),
        left_at__isnull=True,
        joined_at__gte=joined_before,
    )
    rows = RoomParticipant.objects.filter(connected=True, session__status__in=OPEN_ROOM)
    if channels is not None:
        rows = rows.filter(channel_name__in=channels)
    rows = rows.exclude(Exists(recent)).values_list("session_id", "peer_id", "channel_name")
    return [ConnectedPeer(*row) for row in rows]
