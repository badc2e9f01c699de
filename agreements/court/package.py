"""The evidence package: one ZIP for the court with the documents, the evidence files,
the proofs of performance and the case's audit trail with its hash chain.

The audit chain is platform-wide (each event's hash covers the event before it, whatever
case that was), so the case's own events come with their full content and the events of
other cases in between come as links only (seq, prev_hash, hash): the court can re-verify
every one of this case's events and that the chain runs unbroken from the first to the
last, without seeing other people's cases."""

from __future__ import annotations

import hashlib
import json
import zipfile
from io import BytesIO
from typing import Any

from django.utils import timezone

from agreements.court import selectors as court_selectors
from agreements.court.documents import mediation_number
from agreements.models import Agreement, ConfirmationRequest, Performance
from agreements.selectors import document_parties
from odr import selectors
from odr.identity import describe
from odr.models import AuditEvent

README = """证据包说明 / About this evidence package
==========================================

案号 / Case: {case_number}
生成时间 / Made at: {made_at}

内容 / Contents
  documents/   调解协议书（签章 PDF）、司法确认申请书、民事裁定书（如有）
               the sealed agreement, the application, the ruling (when there is one)
  parties/particulars.txt  当事人基本情况（含委托代理人）/ the parties' particulars
               and agents, as the agreement names them
  statements/  被申请人的答辩 / the respondents' statements
  attorney/    委托代理人的授权委托书 / each agent's signed power of attorney
  evidence/    当事人提交的证据原件 / the evidence files as uploaded
  performance/ 履行凭证 / proofs of performance
  audit/audit.json     本案审计记录及哈希链 / the case's audit trail with its hash chain
  audit/verify_audit.py  核验脚本（仅需 Python 3）/ a verifier needing only Python 3
  manifest.json  每个文件的 SHA-256 / the SHA-256 of every file

如何核验 / How to verify
  1. 文件：计算每个文件的 SHA-256，与 manifest.json 对照；PDF 的电子签名可用任何
     PDF 验证工具（如 Adobe Reader、pyHanko）检查，或上传至平台 /verify/ 页面。
     Files: compare each file's SHA-256 with manifest.json; check the PDFs' signatures
     with any PDF validator or on the platform's /verify/ page.
  2. 审计链：运行 `python3 audit/verify_audit.py audit/audit.json`。
     The audit chain: run `python3 audit/verify_audit.py audit/audit.json`.

  audit.json 的 "events" 按 seq 排列。本案事件含 "payload"：其哈希为
     SHA-256( JSON(payload, 键排序, 不转义非 ASCII 字符, 分隔符 "," 和 ":") 的 UTF-8 )
  且 payload.prev 等于前一事件的 hash。其他案件的事件只给出 seq、prev_hash、hash
  （链接），以保护他人隐私。每个事件的 prev_hash 必须等于上一个事件的 hash，seq 连续。
  Events of this case carry their "payload"; their hash is the SHA-256 of the UTF-8 of
  json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")), and
  payload["prev"] is the previous event's hash. Events of other cases in between are
  given as links (seq, prev_hash, hash) only. Every event's prev_hash must equal the hash
  of the event before it, with no gap in seq. A changed byte in any event of this case
  breaks its hash; a removed or reordered event breaks the links.
"""

VERIFY_SCRIPT = '''"""Re-verifies the audit chain of an ODR evidence package:
python3 verify_audit.py audit.json"""
import hashlib
import json
import sys


def verify(document):
    problems = []
    previous = None
    for event in document["events"]:
        if previous is not None:
            if event["seq"] != previous["seq"] + 1:
                problems.append(f"#{event['seq']}: events are missing before it")
            if event["prev_hash"] != previous["hash"]:
                problems.append(f"#{event['seq']}: does not link to the event before it")
        payload = event.get("payload")
        if payload is not None:
            digest = hashlib.sha256(
                json.dumps(payload, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":")).encode("utf-8")
            ).hexdigest()
            if digest != event["hash"]:
                problems.append(f"#{event['seq']}: its content does not match its hash")
            if payload.get("prev") != event["prev_hash"] or payload.get("seq") != event["seq"]:
                problems.append(f"#{event['seq']}: its payload names another place in the chain")
        previous = event
    return problems


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "audit.json", encoding="utf-8") as f:
        found = verify(json.load(f))
    for problem in found:
        print("BROKEN", problem)
    print("chain OK" if not found else f"{len(found)} problem(s)")
    sys.exit(1 if found else 0)
'''


def _payload(event: AuditEvent) -> dict[str, Any]:
    """The exact object odr.audit.event_digest hashes for this event."""
    return {
        "seq": event.seq,
        "at": event.created_at.isoformat(),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "ip": event.ip,
        "action": event.action,
        "dispute": event.dispute_id,
        "object": [event.object_type, str(event.object_id)],
        "before": event.before,
        "after": event.after,
        "prev": event.prev_hash,
    }


