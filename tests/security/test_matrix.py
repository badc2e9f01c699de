"""The probe's authorisation matrix (issue 11, "What must exist" 2): every endpoint and page
× every role, with the status each role must get, generated from the URL configuration.

`MATRIX` gives each URL pattern name who may see its object (`audience`) and who may take
its action (`act`); every role's expected status follows from that:

- anonymous: 401 from the API, a redirect to the log-in page from a page;
- a signed-in role outside the audience: 404, never 403 (CONTRACT §3: ids cannot be probed);
- a role that sees the object but may not act: 403 or 409 (a page may redirect back with
  a message instead), and nothing is written: no audit event;
- a role that may act: 2xx for a read; for a write (sent with a harmless or invalid body)
  a 2xx or a 4xx validation/conflict answer, never 401, 403 or 404;
- the wrong method: 405;
- never a 5xx.

Besides the status, every answer is searched for what its reader may not read: the case's
title (only who sees the case), the case's message thread (not the court: issue 11, M1) and
a line said in a caucus of the mediator and the applicant (only those two: M1).

A URL pattern without an entry fails `test_every_url_pattern_has_an_entry_in_the_matrix`,
so a new endpoint cannot ship without saying who may use it."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tests.security.conftest import (
    ANONYMOUS,
    CAUCUS_TEXT,
    MARK,
    MESSAGE_TEXT,
    ROLES,
    World,
    activate_totp,
    session_token,
)

pytestmark = pytest.mark.django_db

API, PAGE = "api", "page"
# URL prefixes outside the matrix: the admin, allauth's pages and headless API, the
# language switch and static files are other software's (the config-level tests in
# test_config.py cover the admin's log-in and the language cookie).
EXCLUDED = ("admin/", "accounts/", "_allauth/", "i18n/", "static/", "media/")

# --- who is who ------------------------------------------------------------------------

SIGNED_IN = frozenset(ROLES) - {ANONYMOUS}
PARTIES = frozenset({"applicant", "respondent"})
PARTICIPANTS = PARTIES | {"mediator"}  # who enters the room and signs the agreement
ORG_STAFF = frozenset({"coordinator", "colleague"})  # the case's organisation's staff
# The competent court's people, the confirmation being before it (DESIGN.md §3): its
# clerk dockets and extends, its judge rules ("a clerk answers 403", CONTRACT §3).
CLERKS = frozenset({"clerk"})
JUDGES = frozenset({"judge"})
COURT = CLERKS | JUDGES
CASE = PARTICIPANTS | ORG_STAFF | COURT | {"admin"}  # who sees the case (CONTRACT §3)
COURT_STAFF = COURT | {"other_clerk", "other_judge"}
COORDINATORS = frozenset({"coordinator", "other_coordinator"})
NOBODY: frozenset[str] = frozenset()
# Who reads the parties' particulars in full and their powers of attorney (DESIGN.md §3):
# everyone on the case but the platform's administrator.
PARTICULARS_READERS = PARTICIPANTS | ORG_STAFF | COURT
# Who names or revokes the respondent's agent: the respondent, the mediator, the
# coordinator.
AGENT_MANAGERS = frozenset({"respondent", "mediator", "coordinator"})
PUBLIC = None
# Who acts on a case's 12345 ticket: its organisation's coordinators and mediators.
TICKET_STAFF = ORG_STAFF | {"mediator"}
# Who reads the county's figures (issue 10): intake coordinators of any organisation, the
# county centre's staff, the platform's administrator.
DASHBOARD_READERS = COORDINATORS | {"mediator", "colleague", "admin"}

# Who may read what was written on the case (issue 11, M1): the message thread is the
# parties', the mediator's and the supervising coordinator's (not the court's, not the
# organisation's other mediators, not the platform's admin); a caucus line only its
# caucus's.
THREAD_READERS = PARTICIPANTS | {"coordinator"}
CAUCUS_MEMBERS = frozenset({"mediator", "applicant"})
SECRETS = (
    (f"CASE-{MARK}", CASE, "the case's title"),
    (MESSAGE_TEXT.split()[-1], THREAD_READERS, "the case's message thread"),
    (CAUCUS_TEXT.split()[-1], CAUCUS_MEMBERS, "a caucus chat line"),
)

# What a write may answer to a role allowed to make it, sent with a harmless or invalid
# body, and to a role that sees the object but may not make it.
WRITE_OK = {
    API: frozenset({200, 201, 204, 400, 409, 410, 422}),
    PAGE: frozenset({200, 302, 400}),
}
REFUSED = {API: frozenset({403, 409}), PAGE: frozenset({302, 400, 403})}
GET_REFUSED = {API: frozenset({403}), PAGE: frozenset({403})}
NOT_FOUND = frozenset({404})


@dataclass
class Entry:
    """One request on one URL pattern. `audience`: who sees its object (`PUBLIC`:
    everyone, anonymous included); `act`: who may take the action (default: the whole
    audience); `body`: a dict or a function of the world; `form`: send it multipart;
    `ok`/`refused`: statuses instead of the defaults; `params`: URL arguments instead of
    the world's; `after`: a check of the database after the request, (world, role) →
    what went wrong or None."""

    method: str
    audience: frozenset[str] | None
    act: frozenset[str] | None = None
    body: Any = None
    form: bool = False
    ok: frozenset[int] | None = None
    refused: frozenset[int] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    after: Callable[[World, str], str | None] | None = None


def get(audience, **kw) -> Entry:
    return Entry("GET", audience, **kw)


def post(audience, act=None, **kw) -> Entry:
    return Entry("POST", audience, act, **kw)


def put(audience, act=None, **kw) -> Entry:
    return Entry("PUT", audience, act, **kw)


def patch(audience, act=None, **kw) -> Entry:
    return Entry("PATCH", audience, act, **kw)


def delete(audience, act=None, **kw) -> Entry:
    return Entry("DELETE", audience, act, **kw)


def _future(hours: int = 48) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def _past() -> str:
    return (timezone.now() - timedelta(days=1)).isoformat()


def _text_file() -> SimpleUploadedFile:
    # Not a kept evidence type: a party's upload is refused (4xx), nobody else's reaches
    # the content check.
    return SimpleUploadedFile("说明.txt", b"plain text, not evidence", content_type="text/plain")


def _court_case_number() -> str:
    """A number of the demo court's form, as its case system would give it."""
    return f"（{timezone.localdate().year}）浙0523民特1号"


