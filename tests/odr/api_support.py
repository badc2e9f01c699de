"""Shared helpers of the API tests: a logged-in client per role of CONTRACT §3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.test import Client

from tests import factories

# Every role the API must answer for, by the account that plays it. `other_citizen` and
# the missing account of `anonymous` are made by `role_clients`.
ROLE_EMAILS = {
    "applicant": "citizen1@demo.odr",
    "respondent": "citizen2@demo.odr",
    "other_citizen": "bystander@example.com",
    "case_mediator": "mediator@demo.odr",
    "other_mediator": "mediator.yucun@demo.odr",
    "coordinator": "coordinator@demo.odr",
    "other_coordinator": "coordinator.yucun@demo.odr",
    "clerk": "clerk@demo.odr",
    "anonymous": None,
}
# Who may see a county-centre case (a party, its mediator, its organisation's staff).
SEES_CASE = {"applicant", "respondent", "case_mediator", "coordinator"}


def role_clients() -> dict[str, Client]:
    factories.make_user(ROLE_EMAILS["other_citizen"], name="路人")
    clients = {}
    for role, email in ROLE_EMAILS.items():
        client = Client()
        if email is not None:
            client.force_login(factories.demo_user(email))
        clients[role] = client
    return clients


def post(client: Client, path: str, data: Any = None, **extra: Any):
    return client.post(
        path, json.dumps(data if data is not None else {}), content_type="application/json", **extra
    )


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


NEW_DISPUTE = {
    "category": "debt",
    "title": "借款未还",
    "description": "2025年3月借给李四一万元，至今未还。",
    "region": "330523000000",
    "claim_amount": "10000.00",
    "respondent": {"name": "李四", "email": "citizen2@demo.odr", "phone": "13800000002"},
}


def run_race_script(script: Path, tmp_path: Path, env_extra: dict[str, str]) -> dict:
    """Runs a race script (threads with their own connections) in a fresh interpreter,
    on its own data folder and the database `env_extra` names; returns the JSON it
    prints last."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "ODR_", "REDIS_URL"))
    }
    env.update(
        {
            "DJANGO_DEBUG": "1",
            "ODR_TESTING": "1",
            "ODR_DATA_DIR": str(tmp_path / "data"),
            "ODR_EMAIL_DIR": str(tmp_path / "mail"),
            **env_extra,
        }
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
