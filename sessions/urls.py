"""Session pages under the `mediation` namespace (the room page is `media:room`, in
sessions.media.urls)."""

from django.urls import path

from sessions import views

app_name = "mediation"

urlpatterns = [
    path("disputes/<int:dispute_id>/sessions/new/", views.schedule, name="schedule"),
    path("sessions/<int:session_id>/", views.detail, name="detail"),
    path("sessions/<int:session_id>/reschedule/", views.reschedule, name="reschedule"),
    path("sessions/<int:session_id>/cancel/", views.cancel, name="cancel"),
    path("sessions/<int:session_id>/pick/", views.pick, name="pick"),
    path("sessions/<int:session_id>/end/", views.end, name="end"),
    path("sessions/<int:session_id>/minutes/", views.minutes, name="minutes"),
    path("sessions/<int:session_id>/calendar.ics", views.calendar, name="calendar"),
]