def _invitation_kept(world: World, role: str) -> str | None:
    """Issue 11, L2: an invitation is not a bearer link; only the invited person answers it."""
    party = type(world.invited_party).objects.get(pk=world.invited_party.pk)
    if role != "invitee" and party.user_id is not None:
        return f"{role} became the respondent of a dispute they were not invited to"
    return None


def _obligation_not_closed_by_obligor(world: World, role: str) -> str | None:
    """Issue 11, L3: the obligor alone cannot mark his own obligation performed; the
    obligee marks it, or confirms (or disputes) the obligor's word."""
    obligation = type(world.obligation).objects.get(pk=world.obligation.pk)
    if role == "respondent" and obligation.done_at is not None:
        return "the obligor marked his own obligation performed without the obligee"
    return None


def _dispute_actions(kind: str) -> list[Entry]:
    """The dispute's public actions (CONTRACT §3) on a case in mediation."""
    page = kind == PAGE
    confirm = {"confirm": "1"} if page else {}
    return [
        post(
            CASE,
            {"coordinator"},
            params={"action": "accept"},
            body=lambda w: {"mediator": w.users["mediator"].pk},
        ),
        post(CASE, {"coordinator"}, params={"action": "reject"}, body={"reason": "不属受理范围"}),
        post(
            CASE,
            {"coordinator"},
            params={"action": "assign"},
            body=lambda w: {"mediator": w.users["colleague"].pk},
        ),
        post(
            CASE,
            {"coordinator", "mediator"},
            params={"action": "escalate"},
            body={"reason": "案情复杂"},
        ),
        post(
            CASE,
            {"applicant"},
            params={"action": "withdraw"},
            body={"reason": "已和解", **confirm},
        ),
        post(CASE, {"mediator"}, params={"action": "fail"}, body={"reason": "双方分歧过大"}),
        # Transitions that are no button: the platform's (settle) and the invitation's.
        post(NOBODY if page else CASE, NOBODY, params={"action": "settle"}),
        post(NOBODY, NOBODY, params={"action": "no-such-action"}),
    ]


def _agreement_actions() -> list[Entry]:
    return [
        post(CASE, {"mediator"}, params={"action": "open"}),
        post(CASE, {"mediator"}, params={"action": "revise"}, body={"reason": "修改条款"}),
        post(NOBODY, NOBODY, params={"action": "no-such-action"}),
    ]


SDP = {"sdp": "not an offer", "type": "offer"}
INVITED = frozenset({"invitee"})
# Anyone else who holds the link is refused; 404 would do as well (the link is a secret).
NOT_INVITED = {
    API: frozenset({403, 404, 409}),
    PAGE: frozenset({302, 400, 403, 404}),
}

