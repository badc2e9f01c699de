"""What a written mediation agreement must hold before anyone signs it (People's
Mediation Law Art. 29) and which matters can never become one a court would confirm
(SPC rules on judicial confirmation: personal status, adoption, marriage validity).

`check_before_open` names EVERY missing element at once, so the mediator fixes the draft
in one pass instead of discovering the gaps one refusal at a time."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from agreements.models import Agreement
from odr.errors import DomainError
from odr.idnumber import is_valid_id_number
from odr.models import Party

# Words that show the agreement would settle a personal-status matter, whatever the
# matter field says: a category of "family" is fine (support, property), these are not.
NON_MEDIABLE_KEYWORDS: tuple[str, ...] = (
    "确认婚姻无效",
    "婚姻无效",
    "撤销婚姻",
    "确认婚姻关系",
    "解除收养关系",
    "确认收养关系",
    "收养关系无效",
    "变更身份关系",
    "确认身份关系",
    "确认亲子关系",
    "否认亲子关系",
    "变更监护人",
    "宣告失踪",
    "宣告死亡",
    "认定公民无民事行为能力",
)

MONEY, ACT, OTHER = "money", "act", "other"
TERM_KINDS = (MONEY, ACT, OTHER)
OBLIGATION_KINDS = (MONEY, ACT)


@dataclass(frozen=True)
class Missing:
    code: str
    label: str


def _party_label(role: str) -> str:
    return _("the applicant") if role == Party.Role.APPLICANT else _("the respondent")


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def missing_elements(agreement: Agreement) -> list[Missing]:
    """Every required element that the draft lacks, in the order of the agreement."""
    dispute = agreement.dispute
    out: list[Missing] = []
    parties = {p.role: p for p in dispute.parties.select_related("user", "user__profile")}
    for role in (Party.Role.APPLICANT, Party.Role.RESPONDENT):
        who = _party_label(role)
        party = parties.get(role)
        profile = getattr(party.user, "profile", None) if party and party.user else None
        name = (profile.real_name if profile else "") or (party.name if party else "")
        if not name.strip():
            out.append(Missing(f"{role}_name", _("the name of %(who)s") % {"who": who}))
        id_number = profile.id_number if profile else ""
        if not id_number or not is_valid_id_number(id_number):
            out.append(
                Missing(
                    f"{role}_id_number",
                    _("the resident ID number of %(who)s (in their profile)") % {"who": who},
                )
            )
        address = str((agreement.party_details or {}).get(role, {}).get("address", "")).strip()
        if not address:
            out.append(Missing(f"{role}_address", _("the address of %(who)s") % {"who": who}))
    if not agreement.facts.strip():
        out.append(Missing("facts", _("the main facts of the dispute")))
    if not agreement.disputed_matters.strip():
        out.append(Missing("disputed_matters", _("the disputed matters")))
    terms = agreement.terms or []
    if not any(str(t.get("text", "")).strip() for t in terms):
        out.append(Missing("terms", _("at least one agreed term")))
    if not agreement.performance_method.strip():
        out.append(Missing("performance_method", _("the method of performance")))
    obligations = [
        (n, t) for n, t in enumerate(terms, start=1) if t.get("kind", OTHER) in OBLIGATION_KINDS
    ]
    for n, term in obligations:
        out.extend(_term_gaps(n, term, default_place=agreement.performance_place))
    return out


def _term_gaps(n: int, term: dict[str, Any], *, default_place: str) -> list[Missing]:
    gaps: list[Missing] = []
    which = {"n": n}
    if not str(term.get("text", "")).strip():
        gaps.append(Missing(f"term_{n}_text", _("the wording of term %(n)s") % which))
    if term.get("obligor") not in (Party.Role.APPLICANT, Party.Role.RESPONDENT):
        gaps.append(Missing(f"term_{n}_obligor", _("who must perform term %(n)s") % which))
    instalments = term.get("instalments") or []
    if term.get("kind") == MONEY:
        amount = _decimal(term.get("amount"))
        if amount is None or amount <= 0:
            gaps.append(Missing(f"term_{n}_amount", _("the amount of term %(n)s") % which))
        elif instalments:
            total = sum((_decimal(i.get("amount")) or Decimal(0)) for i in instalments)
            if total != amount:
                gaps.append(
                    Missing(
                        f"term_{n}_instalments",
                        _("instalments of term %(n)s that add up to its amount") % which,
                    )
                )
    has_due = bool(term.get("due_date")) or (
        bool(instalments) and all(i.get("due_date") for i in instalments)
    )
    if not has_due:
        gaps.append(
            Missing(f"term_{n}_due_date", _("the time limit for performing term %(n)s") % which)
        )
    else:
        dates = [term.get("due_date")] + [i.get("due_date") for i in instalments]
        today = timezone.localdate().isoformat()
        if any(d and str(d) < today for d in dates):
            gaps.append(
                Missing(
                    f"term_{n}_due_date_past",
                    _("a time limit for term %(n)s that has not already passed") % which,
                )
            )
    if not str(term.get("place") or "").strip() and not default_place.strip():
        gaps.append(Missing(f"term_{n}_place", _("the place of performance of term %(n)s") % which))
    return gaps


def non_mediable_reason(agreement: Agreement) -> str | None:
    """Why the matter cannot be settled by a confirmable agreement, or None."""
    if agreement.matter != Agreement.Matter.CIVIL:
        return _(
            "This agreement concerns “%(matter)s”. Matters of personal status, adoption and "
            "the validity of a marriage cannot be settled by a mediation agreement or "
            "confirmed by a court; the parties must go to court."
        ) % {"matter": agreement.get_matter_display()}
    texts = [agreement.facts, agreement.disputed_matters]
    texts += [str(t.get("text", "")) for t in agreement.terms or []]
    joined = "\n".join(texts)
    found = [word for word in NON_MEDIABLE_KEYWORDS if word in joined]
    if found:
        return _(
            "The agreement settles “%(words)s”. Matters of personal status, adoption and the "
            "validity of a marriage cannot be settled by a mediation agreement or confirmed "
            "by a court; remove them or end the mediation."
        ) % {"words": "”, “".join(found)}
    return None


def check_before_open(agreement: Agreement) -> None:
    """Raises one DomainError naming every problem; returns quietly when the draft can go
    out for signature."""
    reason = non_mediable_reason(agreement)
    if reason:
        raise DomainError("matter_not_mediable", reason, status=400)
    missing = missing_elements(agreement)
    if missing:
        raise DomainError(
            "agreement_incomplete",
            _("The agreement cannot go out for signature yet. Missing: %(items)s.")
            % {"items": "; ".join(m.label for m in missing)},
            status=400,
        )


# Matters a court does not accept for confirmation (SPC interpretation of the CPL,
# Art. 355), with the reason the parties are shown. Issue 8: the parties may still have
# mediated some of them (title to property, say); only confirmation is barred.
NOT_CONFIRMABLE: dict[str, str] = {
    Agreement.Matter.PERSONAL_STATUS: "confirming, annulling or dissolving a status relation",
    Agreement.Matter.ADOPTION: "confirming, annulling or dissolving a status relation",
    Agreement.Matter.MARRIAGE_VALIDITY: "confirming, annulling or dissolving a status relation",
    Agreement.Matter.DIVORCE: "confirming, annulling or dissolving a status relation",
    Agreement.Matter.PARENTAGE: "confirming, annulling or dissolving a status relation",
    Agreement.Matter.PROPERTY_TITLE: "confirming title to property",
    Agreement.Matter.IP_TITLE: "confirming title to intellectual property",
    Agreement.Matter.BANKRUPTCY: "bankruptcy",
    Agreement.Matter.SPECIAL_PROCEDURE: "another special procedure or a public summons",
}


def confirmation_bar(agreement: Agreement) -> str | None:
    """Why a court would not accept this agreement for judicial confirmation (不予受理,
    SPC interpretation of the CPL Art. 355), or None when it may apply. The court's
    screen, shown to the parties before they apply and checked again when they do."""
    what = NOT_CONFIRMABLE.get(agreement.matter)
    if what is None:
        return None
    return _(
        "A court does not accept judicial confirmation of an agreement about %(what)s "
        "(SPC interpretation of the Civil Procedure Law, Art. 355). The agreement stays "
        "valid between the parties; a party may bring a lawsuit instead."
    ) % {"what": _(what)}
