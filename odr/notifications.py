"""E-mail to whoever must act next, in the recipient's language, sent after commit from
the background task queue (issue 2 §9)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django_tasks import task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str = settings.LANGUAGE_CODE

    @classmethod
    def of_user(cls, user: AbstractBaseUser) -> Recipient:
        profile = getattr(user, "profile", None)
        return cls(email=user.email, language=getattr(profile, "language", settings.LANGUAGE_CODE))


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
    context = {**context, "site_url": settings.SITE_URL}
    for recipient in resolved:
        if not recipient.email:
            continue
        transaction.on_commit(
            lambda r=recipient: send_email.enqueue(
                email=r.email,
                language=r.language,
                template=template,
                context=context,
                attachments=attachments or [],
            )
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
