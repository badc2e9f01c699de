"""Reads of agreements, already filtered by who is asking: an agreement is seen by whoever
sees its dispute (CONTRACT §3), and by nobody else (404, never 403)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet

from agreements.models import Agreement, AgreementVersion, Signature
from odr import selectors as odr_selectors
from odr.errors import NotFound
from odr.models import Dispute, Membership, Party

Role = Signature.Role
PARTY_ROLES = (Role.APPLICANT, Role.RESPONDENT)


def agreement_ref_for(dispute: Dispute) -> dict | None:
    return agreement_refs_by_dispute([dispute.pk]).get(dispute.pk)


def agreement_refs_by_dispute(dispute_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The agreement reference of many disputes in one query (for the API's case list)."""
    if not dispute_ids:
        return {}
    rows = Agreement.objects.filter(dispute_id__in=dispute_ids).values_list(
        "pk", "dispute_id", "status"
    )
    return {dispute_id: {"id": pk, "status": status} for pk, dispute_id, status in rows}


def agreements_visible_to(user: AbstractBaseUser) -> QuerySet[Agreement]:
    return Agreement.objects.filter(
        dispute__in=odr_selectors.disputes_visible_to(user).values("pk")
    ).select_related("dispute", "dispute__organisation", "dispute__mediator", "dispute__region")


def agreement_get_for(*, user: AbstractBaseUser, agreement_id: int) -> Agreement:
    agreement = agreements_visible_to(user).filter(pk=agreement_id).first()
    if agreement is None:
        raise NotFound()
    return agreement


def agreement_of_dispute(dispute: Dispute) -> Agreement | None:
    return Agreement.objects.filter(dispute=dispute).first()


def signer_role(agreement: Agreement, user: AbstractBaseUser) -> str | None:
    """The role in which this user signs: their party role, or mediator."""
    if not user.is_authenticated:
        return None
    dispute = agreement.dispute
    party = odr_selectors.party_of(dispute, user)
    if party is not None:
        return party.role
    if dispute.mediator_id == user.pk:
        return Role.MEDIATOR
    return None


def current_signatures(agreement: Agreement) -> list[Signature]:
    """The signatures that count: this version's, not voided, in signing order."""
    return list(
        agreement.signatures.filter(version=agreement.version, voided_at__isnull=True)
        .select_related("signer")
        .order_by("signed_at", "pk")
    )


def signed_roles(agreement: Agreement) -> set[str]:
    return set(
        agreement.signatures.filter(version=agreement.version, voided_at__isnull=True).values_list(
            "role", flat=True
        )
    )


def agreement_versions(agreement: Agreement) -> list[AgreementVersion]:
    # The page names each version's author: their profile comes in the same query.
    return list(agreement.versions.select_related("author__profile").order_by("number"))


def agreement_parties(agreement: Agreement) -> list[dict[str, Any]]:
    """The parties' basic information as the agreement states it: name, ID number (full
    and masked), phone and address."""
    return parties_of(agreement.dispute, agreement.party_details or {})


def parties_of(dispute: Dispute, details: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    parties = {p.role: p for p in dispute.parties.select_related("user__profile")}
    for role in (Party.Role.APPLICANT, Party.Role.RESPONDENT):
        party = parties.get(role)
        profile = getattr(party.user, "profile", None) if party and party.user else None
        out.append(
            {
                "role": role,
                "role_label": str(Party.Role(role).label),
                "name": ((profile.real_name if profile else "") or (party.name if party else "")),
                "id_number": profile.id_number if profile else "",
                "id_number_masked": profile.masked_id_number if profile else "",
                "phone": (profile.phone if profile else "") or (party.phone if party else ""),
                "address": str(details.get(role, {}).get("address", "")),
                "agent": party.agent_name if party else "",
            }
        )
    return out


def court_case_access(user: AbstractBaseUser, org_ids_by_role: dict[str, set[int]]) -> Q | None:
    """The cases a court's staff see (odr.composition's access rule): its clerks, who
    docket, and its judges, who rule (DESIGN.md §3), once the joint application is before
    their court (CONTRACT §3: `pending` is when "the court sees it"), not while one party
    alone has asked. Another court's staff see nothing."""
    from agreements.models import ConfirmationRequest

    court_orgs = org_ids_by_role.get(Membership.Role.CLERK, set()) | org_ids_by_role.get(
        Membership.Role.JUDGE, set()
    )
    if not court_orgs:
        return None
    before_court = ConfirmationRequest.Status.AWAITING_CONSENT
    return Q(agreement__confirmation_request__court_id__in=court_orgs) & ~Q(
        agreement__confirmation_request__status=before_court
    )


def document_parties(agreement) -> list:
    """The parties as the agreement's documents name them: the identity records frozen
    when the draft was opened for signing (Agreement.parties), else — a draft — the
    records as they stand now, those who declined to mediate left out. Every document
    (agreement, application, ruling) prints from this one list."""
    from odr.identity import PartyIdentity, identities_of

    if agreement.parties:
        return [PartyIdentity.from_dict(d) for d in agreement.parties]
    return identities_of(agreement.dispute, accepted_only=True)
