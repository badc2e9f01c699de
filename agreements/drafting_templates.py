"""Drafting templates: per dispute category, the typical disputed matters, terms, method
of performance and closing clauses a mediation committee writes, pre-filled from the
case. The mediator edits everything afterwards; a template only saves typing.

Templates hold Chinese text on purpose: they are the words of the agreement itself
(人民调解协议书), which is written in Chinese whatever language the page is shown in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from odr.categories import Category
from odr.identity import ROLE_LABELS, PartyIdentity, identities_of
from odr.models import Dispute

# A term: {"text", "kind", "obligor", "obligee", "amount", "due_date", "place",
# "instalments"}; "{amount}" in a text is replaced by the claim amount, "{applicant}" and
# "{respondent}" by the side and its parties' names (被申请人某某物业服务有限公司), so that a
# template reads right whether a party is a person or an organisation.
#
# No template confirms title (房屋归…所有, 使用权归…): people's mediation may record such an
# arrangement if the parties write it, but a court would not confirm it (SPC
# interpretation of the CPL Art. 355); tests check every template for such wording.
_CLOSING = {
    "text": "本协议履行完毕后，双方就本纠纷再无其他争议，任何一方不得再以同一事实和理由"
    "向对方主张权利。",
    "kind": "other",
}


@dataclass(frozen=True)
class DraftingTemplate:
    code: str
    label: Any
    disputed_matters: str
    terms: list[dict[str, Any]] = field(default_factory=list)
    performance_method: str = ""


_MONEY_METHOD = (
    "被申请人以银行转账方式将款项支付至申请人指定的银行账户（收款方为单位的，支付至其对公账户），"
    "或当面以现金支付并由收款方（单位由其法定代表人或授权的工作人员）出具收条。"
)

TEMPLATES: dict[str, DraftingTemplate] = {
    Category.DEBT: DraftingTemplate(
        "debt",
        _("Repayment of a private loan"),
        "双方就借款本金及利息的归还数额、期限发生争议。",
        [
            {
                "text": "被申请人确认尚欠申请人借款本金人民币{amount}元。",
                "kind": "other",
            },
            {
                "text": "被申请人于约定期限内向申请人归还借款人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "申请人放弃对利息的主张。",
                "kind": "other",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    Category.NEIGHBOUR: DraftingTemplate(
        "neighbour",
        _("Neighbour dispute: stop the nuisance and restore"),
        "双方就相邻通行、排水、通风、采光或噪声等相邻关系发生争议。",
        [
            {
                "text": "被申请人停止妨害行为，拆除妨碍通行、排水、通风或采光的设施，恢复原状。",
                "kind": "act",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "今后双方本着团结互助、公平合理的原则处理相邻关系。",
                "kind": "other",
            },
            _CLOSING,
        ],
        "被申请人自行完成恢复工作，完成后通知申请人及调解员到场查看。",
    ),
    Category.FAMILY: DraftingTemplate(
        "family",
        _("Support and family property"),
        "双方就赡养（抚养）费用的数额、支付方式及家庭财产的分配发生争议。",
        [
            {
                "text": "被申请人每月向申请人支付赡养费人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "双方共同承担申请人的医疗费用，各负担一半。",
                "kind": "other",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    # Not a boundary or title confirmation (确权: a court would not confirm it, SPC
    # interpretation of the CPL Art. 355): the parties agree on how they use the land, the
    # markers between them, and compensation; title stays as registered.
    Category.LAND: DraftingTemplate(
        "land",
        _("Land use, boundary markers and compensation"),
        "双方就承包地（宅基地）相邻处的使用、越界占用及相关补偿发生争议。",
        [
            {
                "text": "双方同意在调解员及村民委员会工作人员见证下于现场设立界桩，"
                "今后各自在界桩一侧耕种、使用，互不越界。",
                "kind": "other",
            },
            {
                "text": "被申请人移除越过界桩的建筑物、构筑物或种植物，恢复土地原状。",
                "kind": "act",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "被申请人补偿申请人因越界占用造成的青苗及地上附着物损失人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "本协议仅就双方对土地的使用、界桩的设立及补偿作出约定，不涉及土地所有权、"
                "承包经营权或宅基地使用权的确定，权利状况以依法登记为准。",
                "kind": "other",
            },
            _CLOSING,
        ],
        "界桩的设立及恢复原状由村民委员会派员到场见证；补偿款以银行转账方式支付至申请人"
        "指定账户，或当面以现金支付并由申请人出具收条。",
    ),
    Category.CONTRACT: DraftingTemplate(
        "contract",
        _("Unpaid goods or work"),
        "双方就合同价款的支付及货物（工作成果）的交付发生争议。",
        [
            {
                "text": "被申请人向申请人支付合同价款人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    Category.LABOUR: DraftingTemplate(
        "labour",
        _("Unpaid wages"),
        "双方就劳务报酬的数额及支付时间发生争议。",
        [
            {
                "text": "被申请人向申请人支付所欠劳务报酬人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    Category.CONSUMER: DraftingTemplate(
        "consumer",
        _("Refund or replacement"),
        "双方就所购商品（服务）的质量问题及退款、更换、赔偿发生争议。",
        [
            {
                "text": "被申请人向申请人退还货款人民币{amount}元，申请人退回所购商品。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    Category.PROPERTY: DraftingTemplate(
        "property",
        _("Property fees and repairs"),
        "双方就物业服务费的缴纳及物业维修责任发生争议。",
        [
            {
                "text": "{respondent}完成约定的维修事项。",
                "kind": "act",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "{applicant}向{respondent}补缴物业服务费人民币{amount}元。",
                "kind": "money",
                "obligor": "applicant",
                "obligee": "respondent",
            },
            _CLOSING,
        ],
        "维修完成后由双方共同验收；物业服务费以银行转账方式缴纳。",
    ),
    Category.TRAFFIC: DraftingTemplate(
        "traffic",
        _("Road accident compensation"),
        "双方就交通事故造成的人身损害、财产损失的赔偿数额发生争议。",
        [
            {
                "text": "被申请人一次性赔偿申请人医疗费、误工费、交通费、财产损失等各项损失"
                "共计人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "本次事故所涉保险理赔款由被申请人领取。",
                "kind": "other",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    Category.MEDICAL: DraftingTemplate(
        "medical",
        _("Medical dispute compensation"),
        "双方就诊疗过程中发生的损害后果及赔偿数额发生争议。",
        [
            {
                "text": "{respondent}一次性补偿{applicant}人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    Category.DAMAGE: DraftingTemplate(
        "damage",
        _("Damage or injury compensation"),
        "双方就财产损害（人身损害）的赔偿数额发生争议。",
        [
            {
                "text": "被申请人赔偿申请人各项损失共计人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
    Category.OTHER: DraftingTemplate(
        "other",
        _("General civil dispute"),
        "双方就民事权利义务发生争议。",
        [
            {
                "text": "被申请人向申请人支付人民币{amount}元。",
                "kind": "money",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            _CLOSING,
        ],
        _MONEY_METHOD,
    ),
}


def template_for(category: str) -> DraftingTemplate:
    return TEMPLATES.get(category, TEMPLATES[Category.OTHER])


def _side_words(role: str, identities: list[PartyIdentity]) -> str:
    """ "被申请人安吉某某物业服务有限公司" (the side and its parties' names), or the side
    alone when no name is known yet."""
    names = [i.name for i in identities if i.role == role and i.name]
    return ROLE_LABELS[role] + "、".join(names)


def _organisation_terms(identities: list[PartyIdentity]) -> list[dict[str, Any]]:
    """For each party that is an organisation: who acts for it in performing the
    agreement (its legal representative or principal, or staff it authorises)."""
    out = []
    for identity in identities:
        if identity.is_person:
            continue
        who = identity.representative or "____"
        title = f"（{identity.representative_title}）" if identity.representative_title else ""
        out.append(
            {
                "text": f"{ROLE_LABELS[identity.role]}{identity.name}由其法定代表人（主要负责人）"
                f"{who}{title}或其授权的工作人员负责履行本协议，所需内部手续由该单位自行办理。",
                "kind": "other",
            }
        )
    return out


def _amount_text(amount: Decimal | None) -> str:
    if amount is None:
        return "____"
    return f"{amount:,.2f}"


def initial_draft(dispute: Dispute, *, template: str | None = None) -> dict[str, Any]:
    """The first draft of the dispute's agreement: the category's template (or the one
    the mediator chose) filled with the case's facts, claim amount and a due date 30 days
    out for money and acts."""
    tpl = template_for(template or dispute.category)
    due: date = timezone.localdate() + timedelta(days=30)
    identities = identities_of(dispute, accepted_only=True)
    words = {
        "{amount}": _amount_text(dispute.claim_amount),
        "{applicant}": _side_words("applicant", identities),
        "{respondent}": _side_words("respondent", identities),
    }
    terms: list[dict[str, Any]] = []
    raws = list(tpl.terms)
    organisation_terms = _organisation_terms(identities)
    if organisation_terms:
        # Before the closing clause, which stays last.
        at = len(raws) - 1 if raws and raws[-1] is _CLOSING else len(raws)
        raws[at:at] = organisation_terms
    for raw in raws:
        text = raw["text"]
        for key, value in words.items():
            text = text.replace(key, value)
        term = {
            "text": text,
            "kind": raw.get("kind", "other"),
            "obligor": raw.get("obligor", ""),
            "obligee": raw.get("obligee", ""),
            "amount": None,
            "due_date": None,
            "place": "",
            "instalments": [],
        }
        if term["kind"] == "money" and dispute.claim_amount is not None:
            term["amount"] = str(dispute.claim_amount)
        if term["kind"] in ("money", "act"):
            term["due_date"] = due.isoformat()
        terms.append(term)
    facts = dispute.description.strip()
    matters = tpl.disputed_matters
    if dispute.request.strip():
        matters = f"{matters}申请人请求：{dispute.request.strip()}"
    organisation = dispute.organisation
    return {
        "template": tpl.code,
        "facts": facts,
        "disputed_matters": matters,
        "terms": terms,
        "performance_method": tpl.performance_method,
        "performance_place": (organisation.address if organisation else "") or "",
    }
