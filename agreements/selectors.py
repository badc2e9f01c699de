"""Reads of agreements, already filtered by who is asking: an agreement is seen by whoever
sees its dispute (CONTRACT §3), and by nobody else (404, never 403)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import JSONField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import JSONArray

from agreements.models import Agreement, AgreementVersion, Signature
from odr import people
from odr import selectors as odr_selectors
from odr.errors import NotFound
from odr.idnumber import mask_id_number
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


def agreement_ref_column() -> Subquery:
    """A case's agreement reference as one column of a list's row (issue 14: read with
    the row, not in a query of its own): [id, status], or null; read by
    `agreement_ref_from_column`."""
    agreement = Agreement.objects.filter(dispute_id=OuterRef("pk")).values(
        ref=JSONArray("pk", "status")
    )
    return Subquery(agreement[:1], output_field=JSONField())


def agreement_ref_from_column(value: list[Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    pk, status = value
    return {"id": pk, "status": status}


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


@dataclass(frozen=True)
class Signer:
    """One who must sign the current version: a party (each applicant and each respondent
    who has not declined to mediate) or the mediator, with the signature given, if any."""

    key: str  # "party:<id>" or "mediator"
    role: str  # applicant | respondent | mediator
    name: str
    party_id: int | None
    user_id: int | None
    position: int = 0
    signature: Signature | None = None

    @property
    def signed(self) -> bool:
        return self.signature is not None

    @property
    def label(self) -> str:
        return str(Role(self.role).label)


def party_key(party_id: int | None) -> str:
    return f"party:{party_id}" if party_id is not None else ""


def signing_parties(agreement: Agreement) -> list[Party]:
    """The parties who sign, in document order: those frozen into the agreement when it
    was opened for signing; for a draft, every party who has not declined to mediate."""
    parties = list(agreement.dispute.parties.select_related("user__profile"))
    if agreement.parties:
        frozen = [d.get("party_id") for d in agreement.parties]
        by_id = {p.pk: p for p in parties}
        return [by_id[pk] for pk in frozen if pk in by_id]
    chosen = [p for p in parties if p.accepted is not False]
    return sorted(chosen, key=lambda p: (p.role != Party.Role.APPLICANT, p.position, p.pk))


def signer_party(agreement: Agreement, user: AbstractBaseUser) -> Party | None:
    """The party this user signs for, or None (not a party, or one who declined)."""
    if not user.is_authenticated:
        return None
    return next((p for p in signing_parties(agreement) if p.user_id == user.pk), None)


def signer_role(agreement: Agreement, user: AbstractBaseUser) -> str | None:
    """The role in which this user signs: their party's role, or mediator."""
    if not user.is_authenticated:
        return None
    party = signer_party(agreement, user)
    if party is not None:
        return party.role
    if agreement.dispute.mediator_id == user.pk:
        return Role.MEDIATOR
    return None


def signer_key(agreement: Agreement, user: AbstractBaseUser) -> str | None:
    """The signer's key: "party:<id>" for a party who signs, "mediator" for the mediator,
    else None."""
    party = signer_party(agreement, user)
    if party is not None:
        return party_key(party.pk)
    if user.is_authenticated and agreement.dispute.mediator_id == user.pk:
        return Role.MEDIATOR
    return None


def current_signatures(agreement: Agreement) -> list[Signature]:
    """The signatures that count: this version's, not voided, in signing order."""
    return list(
        agreement.signatures.filter(version=agreement.version, voided_at__isnull=True)
        .select_related("signer", "party")
        .order_by("signed_at", "pk")
    )


def _signature_key(signature: Signature) -> str:
    if signature.role == Role.MEDIATOR:
        return Role.MEDIATOR
    if signature.party_id is not None:
        return party_key(signature.party_id)
    # A signature from before parties were named on it: its signer's party.
    return f"user:{signature.signer_id}"


