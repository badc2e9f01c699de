"""allauth's pages in Chinese say nothing in English (issue 12 follow-up): password reset,
e-mail and phone management, the two-step (TOTP) pages, log-in and sign-up. The pages are
every allauth page of the URL configuration (derived, not listed), loaded in zh-hans as
an anonymous visitor, as a user just signed in, and as one with TOTP on; none may contain
any of allauth's English texts (its catalogue's msgids), not a sentence and not a word
such as "Email" or "token" inside the Chinese (odr/accounts_locale says them)."""

from __future__ import annotations

import gettext
import html
import re
from pathlib import Path

import allauth
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests import factories
from tests.security.conftest import activate_totp

pytestmark = pytest.mark.django_db

# Pages with a key in their address, loaded with one that does not exist (their "bad
# link" page is what people meet when an old e-mail's link is followed).
WITH_KEYS = ["/accounts/password/reset/key/1-set-password/", "/accounts/confirm-email/no-such-key/"]


def _allauth_english() -> list[re.Pattern]:
    """allauth's English texts, placeholders removed, as whole-word patterns."""
    catalogue = Path(allauth.__file__).parent / "locale/zh_Hans/LC_MESSAGES/django.mo"
    with catalogue.open("rb") as f:
        ids = {k if isinstance(k, str) else k[0] for k in gettext.GNUTranslations(f)._catalog}
    texts = set()
    for msgid in ids:
        for part in re.split(r"<[^>]+>|%\(\w+\)s|%s|\{[^}]*\}", msgid):
            part = part.strip(" .:!?,()\"'\n")
            if re.search(r"[A-Za-z]{3,}", part):
                texts.add(part)
    return [
        re.compile(r"(?<![A-Za-z])" + re.escape(t) + r"(?![A-Za-z])")
        for t in sorted(texts, key=len, reverse=True)
    ]


def _text(content: bytes) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _pages() -> list[str]:
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    found = [f"/{r}" for r in walk(get_resolver().url_patterns) if r.startswith("accounts/")]
    return [p for p in found if "<" not in p] + WITH_KEYS


def _english_on(client: Client, paths: list[str], patterns, seen: set[str]) -> list[str]:
    found = []
    for path in paths:
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        seen.add(path)
        # The user's own address and the language switch's "English" are not allauth's.
        text = _text(response.content).replace("citizen1@demo.odr", "").replace("English", "")
        hits = [p.pattern for p in patterns if p.search(text)]
        # A label Django made from a field's name ("Recipient"): English, in no catalogue.
        hits += [
            label
            for label in re.findall(r"<label[^>]*>\s*([^<]*?)\s*<", response.content.decode())
            if re.search(r"[A-Za-z]{3,}", label)
            and not re.search(r"[\u4e00-\u9fff@]", label)  # an address is no English
        ]
        if hits:
            found.append(f"{path}: {hits[:5]}")
    return found


def test_allauths_pages_in_chinese_have_no_english_from_its_catalogue(demo):
    patterns = _allauth_english()
    paths = _pages()
    seen: set[str] = set()
    problems = _english_on(Client(HTTP_ACCEPT_LANGUAGE="zh-hans"), paths, patterns, seen)
    user = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    # Signed in through the form: a recent log-in, so the pages that ask for one open.
    user.post("/accounts/login/", {"login": "citizen1@demo.odr", "password": factories.PASSWORD})
    # and confirmed again with the password, as the two-step pages ask before they open.
    user.post("/accounts/reauthenticate/", {"password": factories.PASSWORD})
    problems += _english_on(user, paths, patterns, seen)
    activate_totp(factories.demo_user("citizen1@demo.odr"))
    problems += _english_on(user, paths, patterns, seen)
    assert problems == [], "\n".join(problems)
    for page in (
        "/accounts/password/reset/",
        "/accounts/password/reset/done/",
        "/accounts/password/change/",
        "/accounts/email/",
        "/accounts/phone/change/",
        "/accounts/2fa/",
        "/accounts/2fa/totp/activate/",
        "/accounts/2fa/totp/deactivate/",
        "/accounts/reauthenticate/code/",
        *WITH_KEYS,
    ):
        assert page in seen, (page, sorted(seen))
