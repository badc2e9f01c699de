"""Secure messages on a case between the parties and the mediator."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from odr import selectors
from odr.audit import log_action
from odr.errors import Forbidden, Invalid
from odr.models import Dispute, Message
from odr.notifications import notify
from odr.people import case_people, display_name
from odr.services.common import case_context
from odr.text import clean_text

MAX_MESSAGE_CHARS = 5000


def message_post(*, dispute: Dispute, actor: AbstractBaseUser, text: str) -> Message:
    """Parties and the mediator write to each other on the case; the others on it are
    told that there is a message (the text stays on the platform)."""
    if selectors.party_of(dispute, actor) is None and not selectors.is_mediator_of(dispute, actor):
        raise Forbidden(_("Only the parties and the mediator can write here."))
    text = clean_text(text, multiline=True)
    if not text:
        raise Invalid(_("Write a message first."), code="empty_message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Invalid(
            _("The message is too long (5,000 characters at most)."), code="message_too_long"
        )
    with transaction.atomic():
        message = Message.objects.create(dispute=dispute, sender=actor, text=text)
        log_action(
            action="message.post",
            obj=message,
            actor=actor,
            dispute=dispute,
            after={"length": len(text)},
        )
        notify(
            case_people(dispute, exclude=actor),
            "message",
            {**case_context(dispute), "sender": display_name(actor)},
        )
    return message
