"""Chinese is the default language: every catalogue is complete, and the pages people use
show no English source string (nor a raw audit code) when rendered in Simplified Chinese."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from tests import factories

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "var", "node_modules", ".git"}

# Source strings seen in English on Chinese pages during the walk-through, and the
# headings every key page carries; none may show in zh-hans.
KNOWN_ENGLISH = [
    "No session scheduled yet",
    "Mediation sessions",
    "Schedule a session",
    "Settlement agreement",
    "What you can do",
    "Sign the agreement",
    "Verify a document",
    "File a dispute",
    "My cases",
    "Log in",
    "Requests for judicial confirmation",
    "Enter the room",
    "The platform",
]


def catalogues() -> list[Path]:
    found = []
    for path in ROOT.rglob("*.po"):
        if not SKIP_DIRS & set(path.relative_to(ROOT).parts):
            found.append(path)
    return sorted(found)


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgid, msgstr(s), flags, obsolete. Enough of the format for
    the checks below (gettext's own tools write these files)."""
    entries: list[dict] = []
    current: dict | None = None
    field = None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            if current is not None:
                entries.append(current)
            current, field = None, None
            continue
        if current is None:
            current = {"msgid": "", "msgstrs": {}, "flags": set(), "obsolete": False}
        if obsolete:
            current["obsolete"] = True
        if line.startswith("#,"):
            current["flags"].update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgid_plural", "msgctxt")):
            field = "other"
        elif line.startswith("msgid"):
            field = "msgid"
            current["msgid"] = _string(line[5:])
        elif line.startswith("msgstr"):
            match = re.match(r"msgstr(\[\d+\])?\s*(.*)", line)
            field = match.group(1) or "msgstr"
            current["msgstrs"][field] = _string(match.group(2))
        elif line.startswith('"') and field:
            if field == "msgid":
                current["msgid"] += _string(line)
            elif field in current["msgstrs"]:
                current["msgstrs"][field] += _string(line)
    return entries


def _string(quoted: str) -> str:
    quoted = quoted.strip()
    return quoted[1:-1].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")


def test_the_tree_has_the_chinese_catalogues_of_every_app():
    found = {str(p.relative_to(ROOT)) for p in catalogues()}
    for app in ("odr", "frontend", "agreements", "agreements/court", "sessions"):
        assert f"{app}/locale/zh_Hans/LC_MESSAGES/django.po" in found, found


