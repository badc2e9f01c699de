from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path

from config.api import api

# The admin logs in through allauth like everyone else (issue 11, H1): its own password-only
# form would skip the TOTP step and allauth's rate limits. An anonymous visitor of
# /admin/login/ is sent to allauth's log-in, which comes back here signed in.
admin.site.login = login_required(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("", include("sessions.urls")),
    path("", include("sessions.media.urls")),
    path("", include("agreements.urls")),
    path("", include("agreements.documents.urls")),
    path("", include("agreements.court.urls")),
    path("", include("odr.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
