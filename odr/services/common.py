"""What every odr service shares: the case's row lock, the context of the case's e-mails,
and the one path by which a dispute's status moves. Text is stored as odr.text.clean_text
makes it (the one cleaner: invisible and bidi characters, NUL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, models
from django.db.models.sql import InsertQuery

from odr.audit import Statement
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


def insert_statement(rows: list[models.Model]) -> Statement:
    """The INSERT the ORM's bulk_create sends for these new rows of one model (each
    field's pre_save and preparation as it does them), without sending it and without
    RETURNING: for a caller that sends it in the message of another statement (issue 14,
    point 4: a filing's invitations and task rows go with its audit event). Rows whose
    primary key the database gives are not read back: nothing may need their `pk`."""
    model = type(rows[0])
    opts = model._meta
    for row in rows:
        row._prepare_related_fields_for_save(operation_name="bulk_create")
    fields = [
        f
        for f in opts.concrete_fields
        if not f.generated and (f is not opts.pk or rows[0].pk is not None)
    ]
    query = InsertQuery(model)
    query.insert_values(fields, rows)
    [(sql, params)] = query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def inserted(rows: list[models.Model]) -> None:
    """The rows of an insert_statement are written: saved rows of this database now."""
    for row in rows:
        row._state.adding, row._state.db = False, connection.alias
