from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgreementsConfig(AppConfig):
    name = "agreements"
    verbose_name = _("Agreements and judicial confirmation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing the machines declares them and their audit actions' words.
        from agreements import selectors, transitions  # noqa: F401
        from agreements.court import performance_transitions  # noqa: F401
        from agreements.court import transitions as court_transitions  # noqa: F401
        from agreements.documents import revocation  # noqa: F401  (certificate.revoke)
        from odr.composition import (
            CaseSummary,
            register_access,
            register_panel,
            register_summary,
        )

        register_panel("agreements/_case_agreement.html", order=20)
        register_summary(
            CaseSummary(
                "agreement",
                one=selectors.agreement_ref_for,
                many=selectors.agreement_refs_by_dispute,
                empty=None,
                column=selectors.agreement_ref_column,
                from_column=selectors.agreement_ref_from_column,
            )
        )
        register_access(selectors.court_case_access)
