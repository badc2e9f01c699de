"""Every statutory period of judicial confirmation ends on the next working day when its
last day is a rest day or a holiday, with the State Council's adjusted working days
(Civil Procedure Law Art. 85; odr.periods on chinesecalendar): the 30 days to apply, the
court's 3 days to accept, its 15 days to rule and the extension. Past the calendar, in
production, the platform refuses clearly (503 `calendar_not_covered`) rather than guess."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from agreements import reminders
from agreements.court import deadlines, services
from agreements.models import ConfirmationRequest
from odr import periods
from odr.errors import DomainError
from tests import factories
from tests.signing import api_apply

pytestmark = pytest.mark.django_db
CR = ConfirmationRequest.Status
CST = timezone.get_fixed_timezone(8 * 60)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _at(y: int, m: int, d: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, hour, minute, tzinfo=CST)


def _apply(client, agreement, email: str):
    client.force_login(factories.demo_user(email))
    # A party applies by signing the joint application (issue 9, point 5).
    return api_apply(client, agreement.pk, {})


# --- the 30 days to apply ---------------------------------------------------------------


def test_a_window_ending_in_national_day_ends_on_the_first_working_day_after_it(demo, client):
    with time_machine.travel(_at(2026, 9, 1), tick=False):
        agreement = factories.agreement_in_force()
    # The 30th day is 2026-10-01, National Day; 10-02 to 10-07 are holidays too.
    closes = deadlines.confirmation_window_closes(agreement.effective_at)
    assert timezone.localdate(closes) == date(2026, 10, 8)
    with time_machine.travel(_at(2026, 10, 8, 23, 50), tick=False):
        first = _apply(client, agreement, "citizen1@demo.odr")
        assert first.status_code == 200, first.content
        assert first.json()["status"] == "awaiting_consent"
        assert timezone.localdate(datetime.fromisoformat(first.json()["window_closes_at"])) == (
            date(2026, 10, 8)
        )
    with time_machine.travel(_at(2026, 10, 9, 0, 1), tick=False):
        late = _apply(client, agreement, "citizen2@demo.odr")
    assert late.status_code == 409
    assert late.json()["code"] == "confirmation_window_closed"
    assert "2026-10-08" in late.json()["detail"]
    assert ConfirmationRequest.objects.get().status == CR.AWAITING_CONSENT


def test_both_applying_on_the_moved_last_day_reach_the_court(demo, client):
    with time_machine.travel(_at(2026, 9, 1), tick=False):
        agreement = factories.agreement_in_force()
    with time_machine.travel(_at(2026, 10, 8, 9), tick=False):
        assert _apply(client, agreement, "citizen1@demo.odr").status_code == 200
        second = _apply(client, agreement, "citizen2@demo.odr")
    assert second.json()["status"] == "pending"
    # Submitted Thursday 10-08: the third day is Sunday 10-11, so Monday 10-12.
    accept = datetime.fromisoformat(second.json()["accept_deadline"])
    assert timezone.localdate(accept) == date(2026, 10, 12)


# --- the court's 3 days, 15 days and the extension --------------------------------------


def test_three_days_to_accept_over_a_weekend_end_on_monday():
    # Thursday 2026-11-05 + 3 = Sunday 11-08: the period ends on Monday 11-09.
    assert timezone.localdate(deadlines.accept_deadline(_at(2026, 11, 5))) == date(2026, 11, 9)
    # Monday + 3 = Thursday: no rest day, no move.
    assert timezone.localdate(deadlines.accept_deadline(_at(2026, 11, 9))) == date(2026, 11, 12)


def test_three_days_to_accept_over_national_day_end_after_the_holiday():
    # Tuesday 2026-09-29 + 3 = 10-02, a holiday; 10-03..10-07 too: it ends on 10-08.
    end = deadlines.accept_deadline(_at(2026, 9, 29))
    assert timezone.localdate(end) == date(2026, 10, 8)
    assert timezone.localtime(end).time().isoformat() == "23:59:59"


def test_an_adjusted_working_saturday_or_sunday_counts_as_a_working_day():
    # 2026-10-10 is a Saturday the State Council made a working day (调休).
    assert periods.is_working_day(date(2026, 10, 10))
    assert timezone.localdate(deadlines.accept_deadline(_at(2026, 10, 7))) == date(2026, 10, 10)
    # 2026-09-20 is a working Sunday: 15 days from 09-05 end on it.
    assert periods.is_working_day(date(2026, 9, 20))
    assert timezone.localdate(deadlines.rule_deadline(_at(2026, 9, 5))) == date(2026, 9, 20)


def test_the_court_periods_of_a_request_are_counted_with_holidays(demo):
    with time_machine.travel(_at(2026, 9, 20), tick=False):
        request = factories.confirmation_pending()
    with time_machine.travel(_at(2026, 9, 28), tick=False):
        request = factories.confirmation_accepted(request)
    # Docketed Monday 09-28: 15 days = 10-13, a Tuesday: no move.
    assert timezone.localdate(request.rule_deadline) == date(2026, 10, 13)
    with time_machine.travel(_at(2026, 10, 9), tick=False):
        services.confirmation_extend(
            request=request, actor=factories.demo_user(factories.JUDGE), reason="需要核实"
        )
        # The president approves (SPC rules on judicial confirmation, Art. 7).
        president = factories.make_user(org=request.court, role="president")
        extended = services.confirmation_extension_decide(
            request=request, actor=president, approve=True
        )
    # The extension: 10 more days = 10-23, a Friday.
    assert timezone.localdate(extended.rule_deadline) == date(2026, 10, 23)


def test_an_extension_ending_on_a_weekend_moves_to_monday():
    end = deadlines.extended(_at(2026, 11, 4, 23, 59), deadlines.EXTENSION_DAYS)
    # 11-04 + 10 = Saturday 11-14 → Monday 11-16.
    assert timezone.localdate(end) == date(2026, 11, 16)


# --- past the calendar -------------------------------------------------------------------


@override_settings(ODR_CALENDAR_STRICT=True)
def test_strict_mode_refuses_a_day_the_calendar_does_not_cover():
    with pytest.raises(periods.CalendarNotCovered):
        periods.last_day(date(2027, 1, 4), 3)
    with pytest.raises(DomainError) as refused:
        deadlines.accept_deadline(_at(2027, 1, 4))
    assert refused.value.code == "calendar_not_covered" and refused.value.status == 503
    assert "ODR_HOLIDAYS_FILE" in refused.value.message


def test_strict_mode_answers_503_and_records_nothing_when_the_window_runs_past_it(
    demo, client, settings, caplog
):
    with time_machine.travel(_at(2026, 12, 20), tick=False):
        agreement = factories.agreement_in_force()
        settings.ODR_CALENDAR_STRICT = True
        response = _apply(client, agreement, "citizen1@demo.odr")
        assert response.status_code == 503
        assert response.json()["code"] == "calendar_not_covered"
        assert "chinesecalendar" in response.json()["detail"]
        assert not ConfirmationRequest.objects.exists()
        assert any("not counted" in r.getMessage() for r in caplog.records)
        # The case page says so instead of failing.
        page = client.get(f"/disputes/{agreement.dispute_id}/")
        assert page.status_code == 200
        assert 'id="calendar-not-covered"' in page.content.decode()
        assert 'id="confirmation-apply"' not in page.content.decode()


def test_development_counts_weekends_only_past_the_calendar(settings):
    settings.ODR_CALENDAR_STRICT = False
    # Saturday 2027-01-02 + ... : weekends only, with a warning.
    assert periods.last_day(date(2027, 1, 6), 3) == date(2027, 1, 11)


def test_the_holidays_file_extends_the_calendar(demo, client, settings, tmp_path):
    supplement = tmp_path / "holidays.json"
    supplement.write_text(
        json.dumps(
            {"2027": {"holidays": ["2027-01-01", "2027-01-18"], "workdays": ["2027-01-16"]}}
        ),
        encoding="utf-8",
    )
    settings.ODR_HOLIDAYS_FILE = str(supplement)
    settings.ODR_CALENDAR_STRICT = True
    assert periods.covered_years()[1] >= 2027
    # Tuesday 2026-12-29 + 3 = 2027-01-01, a holiday; 01-02, 01-03 the weekend: Monday.
    assert periods.last_day(date(2026, 12, 29), 3) == date(2027, 1, 4)
    # Its adjusted working Saturday counts; its holiday Monday does not.
    assert periods.last_day(date(2027, 1, 13), 3) == date(2027, 1, 16)
    assert periods.last_day(date(2027, 1, 15), 3) == date(2027, 1, 19)
    with time_machine.travel(_at(2026, 12, 20), tick=False):
        agreement = factories.agreement_in_force()
        response = _apply(client, agreement, "citizen1@demo.odr")
    assert response.status_code == 200, response.content
    # 2026-12-20 + 30 = 2027-01-19, a Tuesday.
    closes = datetime.fromisoformat(response.json()["window_closes_at"])
    assert timezone.localdate(closes) == date(2027, 1, 19)


# --- the reminders count the same way ------------------------------------------------------


def test_the_window_reminder_counts_the_holiday_moved_end(demo, django_capture_on_commit_callbacks):
    with time_machine.travel(_at(2026, 9, 1), tick=False):
        agreement = factories.agreement_in_force()
    # 2026-10-01: a plain count would say the window closes today; it closes on 10-08.
    with (
        time_machine.travel(_at(2026, 10, 1, 9), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        mail.outbox.clear()
        sent = reminders.send_due(now=timezone.now())
    agreement.refresh_from_db()
    assert sent >= 2 and agreement.window_reminded_days == 7
    reminded = sorted(m.to[0] for m in mail.outbox if "2026-10-08" in m.body)
    assert reminded == ["citizen1@demo.odr", "citizen2@demo.odr"]
    # The day before the moved end, the last reminder; after it, none.
    with time_machine.travel(_at(2026, 10, 7, 9), tick=False):
        reminders.send_due(now=timezone.now())
    agreement.refresh_from_db()
    assert agreement.window_reminded_days == 1
    with time_machine.travel(_at(2026, 10, 8, 9) + timedelta(days=2), tick=False):
        mail.outbox.clear()
        reminders.send_due(now=timezone.now())
    assert not [m for m in mail.outbox if "2026-10-08" in m.body]
