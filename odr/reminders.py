"""Reminders before a deadline (DESIGN.md §2: deadlines are data, and the platform reminds
people before one passes): each unanswered invitation (every respondent's and every
co-applicant's; one invited by phone only through the filer, who passes its link on) and
the mediation deadline. Run by `manage.py send_reminders`; each reminder is sent once
(`Invitation.reminded_at`, `Dispute.deadline_reminded_at`) and recorded in the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from odr.audit import log_action
from odr.links import site_url
from odr.models import Dispute, Invitation, Membership, Party
from odr.notifications import Recipient, notify
from odr.people import display_name, organisation_staff, party_recipients
from odr.services.common import case_context
from odr.sms import normalise_mobile

# How long before the mediation deadline the mediator and coordinators hear of it.
DEADLINE_REMINDER_DAYS = 5


def _remind_invitation(invitation_id: int, now: datetime) -> bool:
    with transaction.atomic():
        # Locked and checked again: two reminder processes must not both send it.
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("party", "party__dispute", "party__dispute__organisation")
            .filter(pk=invitation_id, reminded_at__isnull=True, used_at__isnull=True)
            .first()
        )
        if invitation is None:
            return False
        invitation.reminded_at = now
        invitation.save(update_fields=["reminded_at"])
        dispute = invitation.party.dispute
        # The filer (the first applicant), who named the party invited.
        applicant = (
            dispute.parties.filter(role=Party.Role.APPLICANT).order_by("position", "pk").first()
        )
        log_action(
            action="invitation.remind",
            obj=invitation,
            dispute=dispute,
            actor_label="reminders",
            after={"expires_at": invitation.expires_at},
        )
        invited = invitation.party
        context = {
            **case_context(dispute),
            "applicant": applicant.name if applicant else "",
            "respondent": invited.name,
            "invitation_url": f"{site_url()}/invitations/{invitation.token}/",
            "expires_at": timezone.localtime(invitation.expires_at).strftime("%Y-%m-%d"),
        }
        if invited.email or normalise_mobile(invited.phone):
            notify(
                [Recipient(email=invited.email, phone=invited.phone)],
                "invitation_reminder",
                context,
            )
        elif applicant is not None:
            # Invited by phone only: the filer passed the link on and is asked to again.
            notify(
                party_recipients(dispute, Party.Role.APPLICANT)[:1],
                "invitation_pass_on_reminder",
                context,
            )
    return True


def _remind_deadline(dispute_id: int, now: datetime) -> bool:
    with transaction.atomic():
        dispute = (
            Dispute.objects.select_for_update()
            .select_related("organisation", "mediator")
            .filter(
                pk=dispute_id,
                deadline_reminded_at__isnull=True,
                status=Dispute.Status.IN_MEDIATION,
            )
            .first()
        )
        if dispute is None:
            return False
        dispute.deadline_reminded_at = now
        dispute.save(update_fields=["deadline_reminded_at"])
        recipients = organisation_staff(dispute.organisation, Membership.Role.COORDINATOR)
        if dispute.mediator is not None:
            recipients.insert(0, dispute.mediator)
        log_action(
            action="dispute.deadline_remind",
            obj=dispute,
            dispute=dispute,
            actor_label="reminders",
            after={
                "deadline": dispute.mediation_deadline,
                "to": [display_name(u) for u in recipients],
            },
        )
        deadline = timezone.localtime(dispute.mediation_deadline)
        notify(
            recipients,
            "deadline_reminder",
            {
                **case_context(dispute),
                "deadline": deadline.strftime("%Y-%m-%d"),
                "days": (deadline.date() - timezone.localtime(now).date()).days,
            },
        )
    return True


def send_due(*, now: datetime) -> int:
    """Sends every reminder due at `now`; returns how many were sent."""
    sent = 0
    invitation_window = now + timedelta(days=settings.ODR_INVITATION_REMINDER_DAYS)
    due_invitations = Invitation.objects.filter(
        used_at__isnull=True,
        reminded_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=invitation_window,
        party__dispute__status=Dispute.Status.FILED,
    ).values_list("pk", flat=True)
    for invitation_id in list(due_invitations):
        sent += _remind_invitation(invitation_id, now)
    due_deadlines = Dispute.objects.filter(
        status=Dispute.Status.IN_MEDIATION,
        deadline_reminded_at__isnull=True,
        mediation_deadline__gt=now,
        mediation_deadline__lte=now + timedelta(days=DEADLINE_REMINDER_DAYS),
    ).values_list("pk", flat=True)
    for dispute_id in list(due_deadlines):
        sent += _remind_deadline(dispute_id, now)
    return sent
