"""Time limits of judicial confirmation, counted as the law counts them.

The day on which a period starts is not counted and a period ends at the end of its last
day (Civil Procedure Law Art. 85), so "within 30 days of the agreement taking effect"
means until 24:00 of the 30th day after the day it took effect, in local time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

ACCEPT_DAYS = 3  # the court decides whether to accept within 3 days
RULE_DAYS = 15  # and rules within 15 days of accepting
EXTENSION_DAYS = 10  # extendable once by 10 days
# The two-year period to apply for enforcement (Civil Procedure Law Art. 250).
ENFORCEMENT_YEARS = 2


def end_of_period(start: datetime, days: int) -> datetime:
    """The last instant of the `days`-th day after the (local) day of `start`."""
    last_day = timezone.localdate(start) + timedelta(days=days)
    return timezone.make_aware(datetime.combine(last_day, time(23, 59, 59)))


def confirmation_window_closes(effective_at: datetime) -> datetime:
    return end_of_period(effective_at, settings.ODR_CONFIRMATION_WINDOW_DAYS)


def days_left(deadline: datetime | None, now: datetime | None = None) -> int | None:
    """Whole days from today to the deadline's day (0 on the last day, negative after)."""
    if deadline is None:
        return None
    now = now or timezone.now()
    return (timezone.localdate(deadline) - timezone.localdate(now)).days
