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
from odr.models import Dispute

# A term: {"text", "kind", "obligor", "obligee", "amount", "due_date", "place",
# "instalments"}; "{amount}" in a text is replaced by the claim amount.
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
    "被申请人以银行转账方式将款项支付至申请人指定的银行账户，或当面以现金支付并由申请人出具收条。"
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
                "text": "被申请人停止妨害行为，并将相关设施恢复原状。",
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
    Category.LAND: DraftingTemplate(
        "land",
        _("Land contracting or homestead boundary"),
        "双方就承包地（宅基地）的界址、使用权及相关补偿发生争议。",
        [
            {
                "text": "双方确认以现场所立界桩为准划定界址。",
                "kind": "other",
            },
            {
                "text": "被申请人移除越界的建筑物或种植物，恢复土地原状。",
                "kind": "act",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            _CLOSING,
        ],
        "由村民委员会派员到场见证界桩的设立及恢复原状。",
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
                "text": "被申请人（物业服务企业）完成约定的维修事项。",
                "kind": "act",
                "obligor": "respondent",
                "obligee": "applicant",
            },
            {
                "text": "申请人向被申请人补缴物业服务费人民币{amount}元。",
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
                "text": "被申请人（医疗机构）一次性补偿申请人人民币{amount}元。",
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
    terms: list[dict[str, Any]] = []
    for raw in tpl.terms:
        term = {
            "text": raw["text"].replace("{amount}", _amount_text(dispute.claim_amount)),
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
