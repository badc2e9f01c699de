"""Filing a dispute (routed, numbered, the respondent invited) and the evidence the
parties add to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import IO

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import selectors
from odr.audit import log_action
from odr.categories import Category
from odr.errors import DomainError, Forbidden, Invalid
from odr.evidence import CheckedFile, check_upload
from odr.models import CaseCounter, Dispute, Evidence, Organisation, Party, Region
from odr.people import display_name
from odr.services.common import lock
from odr.services.invitations import invitation_create, invitation_send
from odr.text import clean_text


def _next_case_number(organisation: Organisation, year: int) -> str:
    """Locks the organisation's counter for the year: two racing filings wait for each
    other rather than draw the same number (the unique constraint is the backstop)."""
    counter, _created = CaseCounter.objects.select_for_update().get_or_create(
        organisation=organisation, year=year
    )
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"({year}){organisation.case_code}第{counter.last:04d}号"


def _checked_respondent(applicant: AbstractBaseUser, name: str, email: str) -> tuple[str, str]:
    if not name:
        raise Invalid(_("Give the other side's name."), code="respondent_name_required")
    if not email:
        raise Invalid(
            _("Give the other side's e-mail so they can be invited."),
            code="respondent_email_required",
        )
    try:
        validate_email(email)
    except ValidationError as exc:
        raise Invalid(
            _("The other side's e-mail address is not valid."), code="invalid_email"
        ) from exc
    if email.lower() == (applicant.email or "").lower():
        raise Invalid(_("You cannot file a dispute against yourself."), code="self_dispute")
    return name, email


def dispute_file(
    *,
    applicant: AbstractBaseUser,
    category: str,
    title: str,
    description: str,
    region_code: str,
    respondent_name: str,
    respondent_email: str,
    respondent_phone: str = "",
    request: str = "",
    claim_amount: Decimal | None = None,
    evidence: list[tuple[IO[bytes], str, int | None, str]] | None = None,
) -> Dispute:
    """File a dispute, route it, number it and invite the respondent. Evidence files are
    (file, name, size, description); any bad one refuses the whole filing, so nothing is
    half-saved."""
    if category not in Category.values:
        raise Invalid(_("Choose a category from the list."), code="invalid_category")
    title = clean_text(title)
    description = clean_text(description, multiline=True)
    request = clean_text(request, multiline=True)
    if not title:
        raise Invalid(_("Give the dispute a short title."), code="title_required")
    if not description:
        raise Invalid(_("Describe what happened."), code="description_required")
    respondent_name, respondent_email = _checked_respondent(
        applicant, clean_text(respondent_name), clean_text(respondent_email)
    )
    if claim_amount is not None and claim_amount < 0:
        raise Invalid(_("The claim amount cannot be negative."), code="invalid_amount")
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise Invalid(_("Choose the place from the list."), code="invalid_region")
    organisation = selectors.route_dispute(region=region, category=category)
    if organisation is None:
        raise DomainError(
            "no_organisation",
            _("No mediation organisation covers this place and kind of dispute yet."),
            status=400,
        )
    # The filer may work for the organisation the case is routed to (a mediator with a
    # dispute of his own at home). The case is still filed there, as anyone's is: the
    # routing is the law's, not the filer's choice. But a party never acts for the
    # organisation on their own case (回避; People's Mediation Law Art. 22): the dispute
    # machine's coordinator and mediator moves exclude the parties (odr.transitions),
    # and a party is never given the case as its mediator (odr.services.intake).
    checked = [
        (f, check_upload(f, name=name, size=size), desc) for f, name, size, desc in (evidence or [])
    ]

    with _files_removed_on_error() as stored, transaction.atomic():
        now = timezone.now()
        dispute = Dispute.objects.create(
            case_number=_next_case_number(organisation, timezone.localdate(now).year),
            category=category,
            title=title[:200],
            description=description,
            request=request,
            claim_amount=claim_amount,
            region=region,
            organisation=organisation,
            filed_by=applicant,
            created_at=now,
        )
        Party.objects.create(
            dispute=dispute,
            role=Party.Role.APPLICANT,
            user=applicant,
            # The profile's name as another app may have stored it: cleaned here too.
            name=(clean_text(display_name(applicant)) or applicant.email)[:100],
            email=applicant.email,
            phone=getattr(getattr(applicant, "profile", None), "phone", ""),
            accepted=True,
            consented_online_at=now,
        )
        respondent = Party.objects.create(
            dispute=dispute,
            role=Party.Role.RESPONDENT,
            name=respondent_name[:100],
            email=respondent_email,
            phone=clean_text(respondent_phone)[:30],
        )
        invitation = invitation_create(party=respondent, now=now)
        log_action(
            action="dispute.file",
            obj=dispute,
            actor=applicant,
            dispute=dispute,
            after={
                "status": dispute.status,
                "case_number": dispute.case_number,
                "organisation": organisation.pk,
                "category": category,
                "region": region.code,
            },
        )
        for upload, info, desc in checked:
            stored.append(
                _store_evidence(
                    dispute=dispute, actor=applicant, upload=upload, info=info, description=desc
                )
            )
        invitation_send(invitation=invitation, dispute=dispute, sender=applicant)
    return dispute


def _store_evidence(
    *,
    dispute: Dispute,
    actor: AbstractBaseUser,
    upload: IO[bytes],
    info: CheckedFile,
    description: str,
) -> Evidence:
    item = Evidence(
        dispute=dispute,
        uploaded_by=actor,
        filename=info.filename,
        extension=info.extension,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
        description=clean_text(description)[:500],
    )
    item.file.save(info.filename, File(upload), save=False)
    item.save()
    log_action(
        action="evidence.add",
        obj=item,
        actor=actor,
        dispute=dispute,
        after={"filename": item.filename, "size": item.size, "sha256": item.sha256},
    )
    return item


@contextmanager
def _files_removed_on_error() -> Iterator[list[Evidence]]:
    """Files reach storage before the transaction commits; when it rolls back, they are
    removed again so that a refused filing leaves nothing behind."""
    stored: list[Evidence] = []
    try:
        yield stored
    except BaseException:
        for item in stored:
            item.file.storage.delete(item.file.name)
        raise


def evidence_add(
    *,
    dispute: Dispute,
    actor: AbstractBaseUser,
    upload: IO[bytes],
    name: str,
    size: int | None,
    description: str = "",
) -> Evidence:
    """A party adds evidence while the case is open."""
    if selectors.party_of(dispute, actor) is None:
        raise Forbidden(_("Only the parties can add evidence."), code="not_a_party")
    info = check_upload(upload, name=name, size=size)
    with _files_removed_on_error() as stored, transaction.atomic():
        # Under the row lock: a case closed a moment ago takes no more evidence.
        if not lock(dispute).is_open:
            raise DomainError(
                "case_closed", _("The case is closed: evidence can no longer be added.")
            )
        item = _store_evidence(
            dispute=dispute, actor=actor, upload=upload, info=info, description=description
        )
        stored.append(item)
    return item
