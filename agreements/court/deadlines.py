"""Time limits of judicial confirmation, counted as the law counts them, by the one
implementation of statutory periods (odr.periods).

The day on which a period starts is not counted and a period ends at the end of its last
day (Civil Procedure Law Art. 85), so "within 30 days of the agreement taking effect"
means until 24:00 of the 30th day after the day it took effect, in local time; and when
that day is a rest day or a public holiday, the period ends on the next working day,
counting the State Council's adjusted working days (a 调休 Saturday is a working day).
The 30 days to apply, the court's 3 days to accept, its 15 days to rule and the
extension all end that way.

Past the working-day calendar's coverage, production refuses to guess (odr.periods raises
CalendarNotCovered): here that becomes a DomainError (503, `calendar_not_covered`) that
tells the user the platform cannot count the period and the operator what to do, and it
is logged. It is never a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import periods
from odr.errors import DomainError

logger = logging.getLogger(__name__)
T = TypeVar("T")

ACCEPT_DAYS = 3  # the court decides whether to accept within 3 days
RULE_DAYS = 15  # and rules within 15 days of accepting
EXTENSION_DAYS = 10  # extendable once by 10 days, with the court president's approval
# The two-year period to apply for enforcement (Civil Procedure Law Art. 250).
ENFORCEMENT_YEARS = 2


class CalendarNotCoveredError(DomainError):
    """A period runs past the working-day calendar's coverage (odr.periods)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "calendar_not_covered",
            _(
                "The platform cannot count this statutory period: its calendar of public "
                "holidays does not reach the period's end yet. Nothing was recorded; try "
                "again later. The operator must upgrade the chinesecalendar package or give "
                "the State Council's holiday notice for the year in ODR_HOLIDAYS_FILE. (%(detail)s)"
            )
            % {"detail": detail},
            status=503,
        )


def _counted(compute: Callable[[], T]) -> T:
    try:
        return compute()
    except periods.CalendarNotCovered as exc:
        logger.error("statutory period not counted: %s", exc)
        raise CalendarNotCoveredError(str(exc)) from exc


def end_of_period(start: datetime, days: int) -> datetime:
    """The last instant of a period of `days` days from `start` (odr.periods)."""
    return _counted(lambda: periods.end_of_period(start, days))


def extended(deadline: datetime, days: int = EXTENSION_DAYS) -> datetime:
    """A deadline moved on by `days` (the extension; the days a 补正 stopped the clock),
    its new last day again moved off a rest day."""
    return _counted(lambda: periods.extended(deadline, days))


def confirmation_window_closes(effective_at: datetime) -> datetime:
    """The end of the 30 days to apply (People's Mediation Law Art. 33)."""
    return end_of_period(effective_at, settings.ODR_CONFIRMATION_WINDOW_DAYS)


def accept_deadline(submitted_at: datetime) -> datetime:
    """The court decides on acceptance within 3 days of the application."""
    return end_of_period(submitted_at, ACCEPT_DAYS)


def rule_deadline(accepted_at: datetime) -> datetime:
    """The court rules within 15 days of accepting."""
    return end_of_period(accepted_at, RULE_DAYS)


def days_left(deadline: datetime | None, now: datetime | None = None) -> int | None:
    """Whole days from today to the deadline's day (0 on the last day, negative after)."""
    if deadline is None:
        return None
    now = now or timezone.now()
    return (timezone.localdate(deadline) - timezone.localdate(now)).days