MATRIX: dict[str, list[Entry]] = {
    # --- the API: accounts, reference data, statistics -----------------------------------
    "api:api-root": [get(PUBLIC, ok=NOT_FOUND)],  # ninja's base path: a 404 naming the docs
    "api:openapi-json": [get(PUBLIC)],
    "api:openapi-view": [get(PUBLIC)],
    "api:me": [get(SIGNED_IN)],
    # Anyone changes their own profile (a bad ID number: 422, nothing written).
    "api:me_update": [patch(SIGNED_IN, body={"id_number": "330523198001011230"})],
    "api:categories": [get(PUBLIC)],
    "api:regions": [get(PUBLIC)],
    "api:public_stats": [get(PUBLIC)],
    # --- the 12345 hotline (issue 10) ----------------------------------------------------
    # The hotline system's endpoints take its Bearer token only: no session of any role is
    # one (test_hotline.py covers the token).
    "api:ticket_create": [post(PUBLIC, body={"ticket_id": "x"}, ok=frozenset({401}))],
    "api:ticket_detail": [
        get(PUBLIC, params={"ticket_id": lambda w: w.ticket.ticket_id}, ok=frozenset({401}))
    ],
    # The staff's side: who sees the case reads its ticket; its organisation's staff act.
    "api:ticket_for_staff": [get(CASE)],
    "api:ticket_action": [post(CASE, TICKET_STAFF, params={"action": "respond"})],
    # The caller's survey link: public; an unknown link is 404 to everyone.
    "api:survey_answer": [
        post(PUBLIC, body={"score": 3}, params={"token": "no-such-survey"}, ok=NOT_FOUND)
    ],
    "api:dashboard": [get(DASHBOARD_READERS)],
    # --- disputes ------------------------------------------------------------------------
    "api:dispute_list": [get(SIGNED_IN)],
    "api:dispute_create": [
        post(
            SIGNED_IN,
            body={
                "category": "no-such-category",
                "title": "测试",
                "description": "测试",
                "region": "330523000000",
                "respondent": {"name": "李四", "email": "someone@example.com"},
            },
        )
    ],
    "api:dispute_detail": [get(CASE)],
    # Issue 10: the reception's, the grid's and the duplicates' endpoints.
    "api:window_list": [get(SIGNED_IN)],
    "api:visit_create": [post(SIGNED_IN, NOBODY, body={"name": "来访人", "purpose": "咨询"})],
    "api:dispute_handoff": [post(CASE, {"coordinator"}, body={"window": 1})],
    "api:grid_report_create": [
        post(
            SIGNED_IN,
            NOBODY,
            form=True,
            body=lambda w: {
                "client_uuid": str(uuid.uuid4()),
                "category": "neighbour",
                "place": "余村",
                "facts": "争吵",
                "outcome": "not_settled",
                "party_name": ["张三", "王五"],
                "party_phone": ["13800000001", "13800000055"],
            },
        )
    ],
    "api:duplicate_list": [get(CASE)],
    "api:duplicate_decide": [post(CASE, {"coordinator"}, params={"decision": "merge"})],
    "api:dispute_action": _dispute_actions(API),
    "api:evidence_upload": [
        post(CASE, PARTIES, form=True, body=lambda w: {"file": _text_file(), "description": "x"})
    ],
    # The respondent's statement: the world's case is settled (409) for the respondent;
    # anyone else who sees the case is no respondent (403 not_a_respondent).
    "api:statement_add": [post(CASE, {"respondent"}, body={"text": "我已按约还款一部分。"})],
    "api:statement_list": [get(CASE)],
    # The world's party is the respondent, a person with an account: their particulars
    # are theirs to keep in their profile (403 to all), and frozen anyway.
    "api:party_detail": [get(CASE)],
    "api:party_update": [patch(CASE, NOBODY, body={"occupation": "农民"})],
    "api:agent_list": [get(CASE)],
    # The party or the case's staff for it (the agreement is in force: 4xx, no change);
    # the power of attorney only to those who read the particulars in full.
    "api:agent_add": [
        post(
            CASE,
            AGENT_MANAGERS,
            form=True,
            body=lambda w: {"file": _text_file(), "name": "赵律师", "scope": "general"},
        )
    ],
    "api:agent_revoke": [delete(CASE, AGENT_MANAGERS)],
    "api:agent_document": [get(PARTICULARS_READERS)],
    "api:invitation_accept": [
        post(
            SIGNED_IN,
            INVITED,
            body={"consent": True},
            refused=NOT_INVITED[API],
            after=_invitation_kept,
        )
    ],
    "api:invitation_decline": [
        post(
            SIGNED_IN,
            INVITED,
            body={"reason": "不同意调解"},
            refused=NOT_INVITED[API],
            after=_invitation_kept,
        )
    ],
    # --- sessions and the room -----------------------------------------------------------
    "api:session_create": [post(CASE, {"mediator"}, body=lambda w: {"scheduled_at": _past()})],
    "api:session_detail": [get(CASE)],
    "api:session_ticket": [post(CASE, PARTICIPANTS)],
    "api:session_reschedule": [post(CASE, {"mediator"}, body=lambda w: {"scheduled_at": _past()})],
    "api:session_cancel": [post(CASE, {"mediator"}, body={"reason": "调解员出差"})],
    "api:session_pick": [post(CASE, PARTIES, body=lambda w: {"time": _future()})],
    "api:session_end": [post(CASE, {"mediator"})],
    "api:session_minutes": [put(CASE, {"mediator"}, body={"minutes": "双方陈述了意见。"})],
    # The media side answers only the room's participants: staff get 404.
    "api:selftest_offer": [post(PARTICIPANTS, body=SDP)],
    "api:selftest_result": [
        post(PARTICIPANTS, body={"rtt_ms": 40, "loss_pct": 0, "bitrate_kbps": 800})
    ],
    "api:consent": [post(PARTICIPANTS, body={"online": True})],
    "api:recording_state": [get(PARTICIPANTS)],
    "api:recording_start": [post(PARTICIPANTS, {"mediator"})],
    "api:recording_stop": [post(PARTICIPANTS, {"mediator"})],
    "api:recording_offer": [post(PARTICIPANTS, body=SDP)],
    # --- the agreement -------------------------------------------------------------------
    "api:agreement_put": [put(CASE, {"mediator"}, body={"facts": "补充事实。"})],
    "api:agreement_of_dispute": [get(CASE)],
    "api:agreement_detail": [get(CASE)],
    "api:agreement_action": _agreement_actions(),
    "api:agreement_sign": [
        post(
            CASE,
            PARTICIPANTS,
            body={"password": "not-the-password", "consent": True, "typed_name": "张三"},
        )
    ],
    # Step 2 of signing: a signing id nobody began answers 409 `signing_expired`.
    "api:agreement_sign_complete": [
        post(
            CASE,
            PARTICIPANTS,
            body={
                "signing_id": "00000000-0000-0000-0000-000000000000",
                "signature": "MAYCAQECAQE=",
            },
        )
    ],
    "api:agreement_pdf": [get(CASE)],
    "api:agreement_translation_pdf": [get(CASE)],
    "api:verify_by_hash": [get(PUBLIC)],
    # "An uploaded file always answers 200 with `valid` true or false."
    "api:verify_upload": [post(PUBLIC, form=True, body=lambda w: {"file": _text_file()})],
    # --- judicial confirmation and performance -------------------------------------------
    "api:confirmation_apply": [post(CASE, PARTIES)],
    # The parties sign the joint application with their own keys (issue 9, point 5); the
    # world's request is before the court already: a party's signature answers 409.
    "api:confirmation_sign": [
        post(
            CASE,
            PARTIES,
            body={"password": "not-the-password", "consent": True, "typed_name": "张三"},
        )
    ],
    "api:confirmation_sign_complete": [
        post(
            CASE,
            PARTIES,
            body={
                "signing_id": "00000000-0000-0000-0000-000000000000",
                "signature": "MAYCAQECAQE=",
            },
        )
    ],
    # The application as it is being signed: its parties and the mediator; the court
    # reads the sealed one in its portal.
    "api:confirmation_application_pdf": [get(PARTICIPANTS)],
    "api:confirmation_detail": [get(CASE)],
    # The package is for the court: its mediator prepares it, the competent court reads it.
    "api:evidence_package": [get(frozenset({"mediator"}) | COURT)],
    # Everyone may ask for the court's queue; only court staff find anything in it.
    "api:court_requests": [get(SIGNED_IN)],
    "api:court_request_detail": [get(COURT)],
    # The world's request is pending: the clerk dockets it; the judge may not (403).
    "api:court_request_accept": [
        post(
            COURT,
            CLERKS,
            body=lambda w: {"court_case_number": _court_case_number()},
            refused=frozenset({403}),
        )
    ],
    # The judge asks the president to extend (the pending request: 409 for the judge);
    # a clerk answers 403. Only the court president approves: no role of the world.
    "api:court_request_extend": [
        post(COURT, JUDGES, body={"reason": "案情复杂，需延长审查期限"}, refused=frozenset({403}))
    ],
    "api:court_request_extension_decide": [
        post(COURT, NOBODY, body={"approve": True}, refused=frozenset({403}))
    ],
    # The court's acts (issue 8): the court and the parties read them.
    "api:court_request_acts": [get(COURT | PARTIES)],
    "api:court_supplement_ask": [
        post(COURT, body={"what": "补充身份证明", "deadline": "2099-01-01"})
    ],
    "api:court_supplement_answer": [
        post(PARTIES, form=True, body={"answer": "借条照片已上传"}),
    ],
    "api:court_supplement_notice": [get(COURT | PARTIES)],
    "api:court_supplement_lapse": [post(COURT, JUDGES, refused=frozenset({403}))],
    "api:court_request_withdraw": [post(COURT | PARTIES, PARTIES, body={"reason": "已履行"})],
    "api:court_request_withdrawal_allow": [post(COURT, JUDGES, refused=frozenset({403}))],
    "api:court_withdrawal_pdf": [get(COURT | PARTIES)],
    "api:court_inquiry_schedule": [
        post(
            COURT,
            JUDGES,
            body=lambda w: {"scheduled_at": _future(), "place": "本院"},
            refused=frozenset({403}),
        )
    ],
    "api:court_inquiry_record": [
        post(
            COURT | PARTIES,
            COURT,
            params={"inquiry_id": lambda w: w.inquiry.pk},
            body={"record": "问：是否自愿？答：是。", "present": []},
        )
    ],
    "api:court_inquiry_sign": [
        post(
            COURT | PARTIES,
            params={"inquiry_id": lambda w: w.inquiry.pk},
            body={"password": "not-the-password"},
        )
    ],
    "api:court_inquiry_record_pdf": [
        get(COURT | PARTIES, params={"inquiry_id": lambda w: w.inquiry.pk})
    ],
    "api:court_request_decision_preview": [
        post(
            COURT,
            JUDGES,
            body={"decision": "not_accepted", "reason": "本案不属于本院管辖"},
            refused=frozenset({403}),
        )
    ],
    # The judge rules (a pending request: 不予受理, or 409 for confirm/reject before
    # docketing); the clerk answers 403 whatever the decision, and nothing is written.
    "api:court_request_decide": [
        post(
            COURT,
            JUDGES,
            body={"decision": "not_accepted", "reason": "本案不属于本院管辖"},
            refused=frozenset({403}),
        ),
        post(
            COURT,
            JUDGES,
            body={"decision": "rejected", "reason": "协议内容违反法律规定"},
            refused=frozenset({403}),
        ),
    ],
    "api:court_ruling_pdf": [get(COURT | PARTIES)],
    "api:court_application_pdf": [get(COURT | PARTICIPANTS)],
    "api:court_agreement_pdf": [get(COURT | PARTICIPANTS)],
    "api:court_evidence_file": [get(COURT | PARTICIPANTS)],
    "api:obligations": [get(CASE)],
    # The obligee (the applicant, creditor of the demo terms) answers the debtor's report.
    "api:obligation_confirm": [post(CASE, frozenset({"applicant"}))],
    "api:obligation_dispute": [post(CASE, frozenset({"applicant"}), body={"reason": "未收到款项"})],
    "api:obligation_done": [
        post(
            CASE,
            PARTIES,
            form=True,
            body={"note": "已通过银行转账支付"},
            after=_obligation_not_closed_by_obligor,
        )
    ],
    "api:obligation_proof": [
        get(CASE, params={"obligation_id": lambda w: w.obligation_with_proof.pk})
    ],
    # --- pages: public ---------------------------------------------------------------------
    "odr:home": [get(PUBLIC)],
    "odr:stats": [get(PUBLIC)],
    "media:jsi18n": [get(PUBLIC)],
    "documents:verify": [get(PUBLIC), post(PUBLIC, body={}, ok=frozenset({400}))],
    "documents:ca_certificate": [get(PUBLIC)],
    "documents:ca_crl": [get(PUBLIC)],
    "documents:ca_certificate_der": [get(PUBLIC)],
    "documents:verify_document": [get(PUBLIC)],
    # The invitation's page is the link's: whoever holds it reads what it is about.
    "odr:invitation": [get(PUBLIC)],
    # --- pages: signed in ------------------------------------------------------------------
    "odr:profile": [get(SIGNED_IN), post(SIGNED_IN, body={}, ok=frozenset({400}))],
    "odr:dispute_list": [get(SIGNED_IN)],
    "odr:dispute_new": [get(SIGNED_IN), post(SIGNED_IN, body={}, ok=frozenset({400}))],
    "odr:intake": [get(SIGNED_IN, act=COORDINATORS, refused=GET_REFUSED[PAGE])],
    "odr:dashboard": [get(SIGNED_IN, act=DASHBOARD_READERS, refused=GET_REFUSED[PAGE])],
    "odr:dashboard_export": [get(SIGNED_IN, act=DASHBOARD_READERS, refused=GET_REFUSED[PAGE])],
    "odr:hotline_action": [post(CASE, TICKET_STAFF, params={"action": "respond"})],
    "odr:hotline_survey": [
        get(PUBLIC, params={"token": "no-such-survey"}, ok=NOT_FOUND),
        post(PUBLIC, body={"score": "3"}, params={"token": "no-such-survey"}, ok=NOT_FOUND),
    ],
    # Without a form, the answer pages send the visitor back to the invitation.
    "odr:invitation_accept": [
        get(SIGNED_IN, ok=frozenset({302})),
        post(
            SIGNED_IN,
            INVITED,
            body={"consent": "on"},
            refused=NOT_INVITED[PAGE],
            after=_invitation_kept,
        ),
    ],
    "odr:invitation_decline": [
        get(SIGNED_IN, ok=frozenset({302})),
        post(
            SIGNED_IN,
            INVITED,
            body={"reason": "不同意调解"},
            refused=NOT_INVITED[PAGE],
            after=_invitation_kept,
        ),
    ],
    # --- pages: the case -------------------------------------------------------------------
    "odr:dispute_detail": [get(CASE)],
    # Issue 10. The reception's pages are its staff's (no role of the probe): 403, and its
    # visits are out of sight (404); the grid page is the grid workers' (403 to the rest);
    # the service worker is a public script.
    "odr:reception": [
        get(SIGNED_IN, act=NOBODY, refused=GET_REFUSED[PAGE]),
        post(SIGNED_IN, NOBODY, body={"name": "来访人", "purpose": "咨询"}),
    ],
    "odr:reception_file": [get(NOBODY), post(NOBODY, NOBODY, body={})],
    "odr:reception_receipt": [get(CASE)],
    "odr:dispute_handoff": [post(CASE, {"coordinator"}, body={"window": "1"})],
    "odr:duplicate_decide": [
        post(CASE, {"coordinator"}, params={"decision": "keep_apart"}),
    ],
    "odr:grid_report": [
        get(SIGNED_IN, act=NOBODY, refused=GET_REFUSED[PAGE]),
        post(SIGNED_IN, NOBODY, body={}),
    ],
    "odr:grid_sw": [get(PUBLIC)],
    "odr:dispute_action": _dispute_actions(PAGE),
    "odr:message_post": [post(CASE, PARTICIPANTS, body={"text": "我同意下周调解。"})],
    "odr:evidence_upload": [post(CASE, PARTIES, body=lambda w: {"file": _text_file()})],
    "odr:evidence_download": [get(CASE)],
    "odr:invitation_resend": [post(CASE, {"applicant"})],
    "odr:statement_add": [post(CASE, {"respondent"}, body={"text": "我已按约还款一部分。"})],
    "odr:party_update": [post(CASE, NOBODY, body={})],
    "odr:agent_add": [
        post(CASE, AGENT_MANAGERS, body=lambda w: {f"agent{w.agent.party_id}-name": "赵律师"})
    ],
    "odr:agent_revoke": [post(CASE, AGENT_MANAGERS)],
    "odr:agent_document": [get(PARTICULARS_READERS)],
    "mediation:schedule": [
        get(CASE, act={"mediator"}, refused=GET_REFUSED[PAGE]),
        post(CASE, {"mediator"}, body={}, refused=GET_REFUSED[PAGE]),
    ],
    "mediation:detail": [get(CASE)],
    "mediation:reschedule": [post(CASE, {"mediator"}, body={"scheduled_at": ""})],
    "mediation:cancel": [post(CASE, {"mediator"}, body={"reason": "调解员出差"})],
    "mediation:pick": [post(CASE, PARTIES, body={"time": ""})],
    "mediation:end": [post(CASE, {"mediator"})],
    "mediation:minutes": [
        get(CASE, act={"mediator"}, refused=GET_REFUSED[PAGE]),
        post(CASE, {"mediator"}, body={"minutes": "双方陈述了意见。"}, refused=GET_REFUSED[PAGE]),
    ],
    # The calendar file and the room are the participants': staff get 404.
    "mediation:calendar": [get(PARTICIPANTS)],
    "media:room": [get(PARTICIPANTS)],
    # The drafting page is the mediator's (404 to the rest); an agreement in force sends
    # him on to the agreement.
    "agreements:edit": [
        get({"mediator"}, ok=frozenset({302})),
        post({"mediator"}, body={}, ok=frozenset({302})),
    ],
    "agreements:detail": [get(CASE)],
    "agreements:versions": [get(CASE)],
    # The signing page shows anyone who sees the case why they cannot sign now.
    "agreements:sign": [
        get(CASE),
        # The page signs through the API's two steps with a key made in the browser; a
        # form posted without the script signs nothing and says why (400), to anyone.
        post(
            CASE,
            PARTICIPANTS,
            body=lambda w: {
                "password": "not-the-password",
                "consent": "on",
                "method": "typed",
                "version": w.agreement.version,
            },
            ok=frozenset({400}),
            refused=frozenset({400}),
        ),
    ],
    "agreements:pdf": [get(CASE)],
    "documents:agreement_translation": [get(CASE)],
    "agreements:action": _agreement_actions(),
    # --- pages: the court ------------------------------------------------------------------
    "court:queue": [get(COURT_STAFF)],
    "court:request": [get(COURT)],
    "court:accept": [
        post(COURT, CLERKS, body=lambda w: {"court_case_number": _court_case_number()})
    ],
    "court:extend": [post(COURT, JUDGES, body={"reason": "案情复杂，需延长审查期限"})],
    "court:extension_decide": [post(COURT, NOBODY, body={"approve": "1"})],
    # The judge's ruling goes through its preview (a page, then the PDF) before the issue.
    "court:ruling_preview": [
        post(COURT, JUDGES, body={"decision": "not_accepted", "reason": "本案不属于本院管辖"})
    ],
    "court:ruling_preview_pdf": [
        post(COURT, JUDGES, body={"decision": "not_accepted", "reason": "本案不属于本院管辖"})
    ],
    "court:supplement_ask": [post(COURT, body={"what": "补充身份证明", "deadline": "2099-01-01"})],
    "court:supplement_lapse": [post(COURT, JUDGES)],
    "court:withdraw_allow": [post(COURT, JUDGES)],
    "court:inquiry_schedule": [post(COURT, JUDGES, body=lambda w: {"scheduled_at": _future()})],
    "court:inquiry_record": [
        post(
            COURT,
            params={"inquiry_id": lambda w: w.inquiry.pk},
            body={"record": "问：是否自愿？答：是。"},
        )
    ],
    "court:inquiry_sign": [
        post(
            COURT | PARTIES,
            params={"inquiry_id": lambda w: w.inquiry.pk},
            body={"password": "not-the-password"},
        )
    ],
    # The parties' side of the court's acts.
    "court:acts": [get(COURT | PARTIES)],
    "court:supplement_answer": [post(PARTIES, body={"answer": "借条照片已上传"})],
    "court:withdraw": [post(PARTIES, body={"reason": "已履行"})],
    "court:decide": [
        post(COURT, JUDGES, body={"decision": "not_accepted", "reason": "本案不属于本院管辖"}),
        post(COURT, JUDGES, body={"decision": "rejected", "reason": "协议内容违反法律规定"}),
    ],
    "court:confirmation_apply": [post(CASE, PARTIES)],
    # The signing page tells anyone who sees the case why they cannot sign now; a form
    # posted without the script signs nothing and says why (400), to anyone.
    "court:confirmation_sign": [
        get(CASE),
        post(
            CASE,
            PARTIES,
            body={"password": "not-the-password", "consent": "on", "method": "typed"},
            ok=frozenset({400}),
            refused=frozenset({400}),
        ),
    ],
    "court:obligation_confirm": [post(CASE, frozenset({"applicant"}))],
    "court:obligation_dispute": [
        post(CASE, frozenset({"applicant"}), body={"reason": "未收到款项"})
    ],
    "court:obligation_done": [
        post(
            CASE,
            PARTIES,
            body={"note": "已通过银行转账支付"},
            after=_obligation_not_closed_by_obligor,
        )
    ],
}

