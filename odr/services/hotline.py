"""The 12345 hotline bridge (接诉即办, issue 10): tokens, tickets, first contact, closing
and the caller's survey. Every ticket status change goes through the ticket machine of
odr.transitions (lock, check, save, audit, signal after commit)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import sms
from odr.audit import log_action
from odr.errors import DomainError, Invalid, NotFound
from odr.lifecycle import transitioned
from odr.models import Dispute, HotlineTicket, HotlineToken
from odr.services.filing import dispute_file
from odr.services.party_input import PartyInput
from odr.text import clean_text
from odr.transitions import TICKET_MACHINE

T = HotlineTicket.Status


# --- tokens ------------------------------------------------------------------------------


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def token_create(*, name: str, value: str | None = None) -> tuple[HotlineToken, str]:
    """A new token and its value, which is not kept (only its hash): shown once. `value`
    is for the demo's known token only."""
    name = clean_text(name)
    if not name:
        raise Invalid(_("Give the token a name."), code="name_required")
    if HotlineToken.objects.filter(name=name).exists():
        raise DomainError("name_taken", _("A hotline token of this name exists already."))
    value = value or f"odr-hl-{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        user = get_user_model().objects.create(
            username=f"hotline:{name}"[:150], is_active=False, first_name="12345"
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        token = HotlineToken.objects.create(
            name=name, key_hash=token_hash(value), prefix=value[:8], user=user
        )
    return token, value


def token_revoke(*, token: HotlineToken) -> HotlineToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_authenticate(value: str) -> HotlineToken | None:
    """The active token of this value, or None."""
    if not value:
        return None
    return (
        HotlineToken.objects.select_related("user")
        .filter(key_hash=token_hash(value), revoked_at__isnull=True)
        .first()
    )


# --- tickets -----------------------------------------------------------------------------


def ticket_receive(
    *,
    token: HotlineToken,
    ticket_id: str,
    received_at: datetime,
    caller_name: str,
    caller_phone: str,
    text: str,
    region_code: str,
    category: str | None = None,
    respond_by: datetime | None = None,
) -> tuple[HotlineTicket, bool]:
    """The ticket of this `ticket_id`, made now with its dispute (True) or as it was made
    before (False): the hotline may send a ticket again, even twice at once; the unique
    number makes the second arrival find the first."""
    ticket_id = clean_text(ticket_id)
    if not ticket_id:
        raise Invalid(_("Give the ticket's number."), code="ticket_id_required")
    existing = _ticket_by_number(ticket_id)
    if existing is not None:
        return existing, False
    if timezone.is_naive(received_at):
        received_at = timezone.make_aware(received_at)
    if respond_by is not None and timezone.is_naive(respond_by):
        respond_by = timezone.make_aware(respond_by)
    due = respond_by or received_at + timedelta(hours=settings.ODR_HOTLINE_RESPOND_HOURS)
    if due < received_at:
        raise Invalid(
            _("The time to respond by is before the ticket was received."),
            code="invalid_respond_by",
        )
    text = clean_text(text, multiline=True)
    try:
        with transaction.atomic():
            # The one filing path: routed, numbered, audited and matched for duplicates
            # like any filing; the caller is the applicant (no account), no one else is
            # named, so the case goes straight to intake.
            dispute = dispute_file(
                applicant=token.user,
                channel=Dispute.Channel.HOTLINE,
                on_behalf_of=PartyInput(name=caller_name, phone=caller_phone),
                respondents=[],
                category=category or "other",
                title=_("12345 ticket %(ticket)s") % {"ticket": ticket_id},
                description=text,
                region_code=region_code,
                received_at=received_at,
            )
            ticket = HotlineTicket.objects.create(
                ticket_id=ticket_id,
                token=token,
                dispute=dispute,
                caller_name=clean_text(caller_name)[:100],
                caller_phone=clean_text(caller_phone)[:30],
                text=text,
                received_at=received_at,
                respond_by=due,
            )
            log_action(
                action="hotline.receive",
                obj=ticket,
                actor=token.user,
                dispute=dispute,
                after={"ticket_id": ticket_id, "respond_by": due.isoformat()},
            )
    except IntegrityError:
        # The same ticket arrived at the same moment and was made by the other request.
        existing = _ticket_by_number(ticket_id)
        if existing is None:
            raise
        return existing, False
    return ticket, True


def _ticket_by_number(ticket_id: str) -> HotlineTicket | None:
    return HotlineTicket.objects.select_related("dispute").filter(ticket_id=ticket_id).first()


