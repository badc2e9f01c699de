"""How the case timeline words the sessions app's audit events. The case page (odr.views)
looks an action up here; each text is formatted with `actor` (who did it)."""

from django.utils.translation import gettext_noop

EVENT_TEXT: dict[str, str] = {
    "session.schedule": gettext_noop("%(actor)s scheduled a mediation session"),
    "session.pick": gettext_noop("%(actor)s chose the time of the mediation session"),
    "session.reschedule": gettext_noop("%(actor)s moved the mediation session"),
    "session.cancel": gettext_noop("%(actor)s cancelled the mediation session"),
    "session.start": gettext_noop("The mediation session began"),
    "session.end": gettext_noop("%(actor)s ended the mediation session"),
    "session.minutes": gettext_noop("%(actor)s wrote the minutes of the session"),
    "session.join": gettext_noop("%(actor)s joined the mediation room"),
    "session.leave": gettext_noop("%(actor)s left the mediation room"),
    "session.admit": gettext_noop("%(actor)s admitted someone from the lobby"),
    "session.remove": gettext_noop("%(actor)s removed someone from the room"),
    "session.caucus": gettext_noop("%(actor)s began a private caucus"),
    "session.caucus_end": gettext_noop("%(actor)s ended the private caucus"),
    "session.chat": gettext_noop("%(actor)s wrote in the room's chat"),
    "session.consent": gettext_noop("%(actor)s consented to online mediation"),
    "session.self_test": gettext_noop("%(actor)s tested their network before joining"),
}
