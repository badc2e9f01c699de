"""Reads of mediation sessions, filtered by who is asking."""

from __future__ import annotations

from typing import Any

from odr.models import Dispute
from sessions.models import MediationSession


def session_summaries_for(dispute: Dispute) -> list[dict[str, Any]]:
    return [
        {"id": s.pk, "status": s.status, "scheduled_at": s.scheduled_at, "room_url": s.room_url}
        for s in MediationSession.objects.filter(dispute=dispute).order_by("scheduled_at", "pk")
    ]