# --- the URL configuration -------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    route: str  # as written in the URL configuration, e.g. api/v1/disputes/<dispute_id>

    @property
    def kind(self) -> str:
        return API if self.route.startswith("api/") else PAGE

    @property
    def params(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.route)


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}{pattern.namespace}:"
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield Route(f"{namespace}{pattern.name}", prefix + str(pattern.pattern))


def routes() -> list[Route]:
    """Every page and API endpoint of the URL configuration, outside `EXCLUDED`."""
    found = [r for r in _walk(get_resolver().url_patterns) if not r.route.startswith(EXCLUDED)]
    return sorted(set(found), key=lambda r: (r.route, r.name))


# --- the requests ----------------------------------------------------------------------

# The world's object behind each URL argument, and one that does not exist.
OBJECTS: dict[str, Callable[[World], Any]] = {
    "dispute_id": lambda w: w.dispute.pk,
    "session_id": lambda w: w.session.pk,
    "agreement_id": lambda w: w.agreement.pk,
    "request_id": lambda w: w.confirmation.pk,
    "evidence_id": lambda w: w.evidence.pk,
    "obligation_id": lambda w: w.obligation.pk,
    "token": lambda w: w.invitation_token,
    "number": lambda w: w.ticket.ticket_id,
    "sha256": lambda w: w.agreement.pdf_sha256,
    "document_id": lambda w: w.agreement.document_id,
    "party_id": lambda w: w.agent.party_id,
    "agent_id": lambda w: w.agent.pk,
    "supplement_id": lambda w: w.supplement.pk,
    "inquiry_id": lambda w: w.inquiry.pk,
    "visit_id": lambda w: w.visit.pk,
    "link_id": lambda w: w.duplicate.pk,
}
GHOSTS: dict[str, Any] = {
    "dispute_id": 987654,
    "session_id": 987654,
    "agreement_id": 987654,
    "request_id": 987654,
    "evidence_id": 987654,
    "obligation_id": 987654,
    "token": "id-" + "A" * 43,
    "number": "NO-SUCH-TICKET",
    "sha256": "0" * 64,
    "document_id": uuid.UUID(int=7),
    "party_id": 987654,
    "agent_id": 987654,
    "supplement_id": 987654,
    "inquiry_id": 987654,
    "visit_id": 987654,
    "link_id": 987654,
}
# Django views, not ninja operations: like the read-only pages they answer any method.
ANY_METHOD = {"api:api-root", "api:openapi-json", "api:openapi-view"}
# Requests with ids that do not exist, by these roles: the same 404 as for what exists
# but is not theirs.
GHOST_ROLES = ("stranger", "admin")
# The wrong method, by these roles: 405 (a page's log-in comes first for anonymous).
WRONG_METHOD_ROLES = (ANONYMOUS, "stranger", "admin")


