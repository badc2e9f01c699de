"""Every write of judicial confirmation (`confirmation`) and of the performance of an
agreement (`performance`). The public service functions are re-exported here, so callers
write `from agreements.court import services` and `services.confirmation_accept(...)`."""

from agreements.court.services.acts import (
    RulingPreview,
    confirmation_extension_decide,
    confirmation_inquiry_record,
    confirmation_inquiry_schedule,
    confirmation_inquiry_sign,
    confirmation_ruling_issue,
    confirmation_ruling_preview,
    confirmation_supplement_answer,
    confirmation_supplement_ask,
    confirmation_supplement_lapse,
    confirmation_withdraw,
    confirmation_withdraw_allow,
)
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
    "RulingPreview",
    "agreements_needing_schedule",
    "confirmation_accept",
    "confirmation_consent",
    "confirmation_decide",
    "confirmation_extend",
    "confirmation_extension_decide",
    "confirmation_inquiry_record",
    "confirmation_inquiry_schedule",
    "confirmation_inquiry_sign",
    "confirmation_record_deadline_reminder",
    "confirmation_record_window_reminder",
    "confirmation_ruling_issue",
    "confirmation_ruling_preview",
    "confirmation_supplement_answer",
    "confirmation_supplement_ask",
    "confirmation_supplement_lapse",
    "confirmation_withdraw",
    "confirmation_withdraw_allow",
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