@pytest.mark.parametrize("path", catalogues(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_catalogue_entry_is_translated_and_none_is_fuzzy(path):
    entries = [e for e in parse_po(path) if not e["obsolete"] and e["msgid"]]
    assert entries, f"{path} has no entries"
    empty = [e["msgid"] for e in entries if any(not s for s in e["msgstrs"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not empty, f"untranslated in {path}: {empty[:10]}"
    assert not fuzzy, f"fuzzy in {path}: {fuzzy[:10]}"


def test_the_po_parser_sees_an_empty_and_a_fuzzy_entry(tmp_path):
    # The check above must not pass because the parser sees nothing.
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Hello"\nmsgstr ""\n\n#, fuzzy\nmsgid "Bye"\nmsgstr "再见"\n\n'
        '#~ msgid "Old"\n#~ msgstr ""\n',
        encoding="utf-8",
    )
    entries = {e["msgid"]: e for e in parse_po(po)}
    assert entries["Hello"]["msgstrs"] == {"msgstr": ""}
    assert "fuzzy" in entries["Bye"]["flags"] and entries["Bye"]["msgstrs"]["msgstr"] == "再见"
    assert entries["Old"]["obsolete"] is True


class _Text(HTMLParser):
    """The visible text of a page: no script, style or tag attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def english_sources() -> set[str]:
    """English source strings of three words or more from every catalogue whose Chinese
    differs from them: none of these may be visible on a Chinese page."""
    out = set()
    for path in catalogues():
        for e in parse_po(path):
            msgid = e["msgid"]
            if e["obsolete"] or "%" in msgid or "{" in msgid or "<" in msgid:
                continue
            if len(msgid.split()) >= 3 and e["msgstrs"].get("msgstr") != msgid:
                out.add(msgid.strip())
    return out


def audit_action_codes() -> set[str]:
    """Every audit action written by the apps' code (`action="dispute.file"` and the like)."""
    codes = set()
    for app in ("odr", "sessions", "agreements"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            codes.update(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    return codes


def test_every_audited_action_is_declared_with_its_words_in_the_lifecycle_registry():
    from odr.lifecycle import audit_actions

    declared = audit_actions()
    codes = audit_action_codes()
    assert {"dispute.file", "agreement.sign", "performance.schedule"} <= codes
    missing = codes - set(declared)
    assert not missing, f"these would show as raw codes on the case page: {sorted(missing)}"
    # Every declared action has a label for the PDF's audit page in Chinese.
    assert all(words.document.strip() for words in declared.values())


def test_an_undeclared_audit_action_is_refused_when_written(demo):
    from odr.audit import log_action

    dispute = factories.dispute_in_mediation()
    with pytest.raises(ValueError, match="not declared"):
        log_action(action="dispute.made_up", obj=dispute, dispute=dispute)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_the_key_pages_in_chinese_show_no_english_source_string_nor_audit_code(demo):
    from sessions import services as session_services

    mediator = factories.demo_user("mediator@demo.odr")
    in_mediation = factories.dispute_in_mediation()
    session = session_services.session_schedule(
        dispute=in_mediation, actor=mediator, scheduled_at=timezone.now() + timedelta(days=1)
    )
    signing = factories.agreement_signing()
    request = factories.confirmation_pending()
    settled = request.agreement.dispute

    def client_of(email: str | None) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
        if email:
            client.force_login(factories.demo_user(email))
        return client

    pages = [
        (None, "/"),
        (None, "/verify/"),
        (None, "/stats/"),
        ("citizen1@demo.odr", "/disputes/"),
        ("citizen1@demo.odr", "/disputes/new/"),
        ("citizen1@demo.odr", f"/disputes/{in_mediation.pk}/"),
        ("mediator@demo.odr", f"/disputes/{in_mediation.pk}/"),
        ("citizen1@demo.odr", f"/disputes/{settled.pk}/"),
        ("mediator@demo.odr", f"/disputes/{in_mediation.pk}/sessions/new/"),
        ("mediator@demo.odr", f"/disputes/{in_mediation.pk}/agreement/"),
        ("citizen1@demo.odr", f"/sessions/{session.pk}/"),
        ("citizen1@demo.odr", f"/sessions/{session.pk}/room/"),
        ("citizen1@demo.odr", f"/agreements/{signing.pk}/"),
        ("citizen1@demo.odr", f"/agreements/{signing.pk}/sign/"),
        ("coordinator@demo.odr", "/intake/"),
        ("clerk@demo.odr", "/court/"),
        ("clerk@demo.odr", f"/court/requests/{request.pk}/"),
        ("citizen1@demo.odr", "/profile/"),
    ]
    sources = english_sources()
    codes = audit_action_codes()
    assert len(sources) > 100  # the catalogues were read
    problems = []
    for email, path in pages:
        response = client_of(email).get(path)
        assert response.status_code == 200, (email, path, response.status_code)
        text = visible_text(response.content.decode())
        assert re.search(r"[\u4e00-\u9fff]{6}", text), (path, "no Chinese text")
        for phrase in [*KNOWN_ENGLISH, *sources]:
            if phrase in text:
                problems.append((path, email, phrase))
        for code in codes:
            if re.search(rf"(?<![\w/.]){re.escape(code)}(?![\w.])", text):
                problems.append((path, email, code))
    assert not problems, problems


@pytest.mark.django_db
def test_every_declared_timeline_sentence_shows_on_the_case_page_in_chinese(demo):
    """The case timeline takes its words from odr.lifecycle's registry, whichever app
    declared them: each sentence is translated, fills in only the values the timeline
    gives (an unknown one would break the page), and shows in Chinese."""
    from django.utils import translation
    from django.utils.translation import gettext

    from odr.audit import log_action
    from odr.lifecycle import audit_actions

    dispute = factories.dispute_in_mediation()
    citizen = factories.demo_user("citizen1@demo.odr")
    after = {
        "reason": "双方差距太大",
        "filename": "收据.pdf",
        "mediator": dispute.mediator_id,
        "organisation": dispute.organisation_id,
        # Issue 10: the window a case is handed to, the case it may repeat.
        "window_name": "劳动争议调解窗口",
        "original": "(2026)安吉矛调第0001号",
    }
    sentences = {a: w.timeline for a, w in audit_actions().items() if w.timeline}
    assert {"dispute.file", "dispute.accept", "agreement.sign"} <= set(sentences)
    for action in sentences:
        log_action(action=action, obj=dispute, actor=citizen, dispute=dispute, after=after)
    values = {
        "actor": "张三",
        "reason": "双方差距太大",
        "filename": "收据.pdf",
        "mediator": "李调解",
        "organisation": dispute.organisation.name,
        "window": "劳动争议调解窗口",
        "original": "(2026)安吉矛调第0001号",
    }
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(citizen)
    response = client.get(f"/disputes/{dispute.pk}/")
    assert response.status_code == 200
    timeline = visible_text(response.content.decode().split('id="timeline"')[1])
    missing = []
    with translation.override("zh-hans"):
        for action, msgid in sentences.items():
            chinese = gettext(msgid)
            if chinese == msgid or chinese % values not in timeline:
                missing.append((action, chinese % values))
    assert not missing, missing
    assert "%(" not in timeline
