"""A grid worker's report from rounds (issue 10, point 2; 小事不出村、大事不出镇).

A quarrel settled on the spot is a GridReport row with what was agreed (and its photos):
counted, not lost, and no case opened for a matter that is over. One not settled (or not
tried) is filed as a dispute of the village (channel `grid`, routed by place and category
like any filing, so it lands at the village committee, which may `escalate` it to the
township); the report points to it.

The phone makes the report's UUID: sent again (the outbox retrying after a lost answer),
the same report answers, nothing is created twice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.categories import Category
from odr.errors import DomainError, Forbidden, Invalid
from odr.evidence import check_upload
from odr.models import Dispute, Grid, GridReport, GridReportPhoto
from odr.services.filing import _files_removed_on_error, dispute_file
from odr.services.party_input import PartyInput
from odr.text import clean_text

MAX_PHOTOS = 6


@dataclass(frozen=True)
class Submitted:
    report: GridReport
    created: bool


def grid_report_submit(
    *,
    worker: AbstractBaseUser,
    client_uuid: str,
    grid_id: int | None,
    category: str,
    place: str,
    facts: str,
    parties: list[PartyInput],
    outcome: str,
    settlement: str = "",
    title: str = "",
    photos: list[tuple[IO[bytes], str, int | None]] | None = None,
) -> Submitted:
    """Record one report (idempotent by `client_uuid`). `parties`: the person who
    complains first, then the other side."""
    try:
        key = uuid.UUID(str(client_uuid))
    except ValueError as exc:
        raise Invalid(_("The report's id is not a UUID."), code="invalid_uuid") from exc
    existing = GridReport.objects.filter(client_uuid=key).first()
    if existing is not None:
        return _same(existing, worker)
    grids = Grid.objects.filter(workers=worker).select_related("village")
    grid = grids.filter(pk=grid_id).first() if grid_id else grids.first()
    if grid is None:
        raise Forbidden(
            _("Only a grid worker of this grid reports from it."), code="grid_worker_only"
        )
    if category not in Category.values:
        raise Invalid(_("Choose a category from the list."), code="invalid_category")
    if outcome not in GridReport.Outcome.values:
        raise Invalid(_("Say whether mediation on the spot was tried."), code="invalid_outcome")
    place, facts = clean_text(place), clean_text(facts, multiline=True)
    settlement = clean_text(settlement, multiline=True)
    if not place:
        raise Invalid(_("Say where it happened."), code="place_required")
    if not facts:
        raise Invalid(_("Describe what happened."), code="description_required")
    if len(parties) < 2:
        raise Invalid(_("Name both sides of the quarrel."), code="parties_required")
    settled = outcome == GridReport.Outcome.SETTLED
    if settled and not settlement:
        raise Invalid(_("Write down what the parties agreed."), code="settlement_required")
    if len(photos or []) > MAX_PHOTOS:
        raise Invalid(_("At most %(n)d photos.") % {"n": MAX_PHOTOS}, code="too_many_photos")
    # The same checks as evidence: by content, never by name.
    checked = [(f, check_upload(f, name=name, size=size)) for f, name, size in photos or []]
    recorded = [_party_record(p) for p in parties]
    try:
        with _files_removed_on_error() as stored, transaction.atomic():
            dispute = None
            if not settled:
                dispute = dispute_file(
                    applicant=worker,
                    on_behalf_of=parties[0],
                    channel=Dispute.Channel.GRID,
                    category=category,
                    title=title or _("Grid report: %(place)s") % {"place": place[:80]},
                    description=f"{facts}\n\n{_('Place')}: {place}",
                    region_code=grid.village.code,
                    respondents=parties[1:],
                    evidence=[(f, info.filename, info.size, "") for f, info in checked],
                )
                stored.extend(dispute.evidence.all())
            report = GridReport.objects.create(
                client_uuid=key,
                grid=grid,
                worker=worker,
                category=category,
                place=place[:300],
                facts=facts,
                parties=recorded,
                outcome=outcome,
                settlement=settlement,
                dispute=dispute,
            )
            if settled:
                for upload, info in checked:
                    photo = GridReportPhoto(
                        report=report,
                        filename=info.filename,
                        extension=info.extension,
                        content_type=info.content_type,
                        size=info.size,
                        sha256=info.sha256,
                    )
                    photo.file.save(info.filename, File(upload), save=False)
                    photo.save()
                    stored.append(photo)
            log_action(
                action="grid_report.submit",
                obj=report,
                actor=worker,
                dispute=dispute,
                after={"outcome": outcome, "grid": grid.pk, "photos": len(checked)},
            )
    except IntegrityError:
        # Two sends of the same report raced: the first one's row answers both.
        existing = GridReport.objects.filter(client_uuid=key).first()
        if existing is None:
            raise
        return _same(existing, worker)
    return Submitted(report, True)


def _same(report: GridReport, worker: AbstractBaseUser) -> Submitted:
    if report.worker_id != worker.pk:
        raise DomainError("uuid_taken", _("Another report already has this id."), status=409)
    return Submitted(report, False)


def _party_record(raw: PartyInput) -> dict[str, Any]:
    """A party as the report keeps it: the name, and the phone and ID number when known
    (a quarrel settled on the spot may leave no more; a filing checks more)."""
    name = clean_text(raw.name)[:100]
    if not name:
        raise Invalid(_("Give the name of each party."), code="party_name_required")
    return {
        "name": name,
        "phone": clean_text(raw.phone)[:30],
        "id_number": clean_text(raw.id_number)[:18],
    }