@dataclass
class Request:
    label: str  # what the report calls it: method, path and pattern name
    route: Route
    method: str
    path: str
    entry: Entry | None  # None: a wrong-method request
    expected: dict[str, frozenset[int]]
    ghost: bool = False


def _expected(entry: Entry, kind: str, role: str) -> frozenset[int]:
    write = entry.method != "GET"
    if entry.audience is PUBLIC:
        return entry.ok or frozenset({200})
    if role == ANONYMOUS:
        return frozenset({401}) if kind == API else frozenset({302})
    if role not in entry.audience:
        return NOT_FOUND
    act = entry.audience if entry.act is None else entry.act
    if role in act:
        return entry.ok or (WRITE_OK[kind] if write else frozenset({200}))
    return entry.refused or (REFUSED[kind] if write else GET_REFUSED[kind])


def _value(value: Any, world: World) -> Any:
    return value(world) if callable(value) else value


def _path(route: Route, entry: Entry | None, world: World, *, ghost: bool = False) -> str:
    overrides = entry.params if entry else {}
    kwargs = {}
    for name in route.params:
        if name in overrides and not (ghost and name in GHOSTS):
            kwargs[name] = _value(overrides[name], world)
        elif ghost and name in GHOSTS:
            kwargs[name] = GHOSTS[name]
        elif name in OBJECTS:
            kwargs[name] = OBJECTS[name](world)
        else:
            raise AssertionError(f"{route.name}: no value for the URL argument {name!r}")
    return reverse(route.name, kwargs=kwargs)


