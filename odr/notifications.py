"""E-mail and texts to whoever must act next, in the recipient's language, sent after
commit from the background task queue (issue 2 §9).

By e-mail where the person has an address, by text (odr.sms) where they have a mobile
number (issue 12: in a county many have a phone and no e-mail they read). A text is
`odr/sms/<template>.txt` when the template has a short text of its own, otherwise the
e-mail's subject and the one link to act on (`odr/sms/notice.txt`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import EmailMessage
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import translation
from django_tasks import task

from odr import sms
from odr.links import site_url
from odr.outbox import enqueue_on_commit

logger = logging.getLogger(__name__)


# The link a text carries when the template has no text of its own: the first of these
# the context has (what the person is asked to act on, most specific first).
_SMS_LINKS = (
    "invitation_url",
    "sign_url",
    "room_url",
    "session_url",
    "agreement_url",
    "portal_url",
    "case_url",
)


@dataclass(frozen=True)
class Recipient:
    email: str = ""
    language: str = settings.LANGUAGE_CODE
    phone: str = ""

    @classmethod
    def of_user(cls, user: AbstractBaseUser) -> Recipient:
        profile = getattr(user, "profile", None)
        return cls(
            email=user.email,
            language=getattr(profile, "language", settings.LANGUAGE_CODE),
            phone=getattr(profile, "phone", ""),
        )


def sms_template(template: str) -> tuple[str, dict]:
    """The text's template for an e-mail template, and what it adds to the context."""
    try:
        get_template(f"odr/sms/{template}.txt")
    except TemplateDoesNotExist:
        return "notice", {"subject_template": f"odr/email/{template}_subject.txt"}
    return template, {}


def notify(
    recipients: list[Recipient | AbstractBaseUser],
    template: str,
    context: dict,
    *,
    attachments: list[tuple[str, str, str]] | None = None,
) -> None:
    """Queue one e-mail per recipient once the surrounding transaction commits.

    `template` names `odr/email/<template>_subject.txt` and `_body.txt` (any app's
    templates folder); `context` must be JSON-serialisable because it crosses the task
    queue. `attachments` are (filename, text content, mimetype), e.g. an .ics file."""
    resolved = [r if isinstance(r, Recipient) else Recipient.of_user(r) for r in recipients]
    context = {**context, "site_url": site_url()}
    text_template, text_extra = sms_template(template)
    text_context = {
        **context,
        **text_extra,
        "link": next((context[k] for k in _SMS_LINKS if context.get(k)), context["site_url"]),
    }
    for recipient in resolved:
        if recipient.phone:
            sms.text(recipient.phone, text_template, text_context, language=recipient.language)
        if not recipient.email:
            continue
        enqueue_on_commit(
            send_email,
            email=recipient.email,
            language=recipient.language,
            template=template,
            context=context,
            attachments=attachments or [],
        )


def render_email(*, template: str, context: dict, language: str) -> tuple[str, str]:
    with translation.override(language):
        subject = render_to_string(f"odr/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"odr/email/{template}_body.txt", context)
    return " ".join(subject.split()), body


@task()
def send_email(
    *,
    email: str,
    language: str,
    template: str,
    context: dict,
    attachments: list[list[str]] | list[tuple[str, str, str]],
) -> None:
    subject, body = render_email(template=template, context=context, language=language)
    message = EmailMessage(subject=subject, body=body, to=[email])
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    message.send()
    logger.info("sent %s e-mail to %s", template, email)
