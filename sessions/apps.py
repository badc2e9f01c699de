from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    # The folder is `sessions`; the label is not, because django.contrib.sessions has it.
    name = "sessions"
    label = "mediation"
    verbose_name = _("Mediation sessions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from odr.composition import CaseSummary, register_panel, register_summary
        from odr.lifecycle import transitioned
        from odr.models import Dispute
        from sessions import receivers, selectors, transitions  # noqa: F401  (the machine)
        from sessions.services import hearing

        # A judge's inquiry held online opens a hearing room: the confirmation request's
        # moves only (its model looked up by label: this app does not import agreements);
        # the receiver picks its own move.
        transitioned.connect(
            hearing.open_hearing_rooms,
            sender=apps.get_model("agreements", "ConfirmationRequest"),
            dispatch_uid="sessions.hearing_rooms",
        )
        transitioned.connect(
            receivers.close_sessions_when_case_leaves_mediation,
            sender=Dispute,
            dispatch_uid="sessions.close_sessions_when_case_leaves_mediation",
        )

        register_panel("mediation/_case_sessions.html", order=10)
        register_summary(
            CaseSummary(
                "sessions",
                one=selectors.session_summaries_for,
                many=selectors.session_summaries_by_dispute,
                empty=[],
                column=selectors.session_summaries_column,
                from_column=selectors.session_summaries_from_column,
            )
        )
