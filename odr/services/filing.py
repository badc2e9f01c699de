"""Filing a dispute (routed, numbered, every other party invited) and the evidence the
parties add to it."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files import File
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import outbox, selectors
from odr.audit import log_action
from odr.categories import Category
from odr.errors import DomainError, Forbidden, Invalid
from odr.evidence import CheckedFile, check_upload
from odr.identity import birth_date_from_id, sex_from_id
from odr.idnumber import is_valid_id_number
from odr.models import (
    CaseCounter,
    Dispute,
    Evidence,
    Grid,
    Membership,
    Organisation,
    Party,
    Region,
    Window,
)
from odr.services.common import Statement, inserted, lock
from odr.services.duplicates import duplicates_found, duplicates_link
from odr.services.invitations import invitation_send, invitations_create
from odr.services.party_input import PartyInput, checked_parties, identity_require, particulars_of
from odr.text import clean_text
from odr.transitions import Viewer

# --- the place of a filing and the organisation it goes to, known per process ---------

# How long a process keeps a place and its routes. A change to a region or an
# organisation saved in this process is seen at once (the signals below); one saved in
# another process (the admin of another Daphne, a command) is seen within this time.
PLACES_SECONDS = 60.0
_PLACES_MAX = 10_000


@dataclass
class _Place:
    region: Region
    until: float
    routes: dict[str, Organisation | None] = field(default_factory=dict)


_places: dict[str, _Place] = {}


def forget_places(**_kwargs: Any) -> None:
    """Every place and route this process knows is read again at its next filing."""
    _places.clear()


for _model in (Region, Organisation):
    post_save.connect(forget_places, sender=_model, dispatch_uid=f"filing-places-{_model.__name__}")
    post_delete.connect(
        forget_places, sender=_model, dispatch_uid=f"filing-places-gone-{_model.__name__}"
    )


def _place_of(code: str) -> tuple[Region | None, _Place | None]:
    """The region of this code (a copy of its own row: no request shares an instance with
    another) and what this process knows of it. Regions and organisations change a few
    times a year and a county files thousands of cases: each process reads a place and
    its routes once a minute instead of twice a filing (issue 14, point 4: the region's
    row and the organisations along its path were 2 of a filing's 13 round trips)."""
    now = time.monotonic()
    place = _places.get(code)
    if place is None or place.until <= now:
        region = selectors.region_of_code(code)
        if region is None:
            return None, None  # not kept: codes nobody has are not worth a process's memory
        if len(_places) >= _PLACES_MAX:
            _places.clear()
        place = _places[code] = _Place(region=region, until=now + PLACES_SECONDS)
    return copy.copy(place.region), place


def _route_of(place: _Place, category: str) -> Organisation | None:
    """`selectors.route_dispute` for the place, once per process and category (a copy)."""
    if category not in place.routes:
        # Kept on the place, not on the process's table: a route read while the table
        # was cleared is forgotten with the place it was read for.
        place.routes[category] = selectors.route_dispute(region=place.region, category=category)
    organisation = place.routes[category]
    return copy.copy(organisation) if organisation is not None else None


def _next_case_number(organisation: Organisation, year: int) -> str:
    """One statement draws the number: the organisation's counter for the year is made
    at its first case or moved on by one. Two racing draws wait for each other rather
    than take the same number (the unique constraint on the case number is the backstop).

    On PostgreSQL, outside any transaction (a filing by the API, the filing page, the
    reception), the statement is a transaction of its own: the counter's row is locked
    for that one statement, not until the filing commits (issue 14, point 4: with several
    clients 81-92% of the busy database processes waited on it). Its commit does not
    wait for its WAL flush (`synchronous_commit` off for that transaction only): the
    filing's own commit, later in the same WAL, flushes it with the filing; a crash
    before then loses the number and the filing together. The price: a filing that fails
    after the draw leaves its number unused, a gap in the organisation's series for the
    year (numbers stay unique and increasing). Inside a caller's transaction (a grid
    report, a hotline ticket) and on SQLite (one writer at a time anyway) the draw
    belongs to the filing's transaction and its row stays locked to the commit, as it
    was: a filing that rolls back gives its number back."""
    quote = connection.ops.quote_name
    table, last = quote(CaseCounter._meta.db_table), quote("last")
    org, yr = quote("organisation_id"), quote("year")
    upsert = f"ON CONFLICT ({org}, {yr}) DO UPDATE SET {last} = {table}.{last} + 1 RETURNING {last}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # set_config(..., true) holds for this statement's own transaction only.
            cursor.execute(
                "WITH quick AS (SELECT set_config('synchronous_commit', 'off', true)) "
                f"INSERT INTO {table} ({org}, {yr}, {last}) SELECT %s, %s, 1 FROM quick " + upsert,
                [organisation.pk, year],
            )
        else:
            # PostgreSQL and SQLite (3.35+) both speak this upsert.
            cursor.execute(
                f"INSERT INTO {table} ({org}, {yr}, {last}) VALUES (%s, %s, 1) " + upsert,
                [organisation.pk, year],
            )
        (number,) = cursor.fetchone()
    return f"({year}){organisation.case_code}第{number:04d}号"


def dispute_file(
    *,
    applicant: AbstractBaseUser,
    category: str,
    title: str,
    description: str,
    region_code: str,
    respondent_name: str = "",
    respondent_email: str = "",
    respondent_phone: str = "",
    respondents: list[PartyInput] | None = None,
    co_applicants: list[PartyInput] | None = None,
    real_name: str = "",
    id_number: str = "",
    request: str = "",
    claim_amount: Decimal | None = None,
    evidence: list[tuple[IO[bytes], str, int | None, str]] | None = None,
    on_behalf_of: PartyInput | None = None,
    channel: str = Dispute.Channel.ONLINE,
    window: Window | None = None,
    received_at: datetime | None = None,
) -> Dispute:
    """File a dispute, route it, number it and invite every other party: each respondent
    and each co-applicant gets its own invitation (by e-mail when it has an address; a
    party known by phone only gets a link the filer passes on). `respondents` (several)
    or the older `respondent_name`/`_email`/`_phone` (one) name the other side.

    The filer gives their real name and resident ID number first (`real_name` and
    `id_number` here are saved to their profile): their Party row carries the particulars
    a court names them by. Evidence files are (file, name, size, description); any bad
    input refuses the whole filing, so nothing is half-saved.

    Staff file for someone else (issue 10): a centre's reception for a walk-in visitor
    (`channel` walk_in, the visitor's real name, ID number and phone in `on_behalf_of`,
    optionally the `window` that takes it), a grid worker for the people of their grid
    (`grid`), the hotline bridge for a caller (`hotline`). `applicant` is then the staff
    member who files (filed_by); the applicant's Party row has no account. Every filing
    is matched against the open cases of its place (odr.services.duplicates).

    A hotline ticket (`channel` hotline, filed by the bridge's service account for the
    caller in `on_behalf_of`) may name no one else (`respondents=[]`): the caller reports
    a matter and staff make the first contact, so with no one to wait for the case goes
    straight to its organisation's intake. `received_at` is when the matter came in (the
    ticket's arrival), now by default."""
    filing_for = _filing_for(
        filer=applicant, channel=channel, on_behalf_of=on_behalf_of, window=window
    )
    if category not in Category.values:
        raise Invalid(_("Choose a category from the list."), code="invalid_category")
    title = clean_text(title)
    description = clean_text(description, multiline=True)
    request = clean_text(request, multiline=True)
    if not title:
        raise Invalid(_("Give the dispute a short title."), code="title_required")
    if not description:
        raise Invalid(_("Describe what happened."), code="description_required")
    if respondents is None:
        respondents = [
            PartyInput(name=respondent_name, email=respondent_email, phone=respondent_phone)
        ]
    if claim_amount is not None and claim_amount < 0:
        raise Invalid(_("The claim amount cannot be negative."), code="invalid_amount")
    # Its own row: its stored path names the regions routing reads organisations at, its
    # stored full name names the place in the answer (known to the process: _place_of).
    region, place = _place_of(region_code)
    if region is None or place is None:
        raise Invalid(_("Choose the place from the list."), code="invalid_region")
    given_id = clean_text(id_number).upper()
    if given_id and not is_valid_id_number(given_id):
        raise Invalid(
            _("The resident ID number is not valid: check the 18 characters."),
            code="invalid_id_number",
        )
    profile = selectors.profile_of(applicant) if filing_for is None else None
    filer_id = filing_for.fields.get("id_number", "") if filing_for else ""
    co_parties, respondent_parties = checked_parties(
        filer=applicant,
        filer_id_number=filer_id or given_id or (profile.id_number if profile else ""),
        co_applicants=list(co_applicants or []),
        respondents=list(respondents),
        respondent_required=channel != Dispute.Channel.HOTLINE,
    )
    organisation = (
        filing_for.organisation
        if filing_for and filing_for.organisation
        else _route_of(place, category)
    )
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

    now = timezone.now()
    filed_at = received_at or now
    year = timezone.localdate(now).year
    identity_given = bool(clean_text(real_name) or given_id)
    if filing_for is None and not identity_given:
        # Nothing to save: a filer without a real name and ID number is refused before
        # a number is drawn (no gap for a refusal the filing page sees every day).
        profile = identity_require(user=applicant, profile=profile)
    # On PostgreSQL, outside a caller's transaction, the number is drawn now, in its own
    # one-statement transaction: the organisation's counter is not held while the filing
    # runs (see _next_case_number; a filing that fails from here leaves a gap).
    case_number = (
        _next_case_number(organisation, year)
        if connection.vendor == "postgresql" and not connection.in_atomic_block
        else None
    )

    with _files_removed_on_error() as stored, transaction.atomic():
        # The name and ID number typed on the filing page reach the profile with the
        # filing, or not at all.
        if filing_for is None:
            if identity_given:
                profile = identity_require(
                    user=applicant, real_name=real_name, id_number=given_id, profile=profile
                )
            applicant_party = {
                **particulars_of(applicant, profile),
                "user": applicant,
                "email": applicant.email,
            }
        else:
            applicant_party = filing_for.fields
        # No one else to wait for (a hotline caller's report): straight to intake.
        straight_to_intake = not respondent_parties
        invited = [
            Party(role=role, position=position, **fields)
            for role, parties, first in (
                (Party.Role.APPLICANT, co_parties, 1),
                (Party.Role.RESPONDENT, respondent_parties, 0),
            )
            for position, fields in enumerate(parties, start=first)
        ]
        parties = [
            Party(
                role=Party.Role.APPLICANT,
                position=0,
                **applicant_party,
                accepted=True,
                # Agreed at the window or to the grid worker, in person: online
                # mediation is asked of them when a session is planned.
                consented_online_at=now if filing_for is None else None,
            ),
            *invited,
        ]
        # The open cases this one may repeat are searched before a number drawn in this
        # transaction: the organisation's counter is not held while the place is searched.
        found = duplicates_found(region_id=region.pk, filed_at=filed_at, parties=parties)
        # What follows is only the rows the filing writes, each kind in one statement;
        # from log_action on, the audit chain's head is locked until the commit (and the
        # organisation's counter too when the number was drawn here).
        dispute = Dispute.objects.create(
            case_number=case_number or _next_case_number(organisation, year),
            category=category,
            title=title[:200],
            description=description,
            request=request,
            claim_amount=claim_amount,
            region=region,
            organisation=organisation,
            filed_by=applicant,
            created_at=filed_at,
            channel=channel,
            window=window,
            **(
                {"status": Dispute.Status.AWAITING_INTAKE, "intake_at": now}
                if straight_to_intake
                else {}
            ),
        )
        for party in parties:
            party.dispute = dispute
        Party.objects.bulk_create(parties)
        _parties_known(dispute, parties)
        # Nothing to write after the event (no possible duplicate to link, no evidence):
        # on PostgreSQL, outside a caller's transaction, its statement carries the commit
        # and the chain's head is free as soon as the commit is on disk (odr.audit). The
        # invitations and their task rows then go in the event's own message, before it
        # (issue 14, point 4: two round trips and two ORM saves less); otherwise each in
        # a statement of its own, before the event.
        last = not found and not checked
        along: list[Statement] | None = [] if last else None
        invitations = invitations_create(parties=invited, now=now, along=along)
        # The invitations' task rows before the audit event: the chain's head, which every
        # audited write of the platform shares, is held for the event and the commit only.
        with outbox.held() if last else nullcontext() as tasks:
            for invitation in invitations:
                invitation_send(invitation=invitation, dispute=dispute, sender=applicant)
        if last:
            along += tasks.statements
        log_action(
            action="dispute.file",
            obj=dispute,
            actor=applicant,
            dispute=dispute,
            case_is_new=True,  # inserted just above: no one else can hold its row
            ends_transaction=last,
            along=along or (),
            after={
                "status": dispute.status,
                "case_number": dispute.case_number,
                "organisation": organisation.pk,
                "category": category,
                "region": region.code,
                "co_applicants": len(co_parties),
                "respondents": len(respondent_parties),
                "channel": channel,
                "window_name": window.name if window else "",
            },
        )
        if last:
            inserted(invitations)
            tasks.sent()
            return dispute  # the transaction is over: nothing may follow the event
        duplicates_link(dispute=dispute, found=found, case_is_new=True)
        for upload, info, desc in checked:
            stored.append(
                _store_evidence(
                    dispute=dispute, actor=applicant, upload=upload, info=info, description=desc
                )
            )
    return dispute


def _parties_known(dispute: Dispute, parties: list[Party]) -> None:
    """The filing wrote every party of the case in one statement, in the order the
    model's ordering gives (applicants by position, then respondents): `dispute.parties`
    answers with them as a prefetch would, without reading them back (the API's answer,
    the receipt, `dispute.applicant`; issue 14)."""
    queryset = dispute.parties.all()
    queryset._result_cache = list(parties)
    queryset._prefetch_done = True
    dispute._prefetched_objects_cache = {"parties": queryset}


def filer_viewer(dispute: Dispute, user: AbstractBaseUser) -> Viewer | None:
    """Who the answer to a filing is for, without reading their memberships when they
    are a party of the case they filed (a citizen online): every move an organisation's
    role gives (a coordinator's, a mediator's, a window's, the hotline desk's) excludes
    the case's parties (回避, odr.transitions), so their roles add no action to it and
    the answer's `actions` are those of anyone who is that party (issue 14, point 4: one
    query less per filing). Staff filing for someone else are no party: None, and the
    answer reads their roles as before."""
    if not user.is_authenticated or not any(p.user_id == user.pk for p in dispute.parties.all()):
        return None
    return Viewer(user.pk, frozenset(), frozenset())


@dataclass(frozen=True)
class _FilingFor:
    """A filing by staff for someone else: the applicant's Party fields and the
    organisation it is filed at (None: routed by place and category)."""

    fields: dict[str, Any]
    organisation: Organisation | None


def _filing_for(
    *,
    filer: AbstractBaseUser,
    channel: str,
    on_behalf_of: PartyInput | None,
    window: Window | None,
) -> _FilingFor | None:
    """Who may file through which channel (CONTRACT §3: "staff add `applicant` and
    `channel`"): a citizen files online for themselves only; a centre's reception files
    walk-ins at its centre; a grid worker files for their grid's village."""
    if channel not in Dispute.Channel.values:
        raise Invalid(_("Unknown channel."), code="invalid_channel")
    if channel == Dispute.Channel.ONLINE:
        if on_behalf_of is not None:
            raise Forbidden(
                _("Only reception staff and grid workers file for someone else."),
                code="staff_only",
            )
        return None
    organisation = None
    if channel == Dispute.Channel.WALK_IN:
        centres = selectors.organisations_of(filer, Membership.Role.RECEPTION)
        if not centres:
            raise Forbidden(
                _("Only a centre's reception staff file for a walk-in visitor."),
                code="reception_only",
            )
        # The visitor came to this centre ("at most one place to go"): the case is the
        # centre's, whichever window takes it.
        organisation = window.organisation if window else centres[0]
        if window is not None and (
            window.organisation_id not in {c.pk for c in centres} or not window.is_active
        ):
            raise Invalid(_("Choose one of your centre's windows."), code="invalid_window")
    elif channel == Dispute.Channel.GRID and not Grid.objects.filter(workers=filer).exists():
        raise Forbidden(_("Only a grid worker files a grid report."), code="grid_worker_only")
    elif channel == Dispute.Channel.HOTLINE and getattr(filer, "hotline_token", None) is None:
        # Only the bridge's service account (its token checked by its endpoint) files a
        # 12345 ticket; token_authenticate reads the account with its token.
        raise Forbidden(_("Only the 12345 hotline files a hotline ticket."), code="hotline_only")
    if window is not None and channel != Dispute.Channel.WALK_IN:
        raise Invalid(_("Only the reception hands a case to a window."), code="invalid_window")
    if on_behalf_of is None:
        raise Invalid(
            _("Give the applicant: the person the case is filed for."), code="applicant_required"
        )
    return _FilingFor(
        fields=applicant_fields(on_behalf_of, id_required=channel == Dispute.Channel.WALK_IN),
        organisation=organisation,
    )


def applicant_fields(raw: PartyInput, *, id_required: bool) -> dict[str, Any]:
    """The Party fields of an applicant without an account: a real name, a mobile phone
    (the receipt and the case's news reach them by it) and, at a window, the resident ID
    number the visitor shows (issue 10: "with their real name, ID and phone")."""
    name, phone = clean_text(raw.name), clean_text(raw.phone)
    id_number = clean_text(raw.id_number).upper().replace(" ", "")
    if not name:
        raise Invalid(_("Give the applicant's real name."), code="applicant_name_required")
    if not phone:
        raise Invalid(_("Give the applicant's phone number."), code="applicant_phone_required")
    if id_required and not id_number:
        raise Invalid(_("Give the applicant's resident ID number."), code="applicant_id_required")
    if id_number and not is_valid_id_number(id_number):
        raise Invalid(
            _("The applicant's resident ID number is not valid: check the 18 characters."),
            code="invalid_id_number",
        )
    fields: dict[str, Any] = {
        "kind": Party.Kind.PERSON,
        "name": name[:100],
        "phone": phone[:30],
        "email": clean_text(raw.email),
        "address": clean_text(raw.address)[:300],
        "id_number": id_number,
    }
    if id_number:
        fields["sex"] = sex_from_id(id_number)
        fields["birth_date"] = birth_date_from_id(id_number)
    return fields


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
