"""The visible difference between two versions of an agreement, rendered on the server:
each element as text, compared line by line and, inside a changed line, character by
character (Chinese has no spaces between words, so words are no unit to compare)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from agreements.models import Agreement
from odr.identity import PartyIdentity, describe

ROLE_NAMES = {"applicant": "申请人", "respondent": "被申请人", "": ""}
KIND_NAMES = {"money": "给付金钱", "act": "履行行为", "other": "其他约定"}


def term_line(n: int, term: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """One term as one line of text: the wording and every structured part of it.
    `names` ("party:<id>" → "申请人张三") names a term's party when it names one."""
    names = {**ROLE_NAMES, **(names or {})}
    parts = [f"{n}. {term.get('text', '')}"]
    details = [KIND_NAMES.get(term.get("kind", ""), term.get("kind", ""))]
    if term.get("obligor"):
        details.append(
            f"{names.get(term['obligor'], term['obligor'])}→"
            f"{names.get(term.get('obligee', ''), term.get('obligee', ''))}"
        )
    if term.get("amount"):
        details.append(f"¥{term['amount']}")
    if term.get("due_date"):
        details.append(f"期限 {term['due_date']}")
    if term.get("place"):
        details.append(f"地点 {term['place']}")
    for i, inst in enumerate(term.get("instalments") or [], start=1):
        details.append(f"第{i}期 ¥{inst.get('amount') or ''} {inst.get('due_date') or ''}")
    return parts[0] + "（" + "；".join(d for d in details if d) + "）"


def _parties_text(snapshot: dict[str, Any]) -> str:
    """The parties as the version names them (each identity record's lines, in full: the
    versions page is for the case's own people), or for a version saved before identity
    records existed, the addresses it held."""
    identities = [PartyIdentity.from_dict(d) for d in snapshot.get("parties") or []]
    if identities:
        return "\n".join(line for i in identities for line in describe(i))
    details = snapshot.get("party_details") or {}
    return "\n".join(
        f"{ROLE_NAMES[role]}：{(details.get(role) or {}).get('address', '')}"
        for role in ("applicant", "respondent")
    )


def _names(snapshot: dict[str, Any]) -> dict[str, str]:
    return {
        f"party:{d.get('party_id')}": f"{ROLE_NAMES.get(d.get('role', ''), '')}{d.get('name', '')}"
        for d in snapshot.get("parties") or []
    }


def sections_of(snapshot: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) for every element of a version, in the agreement's order."""
    matter = snapshot.get("matter") or Agreement.Matter.CIVIL
    names = _names(snapshot)
    return [
        (_("Parties"), _parties_text(snapshot)),
        (_("Kind of matter"), str(Agreement.Matter(matter).label)),
        (_("Facts"), snapshot.get("facts", "")),
        (_("Disputed matters"), snapshot.get("disputed_matters", "")),
        (
            _("Terms"),
            "\n".join(term_line(n, t, names) for n, t in enumerate(snapshot.get("terms") or [], 1)),
        ),
        (_("Method of performance"), snapshot.get("performance_method", "")),
        (_("Place of performance"), snapshot.get("performance_place", "")),
    ]


def _chars(old: str, new: str) -> str:
    out = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(escape(old[i1:i2]))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(old[i1:i2])}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(new[j1:j2])}</ins>")
    return "".join(out)


def diff_html(old: str, new: str) -> SafeString:
    """Old and new text as one HTML fragment: removed text in <del>, added in <ins>."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    lines: list[str] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            lines += [escape(line) for line in old_lines[i1:i2]]
        elif op == "replace":
            olds, news = old_lines[i1:i2], new_lines[j1:j2]
            for k in range(max(len(olds), len(news))):
                a = olds[k] if k < len(olds) else ""
                b = news[k] if k < len(news) else ""
                lines.append(_chars(a, b))
        elif op == "delete":
            lines += [f"<del>{escape(line)}</del>" for line in old_lines[i1:i2]]
        else:
            lines += [f"<ins>{escape(line)}</ins>" for line in new_lines[j1:j2]]
    # Safe: every piece of text was escaped above; only our own tags are raw.
    return mark_safe("<br>".join(lines))


@dataclass(frozen=True)
class SectionDiff:
    label: str
    html: SafeString
    changed: bool


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[SectionDiff]:
    out = []
    for (label, a), (_label, b) in zip(sections_of(old), sections_of(new), strict=True):
        out.append(SectionDiff(label=label, html=diff_html(a, b), changed=a != b))
    return out
