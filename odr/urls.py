from django.urls import path

from odr import views

app_name = "odr"

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("disputes/", views.dispute_list, name="dispute_list"),
    path("disputes/new/", views.dispute_new, name="dispute_new"),
    path("disputes/<int:dispute_id>/", views.dispute_detail, name="dispute_detail"),
    path(
        "disputes/<int:dispute_id>/actions/<str:action>/",
        views.dispute_action,
        name="dispute_action",
    ),
    path("disputes/<int:dispute_id>/messages/", views.message_post, name="message_post"),
    path("disputes/<int:dispute_id>/evidence/", views.evidence_upload, name="evidence_upload"),
    path(
        "disputes/<int:dispute_id>/evidence/<int:evidence_id>/",
        views.evidence_download,
        name="evidence_download",
    ),
    path(
        "disputes/<int:dispute_id>/invite-again/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("invitations/<str:token>/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<str:token>/decline/", views.invitation_decline, name="invitation_decline"),
    path("intake/", views.intake, name="intake"),
    path("stats/", views.stats_page, name="stats"),
]
