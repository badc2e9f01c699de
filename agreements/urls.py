from django.urls import path

from agreements import views

app_name = "agreements"

urlpatterns = [
    path("disputes/<int:dispute_id>/agreement/", views.agreement_edit, name="edit"),
    path("agreements/<int:agreement_id>/", views.agreement_detail, name="detail"),
    path("agreements/<int:agreement_id>/versions/", views.agreement_versions, name="versions"),
    path("agreements/<int:agreement_id>/sign/", views.agreement_sign, name="sign"),
    path("agreements/<int:agreement_id>/pdf/", views.agreement_pdf, name="pdf"),
    path(
        "agreements/<int:agreement_id>/actions/<str:action>/",
        views.agreement_action,
        name="action",
    ),
]
