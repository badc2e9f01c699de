"""Who a party is, as every document names them (DESIGN.md §3; People's Mediation Law
Art. 29): one identity record per party, read from the Party row, frozen into the
agreement version each party signs (Agreement.parties), and printed by the agreement,
the joint application and the ruling alike through `describe`.

A natural person: name, sex, birth date (both follow from the resident ID number),
ethnicity, occupation, address, ID number. A legal person or other organisation: name,
address, unified social credit code (GB 32100-2015, with its check character), legal
representative and title. Agents (委托代理人) follow their party with the scope of their
authority."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date

from odr.idnumber import is_valid_id_number, mask_id_number, mask_name, mask_phone

# --- GB 32100-2015: the unified social credit code ------------------------------------

_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def credit_check_char(first17: str) -> str:
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_CHARS[(31 - total % 31) % 31]


def is_valid_credit_code(value: str) -> bool:
    """18 characters from the code's alphabet, a six-digit administrative division code at
    positions 3-8, and the right check character at the end."""
    value = value.strip().upper()
    if not _CREDIT_PATTERN.match(value):
        return False
    return credit_check_char(value[:17]) == value[17]


# --- The resident ID number carries the birth date and the sex -------------------------


def birth_date_from_id(id_number: str) -> date | None:
    if not is_valid_id_number(id_number):
        return None
    v = id_number.strip()
    return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def sex_from_id(id_number: str) -> str:
    """'M' or 'F' (odr.models.Sex): the 17th digit is odd for men, even for women."""
    if not is_valid_id_number(id_number):
        return ""
    return "M" if int(id_number.strip()[16]) % 2 else "F"


# --- The record ---------------------------------------------------------------------

ROLE_LABELS = {"applicant": "申请人", "respondent": "被申请人"}
SEX_LABELS = {"M": "男", "F": "女"}
SCOPE_LABELS = {"general": "一般授权", "special": "特别授权"}


@dataclass(frozen=True)
class AgentIdentity:
    name: str
    scope: str = ""  # "general" | "special"
    relation: str = ""
    id_number: str = ""
    phone: str = ""


@dataclass(frozen=True)
class PartyIdentity:
    """One party's particulars at a moment. `as_dict()` is what Agreement.parties and the
    version snapshots store; `from_dict()` reads it back (unknown keys are ignored so an
    older snapshot still reads)."""

    party_id: int | None
    role: str  # "applicant" | "respondent"
    kind: str  # "person" | "organisation"
    name: str
    position: int = 0
    address: str = ""
    phone: str = ""
    # natural person
    id_number: str = ""
    sex: str = ""
    birth_date: str = ""  # ISO date
    ethnicity: str = ""
    occupation: str = ""
    # legal person or other organisation
    credit_code: str = ""
    representative: str = ""
    representative_title: str = ""
    agents: tuple[AgentIdentity, ...] = field(default_factory=tuple)

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["agents"] = [asdict(a) for a in self.agents]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> PartyIdentity:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["agents"] = tuple(
            AgentIdentity(**{k: v for k, v in a.items() if k in AgentIdentity.__dataclass_fields__})
            for a in data.get("agents") or ()
        )
        return cls(**values)


def identity_of(party) -> PartyIdentity:
    """The record of a Party row as it stands now (its active agents included). Sex and
    birth date fall back to what the ID number says."""
    agents = tuple(
        AgentIdentity(
            name=a.name,
            scope=a.scope,
            relation=a.relation,
            id_number=a.id_number,
            phone=a.phone,
        )
        for a in party.agents.all()
        if a.revoked_at is None
    )
    born = party.birth_date or birth_date_from_id(party.id_number)
    return PartyIdentity(
        party_id=party.pk,
        role=party.role,
        kind=party.kind,
        name=party.name,
        position=party.position,
        address=party.address,
        phone=party.phone,
        id_number=party.id_number,
        sex=party.sex or sex_from_id(party.id_number),
        birth_date=born.isoformat() if born else "",
        ethnicity=party.ethnicity,
        occupation=party.occupation,
        credit_code=party.credit_code,
        representative=party.representative,
        representative_title=party.representative_title,
        agents=agents,
    )


def missing_particulars(identity: PartyIdentity) -> list[str]:
    """The particulars a court needs that the record lacks, in Chinese labels (empty when
    complete): what the mediator must fill in before the agreement is opened for signing."""
    if identity.is_person:
        needed = {
            "name": "姓名",
            "id_number": "公民身份号码",
            "sex": "性别",
            "birth_date": "出生日期",
            "ethnicity": "民族",
            "address": "住址",
        }
    else:
        needed = {
            "name": "名称",
            "credit_code": "统一社会信用代码",
            "address": "住所地",
            "representative": "法定代表人或主要负责人",
        }
    return [label for key, label in needed.items() if not getattr(identity, key)]


def _cn_day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"


def _mask_address(address: str) -> str:
    # Keep up to the county (县/区/市 after the province and city), hide the rest.
    match = re.match(r"^(.*?(?:县|区|市)).+", address)
    if match and len(match.group(1)) < len(address):
        return match.group(1) + "****"
    return address[:6] + "****" if len(address) > 6 else address


def describe(identity: PartyIdentity, *, masked: bool = False, label: str = "") -> list[str]:
    """The party's paragraph(s) as a Chinese court document prints them, e.g.

    申请人：张三，男，1980年1月1日出生，汉族，农民，住浙江省安吉县递铺街道…，公民身份号码330523198001011234。
    委托代理人：李四，浙江某律师事务所律师，特别授权。

    被申请人：安吉某某有限公司，住所地浙江省安吉县…，统一社会信用代码91330523MA2B3C4D5E。
    法定代表人：王五，总经理。

    `masked` hides name, ID, phone and the street address (public verification, viewers
    without the right); the originals the parties and the court hold are never masked."""
    label = label or ROLE_LABELS.get(identity.role, identity.role)
    name = mask_name(identity.name) if masked else identity.name
    parts = [name]
    if identity.is_person:
        if identity.sex:
            parts.append(SEX_LABELS.get(identity.sex, identity.sex))
        if identity.birth_date:
            parts.append(
                f"{identity.birth_date[:4]}年出生" if masked else f"{_cn_day(identity.birth_date)}出生"
            )
        if identity.ethnicity:
            parts.append(identity.ethnicity)
        if identity.occupation:
            parts.append(identity.occupation)
        if identity.address:
            parts.append("住" + (_mask_address(identity.address) if masked else identity.address))
        if identity.id_number:
            parts.append(
                "公民身份号码"
                + (mask_id_number(identity.id_number) if masked else identity.id_number)
            )
    else:
        if identity.address:
            parts.append(
                "住所地" + (_mask_address(identity.address) if masked else identity.address)
            )
        if identity.credit_code:
            parts.append("统一社会信用代码" + identity.credit_code)
    if identity.phone and not masked:
        parts.append("联系电话" + identity.phone)
    elif identity.phone:
        parts.append("联系电话" + mask_phone(identity.phone))
    lines = [f"{label}：" + "，".join(parts) + "。"]
    if not identity.is_person and identity.representative:
        rep = mask_name(identity.representative) if masked else identity.representative
        title = f"，{identity.representative_title}" if identity.representative_title else ""
        lines.append(f"法定代表人：{rep}{title}。")
    for agent in identity.agents:
        bits = [mask_name(agent.name) if masked else agent.name]
        if agent.relation:
            bits.append(agent.relation)
        if agent.scope:
            bits.append(SCOPE_LABELS.get(agent.scope, agent.scope))
        lines.append("委托代理人：" + "，".join(bits) + "。")
    return lines


def identities_of(dispute, *, accepted_only: bool = False) -> list[PartyIdentity]:
    """Every party of the dispute in document order (applicants, then respondents, each by
    position); `accepted_only` leaves out those who declined to mediate."""
    parties = dispute.parties.prefetch_related("agents").order_by("role", "position", "pk")
    out = [identity_of(p) for p in parties if not accepted_only or p.accepted is not False]
    return sorted(out, key=lambda i: (i.role != "applicant", i.position, i.party_id or 0))
