from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OdrConfig(AppConfig):
    name = "odr"
    verbose_name = _("Disputes")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # `language` connects the receiver that applies the profile's language at log-in;
        # `transitions` declares the dispute machine and odr's audit actions.
        from odr import language, transitions  # noqa: F401
        from odr.services import parties  # noqa: F401  (a respondent's profile reaches the case)