def ticket_get(*, ticket_id: str) -> HotlineTicket:
    ticket = _ticket_by_number(ticket_id)
    if ticket is None:
        raise NotFound()
    return ticket


def ticket_respond(*, ticket: HotlineTicket, actor: AbstractBaseUser) -> HotlineTicket:
    """Staff record first contact with the caller (响应), now."""
    now = timezone.now()
    return TICKET_MACHINE.apply(
        "respond",
        instance=ticket,
        actor=actor,
        changes={"responded_at": now, "responded_by": actor},
        extra={"late": now > ticket.respond_by},
    )


def ticket_close(
    *,
    ticket: HotlineTicket,
    actor: AbstractBaseUser | None,
    resolved: bool,
    reason: str = "",
) -> HotlineTicket:
    """Close the ticket as resolved or not (staff, or the platform when the case ends),
    and text the caller the survey link."""
    reason = clean_text(reason, multiline=True)[:2000]
    if not resolved and actor is not None and not reason:
        raise Invalid(_("Say why the ticket closes unresolved."), code="reason_required")
    now = timezone.now()
    with transaction.atomic():
        closed = TICKET_MACHINE.apply(
            "resolve" if resolved else "close_unresolved",
            instance=ticket,
            actor=actor,
            changes={"closed_at": now, "survey_sent_at": now},
            extra={"reason": reason} if not resolved else None,
        )
        sms.text(
            closed.caller_phone,
            "hotline_survey",
            {"ticket_id": closed.ticket_id, "path": f"/survey/{closed.survey_token}/"},
        )
    return closed


def ticket_close_with_case(*, dispute: Dispute) -> HotlineTicket | None:
    """The platform closes the ticket of a case that ended: settled is resolved, every
    other end is not. Nothing when the case has no open ticket."""
    ticket = HotlineTicket.objects.filter(dispute=dispute).first()
    if ticket is None or ticket.is_closed:
        return None
    return ticket_close(
        ticket=ticket,
        actor=None,
        resolved=dispute.status == Dispute.Status.SETTLED,
        reason=dispute.get_status_display(),
    )


def ticket_action(
    *, ticket: HotlineTicket, actor: AbstractBaseUser, action: str, data: dict[str, Any]
) -> HotlineTicket:
    """One staff action by name (the page's and the API's buttons)."""
    if action == "respond":
        return ticket_respond(ticket=ticket, actor=actor)
    if action == "resolve":
        return ticket_close(ticket=ticket, actor=actor, resolved=True)
    if action == "close_unresolved":
        return ticket_close(
            ticket=ticket, actor=actor, resolved=False, reason=str(data.get("reason", ""))
        )
    raise NotFound()


# --- the caller's survey -----------------------------------------------------------------


def survey_ticket(*, token: str) -> HotlineTicket:
    """The closed ticket a survey link is for; NotFound for any other token."""
    ticket = (
        HotlineTicket.objects.filter(survey_token=token, closed_at__isnull=False).first()
        if token
        else None
    )
    if ticket is None:
        raise NotFound()
    return ticket


def survey_submit(*, token: str, score: Any, comment: str = "") -> HotlineTicket:
    """The caller's answer, once: a second answer is refused (410) and the first kept."""
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise Invalid(_("Choose a score from 1 to 5."), code="invalid_score")
    comment = clean_text(comment, multiline=True)[:2000]
    with transaction.atomic():
        ticket = survey_ticket(token=token)
        ticket = HotlineTicket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.surveyed_at is not None:
            raise DomainError(
                "survey_answered",
                _("Thank you: this survey has already been answered."),
                status=410,
            )
        ticket.satisfaction = score
        ticket.survey_comment = comment
        ticket.surveyed_at = timezone.now()
        ticket.save(update_fields=["satisfaction", "survey_comment", "surveyed_at"])
        log_action(
            action="hotline.survey",
            obj=ticket,
            actor=None,
            dispute=ticket.dispute,
            after={"satisfaction": score},
        )
    return ticket


# --- the case's end closes its ticket ----------------------------------------------------

_ENDED = frozenset(
    {
        Dispute.Status.SETTLED,
        Dispute.Status.FAILED,
        Dispute.Status.REJECTED,
        Dispute.Status.DECLINED,
        Dispute.Status.WITHDRAWN,
    }
)


@receiver(transitioned, sender=Dispute, dispatch_uid="odr.hotline.case_ended")
def _case_ended(sender: Any, instance: Dispute, target: str, **kwargs: Any) -> None:
    if target in _ENDED and instance.channel == Dispute.Channel.HOTLINE:
        ticket_close_with_case(dispute=instance)
