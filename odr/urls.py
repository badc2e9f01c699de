from django.urls import path

from odr.views import cases, centre, filing, hotline, invitations, lists, profile, public

app_name = "odr"

urlpatterns = [
    path("", public.home, name="home"),
    path("profile/", profile.profile, name="profile"),
    path("disputes/", lists.dispute_list, name="dispute_list"),
    path("disputes/new/", filing.dispute_new, name="dispute_new"),
    path("disputes/<int:dispute_id>/", cases.dispute_detail, name="dispute_detail"),
    path(
        "disputes/<int:dispute_id>/actions/<str:action>/",
        cases.dispute_action,
        name="dispute_action",
    ),
    path("disputes/<int:dispute_id>/messages/", cases.message_post, name="message_post"),
    path("disputes/<int:dispute_id>/evidence/", cases.evidence_upload, name="evidence_upload"),
    path(
        "disputes/<int:dispute_id>/evidence/<int:evidence_id>/",
        cases.evidence_download,
        name="evidence_download",
    ),
    path("disputes/<int:dispute_id>/statement/", cases.statement_add, name="statement_add"),
    path(
        "disputes/<int:dispute_id>/parties/<int:party_id>/",
        cases.party_update,
        name="party_update",
    ),
    path(
        "disputes/<int:dispute_id>/parties/<int:party_id>/agents/",
        cases.agent_add,
        name="agent_add",
    ),
    path(
        "disputes/<int:dispute_id>/parties/<int:party_id>/agents/<int:agent_id>/revoke/",
        cases.agent_revoke,
        name="agent_revoke",
    ),
    path(
        "disputes/<int:dispute_id>/parties/<int:party_id>/agents/<int:agent_id>/",
        cases.agent_document,
        name="agent_document",
    ),
    path(
        "disputes/<int:dispute_id>/invite-again/",
        invitations.invitation_resend,
        name="invitation_resend",
    ),
    path("invitations/<str:token>/", invitations.invitation, name="invitation"),
    path(
        "invitations/<str:token>/accept/", invitations.invitation_accept, name="invitation_accept"
    ),
    path(
        "invitations/<str:token>/decline/",
        invitations.invitation_decline,
        name="invitation_decline",
    ),
    path("intake/", lists.intake, name="intake"),
    path("stats/", public.stats_page, name="stats"),
    path(
        "disputes/<int:dispute_id>/hotline/<str:action>/",
        hotline.ticket_action,
        name="hotline_action",
    ),
    path("survey/<str:token>/", hotline.survey, name="hotline_survey"),
    path("dashboard/", hotline.dashboard, name="dashboard"),
    path("dashboard/export.xlsx", hotline.dashboard_export, name="dashboard_export"),
    # The one-stop centre's reception and the grid worker's phone page (issue 10).
    path("reception/", centre.reception, name="reception"),
    path("reception/visits/<int:visit_id>/file/", centre.reception_file, name="reception_file"),
    path("reception/receipt/<int:dispute_id>/", centre.reception_receipt, name="reception_receipt"),
    path("disputes/<int:dispute_id>/handoff/", centre.dispute_handoff, name="dispute_handoff"),
    path(
        "disputes/<int:dispute_id>/duplicates/<int:link_id>/<str:decision>/",
        centre.duplicate_decide,
        name="duplicate_decide",
    ),
    path("grid/report/", centre.grid_report, name="grid_report"),
    path("grid/sw.js", centre.grid_sw, name="grid_sw"),
]
