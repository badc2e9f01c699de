"""The competent court for judicial confirmation (Civil Procedure Law 2023 Art. 205;
DESIGN.md §3).

- A court invited the mediation (Dispute.referring_court): the application goes to that
  court, and only to it (basis `inviting_court`).
- Otherwise the parties choose among the basic people's courts (Organisation.Kind.COURT)
  of a party's domicile (`party_domicile`), of where the property lies (`property`) or
  of where the mediation organisation sits (`organisation`, the default). A court's
  `region` is its area: the competent court for a place is the lowest court whose region
  is that place or one above it.
- When the dispute belongs to an intermediate court, the application goes to the
  intermediate people's court (Kind.INTERMEDIATE_COURT) over the chosen place (basis
  `intermediate`, the place kept in basis_region). A dispute belongs to one here when its
  claim amount is at or above ODR_INTERMEDIATE_COURT_THRESHOLD (default 500,000,000 yuan:
  the SPC's 2021 notice on intermediate courts' first-instance civil cases, 法发〔2021〕27号,
  for parties domiciled in the court's province; its 100,000,000 yuan line for a party
  from another province is not modelled: an operator may lower the setting).

The first party to apply chooses; the others join that choice. A court that is not a
basic court, unless the intermediate rule applies, is refused (422 `court_not_competent`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from odr.errors import DomainError
from odr.models import Dispute, Organisation, Region

Kind = Organisation.Kind


class Basis:
    """The grounds of CPL Art. 205 (ConfirmationRequest.Basis values)."""

    INVITING_COURT = "inviting_court"
    PARTY_DOMICILE = "party_domicile"
    PROPERTY = "property"
    ORGANISATION = "organisation"
    INTERMEDIATE = "intermediate"


# The grounds the parties choose among when no court invited the mediation.
CHOSEN = (Basis.ORGANISATION, Basis.PARTY_DOMICILE, Basis.PROPERTY)
# The grounds that name a place the parties give (with the region picker).
NEEDS_REGION = (Basis.PARTY_DOMICILE, Basis.PROPERTY)


@dataclass(frozen=True)
class Competent:
    """The court an application goes to, and why."""

    court: Organisation
    basis: str
    region: Region | None


def not_competent(message: str) -> DomainError:
    return DomainError("court_not_competent", message, status=422)


def intermediate_threshold() -> Decimal:
    return Decimal(str(settings.ODR_INTERMEDIATE_COURT_THRESHOLD))


def belongs_to_intermediate(dispute: Dispute) -> bool:
    """Whether the dispute is one an intermediate court hears at first instance."""
    amount = dispute.claim_amount
    return amount is not None and amount >= intermediate_threshold()


def lowest_court(region: Region) -> Organisation | None:
    """The lowest active court (basic or intermediate) whose area covers the region."""
    for place in region.ancestors_and_self():
        courts = Organisation.objects.filter(
            kind__in=(Kind.COURT, Kind.INTERMEDIATE_COURT), region=place, is_active=True
        ).order_by("kind", "pk")  # a basic court ("court") before an intermediate one
        court = courts.first()
        if court is not None:
            return court
    return None


def court_of_kind(region: Region, kind: str) -> Organisation | None:
    """The lowest active court of this kind whose area covers the region."""
    for place in region.ancestors_and_self():
        court = (
            Organisation.objects.filter(kind=kind, region=place, is_active=True)
            .order_by("pk")
            .first()
        )
        if court is not None:
            return court
    return None


def _place(dispute: Dispute, basis: str, region_code: str | None) -> Region:
    if basis == Basis.ORGANISATION:
        if dispute.organisation is None:
            raise DomainError(
                "no_competent_court",
                _("The case has no mediation organisation: choose another ground."),
                status=422,
            )
        return dispute.organisation.region
    if not region_code:
        raise DomainError(
            "region_required",
            _("Choose the place: the party's domicile or where the property lies."),
            status=422,
        )
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise DomainError("invalid_region", _("There is no such place."), status=422)
    return region


def competent_court(
    dispute: Dispute,
    *,
    basis: str | None = None,
    region_code: str | None = None,
    court_id: int | None = None,
) -> Competent:
    """The court for this dispute's agreement on this ground (default: where the
    mediation organisation sits), checked against CPL Art. 205. `court_id`, when the
    caller names a court, must be that court."""
    basis = basis or ""
    if dispute.referring_court_id is not None:
        court = dispute.referring_court
        if basis not in ("", Basis.INVITING_COURT) or (
            court_id is not None and court_id != court.pk
        ):
            raise not_competent(
                _(
                    "%(court)s invited this mediation: the application goes to that court "
                    "and no other (Civil Procedure Law Art. 205)."
                )
                % {"court": court.name}
            )
        return Competent(court=court, basis=Basis.INVITING_COURT, region=None)
    if basis in ("", Basis.INTERMEDIATE):
        basis = Basis.ORGANISATION
    if basis not in CHOSEN:
        raise DomainError(
            "invalid_basis",
            _("The ground is the organisation's place, a party's domicile or the property's."),
            status=422,
        )
    region = _place(dispute, basis, region_code)
    if belongs_to_intermediate(dispute):
        court = court_of_kind(region, Kind.INTERMEDIATE_COURT)
        if court is None:
            raise DomainError(
                "no_competent_court",
                _("No intermediate people's court covers %(place)s.") % {"place": region.name},
                status=422,
            )
        found = Competent(court=court, basis=Basis.INTERMEDIATE, region=region)
    else:
        court = lowest_court(region)
        if court is None:
            raise DomainError(
                "no_competent_court",
                _("No basic people's court covers %(place)s.") % {"place": region.name},
                status=422,
            )
        found = Competent(
            court=court, basis=basis, region=None if basis == Basis.ORGANISATION else region
        )
    if court_id is not None and court_id != found.court.pk:
        named = Organisation.objects.filter(pk=court_id).first()
        if named is None or not named.is_court:
            raise not_competent(_("There is no such court."))
        check_level(named, dispute)
        raise not_competent(
            _(
                "%(named)s has no jurisdiction over %(place)s: on this ground the "
                "application goes to %(court)s."
            )
            % {"named": named.name, "place": region.name, "court": found.court.name}
        )
    check_level(found.court, dispute)
    return found


def check_level(court: Organisation, dispute: Dispute) -> None:
    """A basic court, unless the dispute belongs to an intermediate court (then that)."""
    if belongs_to_intermediate(dispute):
        if court.kind != Kind.INTERMEDIATE_COURT:
            raise not_competent(
                _(
                    "The claim (%(amount)s yuan) belongs to an intermediate people's court: "
                    "%(court)s cannot confirm the agreement."
                )
                % {"amount": dispute.claim_amount, "court": court.name}
            )
        return
    if not court.is_basic_court:
        raise not_competent(
            _(
                "%(court)s is not a basic people's court: judicial confirmation goes to the "
                "basic court of a party's domicile, the property's location or the mediation "
                "organisation's location (Civil Procedure Law Art. 205)."
            )
            % {"court": court.name}
        )


def default_court(dispute: Dispute) -> Competent | None:
    """What the application page offers first: the inviting court, else the court where
    the mediation organisation sits; None when there is none."""
    try:
        return competent_court(dispute)
    except DomainError:
        return None


def basis_choices() -> list[tuple[str, str]]:
    """The grounds the parties may choose, for the application form."""
    return [
        (Basis.ORGANISATION, _("Where the mediation organisation is")),
        (Basis.PARTY_DOMICILE, _("A party's domicile")),
        (Basis.PROPERTY, _("Where the property lies")),
    ]
