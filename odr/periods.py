"""Statutory periods counted as the law counts them (Civil Procedure Law Art. 85): the
day a period starts is not counted; a period ends at the end of its last day; and when
the last day is a rest day or a public holiday, the period ends on the next working day,
counting the State Council's adjusted working days (调休 Saturdays are working days).

The calendar is the maintained `chinesecalendar` package, not a list of our own. It
covers the years the State Council has published; past them every function here raises
CalendarNotCovered rather than guess (a deadline one day early refuses a lawful
application). An operator who has the State Council's notice for a year before the
package does can give it in the JSON file ODR_HOLIDAYS_FILE:
`{"2027": {"holidays": ["2027-01-01", ...], "workdays": ["2027-02-20", ...]}}`; the
year then counts as covered. `manage.py check` warns 60 days before the coverage ends.

ODR_CALENDAR_STRICT (default: on unless DEBUG) is what makes an uncovered day raise. A
development machine, whose demo data and tests run on today's date, counts an uncovered
year's Saturdays and Sundays only and logs a warning instead; production never guesses."""

from __future__ import annotations

import functools
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

import logging

import chinese_calendar
from chinese_calendar import constants as calendar_data
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

WARN_DAYS_BEFORE_END = 60
logger = logging.getLogger(__name__)


class CalendarNotCovered(ImproperlyConfigured):
    """The working-day calendar does not reach this date: upgrade chinesecalendar or give
    the year in ODR_HOLIDAYS_FILE."""


@functools.cache
def _supplement(path: str) -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    if not path:
        return {}
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
    for year, days in raw.items():
        holidays = frozenset(date.fromisoformat(d) for d in days.get("holidays", []))
        workdays = frozenset(date.fromisoformat(d) for d in days.get("workdays", []))
        for d in holidays | workdays:
            if d.year != int(year):
                raise ImproperlyConfigured(f"ODR_HOLIDAYS_FILE: {d} is not in {year}")
        out[int(year)] = (holidays, workdays)
    return out


def _extra() -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    return _supplement(getattr(settings, "ODR_HOLIDAYS_FILE", "") or "")


def covered_years() -> tuple[int, int]:
    """The first and last year the calendar knows (package and supplement together)."""
    first = min(calendar_data.holidays).year
    last = max(calendar_data.holidays).year
    extra = _extra()
    while last + 1 in extra:
        last += 1
    return first, last


def is_working_day(day: date) -> bool:
    first, last = covered_years()
    if not first <= day.year <= last:
        if not getattr(settings, "ODR_CALENDAR_STRICT", True):
            logger.warning("working-day calendar does not cover %s: weekends only", day)
            return day.weekday() < 5
        raise CalendarNotCovered(
            f"The working-day calendar covers {first}–{last}; {day.isoformat()} is past it. "
            "Upgrade the chinesecalendar package (pip install -U chinesecalendar) or give the "
            "State Council's notice for the year in ODR_HOLIDAYS_FILE."
        )
    extra = _extra().get(day.year)
    if extra is not None and day.year > max(calendar_data.holidays).year:
        holidays, workdays = extra
        if day in workdays:
            return True
        if day in holidays:
            return False
        return day.weekday() < 5
    return chinese_calendar.is_workday(day)


def last_day(start: date, days: int) -> date:
    """The last day of a period of `days` days starting on `start` (not counted), moved
    on to the next working day when it falls on a rest day or holiday."""
    day = start + timedelta(days=days)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def end_of_period(start: datetime, days: int) -> datetime:
    """The last instant (23:59:59 local) of the period of `days` days from `start`."""
    day = last_day(timezone.localdate(start), days)
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def extended(deadline: datetime, days: int) -> datetime:
    """A deadline moved on by `days` more days (an extension, or the days a 补正 stopped
    the clock), its new last day again moved off a rest day."""
    return end_of_period(deadline, days)


@checks.register()
def check_calendar_coverage(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    _first, last = covered_years()
    today = timezone.localdate()
    if today.year > last:
        return [
            checks.Error(
                f"The working-day calendar ends with {last}: every statutory period would "
                "fail. Upgrade chinesecalendar or set ODR_HOLIDAYS_FILE.",
                id="odr.E020",
            )
        ]
    if today + timedelta(days=WARN_DAYS_BEFORE_END) > date(last, 12, 31):
        return [
            checks.Warning(
                f"The working-day calendar ends with {last}: periods that end after it "
                "will be refused until chinesecalendar is upgraded or ODR_HOLIDAYS_FILE "
                "gives the next year's holidays.",
                id="odr.W020",
            )
        ]
    return []
