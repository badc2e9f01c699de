"""Reminders of the agreements app, run by `manage.py send_reminders`: the 30-day window
for judicial confirmation (to every party who has not applied yet, its end counted with
holidays by agreements.court.deadlines, as the application itself is), the court's own
deadlines, and the obligations of agreements
in force (before they are due, on the day, and on default).

Each reminder is sent once: a column of the agreement, the request or the obligation
records it (agreements.court.services), with an audit event. Rows are locked while checked
so that two runs at once do not both send. The run also lays out the obligations of any
agreement in force that has none yet (the maintenance path: pages never write)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agreements.content_check import NOT_CONFIRMABLE
from agreements.court import deadlines, services
from agreements.court import selectors as court_selectors
from agreements.models import Agreement, ConfirmationRequest, Performance
from odr.errors import DomainError
from odr.links import site_url
from odr.models import Dispute
from odr.notifications import notify

CR = ConfirmationRequest.Status
# Days before the confirmation window closes on which the parties are reminded.
WINDOW_REMINDER_DAYS = (7, 1)
# The court is reminded on the last day to accept and 3 days before the ruling is due.
ACCEPT_REMINDER = timedelta(days=1)
RULE_REMINDER = timedelta(days=3)
# How far past the window's 30 days its end may move off rest days and holidays.
HOLIDAY_SLACK_DAYS = 15
# Obligations: 3 days before they are due.
DUE_REMINDER_DAYS = 3


def send_due(*, now: datetime) -> int:
    sent = 0
    sent += _window_reminders(now)
    sent += _court_reminders(now)
    services.performance_schedule_missing()
    sent += _performance_reminders(now)
    return sent


def _case(dispute: Dispute) -> dict:
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "case_url": f"{site_url()}/disputes/{dispute.pk}/",
    }


# --- the confirmation window -------------------------------------------------------------


def _window_reminders(now: datetime) -> int:
    # The window's last day may move on past a holiday (National Day: a week): the
    # candidates reach back that far, and each one's own end decides.
    window = timedelta(days=settings.ODR_CONFIRMATION_WINDOW_DAYS + HOLIDAY_SLACK_DAYS)
    candidates = (
        Agreement.objects.filter(
            status=Agreement.Status.SIGNED,
            effective_at__gte=now - window,
            effective_at__lte=now,
        )
        .exclude(matter__in=list(NOT_CONFIRMABLE))
        .exclude(confirmation_request__status__in=court_selectors.COURT_STATUSES)
        .values_list("pk", flat=True)
    )
    sent = 0
    for pk in candidates:
        with transaction.atomic():
            agreement = Agreement.objects.select_for_update().get(pk=pk)
            try:
                closes = deadlines.confirmation_window_closes(agreement.effective_at)
            except DomainError:
                continue  # the calendar does not reach it: logged; the others still go
            left = deadlines.days_left(closes, now)
            if now > closes or left is None:
                continue
            due = [d for d in WINDOW_REMINDER_DAYS if left <= d]
            if not due:
                continue
            stage = min(due)
            reminded = agreement.window_reminded_days
            if reminded is not None and reminded <= stage:
                continue  # this stage (or a later one) was sent already
            dispute = Dispute.objects.prefetch_related("parties__user__profile").get(
                pk=agreement.dispute_id
            )
            agreement.dispute = dispute
            request = ConfirmationRequest.objects.filter(agreement=agreement).first()
            done = court_selectors.consents_of(request) if request is not None else {}
            recipients = []
            for party in court_selectors.required_parties(agreement):
                if party.pk in done:
                    continue  # this party has applied already
                if party.user is not None and party.user not in recipients:
                    recipients.append(party.user)
            if not recipients:
                continue
            services.confirmation_record_window_reminder(
                agreement=agreement, stage=stage, days_left=left, now=now
            )
            notify(
                recipients,
                "confirmation_window_reminder",
                {
                    **_case(dispute),
                    "days_left": left,
                    "window_closes": timezone.localtime(closes).strftime("%Y-%m-%d %H:%M"),
                    "waiting_for_you": request is not None,
                },
            )
            sent += len(recipients)
    return sent


# --- the court's deadlines ---------------------------------------------------------------


def _court_reminders(now: datetime) -> int:
    sent = 0
    # Docketing is due while the request is pending; the ruling once it is accepted.
    accept_due = ConfirmationRequest.objects.filter(
        status=CR.PENDING,
        accept_reminded_at__isnull=True,
        accept_deadline__lte=now + ACCEPT_REMINDER,
    ).values_list("pk", flat=True)
    rule_due = ConfirmationRequest.objects.filter(
        status=CR.ACCEPTED,
        rule_reminded_at__isnull=True,
        rule_deadline__lte=now + RULE_REMINDER,
    ).values_list("pk", flat=True)
    for kind, ids, field, status in (
        ("accept", list(accept_due), "accept_reminded_at", CR.PENDING),
        ("rule", list(rule_due), "rule_reminded_at", CR.ACCEPTED),
    ):
        for pk in ids:
            with transaction.atomic():
                request = (
                    ConfirmationRequest.objects.select_for_update()
                    .select_related("court", "agreement__dispute")
                    .get(pk=pk)
                )
                if getattr(request, field) is not None or request.status != status:
                    continue
                services.confirmation_record_deadline_reminder(request=request, kind=kind, now=now)
                deadline = request.accept_deadline if kind == "accept" else request.rule_deadline
                staff = services.deadline_recipients(request, kind)
                notify(
                    staff,
                    "court_deadline_reminder",
                    {
                        **services.request_context(request),
                        "kind": kind,
                        "deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M"),
                        "overdue": now > deadline,
                    },
                )
                sent += len(staff)
    return sent


# --- obligations -------------------------------------------------------------------------


def _performance_reminders(now: datetime) -> int:
    today = timezone.localdate(now)
    # Open ones only: a report of performance waits for the obligee's answer, and a
    # disputed report makes the obligation open again (issue 11, L3).
    open_obligations = Performance.objects.filter(
        status=Performance.Status.OPEN,
        due_date__isnull=False,
        agreement__status=Agreement.Status.SIGNED,
    )
    sent = 0
    ids = open_obligations.filter(
        due_date__lte=today + timedelta(days=DUE_REMINDER_DAYS)
    ).values_list("pk", flat=True)
    for pk in list(ids):
        with transaction.atomic():
            obligation = (
                Performance.objects.select_for_update().select_related("agreement").get(pk=pk)
            )
            if obligation.status != Performance.Status.OPEN:
                continue
            kind = _performance_kind(obligation, today)
            if kind is None:
                continue
            dispute = Dispute.objects.prefetch_related("parties__user__profile").get(
                pk=obligation.agreement.dispute_id
            )
            obligation.agreement.dispute = dispute
            services.performance_record_reminder(obligation=obligation, kind=kind, now=now)
            recipients = [p.user for p in dispute.parties.all() if p.user is not None]
            context = {
                **_case(dispute),
                "obligation": obligation.description,
                "due_date": obligation.due_date.isoformat(),
                "due_today": kind == "today",
            }
            if kind == "default":
                guidance = court_selectors.default_guidance(obligation.agreement, today)
                route = guidance.route if guidance else court_selectors.LAWSUIT
                context.update(
                    route=route,
                    enforcement=route == court_selectors.ENFORCEMENT,
                    court=guidance.court.name if guidance and guidance.court else "",
                    court_case_number=guidance.court_case_number if guidance else "",
                )
                if dispute.mediator is not None:
                    recipients.append(dispute.mediator)
                notify(recipients, "performance_default", context)
            else:
                notify(recipients, "performance_due_reminder", context)
            sent += len(recipients)
    return sent


def _performance_kind(obligation: Performance, today) -> str | None:
    """Which reminder is due now for this obligation, if any."""
    if obligation.due_date < today:
        return "default" if obligation.default_notified_at is None else None
    if obligation.due_date == today:
        return "today" if obligation.due_reminded_at is None else None
    return "before" if obligation.reminded_at is None else None
