from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OdrConfig(AppConfig):
    name = "odr"
    verbose_name = _("Disputes")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # `language` connects the receiver that applies the profile's language at log-in;
        # `transitions` declares the dispute machine and odr's audit actions; `periods`
        # registers the check that the working-day calendar reaches far enough.
        # `services.hotline` connects the receiver that closes a 12345 ticket with its case.
        from odr import language, periods, transitions  # noqa: F401
        from odr.composition import register_panel
        from odr.services import hotline  # noqa: F401

        register_panel("odr/_hotline_panel.html", order=5)
