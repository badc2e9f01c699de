from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    # The folder is `sessions`; the label is not, because django.contrib.sessions has it.
    name = "sessions"
    label = "mediation"
    verbose_name = _("Mediation sessions")
    default_auto_field = "django.db.models.BigAutoField"
