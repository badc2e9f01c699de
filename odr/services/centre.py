"""The one-stop centre's reception (issue 10, point 1): a walk-in visitor registered as a
visit (counted whether or not a dispute is filed), the dispute filed for them at a window,
the receipt texted to them, and the case handed between the centre's windows through the
dispute machine (one record, one case number, one timeline, never re-filed)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr import selectors, sms
from odr.audit import log_action
from odr.errors import Forbidden, Invalid, NotFound
from odr.idnumber import is_valid_id_number
from odr.models import Dispute, Membership, Visit, Window
from odr.services.common import apply
from odr.services.filing import dispute_file
from odr.services.party_input import PartyInput
from odr.text import clean_text
from odr.transitions import MACHINE


def _reception_centre(staff: AbstractBaseUser) -> int:
    centres = selectors.user_org_ids(staff, Membership.Role.RECEPTION)
    if not centres:
        raise Forbidden(
            _("Only a centre's reception staff register visitors."), code="reception_only"
        )
    return min(centres)


def visit_register(
    *,
    staff: AbstractBaseUser,
    name: str,
    purpose: str,
    phone: str = "",
    id_number: str = "",
) -> Visit:
    """Count one walk-in visitor (来访): name, phone, ID number (optional), purpose, the
    time and who received them."""
    organisation_id = _reception_centre(staff)
    name, purpose = clean_text(name), clean_text(purpose, multiline=True)
    phone, id_number = clean_text(phone), clean_text(id_number).upper().replace(" ", "")
    if not name:
        raise Invalid(_("Give the visitor's name."), code="visitor_name_required")
    if not purpose:
        raise Invalid(_("Say what the visitor came for."), code="purpose_required")
    if id_number and not is_valid_id_number(id_number):
        raise Invalid(
            _("The resident ID number is not valid: check the 18 characters."),
            code="invalid_id_number",
        )
    with transaction.atomic():
        visit = Visit.objects.create(
            organisation_id=organisation_id,
            staff=staff,
            name=name[:100],
            phone=phone[:30],
            id_number=id_number,
            purpose=purpose,
        )
        log_action(action="visit.register", obj=visit, actor=staff, after={"visit": visit.pk})
    return visit


def walk_in_file(
    *,
    staff: AbstractBaseUser,
    visit: Visit | None,
    applicant: PartyInput,
    window: Window | None,
    category: str,
    title: str,
    description: str,
    region_code: str,
    respondents: list[PartyInput],
    request: str = "",
    claim_amount: Decimal | None = None,
) -> Dispute:
    """File for a walk-in visitor at the reception's centre (channel walk_in), link the
    visit to the case, and text the visitor the receipt (case number, window, where to go,
    what to bring)."""
    with transaction.atomic():
        if visit is not None:
            visit = Visit.objects.select_for_update().get(pk=visit.pk)
            if visit.staff_id != staff.pk and visit.organisation_id not in selectors.user_org_ids(
                staff, Membership.Role.RECEPTION
            ):
                raise NotFound()
            if visit.dispute_id is not None:
                raise Invalid(
                    _("A dispute is already filed for this visit."), code="visit_already_filed"
                )
        dispute = dispute_file(
            applicant=staff,
            on_behalf_of=applicant,
            channel=Dispute.Channel.WALK_IN,
            window=window,
            category=category,
            title=title,
            description=description,
            region_code=region_code,
            respondents=respondents,
            request=request,
            claim_amount=claim_amount,
        )
        if visit is not None:
            visit.dispute = dispute
            visit.save(update_fields=["dispute"])
        receipt_text(dispute=dispute)
    return dispute


def receipt_text(*, dispute: Dispute) -> bool:
    """The visitor's receipt by text message, after the commit (odr.sms)."""
    applicant = dispute.applicant
    if applicant is None or not applicant.phone:
        return False
    window = dispute.window
    receipt = {
        "case_number": dispute.case_number,
        "window": window.name if window else "",
        "location": window.location if window else "",
        "bring": window.bring if window else "",
    }
    # A text (odr/sms/walk_in_receipt.txt), not an e-mail: the visitor may have none.
    return sms.text(applicant.phone, "walk_in_receipt", receipt)


def dispute_handoff(*, dispute: Dispute, actor: AbstractBaseUser, window_id: int | None) -> Dispute:
    """Hand the case to another window of its centre: the dispute machine's `handoff`
    (who and when checked under the lock, audited with the window's name)."""
    # Who may, first: anyone else learns nothing about the centre's windows.
    MACHINE.check("handoff", dispute, actor)
    window = Window.objects.filter(pk=window_id, is_active=True).first() if window_id else None
    if window is None or window.organisation_id != dispute.organisation_id:
        raise Invalid(_("Choose one of the centre's windows."), code="invalid_window")

    def prepare(locked: Dispute) -> dict:
        if locked.window_id == window.pk:
            raise Invalid(_("The case is already at this window."), code="same_window")
        return {}

    return apply(
        "handoff",
        dispute=dispute,
        actor=actor,
        changes={"window": window},
        prepare=prepare,
        extra={"window": window.pk, "window_name": window.name, "at": timezone.now().isoformat()},
    )
