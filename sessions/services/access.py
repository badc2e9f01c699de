"""The way into a room: tickets for clients without a cookie session (CONTRACT §4), ICE
servers with time-limited TURN credentials, and the pre-join page's consent and network
self-test. Each write is audited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.errors import DomainError, Forbidden, Invalid
from odr.models import Dispute
from odr.people import display_name
from odr.selectors import user_is_staff_member
from sessions import mirror, selectors
from sessions.models import Attendance, MediationSession, RoomParticipant, RoomTicket
from sessions.services.common import participant_for_update
from sessions.transitions import lock_session

SELF_TEST_GRADES = ("good", "fair", "poor")
# A signed ticket is a few hundred characters (its claims, a timestamp, a signature);
# anything much longer is not one of ours and is refused before it is parsed.
MAX_TICKET_CHARS = 1000
TICKET_SALT = "sessions.room-ticket"
USED_KEY = "odr:ticket-used:{}"


# --- ICE servers -----------------------------------------------------------------------


def turn_credentials(user_id: int, *, now: datetime | None = None) -> tuple[str, str]:
    """coturn's REST scheme (use-auth-secret): the username is "<expiry>:<user id>", the
    password base64(HMAC-SHA1(secret, username)); coturn checks both without a database."""
    now = now or timezone.now()
    expiry = int(now.timestamp() + settings.ODR_TURN_TTL.total_seconds())
    username = f"{expiry}:{user_id}"
    digest = hmac.new(settings.ODR_TURN_SECRET.encode(), username.encode(), hashlib.sha1)
    return username, base64.b64encode(digest.digest()).decode()


def ice_servers_for(user: AbstractBaseUser | int) -> list[dict[str, Any]]:
    """RTCIceServer objects for this user (or user id: a ticket's join knows only the
    id): STUN as configured; TURN with time-limited credentials when a TURN secret is
    set (otherwise the TURN URLs as they are)."""
    user_id = user if isinstance(user, int) else user.pk
    servers: list[dict[str, Any]] = []
    if settings.ODR_STUN_URLS:
        servers.append({"urls": list(settings.ODR_STUN_URLS)})
    if settings.ODR_TURN_URLS:
        turn: dict[str, Any] = {"urls": list(settings.ODR_TURN_URLS)}
        if settings.ODR_TURN_SECRET:
            turn["username"], turn["credential"] = turn_credentials(user_id)
        servers.append(turn)
    return servers


# --- tickets ---------------------------------------------------------------------------
#
# Issue 13: a join's hot path does no database work before `welcome`. A ticket is signed
# (django.core.signing, SECRET_KEY) with what the welcome needs of its holder: session,
# user, peer id, role, name, expiry, and whether the two-factor rule holds them. The
# consumer checks it without the database (`ticket_check`) and spends it once in the
# cache (`ticket_spend`: Redis SET NX with REDIS_URL, shared by every process; process
# memory on the embedded default, which is one process). Membership and the room's
# state are checked when it is issued, and again by the join's database work after the
# welcome (`ticket_use`: the row's conditional UPDATE), which refuses and closes a
# connection whose ticket the database no longer honours (voided by a close, used).


class Unauthenticated(DomainError):
    """No login, or a bad, used or expired ticket (the consumer closes with 4401)."""

    def __init__(self) -> None:
        super().__init__(
            "unauthenticated",
            _("Log in, or connect with a valid ticket (single use, short-lived)."),
            status=401,
        )


def _ticket_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TicketClaims:
    """What a verified ticket says (`ticket_check`)."""

    session_id: int
    user_id: int
    peer_id: str
    role: str
    name: str
    expires: float
    nonce: str
    # Held to the two-factor rule (odr.middleware.mfa_required) and TOTP on, at issue.
    mfa_held: bool
    totp_on: bool

    def mfa_refused(self) -> bool:
        """`mfa_required` as the ticket knows it: the rule as configured now, the user's
        standing as it was at issue (the join's database work asks again)."""
        return bool(settings.ODR_REQUIRE_STAFF_MFA) and self.mfa_held and not self.totp_on


def _held_to_mfa(user: AbstractBaseUser) -> tuple[bool, bool]:
    from allauth.mfa.models import Authenticator

    held = bool(user.is_superuser or user.is_staff or user_is_staff_member(user))
    totp = held and Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    return held, totp


@transaction.atomic
def ticket_issue(*, session: MediationSession, user: AbstractBaseUser) -> tuple[str, datetime]:
    """A single-use, short-lived, signed ticket for a client that has no cookie session.
    Its SHA-256 is also stored (the audit's object; the join's database work marks it
    used), never the ticket. Refused to whoever the room would refuse (staff who only see
    the case: 403; a closed session or a case no longer in mediation: 409). The holder's
    place in the room is made now if new, so the ticket can carry its peer id."""
    session = lock_session(session)
    role = selectors.room_role_of(session, user)
    refused = selectors.room_refusal(session, user, role=role)
    if refused is not None:
        raise refused.error()
    participant = participant_for_update(session, user, role=role)
    now = timezone.now()
    expires_at = now + settings.ODR_ROOM_TICKET_TTL
    token = ticket_sign(
        session_id=session.pk,
        participant=participant,
        name=display_name(user),
        expires_at=expires_at,
        mfa=_held_to_mfa(user),
    )
    ticket = RoomTicket.objects.create(
        session=session, user=user, token_hash=_ticket_hash(token), expires_at=expires_at
    )
    # Old tickets only take room; nobody can use them any more.
    removed, _by_model = RoomTicket.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    log_action(
        action="session.ticket",
        obj=ticket,
        actor=user,
        dispute=session.dispute,
        after={"session": session.pk, "expires_at": expires_at, "expired_removed": removed},
    )
    return token, expires_at


def ticket_sign(
    *,
    session_id: int,
    participant: RoomParticipant,
    name: str,
    expires_at: datetime,
    mfa: tuple[bool, bool],
) -> str:
    """The signed ticket itself (`ticket_issue` checks, stores and audits it; the
    signaling benchmark signs its seeded tickets with it). `mfa`: held to the two-factor
    rule, TOTP on."""
    return signing.dumps(
        {
            "s": session_id,
            "u": participant.user_id,
            "p": participant.peer_id,
            "r": participant.role,
            "n": name,
            "e": round(expires_at.timestamp(), 3),
            "x": secrets.token_urlsafe(16),
            "m": list(mfa),
        },
        salt=TICKET_SALT,
        compress=True,
    )


def ticket_check(*, session_id: int, token: str, now: datetime | None = None) -> TicketClaims:
    """The ticket's claims, checked without the database: signed by us, for this session,
    not expired, and its holder not stopped by the two-factor rule. Raises
    `Unauthenticated` (401) or `Forbidden` `mfa_required` (403). Spending it is
    `ticket_spend`."""
    if not token or len(token) > MAX_TICKET_CHARS:
        raise Unauthenticated()
    try:
        data = signing.loads(token, salt=TICKET_SALT)
        m_held, m_totp = data["m"]
        claims = TicketClaims(
            session_id=int(data["s"]),
            user_id=int(data["u"]),
            peer_id=str(data["p"]),
            role=str(data["r"]),
            name=str(data["n"]),
            expires=float(data["e"]),
            nonce=str(data["x"]),
            mfa_held=bool(m_held),
            totp_on=bool(m_totp),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise Unauthenticated() from None
    now = now or timezone.now()
    if claims.session_id != session_id or claims.expires <= now.timestamp():
        raise Unauthenticated()
    if claims.mfa_refused():
        raise Forbidden(
            _("Set up two-factor authentication before you enter the room."),
            code="mfa_required",
        )
    return claims


def ticket_spend(claims: TicketClaims, *, now: datetime | None = None) -> bool:
    """Marks the ticket used, once: True for the first caller only. The mark lives in the
    cache until the ticket expires (Redis SET NX with an expiry when REDIS_URL is set, so
    two processes racing with one ticket cannot both enter; process memory otherwise,
    the embedded default's one process: sessions.mirror.store), plus a margin for
    clocks."""
    key, ttl = _spent_mark(claims, now or timezone.now())
    return bool(mirror.store().add(key, 1, timeout=ttl))


async def ticket_spend_and_read(
    claims: TicketClaims, *, now: datetime | None = None
) -> tuple[bool, mirror.Mirrored]:
    """`ticket_spend` and the room's copy (`mirror.read`) in one trip to the store, from
    the event loop (a ticket's join, issue 13): one Redis round trip, no thread; nothing
    is read when the ticket was spent already."""
    key, ttl = _spent_mark(claims, now or timezone.now())
    return await mirror.add_and_read(key, ttl=ttl, session_id=claims.session_id)


def _spent_mark(claims: TicketClaims, now: datetime) -> tuple[str, int]:
    """The key that marks the ticket spent and how long it lives: until the ticket
    expires, plus a margin for clocks."""
    return USED_KEY.format(claims.nonce), max(1, math.ceil(claims.expires - now.timestamp()) + 60)


@transaction.atomic
def ticket_redeem(*, session_id: int, token: str) -> AbstractBaseUser | None:
    """The ticket's user, once (see `ticket_use`), in its own transaction."""
    return ticket_use(session_id=session_id, token=token)


def ticket_use(
    *, session_id: int, token: str, presented_at: datetime | None = None
) -> AbstractBaseUser | None:
    """The ticket's user, once, inside the caller's transaction (the room's join uses it
    in its own): the conditional UPDATE marks it used atomically, so two connections
    racing with one ticket (even on two processes) cannot both enter. A ticket of a case
    no longer in mediation opens nothing, even if the close missed it. `presented_at`:
    when the connection showed it (a ticket's join does this work after its welcome,
    behind a burst of others: a ticket valid when shown is not refused for the wait)."""
    if not token or len(token) > MAX_TICKET_CHARS:
        return None
    now = presented_at or timezone.now()
    digest = _ticket_hash(token)
    used = (
        RoomTicket.objects.filter(
            token_hash=digest, session_id=session_id, used_at__isnull=True, expires_at__gt=now
        )
        # A hearing room (hosted by a judge) outlives the mediation it follows.
        .filter(
            Q(session__dispute__status=Dispute.Status.IN_MEDIATION) | Q(session__host__isnull=False)
        )
        .update(used_at=now)
    )
    if used != 1:
        return None
    ticket = RoomTicket.objects.select_related("user", "session__dispute").get(token_hash=digest)
    log_action(
        action="session.ticket_use",
        obj=ticket,
        actor=ticket.user,
        dispute=ticket.session.dispute,
        after={"session": session_id},
    )
    return ticket.user


def ticket_rows_for_use(
    shown: list[tuple[int, str, datetime | None]],
) -> dict[tuple[int, str], RoomTicket]:
    """The ticket rows a batch of joins may use (issue 13: one query for the lot instead
    of two each), by (session id, token): `shown` holds (session id, token, when it was
    shown) per join. A row counts for a join when it is that session's, unused, not
    expired when shown, and its case still in mediation (or the room a hearing's). The
    rows are locked (PostgreSQL), so a second process racing with one ticket waits and
    then no longer finds it unused; the caller marks used those whose joins it lets in
    (`tickets_mark_used`), in the same transaction, and audits each."""
    wanted: dict[str, list[tuple[int, str, datetime | None]]] = {}
    for session_id, token, presented_at in shown:
        if token and len(token) <= MAX_TICKET_CHARS:
            wanted.setdefault(_ticket_hash(token), []).append((session_id, token, presented_at))
    if not wanted:
        return {}
    rows = (
        RoomTicket.objects.select_for_update(of=("self",))
        .select_related("user", "user__profile")
        .filter(token_hash__in=list(wanted), used_at__isnull=True)
        .filter(
            Q(session__dispute__status=Dispute.Status.IN_MEDIATION) | Q(session__host__isnull=False)
        )
        .order_by("pk")
    )
    out: dict[tuple[int, str], RoomTicket] = {}
    now = timezone.now()
    for row in rows:
        for session_id, token, presented_at in wanted[row.token_hash]:
            if row.session_id == session_id and row.expires_at > (presented_at or now):
                out[(session_id, token)] = row
    return out


def tickets_mark_used(rows: list[RoomTicket], *, now: datetime) -> None:
    """Marks these ticket rows (from `ticket_rows_for_use`, locked) used, in one query."""
    if rows:
        RoomTicket.objects.filter(pk__in=[r.pk for r in rows], used_at__isnull=True).update(
            used_at=now
        )
        for row in rows:
            row.used_at = now


# --- consent and self-test (the pre-join page) ------------------------------------------


@transaction.atomic
def room_record_consent(
    *, session: MediationSession, user: AbstractBaseUser, online: bool, recording: bool
) -> RoomParticipant:
    """Consent to online mediation (required) and to recording (optional; recording
    runs only when everyone consented)."""
    session = lock_session(session)
    participant = participant_for_update(session, user)
    if not online:
        raise Invalid(
            _("Online mediation needs your consent; without it you cannot join the room."),
            code="consent_required",
        )
    before = {
        "online": participant.consented_online_at is not None,
        "recording": participant.consented_recording_at is not None,
    }
    now = timezone.now()
    participant.consented_online_at = participant.consented_online_at or now
    participant.consented_recording_at = (
        (participant.consented_recording_at or now) if recording else None
    )
    participant.save(update_fields=["consented_online_at", "consented_recording_at"])
    log_action(
        action="session.consent",
        obj=participant,
        actor=user,
        dispute=session.dispute,
        before=before,
        after={"online": True, "recording": bool(recording)},
    )
    return participant


def _number(result: dict, key: str, *, low: float, high: float) -> float:
    value = result.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(_("The self-test result is incomplete."), code="invalid_self_test")
    if not low <= value <= high:
        raise Invalid(_("The self-test result is out of range."), code="invalid_self_test")
    return round(float(value), 2)


@transaction.atomic
def room_record_self_test(
    *, session: MediationSession, user: AbstractBaseUser, result: dict
) -> RoomParticipant:
    """Keeps the pre-join network self-test ({rtt_ms, loss_pct, bitrate_kbps, grade}) with
    the participant and on the attendance row of a connection already open."""
    session = lock_session(session)
    participant = participant_for_update(session, user)
    if not isinstance(result, dict) or result.get("grade") not in SELF_TEST_GRADES:
        raise Invalid(_("The self-test result is incomplete."), code="invalid_self_test")
    cleaned = {
        "rtt_ms": _number(result, "rtt_ms", low=0, high=600_000),
        "loss_pct": _number(result, "loss_pct", low=0, high=100),
        "bitrate_kbps": _number(result, "bitrate_kbps", low=0, high=10_000_000),
        "grade": result["grade"],
        "at": timezone.now().isoformat(),
    }
    participant.self_test = cleaned
    participant.save(update_fields=["self_test"])
    Attendance.objects.filter(session=session, user=user, left_at__isnull=True).update(
        self_test=cleaned
    )
    log_action(
        action="session.self_test",
        obj=participant,
        actor=user,
        dispute=session.dispute,
        after=cleaned,
    )
    return participant
