"""Every write of judicial confirmation (`confirmation`) and of the performance of an
agreement (`performance`). The public service functions are re-exported here, so callers
write `from agreements.court import services` and `services.confirmation_accept(...)`."""

from agreements.court.services.confirmation import (
    confirmation_accept,
    confirmation_consent,
    confirmation_decide,
    confirmation_extend,
    confirmation_record_deadline_reminder,
    confirmation_record_window_reminder,
    court_staff,
    deadline_recipients,
    request_context,
)
from agreements.court.services.performance import (
    agreements_needing_schedule,
    performance_confirm,
    performance_dispute,
    performance_mark_done,
    performance_record_reminder,
    performance_schedule,
    performance_schedule_missing,
)

__all__ = [
    "agreements_needing_schedule",
    "confirmation_accept",
    "confirmation_consent",
    "confirmation_decide",
    "confirmation_extend",
    "confirmation_record_deadline_reminder",
    "confirmation_record_window_reminder",
    "court_staff",
    "deadline_recipients",
    "performance_confirm",
    "performance_dispute",
    "performance_mark_done",
    "performance_record_reminder",
    "performance_schedule",
    "performance_schedule_missing",
    "request_context",
]