def _wrong_method(methods: set[str]) -> str | None:
    return next((m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m not in methods), None)


def plan(world: World) -> list[Request]:
    """Every request of the matrix, with each role's expected status."""
    out: list[Request] = []
    by_route: dict[str, set[str]] = {}
    routes_of: dict[str, Route] = {}
    for route in routes():
        entries = MATRIX.get(route.name, [])
        for entry in entries:
            path = _path(route, entry, world)
            label = f"{entry.method} {path} [{route.name}]"
            out.append(
                Request(
                    label,
                    route,
                    entry.method,
                    path,
                    entry,
                    {role: _expected(entry, route.kind, role) for role in ROLES},
                )
            )
            ids = [p for p in route.params if p in GHOSTS]
            if ids:
                ghost_path = _path(route, entry, world, ghost=True)
                out.append(
                    Request(
                        f"{entry.method} {ghost_path} [{route.name}, no such object]",
                        route,
                        entry.method,
                        ghost_path,
                        entry,
                        {role: NOT_FOUND for role in GHOST_ROLES},
                        ghost=True,
                    )
                )
        by_route.setdefault(route.route, set()).update(e.method for e in entries)
        routes_of.setdefault(route.route, route)
    for route_text, methods in sorted(by_route.items()):
        route = routes_of[route_text]
        entry = next(iter(MATRIX.get(route.name, [])), None)
        if entry is None or route.name in ANY_METHOD:
            continue
        if route.kind == API:
            wrong = _wrong_method(methods)
            expected = dict.fromkeys(WRONG_METHOD_ROLES, frozenset({405}))
        elif methods == {"POST"}:
            # Only views that declare their methods (require_POST) answer 405; the others
            # are read-only and answer any method like GET.
            wrong = "GET"
            public = entry.audience is PUBLIC
            expected = {
                role: frozenset({405 if public or role != ANONYMOUS else 302})
                for role in WRONG_METHOD_ROLES
            }
        else:
            continue
        path = _path(route, entry, world)
        label = f"{wrong} {path} [{route.name}, wrong method]"
        out.append(Request(label, route, wrong, path, None, expected))
    return out


