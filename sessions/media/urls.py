from django.urls import path

from sessions.media import views

app_name = "media"

urlpatterns = [
    path("sessions/<int:session_id>/room/", views.room, name="room"),
    path("jsi18n/media/", views.MediaJavaScriptCatalog.as_view(), name="jsi18n"),
]
