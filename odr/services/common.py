"""What every odr service shares: the case's row lock, the context of the case's e-mails,
and the one path by which a dispute's status moves. Text is stored as odr.text.clean_text
makes it (the one cleaner: invisible and bidi characters, NUL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from odr.links import site_url
from odr.models import Dispute
from odr.transitions import MACHINE


def lock(dispute: Dispute) -> Dispute:
    # No select_related here: PostgreSQL refuses FOR UPDATE on the nullable side of an
    # outer join (the organisation and mediator are nullable).
    return Dispute.objects.select_for_update().get(pk=dispute.pk)


def case_context(dispute: Dispute) -> dict[str, Any]:
    """What every e-mail about a case says of it (the templates under odr/email/)."""
    return {
        "case_number": dispute.case_number,
        "title": dispute.title,
        "case_url": f"{site_url()}/disputes/{dispute.pk}/",
        "organisation": dispute.organisation.name if dispute.organisation else "",
    }


def apply(
    name: str,
    *,
    dispute: Dispute,
    actor: AbstractBaseUser | None,
    changes: dict[str, Any] | None = None,
    prepare: Callable[[Dispute], dict[str, Any] | None] | None = None,
    extra: dict[str, Any] | None = None,
) -> Dispute:
    """The one path by which a dispute's status moves: the kernel's apply on the dispute
    machine (lock, check under the lock, save, audit, `transitioned` after commit)."""
    return MACHINE.apply(
        name, instance=dispute, actor=actor, changes=changes, prepare=prepare, extra=extra
    )
