"""A mediation room serving as the court's hearing room (询问, DESIGN.md §3).

When a judge schedules an inquiry of the parties to be held online, the platform opens a
session of the case whose host is that judge: the judge takes the mediator's place in the
room (CONTRACT §4 is unchanged: the host's role is `mediator`), the parties wait in the
lobby and are admitted. The court's act lives in agreements.court, which this app does not
import: it listens to the confirmation machine's `inquiry_schedule` transition
(odr.lifecycle.transitioned) and links the room to the inquiry through the request's
`inquiries`, as the inquiry's `session` field declares."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from odr import selectors as odr_selectors
from odr.audit import log_action
from odr.errors import Forbidden
from odr.lifecycle import Words, register_events
from odr.models import Dispute, Membership
from sessions.models import MediationSession
from sessions.transitions import MACHINE

S = MediationSession.Status
# The confirmation machine's move that asks for a hearing room.
HEARING_MOVE = ("confirmation", "inquiry_schedule")

register_events(
    {
        "session.hearing_open": Words(
            "开设询问室", gettext_noop("A hearing room was opened for the court's inquiry.")
        )
    }
)


@transaction.atomic
def hearing_room_open(
    *, dispute: Dispute, host: AbstractBaseUser, scheduled_at: datetime, duration_minutes: int = 60
) -> MediationSession:
    """A session of the case hosted by a judge who sees the case (its confirmation is
    before their court). Not bound to the case being in mediation: the court hears the
    parties after the agreement was made."""
    is_judge = odr_selectors.user_org_ids(host, Membership.Role.JUDGE)
    if not is_judge or not odr_selectors.disputes_visible_to(host).filter(pk=dispute.pk).exists():
        raise Forbidden(
            _("Only a judge of the court hearing the case hosts it."), code="judge_only"
        )
    session = MediationSession.objects.create(
        dispute=dispute,
        host=host,
        created_by=host,
        scheduled_at=scheduled_at,
        duration_minutes=duration_minutes,
        status=S.SCHEDULED,
    )
    log_action(
        action="session.hearing_open",
        obj=session,
        actor=host,
        dispute=dispute,
        after={**MACHINE.snapshot(session), "host": host.pk},
    )
    return session


def open_hearing_rooms(
    sender: Any, machine: Any, instance: Any, transition: Any, **kwargs: Any
) -> None:
    """After an inquiry to be held online is scheduled: its room, linked to it."""
    if (machine.name, transition.name) != HEARING_MOVE:
        return
    dispute = instance.agreement.dispute
    for inquiry in instance.inquiries.filter(online=True, session__isnull=True):
        with transaction.atomic():
            session = hearing_room_open(
                dispute=dispute, host=inquiry.judge, scheduled_at=inquiry.scheduled_at
            )
            type(inquiry).objects.filter(pk=inquiry.pk, session__isnull=True).update(
                session=session
            )
