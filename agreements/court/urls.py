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
        "agreements/<int:agreement_id>/confirmation/",
        views.confirmation_apply,
        name="confirmation_apply",
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
