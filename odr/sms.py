"""Text messages (SMS) to people who have a mobile number and no e-mail they read.

A county's citizens have a phone, often no e-mail address (issue 12), and the 12345
hotline's callers are known only by their number (issue 10). Texts are queued after
commit like e-mail (odr.notifications) and go through one backend chosen by settings:

- `ODR_SMS_GATEWAY_URL` set: an HTTP gateway. The platform POSTs JSON
  `{"to": "+8613800000000", "text": "..."}` with `Authorization: Bearer
  ODR_SMS_GATEWAY_TOKEN`; any 2xx is accepted, anything else raises (the task queue keeps
  the failure on record).
- otherwise a file backend: one JSON file per text in `ODR_SMS_DIR` (default `var/sms`),
  `{"to", "text", "sent_at"}`, as `ODR_EMAIL_DIR` does for e-mail; tests read them.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django_tasks import task

from odr.links import site_url
from odr.outbox import enqueue_on_commit

logger = logging.getLogger(__name__)

# A mainland mobile number: 11 digits starting with 1 (an optional +86/86 prefix).
_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


def normalise_mobile(phone: str) -> str | None:
    """`+86` and the 11 digits of a mainland mobile number, or None when `phone` is not
    one (a landline cannot receive a text)."""
    digits = re.sub(r"[\s\-()]", "", phone or "")
    match = _MOBILE.match(digits)
    return f"+86{match.group(1)}" if match else None


def render_sms(*, template: str, context: dict, language: str) -> str:
    """The text of `odr/sms/<template>.txt` (any app's templates folder), signed with
    the sender's name as Chinese carriers require (ODR_SMS_SIGNATURE)."""
    with translation.override(language):
        text = render_to_string(f"odr/sms/{template}.txt", context)
    return settings.ODR_SMS_SIGNATURE + " ".join(text.split())


def text(
    phone: str, template: str, context: dict, *, language: str = settings.LANGUAGE_CODE
) -> bool:
    """Queue one text once the surrounding transaction commits; False (and nothing
    queued) when `phone` is not a mobile number. `context` crosses the task queue, so it
    must be JSON-serialisable."""
    to = normalise_mobile(phone)
    if to is None:
        return False
    context = {**context, "site_url": site_url()}
    enqueue_on_commit(send_sms, to=to, language=language, template=template, context=context)
    return True


@task()
def send_sms(*, to: str, language: str, template: str, context: dict) -> None:
    deliver(to=to, text=render_sms(template=template, context=context, language=language))
    logger.info("sent %s text to %s", template, to)


def deliver(*, to: str, text: str) -> None:
    """Hand one text to the configured backend, now."""
    if settings.ODR_SMS_GATEWAY_URL:
        _gateway(to=to, text=text)
    else:
        _file(to=to, text=text)


def _file(*, to: str, text: str) -> None:
    folder = Path(settings.ODR_SMS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    now = timezone.now()
    # Microseconds in the name: texts sent within one second still sort in order.
    path = folder / f"{now:%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:12]}.json"
    payload = {"to": to, "text": text, "sent_at": now.isoformat()}
    # Written whole then renamed, so a reader never sees half a text.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


class GatewayError(RuntimeError):
    pass


def _gateway(*, to: str, text: str) -> None:
    body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
    request = urllib.request.Request(
        settings.ODR_SMS_GATEWAY_URL,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    if settings.ODR_SMS_GATEWAY_TOKEN:
        request.add_header("Authorization", f"Bearer {settings.ODR_SMS_GATEWAY_TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=settings.ODR_SMS_GATEWAY_TIMEOUT) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        raise GatewayError(f"SMS gateway unreachable: {exc}") from exc
    if not 200 <= status < 300:
        raise GatewayError(f"SMS gateway answered {status}")


def sent_texts(folder: str | Path | None = None) -> list[dict]:
    """The texts the file backend wrote, oldest first (for tests and the demo)."""
    path = Path(folder or settings.ODR_SMS_DIR)
    if not path.is_dir():
        return []
    texts = [json.loads(p.read_text(encoding="utf-8")) for p in path.glob("*.json")]
    return sorted(texts, key=lambda t: t["sent_at"])
