from django.urls import path

from agreements.court import views

app_name = "court"

urlpatterns = [
    path("court/", views.queue, name="queue"),
    path("court/requests/<int:request_id>/", views.request_detail, name="request"),
    path("court/requests/<int:request_id>/accept/", views.request_accept, name="accept"),
    path("court/requests/<int:request_id>/extend/", views.request_extend, name="extend"),
    path("court/requests/<int:request_id>/decide/", views.request_decide, name="decide"),
    path(
        "court/requests/<int:request_id>/extension/decision/",
        views.extension_decide,
        name="extension_decide",
    ),
    path(
        "court/requests/<int:request_id>/ruling-preview/",
        views.ruling_preview,
        name="ruling_preview",
    ),
    path(
        "court/requests/<int:request_id>/ruling-preview.pdf",
        views.ruling_preview_pdf,
        name="ruling_preview_pdf",
    ),
    path(
        "court/requests/<int:request_id>/supplements/",
        views.supplement_ask,
        name="supplement_ask",
    ),
    path(
        "court/requests/<int:request_id>/supplements/lapse/",
        views.supplement_lapse,
        name="supplement_lapse",
    ),
    path(
        "court/requests/<int:request_id>/withdrawal/",
        views.withdraw_allow,
        name="withdraw_allow",
    ),
    path(
        "court/requests/<int:request_id>/inquiries/",
        views.inquiry_schedule,
        name="inquiry_schedule",
    ),
    path(
        "court/requests/<int:request_id>/inquiries/<int:inquiry_id>/record/",
        views.inquiry_record,
        name="inquiry_record",
    ),
    path(
        "court/requests/<int:request_id>/inquiries/<int:inquiry_id>/sign/",
        views.inquiry_sign,
        name="inquiry_sign",
    ),
    # The parties' side of the court's acts.
    path("court/requests/<int:request_id>/acts/", views.acts, name="acts"),
    path(
        "court/requests/<int:request_id>/acts/answer/",
        views.supplement_answer,
        name="supplement_answer",
    ),
    path("court/requests/<int:request_id>/acts/withdraw/", views.withdraw, name="withdraw"),
    path(
        "agreements/<int:agreement_id>/confirmation/",
        views.confirmation_apply,
        name="confirmation_apply",
    ),
    path(
        "agreements/<int:agreement_id>/confirmation/sign/",
        views.confirmation_sign,
        name="confirmation_sign",
    ),
    path("obligations/<int:obligation_id>/done/", views.obligation_done, name="obligation_done"),
    path(
        "obligations/<int:obligation_id>/confirm/",
        views.obligation_confirm,
        name="obligation_confirm",
    ),
    path(
        "obligations/<int:obligation_id>/dispute/",
        views.obligation_dispute,
        name="obligation_dispute",
    ),
]
