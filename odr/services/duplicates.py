"""Possible duplicates (issue 10, point 4): a filing, a grid report or a hotline ticket that
names a party of an open case of the same village (by phone or resident ID number) within
30 days is linked to it, for staff to merge or keep apart, never silently opened twice.

`duplicates_found` and `duplicates_link` are called by odr.services.filing.dispute_file
inside the filing's transaction, so every way a case comes in (online, window, grid,
hotline) is matched by the same rule."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.audit import log_action
from odr.errors import DomainError, NotFound
from odr.models import Dispute, DuplicateLink, Party, phone_key_of
from odr.services.common import apply
from odr.transitions import OPEN, Viewer, _coordinator

WINDOW_DAYS = 30


Found = dict[int, tuple[str, set[str]]]  # original case's id: (its number, matched on)


def duplicates_found(
    *, region_id: int, filed_at: datetime, parties: list[Party], exclude: int | None = None
) -> Found:
    """The open cases of the region filed in the 30 days before `filed_at` that have a
    party with one of these parties' phone numbers or ID numbers. One indexed query
    returns only the parties that match (by the phone's digits, `phone_key`, or the ID
    number; issue 14): what it costs does not grow with the place's caseload. The
    parties need not be saved yet: the filing asks before it draws its case number, so
    the organisation's counter is not held while it searches."""
    phones = {phone_key_of(p.phone) for p in parties if p.phone} - {""}
    ids = {p.id_number.upper() for p in parties if p.id_number}
    if not phones and not ids:
        return {}
    candidates = (
        Party.objects.filter(Q(phone_key__in=phones) | Q(id_number__in=ids))
        .filter(
            dispute__region_id=region_id,
            dispute__status__in=list(OPEN),
            dispute__created_at__gte=filed_at - timedelta(days=WINDOW_DAYS),
        )
        .order_by()  # not the parties' ordering: a sort over a join for nothing
        .values_list("dispute_id", "dispute__case_number", "phone_key", "id_number")
    )
    if exclude is not None:
        candidates = candidates.exclude(dispute_id=exclude)
    matched: Found = {}
    for dispute_id, case_number, key, id_number in candidates:
        on = set()
        if key and key in phones:
            on.add("phone")
        if id_number and id_number.upper() in ids:
            on.add("id_number")
        matched.setdefault(dispute_id, (case_number, set()))[1].update(on)
    return matched


def duplicates_link(
    *,
    dispute: Dispute,
    parties: list[Party] | None = None,
    found: Found | None = None,
    case_is_new: bool = False,
) -> list[DuplicateLink]:
    """Link `dispute` (just filed) to each open case it may repeat (`duplicates_found`,
    asked here unless the caller `found` them already), each link audited. `case_is_new`:
    the caller's transaction inserted the case (odr.audit.log_action)."""
    if found is None:
        found = duplicates_found(
            region_id=dispute.region_id,
            filed_at=dispute.created_at,
            parties=parties or [],
            exclude=dispute.pk,
        )
    matched = found
    if not matched:
        return []
    links = DuplicateLink.objects.bulk_create(
        [
            DuplicateLink(dispute=dispute, original_id=pk, matched_on=sorted(on))
            for pk, (_number, on) in sorted(matched.items())
        ]
    )
    for link in links:
        log_action(
            action="duplicate.link",
            obj=link,
            dispute=dispute,
            case_is_new=case_is_new,
            after={"original": matched[link.original_id][0], "matched_on": link.matched_on},
        )
    return links


def _decidable(*, link_id: int, dispute: Dispute, actor: AbstractBaseUser) -> DuplicateLink:
    link = (
        DuplicateLink.objects.select_related("original").filter(pk=link_id, dispute=dispute).first()
    )
    if link is None:
        raise NotFound()
    if not _coordinator(dispute, Viewer.of(actor)):
        raise DomainError(
            "action_not_allowed",
            _("Only the organisation's coordinator decides about a possible duplicate."),
            status=403,
        )
    if link.decision != DuplicateLink.Decision.OPEN:
        raise DomainError("already_decided", _("This possible duplicate is already decided."))
    return link


def duplicate_keep_apart(
    *, dispute: Dispute, link_id: int, actor: AbstractBaseUser
) -> DuplicateLink:
    """Two matters after all: the link is closed and both cases go on."""
    with transaction.atomic():
        link = _decidable(link_id=link_id, dispute=dispute, actor=actor)
        link.decision = DuplicateLink.Decision.KEPT_APART
        link.decided_by, link.decided_at = actor, timezone.now()
        link.save(update_fields=["decision", "decided_by", "decided_at"])
        log_action(
            action="duplicate.keep_apart",
            obj=link,
            actor=actor,
            dispute=dispute,
            after={"original": link.original.case_number, "decision": link.decision},
        )
    return link


def duplicate_merge(*, dispute: Dispute, link_id: int, actor: AbstractBaseUser) -> DuplicateLink:
    """The same matter: this (newer) case closes through the dispute machine's `merge`
    (withdrawn, its reason naming the case that goes on), the open case carries on. The
    original must still be open: merging into a closed case would lose the matter."""
    with transaction.atomic():
        link = _decidable(link_id=link_id, dispute=dispute, actor=actor)
        original = link.original
        if not original.is_open:
            raise DomainError(
                "original_closed",
                _("Case %(number)s is closed: keep this one apart instead.")
                % {"number": original.case_number},
            )
        reason = _("Merged into case %(number)s.") % {"number": original.case_number}
        apply(
            "merge",
            dispute=dispute,
            actor=actor,
            changes={"closed_at": timezone.now(), "closing_reason": reason},
            extra={"original": original.case_number, "reason": reason},
        )
        link.decision = DuplicateLink.Decision.MERGED
        link.decided_by, link.decided_at = actor, timezone.now()
        link.save(update_fields=["decision", "decided_by", "decided_at"])
    return link
