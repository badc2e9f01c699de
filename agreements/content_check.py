"""What a written mediation agreement must hold before anyone signs it (People's
Mediation Law Art. 29), which matters people's mediation may not settle at all (status
relations: `non_mediable_reason`), and which a court will not confirm although they may
be mediated (SPC interpretation of the CPL Art. 355: `confirmation_bar`; DESIGN.md §3).

`check_before_open` names EVERY missing element at once (every missing particular of every
party among them, read from the parties' identity records), so the mediator fixes the
draft in one pass instead of discovering the gaps one refusal at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from agreements.models import Agreement
from odr.errors import DomainError
from odr.identity import (
    ROLE_LABELS,
    identities_of,
    is_valid_credit_code,
    missing_particulars,
)
from odr.idnumber import is_valid_id_number
from odr.models import Party

# Words that show the agreement would settle a status relation, whatever the matter field
# says: the law reserves these from people's mediation (marriage, adoption, parentage and
# other status relations; declarations only a court makes). A "family" category is fine
# (support, property after a divorce); these are not. Read in the disputed matters and
# the terms, not in the facts, which may tell of a divorce long past.
NON_MEDIABLE_KEYWORDS: tuple[str, ...] = (
    "确认婚姻无效",
    "婚姻无效",
    "撤销婚姻",
    "确认婚姻关系",
    "解除婚姻关系",
    "准予离婚",
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

# Matters people's mediation may not settle (DESIGN.md §3: status relations).
NON_MEDIABLE_MATTERS = frozenset(
    {
        Agreement.Matter.PERSONAL_STATUS,
        Agreement.Matter.ADOPTION,
        Agreement.Matter.MARRIAGE_VALIDITY,
        Agreement.Matter.DIVORCE,
        Agreement.Matter.PARENTAGE,
    }
)

# Wording that confirms title (确权): the parties may agree on it in mediation, but a
# court does not confirm it (SPC interpretation of the CPL Art. 355). "归还…所有" is a
# repayment, not a title.
_IP = "专利|商标|著作|版"
TITLE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:专利权|商标权|商标专用权|著作权|版权)(?:均)?归"), "ip"),
    (re.compile(r"确认[^。；;\n]{0,20}?(?:" + _IP + r")[^。；;\n]{0,10}?(?:权属|归属)"), "ip"),
    (re.compile(r"(?:所有权|产权|宅基地使用权|承包经营权|使用权|经营权)(?:均)?归"), "property"),
    (re.compile(r"确认[^。；;\n]{0,20}?(?:权属|归属|所有权)"), "property"),
    (re.compile(r"归(?!还)[^。；;，,\n]{1,20}?(?:所有|享有)"), "property"),
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


def _who(identity: Any, numbered: bool) -> str:
    label = ROLE_LABELS.get(identity.role, identity.role)
    if numbered:
        label += "（%s）" % (identity.position + 1)
    return f"{label}{identity.name}" if identity.name else label


def party_gaps(agreement: Agreement) -> list[Missing]:
    """Every particular a court needs that a party's identity record lacks (or holds
    wrong), for every party who has not declined to mediate: the record as it stands now
    (odr.identity), the one source the documents print from once it is frozen."""
    out: list[Missing] = []
    identities = identities_of(agreement.dispute, accepted_only=True)
    sides = [i.role for i in identities]
    for identity in identities:
        who = _who(identity, sides.count(identity.role) > 1)
        key = f"party_{identity.party_id}"
        lacking = missing_particulars(identity)
        if identity.is_person and identity.id_number and not is_valid_id_number(identity.id_number):
            lacking.append("有效的公民身份号码")
        if (
            not identity.is_person
            and identity.credit_code
            and not is_valid_credit_code(identity.credit_code)
        ):
            lacking.append("有效的统一社会信用代码")
        if lacking:
            out.append(
                Missing(
                    f"{key}_particulars",
                    _("the particulars of %(who)s: %(items)s")
                    % {"who": who, "items": "、".join(lacking)},
                )
            )
    if Party.Role.APPLICANT not in sides:
        out.append(Missing("applicant_missing", _("an applicant who takes part")))
    if Party.Role.RESPONDENT not in sides:
        out.append(Missing("respondent_missing", _("a respondent who takes part")))
    return out


def term_party_keys(agreement: Agreement) -> set[str]:
    """What a term may name as obligor or obligee: a side, or one of the parties who
    sign ("party:<id>")."""
    keys = {Party.Role.APPLICANT.value, Party.Role.RESPONDENT.value}
    keys |= {f"party:{i.party_id}" for i in identities_of(agreement.dispute, accepted_only=True)}
    return keys


def missing_elements(agreement: Agreement) -> list[Missing]:
    """Every required element that the draft lacks, in the order of the agreement."""
    out: list[Missing] = party_gaps(agreement)
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
    allowed = term_party_keys(agreement)
    for n, term in obligations:
        out.extend(_term_gaps(n, term, default_place=agreement.performance_place, parties=allowed))
    return out


def _term_gaps(
    n: int, term: dict[str, Any], *, default_place: str, parties: set[str]
) -> list[Missing]:
    gaps: list[Missing] = []
    which = {"n": n}
    if not str(term.get("text", "")).strip():
        gaps.append(Missing(f"term_{n}_text", _("the wording of term %(n)s") % which))
    if term.get("obligor") not in parties:
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


def _wording(agreement: Agreement) -> str:
    """What the parties agree to settle: the disputed matters and the terms (the facts
    tell the story and may mention what is not settled here)."""
    texts = [agreement.disputed_matters]
    texts += [str(t.get("text", "")) for t in agreement.terms or []]
    return "\n".join(texts)


def non_mediable_reason(agreement: Agreement) -> str | None:
    """Why people's mediation may not settle this matter at all, or None. Only the
    matters the law reserves (confirming, annulling or dissolving a marriage, adoption,
    parentage and other status relations) are refused; title to property or intellectual
    property, bankruptcy and the like may be mediated, and `confirmation_bar` tells the
    parties that a court would not confirm the result."""
    if agreement.matter in NON_MEDIABLE_MATTERS:
        return _(
            "This agreement concerns “%(matter)s”. Confirming, annulling or dissolving a "
            "marriage, adoption, parentage and other status relations are reserved to the "
            "marriage registry and the courts: people's mediation cannot settle them. The "
            "parties may still settle support, custody arrangements or property between "
            "them as a civil matter."
        ) % {"matter": agreement.get_matter_display()}
    joined = _wording(agreement)
    found = [word for word in NON_MEDIABLE_KEYWORDS if word in joined]
    if found:
        return _(
            "The agreement settles “%(words)s”. Confirming, annulling or dissolving a "
            "marriage, adoption, parentage and other status relations are reserved to the "
            "marriage registry and the courts; remove them or end the mediation."
        ) % {"words": "”, “".join(found)}
    return None


def title_wording(agreement: Agreement) -> tuple[str, list[str]] | None:
    """("property"|"ip", the words found) when the agreement's wording confirms title to
    property or intellectual property (房屋归…所有, 宅基地使用权归…, 专利权归…), else None."""
    joined = _wording(agreement)
    found: list[str] = []
    kind = ""
    for pattern, what in TITLE_PATTERNS:
        for match in pattern.finditer(joined):
            if match.group(0) not in found:
                found.append(match.group(0))
                kind = kind or what
    if not found:
        return None
    if any(re.search(_IP, word) for word in found):
        kind = "ip"
    return kind, found


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
# Art. 355), with the reason the parties are shown. The parties may still have mediated
# some of them (title to property, say); only confirmation is barred.
NOT_CONFIRMABLE: dict[str, str] = {
    Agreement.Matter.PERSONAL_STATUS: gettext_noop(
        "confirming, annulling or dissolving a status relation"
    ),
    Agreement.Matter.ADOPTION: gettext_noop(
        "confirming, annulling or dissolving a status relation"
    ),
    Agreement.Matter.MARRIAGE_VALIDITY: gettext_noop(
        "confirming, annulling or dissolving a status relation"
    ),
    Agreement.Matter.DIVORCE: gettext_noop("confirming, annulling or dissolving a status relation"),
    Agreement.Matter.PARENTAGE: gettext_noop(
        "confirming, annulling or dissolving a status relation"
    ),
    Agreement.Matter.PROPERTY_TITLE: gettext_noop("confirming title to property"),
    Agreement.Matter.IP_TITLE: gettext_noop("confirming title to intellectual property"),
    Agreement.Matter.BANKRUPTCY: gettext_noop("bankruptcy"),
    Agreement.Matter.SPECIAL_PROCEDURE: gettext_noop(
        "another special procedure or a public summons"
    ),
}

_TITLE_KINDS = {
    "property": Agreement.Matter.PROPERTY_TITLE,
    "ip": Agreement.Matter.IP_TITLE,
}


def confirmation_bar(agreement: Agreement) -> str | None:
    """Why a court would not accept this agreement for judicial confirmation (不予受理,
    SPC interpretation of the CPL Art. 355), or None when it may apply. The court's
    screen, shown to the parties on the agreement's page before anyone applies and
    checked again when they do. It reads the matter the mediator chose and the wording
    too: a term confirming title (房屋归…所有, 专利权归…) bars confirmation even when the
    matter says "civil"."""
    what = NOT_CONFIRMABLE.get(agreement.matter)
    if what is not None:
        return _(
            "A court does not accept judicial confirmation of an agreement about %(what)s "
            "(SPC interpretation of the Civil Procedure Law, Art. 355). The agreement stays "
            "valid between the parties; a party may bring a lawsuit instead."
        ) % {"what": _(what)}
    title = title_wording(agreement)
    if title is not None:
        kind, words = title
        return _(
            "The agreement confirms title (“%(words)s”): a court does not accept judicial "
            "confirmation of an agreement about %(what)s (SPC interpretation of the Civil "
            "Procedure Law, Art. 355). The agreement stays valid between the parties; to "
            "have title established, register it or bring a lawsuit."
        ) % {"words": "”, “".join(words), "what": _(NOT_CONFIRMABLE[_TITLE_KINDS[kind]])}
    return None