def audit_trail(agreement: Agreement) -> dict[str, Any]:
    dispute_id = agreement.dispute_id
    own = AuditEvent.objects.filter(dispute_id=dispute_id).order_by("seq")
    bounds = own.values_list("seq", flat=True)
    first, last = bounds.first(), own.order_by("-seq").values_list("seq", flat=True).first()
    events: list[dict[str, Any]] = []
    if first is not None:
        rows = AuditEvent.objects.filter(seq__gte=first, seq__lte=last).order_by("seq")
        for event in rows.iterator(chunk_size=2000):
            item: dict[str, Any] = {
                "seq": event.seq,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
            if event.dispute_id == dispute_id:
                item["payload"] = _payload(event)
            events.append(item)
    return {
        "case_number": agreement.dispute.case_number,
        "exported_at": timezone.now().isoformat(),
        "algorithm": "sha256 over canonical JSON (sort_keys, ensure_ascii=False, ',' ':')",
        "events": events,
    }


def build_evidence_package(agreement: Agreement) -> tuple[str, bytes]:
    """Returns (file name, ZIP bytes)."""
    dispute = agreement.dispute
    request = ConfirmationRequest.objects.filter(agreement=agreement).first()
    files: list[tuple[str, bytes]] = []
    if agreement.pdf:
        files.append(("documents/agreement.pdf", _read(agreement.pdf)))
    if request is not None and request.application_pdf:
        files.append(("documents/application.pdf", _read(request.application_pdf)))
    if request is not None and request.ruling_pdf:
        files.append(("documents/ruling.pdf", _read(request.ruling_pdf)))
    files.append(("parties/particulars.txt", particulars_text(agreement).encode()))
    statement_list = []
    for n, statement in enumerate(selectors.statements_of(dispute), 1):
        name = f"statements/{n:02d}_statement.txt"
        files.append((name, _statement_text(statement).encode()))
        statement_list.append(
            {
                "file": name,
                "party": statement.party.name,
                "created_at": statement.created_at.isoformat(),
            }
        )
    agent_list = []
    agents = selectors.agents_of(dispute).filter(revoked_at__isnull=True)
    for n, agent in enumerate(agents, 1):
        name = f"attorney/{n:02d}_{agent.filename}"
        files.append((name, _read(agent.power_of_attorney)))
        agent_list.append(
            {
                "file": name,
                "party": agent.party.name,
                "agent": agent.name,
                "scope": agent.scope,
                "sha256": agent.sha256,
            }
        )
    evidence_list = []
    for n, item in enumerate(court_selectors.evidence_of(dispute), 1):
        name = f"evidence/{n:02d}_{item.filename}"
        files.append((name, _read(item.file)))
        evidence_list.append(
            {
                "file": name,
                "description": item.description,
                "sha256": item.sha256,
                "uploaded_at": item.created_at.isoformat(),
            }
        )
    for obligation in Performance.objects.filter(agreement=agreement).exclude(proof=""):
        name = (
            f"performance/{obligation.term_index:02d}-{obligation.instalment_index or 0:02d}_"
            f"{obligation.proof_filename or 'proof'}"
        )
        files.append((name, _read(obligation.proof)))
    trail = json.dumps(audit_trail(agreement), ensure_ascii=False, indent=1).encode()
    files.append(("audit/audit.json", trail))
    files.append(("audit/verify_audit.py", VERIFY_SCRIPT.encode()))
    readme = README.format(
        case_number=dispute.case_number,
        made_at=timezone.localtime().strftime("%Y-%m-%d %H:%M:%S %Z"),
    )
    files.append(("README.txt", readme.encode()))
    manifest = {
        "case_number": dispute.case_number,
        "agreement_sha256": agreement.pdf_sha256,
        "court_case_number": request.case_number if request else "",
        "ruling_sha256": request.ruling_sha256 if request else "",
        "evidence": evidence_list,
        "statements": statement_list,
        "powers_of_attorney": agent_list,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files},
    }
    files.append(("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode()))
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    safe_case = "".join(ch for ch in dispute.case_number if ch.isalnum()) or str(dispute.pk)
    return f"evidence-{safe_case}.zip", buffer.getvalue()


def particulars_text(agreement: Agreement) -> str:
    """当事人基本情况: each party as the agreement names them (the identities frozen when it
    was opened for signing), in full: this file is for the court (DESIGN.md §3)."""
    # The mediation's number as every court document prints it: full-width brackets.
    lines = ["当事人基本情况", f"调解案号{mediation_number(agreement.dispute)}", ""]
    for identity in document_parties(agreement):
        lines += describe(identity)
        lines.append("")
    return "\n".join(lines)


def _statement_text(statement) -> str:
    made = timezone.localtime(statement.created_at).strftime("%Y-%m-%d %H:%M")
    return f"答辩人：{statement.party.name}\n提交时间：{made}\n\n{statement.text}\n"


def _read(field) -> bytes:
    with field.open("rb") as f:
        return f.read()
