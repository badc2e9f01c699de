"""The intake queue (`/intake/`) translates the words its rows repeat once for the page
and makes each waiting row's case link once (issue 14): every row still reads them, in
each language, and links its case twice (the title, and refusing or escalating)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from odr.models import Dispute
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_intake_row_reads_its_words_and_links_its_case(demo, language):
    waiting = [factories.dispute_awaiting_intake(title=f"待受理{i}") for i in range(3)]
    in_mediation = factories.dispute_in_mediation(title="调解中")
    filed = factories.file_dispute(title="等待被申请人")
    client = Client()
    client.force_login(factories.demo_user("coordinator@demo.odr"))
    client.cookies["django_language"] = language
    page = client.get("/intake/").content.decode()
    with translation.override(language):
        agreed, mediator, accept, refuse, filed_word = (
            gettext(w)
            for w in ("respondent agreed", "Mediator", "Accept", "Refuse or escalate…", "filed")
        )
    for d in waiting:
        assert d.status == Dispute.Status.AWAITING_INTAKE
        assert f'<a class="title" href="/disputes/{d.pk}/">{d.title}</a>' in page
        assert f'<a class="button secondary" href="/disputes/{d.pk}/#actions">{refuse}</a>' in page
        assert f'<label class="sr" for="m-{d.pk}">{mediator}</label>' in page
    assert page.count(f'<button class="primary">{accept}</button>') == len(waiting)
    assert page.count(f" · {agreed} ") == len(waiting)
    assert f'href="/disputes/{in_mediation.pk}/">调解中</a>' in page
    assert f"{in_mediation.case_number} · {mediator}: " in page
    assert f'href="/disputes/{filed.pk}/">等待被申请人</a>' in page
    assert f"{filed.case_number} · {filed_word} " in page
