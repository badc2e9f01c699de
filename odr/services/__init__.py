"""Every write to disputes, parties, invitations, evidence, messages and profiles, split by
sub-domain (DESIGN.md §2, §4): each status change is one function that goes through the
dispute machine of odr.transitions (lock, check, save, audit, signal after commit).

The public functions are re-exported here, so that callers in every app write
`from odr import services; services.dispute_file(...)` without knowing the modules."""

from odr.services.centre import dispute_handoff, receipt_text, visit_register, walk_in_file
from odr.services.duplicates import duplicate_keep_apart, duplicate_merge
from odr.services.filing import dispute_file, evidence_add, filer_viewer
from odr.services.grid import grid_report_submit
from odr.services.intake import (
    REFERRAL_GUIDANCE,
    dispute_accept,
    dispute_assign,
    dispute_escalate,
    dispute_fail,
    dispute_reject,
    dispute_run_action,
    dispute_settle,
    dispute_withdraw,
)
from odr.services.invitations import (
    invitation_accept,
    invitation_decline,
    invitation_resend,
    invitation_url,
)
from odr.services.messages import message_post
from odr.services.parties import (
    agent_add,
    agent_revoke,
    particulars_editable,
    parties_sync_from_profile,
    party_update,
    statement_add,
)
from odr.services.profile import profile_update

__all__ = [
    "REFERRAL_GUIDANCE",
    "agent_add",
    "agent_revoke",
    "dispute_accept",
    "dispute_assign",
    "dispute_escalate",
    "dispute_fail",
    "dispute_file",
    "dispute_handoff",
    "dispute_reject",
    "dispute_run_action",
    "dispute_settle",
    "dispute_withdraw",
    "duplicate_keep_apart",
    "duplicate_merge",
    "evidence_add",
    "filer_viewer",
    "grid_report_submit",
    "invitation_accept",
    "invitation_decline",
    "invitation_resend",
    "invitation_url",
    "message_post",
    "particulars_editable",
    "parties_sync_from_profile",
    "party_update",
    "profile_update",
    "receipt_text",
    "statement_add",
    "visit_register",
    "walk_in_file",
]