def signers(agreement: Agreement) -> list[Signer]:
    """Everyone who must sign this version, parties first (applicants, then respondents)
    and the mediator last, each with the signature given so far."""
    given = current_signatures(agreement)
    by_key = {_signature_key(s): s for s in given}
    # Once opened, each party is named as the frozen record names them.
    frozen = {d.get("party_id"): d.get("name", "") for d in agreement.parties or []}
    out = []
    for party in signing_parties(agreement):
        signature = by_key.get(party_key(party.pk)) or by_key.get(f"user:{party.user_id}")
        name = frozen.get(party.pk) or party.name
        name = name or (people.display_name(party.user) if party.user else "")
        out.append(
            Signer(
                key=party_key(party.pk),
                role=party.role,
                name=name,
                party_id=party.pk,
                user_id=party.user_id,
                position=party.position,
                signature=signature,
            )
        )
    mediator = agreement.dispute.mediator
    out.append(
        Signer(
            key=Role.MEDIATOR,
            role=Role.MEDIATOR,
            name=people.display_name(mediator),
            party_id=None,
            user_id=agreement.dispute.mediator_id,
            signature=by_key.get(Role.MEDIATOR),
        )
    )
    return out


def signed_keys(agreement: Agreement) -> set[str]:
    return {s.key for s in signers(agreement) if s.signed}


def parties_all_signed(agreement: Agreement) -> bool:
    """Every party who signs has signed this version (the mediator may sign now)."""
    return all(s.signed for s in signers(agreement) if s.role != Role.MEDIATOR)


def everyone_signed(agreement: Agreement) -> bool:
    return all(s.signed for s in signers(agreement))


def signed_roles(agreement: Agreement) -> set[str]:
    """The roles of which every signer has signed (a side with several parties counts
    only when all of them have)."""
    by_role: dict[str, list[bool]] = {}
    for s in signers(agreement):
        by_role.setdefault(s.role, []).append(s.signed)
    return {role for role, done in by_role.items() if all(done)}


def agreement_versions(agreement: Agreement) -> list[AgreementVersion]:
    # The page names each version's author: their profile comes in the same query.
    return list(agreement.versions.select_related("author__profile").order_by("number"))


def _party_row(identity: Any) -> dict[str, Any]:
    from odr.identity import ROLE_LABELS, describe, missing_particulars

    return {
        "party_id": identity.party_id,
        "key": party_key(identity.party_id),
        "role": identity.role,
        "role_label": str(Party.Role(identity.role).label),
        "role_label_zh": ROLE_LABELS.get(identity.role, identity.role),
        "kind": identity.kind,
        "name": identity.name,
        "id_number": identity.id_number,
        "id_number_masked": mask_id_number(identity.id_number),
        "credit_code": identity.credit_code,
        "phone": identity.phone,
        "address": identity.address,
        "representative": identity.representative,
        "agent": "、".join(a.name for a in identity.agents),
        # The lines as the documents print them, masked for the screen.
        "lines": describe(identity, masked=True),
        "missing": missing_particulars(identity),
    }


def agreement_parties(agreement: Agreement) -> list[dict[str, Any]]:
    """The parties as the agreement states them (document_parties: frozen once opened),
    for the pages and the API: name, kind, masked ID number, address, the masked lines."""
    return [_party_row(i) for i in document_parties(agreement)]


def parties_of(dispute: Dispute, details: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The dispute's parties as they stand now (those who declined left out), for the
    drafting page."""
    from odr.identity import identities_of

    return [_party_row(i) for i in identities_of(dispute, accepted_only=True)]


def party_names(agreement: Agreement) -> dict[str, str]:
    """ "party:<id>" → "申请人张三": how a term naming one party is shown."""
    from odr.identity import ROLE_LABELS

    return {
        party_key(i.party_id): f"{ROLE_LABELS.get(i.role, i.role)}{i.name}"
        for i in document_parties(agreement)
    }


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
    # A subquery rather than joins, like the parties' rule (issue 14): the list's query
    # keeps one row per case and the planner a plain `pk IN (...)`.
    return Q(
        pk__in=ConfirmationRequest.objects.filter(court_id__in=court_orgs)
        .exclude(status=before_court)
        .order_by()
        .values("agreement__dispute_id")
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