# --- sending them ----------------------------------------------------------------------


def _send(client, request: Request, world: World, **headers):
    entry = request.entry
    body = _value(entry.body, world) if entry is not None and entry.body is not None else None
    if request.method == "GET":
        return client.get(request.path, **headers)
    if request.route.kind == PAGE or (entry is not None and entry.form):
        if request.method == "POST":
            return client.post(request.path, body or {}, **headers)
        return client.generic(request.method, request.path, **headers)
    data = json.dumps(body) if body is not None else ""
    return client.generic(
        request.method, request.path, data, content_type="application/json", **headers
    )


def _content(response) -> str:
    if response.get("Content-Type", "").startswith(("application/pdf", "application/zip")):
        return ""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", errors="replace")


def _audit_seq() -> int:
    from odr.models import AuditEvent

    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


@contextmanager
def _quiet_request_log() -> Iterator[None]:
    """Every refusal logs a warning (Not Found: ...); hundreds of them bury a failure."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def check(world: World, request: Request, role: str) -> list[str]:
    """Sends the request as `role` inside a savepoint that is rolled back, and returns what
    went wrong (nothing when the cell holds)."""
    expected = request.expected[role]
    problems: list[str] = []
    client = world.client(role, raise_request_exception=False)
    with transaction.atomic():
        before = _audit_seq()
        response = _send(client, request, world)
        status = response.status_code
        if status >= 500:
            exc = getattr(response, "exc_info", None)
            problems.append(f"{status} (5xx: {exc[1]!r})" if exc else f"{status} (5xx)")
        elif status not in expected:
            problems.append(f"expected {sorted(expected)}, got {status}")
        elif role == ANONYMOUS and status == 302 and request.route.kind == PAGE:
            location = response.get("Location", "")
            if not location.startswith(settings.LOGIN_URL):
                problems.append(f"anonymous redirected to {location}, not to the log-in")
        text = _content(response) if status < 500 else ""
        for secret, readers, what in SECRETS:
            if role not in readers and secret in text:
                problems.append(f"{role} reads {what} ({status})")
        entry = request.entry
        may_write = False
        if entry is not None and not request.ghost:
            act = entry.audience if entry.act is None else entry.act
            may_write = act is PUBLIC or role in act
        if not may_write and status < 500 and _audit_seq() != before:
            problems.append(f"a refused request wrote to the audit trail ({status})")
        if entry is not None and entry.after is not None and status < 500:
            why = entry.after(world, role)
            if why:
                problems.append(f"{why} ({status})")
        response.close()
        transaction.set_rollback(True)
    return [f"{request.label} as {role}: " + "; ".join(problems)] if problems else []


# --- the tests -------------------------------------------------------------------------


def test_every_url_pattern_has_an_entry_in_the_matrix():
    names = {r.name for r in routes()}
    missing = sorted(names - set(MATRIX))
    assert not missing, (
        "URL patterns without an entry in tests/security/test_matrix.py MATRIX (say who "
        f"may see and use them): {missing}"
    )
    stale = sorted(set(MATRIX) - names)
    assert not stale, f"MATRIX entries for URL patterns that no longer exist: {stale}"


def test_the_matrix_is_large(world):
    requests = plan(world)
    cells = sum(len(r.expected) for r in requests)
    endpoints = len({r.route.name for r in requests})
    print(
        f"\nsecurity matrix: {endpoints} endpoints and pages, {len(ROLES)} roles, "
        f"{len(requests)} requests, {cells} request × role cells"
    )
    assert len(ROLES) >= 13
    assert cells >= 1000


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_answers_this_role_as_the_matrix_says(world, role):
    failures: list[str] = []
    with _quiet_request_log():
        for request in plan(world):
            if role in request.expected:
                failures += check(world, request, role)
    assert not failures, f"{len(failures)} cells fail:\n" + "\n".join(failures)


# --- production mode: the one two-factor rule (issue 11, H1/H2) --------------------------

# Who `odr.middleware.mfa_required` holds to TOTP: mediators, coordinators, court staff
# and the platform's administrators. Citizens never.
STAFF = ("mediator", "coordinator", "clerk", "judge", "admin")
CITIZENS = ("applicant", "respondent", "stranger", "invitee")


def _exchange(world: World, request: Request, role: str, **headers) -> tuple[int, str, str]:
    """(status, Location, JSON code) of one request, sent inside a rolled-back savepoint."""
    client = world.client(role, raise_request_exception=False)
    with transaction.atomic():
        response = _send(client, request, world, **headers)
        code = ""
        if response.get("Content-Type", "").startswith("application/json") and response.content:
            body = response.json()
            code = str(body.get("code", "")) if isinstance(body, dict) else ""
        location = response.get("Location", "")
        response.close()
        transaction.set_rollback(True)
    return response.status_code, location, code


def _requests(world: World, kind: str) -> list[Request]:
    out = [r for r in plan(world) if r.route.kind == kind and r.entry is not None]
    return [r for r in out if not r.ghost]


def _gate_answers(world: World, roles, kind: str, token: dict[str, str] | None = None):
    """Every page or API request of the matrix as each role: (label, role, answer)."""
    with _quiet_request_log():
        for request in _requests(world, kind):
            for role in roles:
                headers = {"HTTP_X_SESSION_TOKEN": token[role]} if token else {}
                sender = ANONYMOUS if token else role
                yield request, role, _exchange(world, request, sender, **headers)


def _sent_to_totp_set_up(answer: tuple[int, str, str]) -> bool:
    status, location, _code = answer
    return status == 302 and location == reverse("mfa_activate_totp")


def _mfa_required(answer: tuple[int, str, str]) -> bool:
    status, _location, code = answer
    return status == 403 and code == "mfa_required"


# The API's description is open to staff on their way to TOTP (odr.middleware).
MFA_EXEMPT_API = ("/api/v1/openapi",)
# The 12345 hotline system's endpoints take its Bearer token, never a person's session:
# 401 to everyone else (issue 10).
HOTLINE_TOKEN_ONLY = frozenset({"api:ticket_create", "api:ticket_detail"})


@pytest.mark.usefixtures("production")
class TestProductionTwoFactorGate:
    """`odr.middleware.mfa_required` is the one rule for pages, the API (cookie and
    X-Session-Token), the admin and the room's WebSocket."""

    @pytest.mark.parametrize("role", STAFF)
    def test_staff_without_totp_are_sent_to_totp_set_up_by_every_page(self, world, role):
        wrong = [
            f"{r.label}: {a[0]} {a[1]}"
            for r, _role, a in _gate_answers(world, [role], PAGE)
            if not _sent_to_totp_set_up(a)
        ]
        assert not wrong, "\n".join(wrong)
        assert _sent_to_totp_set_up((*_admin_index(world, role), ""))

    @pytest.mark.parametrize("role", STAFF)
    def test_staff_without_totp_get_mfa_required_from_every_api_endpoint(self, world, role):
        wrong = [
            f"{r.label}: {a}"
            for r, _role, a in _gate_answers(world, [role], API)
            if not r.path.startswith(MFA_EXEMPT_API) and not _mfa_required(a)
        ]
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize("role", STAFF)
    def test_staff_without_totp_get_mfa_required_with_a_session_token(self, world, role):
        token = {role: session_token(world.users[role].email)}
        wrong = [
            f"{r.label}: {a}"
            for r, _role, a in _gate_answers(world, [role], API, token=token)
            if not r.path.startswith(MFA_EXEMPT_API) and not _mfa_required(a)
        ]
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize("role", STAFF)
    def test_staff_with_totp_pass_the_gate_on_every_page_and_endpoint(self, world, role):
        activate_totp(world.users[role])
        wrong = [
            f"{r.label}: {a}"
            for kind in (PAGE, API)
            for r, _role, a in _gate_answers(world, [role], kind)
            if _sent_to_totp_set_up(a) or _mfa_required(a) or a[0] >= 500
        ]
        assert not wrong, "\n".join(wrong)
        _status, location = _admin_index(world, role)
        assert location != reverse("mfa_activate_totp")

    def test_a_mediator_with_totp_uses_the_api_with_a_session_token(self, world):
        mediator = world.users["mediator"]
        token = {"mediator": session_token(mediator.email, totp_secret=activate_totp(mediator))}
        wrong = [
            f"{r.label}: {a}"
            for r, _role, a in _gate_answers(world, ["mediator"], API, token=token)
            if _mfa_required(a)
            or (a[0] == 401 and r.route.name not in HOTLINE_TOKEN_ONLY)
            or a[0] == 500
        ]
        assert not wrong, "\n".join(wrong)

    @pytest.mark.parametrize("role", CITIZENS)
    def test_citizens_are_never_asked_for_totp(self, world, role):
        wrong = [
            f"{r.label}: {a}"
            for kind in (PAGE, API)
            for r, _role, a in _gate_answers(world, [role], kind)
            if _sent_to_totp_set_up(a) or _mfa_required(a) or a[0] >= 500
        ]
        assert not wrong, "\n".join(wrong)
        token = {role: session_token(world.users[role].email)}
        me = next(r for r in _requests(world, API) if r.route.name == "api:me")
        assert _exchange(world, me, ANONYMOUS, HTTP_X_SESSION_TOKEN=token[role])[0] == 200

    # --- H2: the room's WebSocket --------------------------------------------------------

    @pytest.mark.parametrize("role", STAFF)
    def test_staff_without_totp_are_refused_the_room_socket(self, world, role):
        connected, _first = room_socket(world, role)
        assert connected is False

    def test_a_mediator_with_totp_enters_the_room(self, world):
        activate_totp(world.users["mediator"])
        connected, first = room_socket(world, "mediator")
        assert connected is True
        assert first["type"] == "welcome" and first["role"] == "mediator"

    @pytest.mark.parametrize("role", ("applicant", "respondent"))
    def test_a_party_without_totp_enters_the_rooms_lobby(self, world, role):
        connected, first = room_socket(world, role)
        assert connected is True
        assert first["type"] == "welcome" and first["role"] == role

    def test_the_room_socket_checks_the_exact_origin_port_included(self, world):
        """Issue 11, I: another port of the same host is another origin (another site)."""
        from urllib.parse import urlsplit

        site = urlsplit(settings.SITE_URL)
        port = (site.port or 80) + 1
        connected, _first = room_socket(
            world, "applicant", origin=f"{site.scheme}://{site.hostname}:{port}"
        )
        assert connected is False


def _admin_index(world: World, role: str) -> tuple[int, str]:
    response = world.client(role).get("/admin/")
    return response.status_code, response.get("Location", "")


def room_socket(world: World, role: str, *, origin: str | None = None):
    """Opens the session's room socket as a browser signed in as `role` would (its session
    cookie; the platform's own address as Host and, unless given, as Origin):
    (connected, first message or None)."""
    from urllib.parse import urlsplit

    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    cookie = f"{settings.SESSION_COOKIE_NAME}={world.cookies[role]}".encode()
    host = urlsplit(settings.SITE_URL).netloc.encode()
    origin = (origin or settings.SITE_URL).encode()

    async def connect():
        communicator = WebsocketCommunicator(
            application,
            f"/ws/sessions/{world.session.pk}/",
            headers=[(b"cookie", cookie), (b"origin", origin), (b"host", host)],
        )
        connected, _subprotocol = await communicator.connect(timeout=5)
        first = None
        if connected:
            first = await communicator.receive_json_from(timeout=5)
            await communicator.disconnect()
        return connected, first

    # From this (synchronous) test's thread: the consumer's database calls run here, in
    # the test's transaction, where the world is.
    return async_to_sync(connect)()
