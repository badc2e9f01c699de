"""Reads of agreements and confirmation requests, filtered by who is asking."""

from __future__ import annotations

from agreements.models import Agreement
from odr.models import Dispute


def agreement_ref_for(dispute: Dispute) -> dict | None:
    agreement = Agreement.objects.filter(dispute=dispute).only("pk", "status").first()
    return {"id": agreement.pk, "status": agreement.status} if agreement else None
