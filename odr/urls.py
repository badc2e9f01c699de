from django.urls import path

from odr import views

app_name = "odr"

urlpatterns = [
    path("", views.home, name="home"),
]
