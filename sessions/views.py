"""Session pages: scheduling for the mediator, picking a time for the parties, the
minutes editor and the session record. Thin: find through a selector (404 when not
visible), call one service, show a DomainError as a message. The room page itself
belongs to sessions.media."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr import selectors as odr_selectors
from odr.errors import DomainError, NotFound
from odr.models import Dispute
from sessions import selectors, services
from sessions.forms import CancelForm, MinutesForm, RescheduleForm, ScheduleForm
from sessions.models import MediationSession
from sessions.transitions import session_actions

S = MediationSession.Status


# A NotFound from a selector answers 404 (odr.middleware.NotFoundMiddleware).
def _dispute(request: HttpRequest, dispute_id: int) -> Dispute:
    return odr_selectors.dispute_get_for(user=request.user, dispute_id=dispute_id)


def _session(request: HttpRequest, session_id: int) -> MediationSession:
    return selectors.session_get_for(user=request.user, session_id=session_id)


def _detail(session: MediationSession) -> HttpResponse:
    return redirect("mediation:detail", session.pk)


@login_required
def schedule(request: HttpRequest, dispute_id: int) -> HttpResponse:
    dispute = _dispute(request, dispute_id)
    if dispute.mediator_id != request.user.pk:
        raise PermissionDenied
    form = ScheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        times = form.times()
        try:
            session = services.session_schedule(
                dispute=dispute,
                actor=request.user,
                scheduled_at=times[0] if len(times) == 1 else None,
                proposed_times=times if len(times) > 1 else None,
                duration_minutes=form.cleaned_data["duration_minutes"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The session is scheduled; both parties were told."))
            return _detail(session)
    return render(request, "mediation/schedule.html", {"dispute": dispute, "form": form})


@login_required
def detail(request: HttpRequest, session_id: int) -> HttpResponse:
    """The session record: time and status, what the viewer can do, attendance with the
    self-test grades, the chat log (as the viewer may see it), minutes, recordings."""
    session = _session(request, session_id)
    user = request.user
    role = selectors.room_role_of(session, user)
    staff = role is not None or odr_selectors.user_is_staff_member(user)
    return render(
        request,
        "mediation/session_detail.html",
        {
            "session": session,
            "dispute": session.dispute,
            "role": role,
            "actions": session_actions(session, user),
            "proposed": _proposed(session),
            "times_offered": session.status == S.PROPOSED,
            "calendar_offered": role is not None
            and session.scheduled_at is not None
            and session.status != S.CANCELLED,
            "attendance": selectors.attendance_of(session) if staff else [],
            # The network figures behind a grade are for the mediator and staff; the
            # parties read the grade in words (issue 13).
            "show_network_figures": role == selectors.MEDIATOR
            or odr_selectors.user_is_staff_member(user),
            "chat": selectors.chat_visible_to(session, user) if staff else [],
            "recordings": selectors.recordings_of(session) if staff else [],
            "show_minutes": staff,
            "reschedule_form": RescheduleForm(),
            "cancel_form": CancelForm(),
        },
    )


def _proposed(session: MediationSession) -> list[datetime]:
    return [datetime.fromisoformat(t) for t in session.proposed_times or []]


def _run(request: HttpRequest, session: MediationSession, action, success: str) -> HttpResponse:
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return _detail(session)


@login_required
@require_POST
def reschedule(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session(request, session_id)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the new date and time."))
        return _detail(session)
    return _run(
        request,
        session,
        lambda: services.session_reschedule(
            session=session, actor=request.user, scheduled_at=form.cleaned_data["scheduled_at"]
        ),
        _("The session was moved; both parties were told."),
    )


@login_required
@require_POST
def cancel(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session(request, session_id)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _run(
        request,
        session,
        lambda: services.session_cancel(session=session, actor=request.user, reason=reason),
        _("The session was cancelled; both parties were told."),
    )


@login_required
@require_POST
def pick(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session(request, session_id)
    return _run(
        request,
        session,
        lambda: services.session_pick(
            session=session, actor=request.user, time=request.POST.get("time", "")
        ),
        _("Thank you: the session is fixed at the time you chose."),
    )


@login_required
@require_POST
def end(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session(request, session_id)
    return _run(
        request,
        session,
        lambda: services.session_end(session=session, actor=request.user),
        _("The session has ended."),
    )


@login_required
def minutes(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session(request, session_id)
    if not selectors.is_session_mediator(session, request.user):
        raise PermissionDenied
    form = MinutesForm(request.POST or None, initial={"minutes": session.minutes})
    if request.method == "POST" and form.is_valid():
        try:
            services.session_minutes_save(
                session=session, actor=request.user, minutes=form.cleaned_data["minutes"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The minutes are saved."))
            return redirect(reverse("mediation:minutes", args=[session.pk]))
    return render(request, "mediation/minutes.html", {"session": session, "form": form})


@login_required
def calendar(request: HttpRequest, session_id: int) -> HttpResponse:
    """The session's calendar file, for people who lost the e-mail."""
    session = _session(request, session_id)
    if selectors.room_role_of(session, request.user) is None or session.scheduled_at is None:
        raise NotFound()
    _name, text, mimetype = services.ics_attachment(session, cancel=session.status == S.CANCELLED)
    response = HttpResponse(text, content_type=f"{mimetype}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}.ics"'
    return response
