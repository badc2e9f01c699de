"""Settings read the environment and fail loudly on values they cannot understand;
production passes `manage.py check --deploy` clean (issue 2 §1, DESIGN.md §4.5). Each
case runs in a fresh process, as a deployment would start."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import env_bool, env_int, env_list, env_url
from tests.postgres import scratch_database

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """Only what a fresh server would have: nothing of this test process's settings."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    env["ODR_DATA_DIR"] = str(tmp_path / "data")
    env.update(values)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def load_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; "
        "print(settings.DEBUG, settings.SITE_URL, settings.DATABASES['default']['ENGINE'])"
    )
    return run(["-c", code], env)


PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "odr.example.cn",
}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be one of"),
        ("ODR_INVITATION_DAYS", "abc", "ODR_INVITATION_DAYS must be a whole number"),
        ("ODR_INVITATION_DAYS", "0", "ODR_INVITATION_DAYS must be at least 1"),
        ("ODR_EVIDENCE_MAX_BYTES", "50MB", "ODR_EVIDENCE_MAX_BYTES must be a whole number"),
        ("DATABASE_URL", "mysql://root@localhost/odr", "DATABASE_URL must start with"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must start with"),
        ("ODR_SITE_URL", "odr.example.cn", "ODR_SITE_URL must start with"),
        ("ODR_TRUST_X_FORWARDED_FOR", "sometimes", "ODR_TRUST_X_FORWARDED_FOR must be"),
        ("ODR_DB_POOL_MAX", "0", "ODR_DB_POOL_MAX must be at least 1"),
        ("ODR_DB_POOL_MIN", "30", "ODR_DB_POOL_MIN (30) must not exceed ODR_DB_POOL_MAX (20)"),
        ("ODR_DB_POOL", "perhaps", "ODR_DB_POOL must be one of"),
    ],
)
def test_a_bad_environment_value_stops_the_start_with_a_clear_message(
    tmp_path, name, value, message
):
    result = load_settings(clean_env(tmp_path, **{"DJANGO_DEBUG": "1", name: value}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_without_a_secret_key_and_without_debug_it_refuses_to_start(tmp_path):
    result = load_settings(clean_env(tmp_path, DJANGO_ALLOWED_HOSTS="odr.example.cn"))
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start(tmp_path):
    result = load_settings(clean_env(tmp_path, DJANGO_SECRET_KEY=PRODUCTION["DJANGO_SECRET_KEY"]))
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_development_runs_with_no_environment_but_debug(tmp_path):
    result = load_settings(clean_env(tmp_path, DJANGO_DEBUG="1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "http://127.0.0.1:8000",
        "django.db.backends.sqlite3",
    ]


def test_production_links_point_at_the_public_host_by_default(tmp_path):
    result = load_settings(clean_env(tmp_path, **PRODUCTION))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["False", "https://odr.example.cn"]


def _next_years_calendar(tmp_path) -> str:
    """An operator's ODR_HOLIDAYS_FILE for the years after the chinesecalendar package's
    last (a test stand-in for the State Council's notice: the check only asks that the
    calendar reaches far enough, not what it holds)."""
    from chinese_calendar import constants

    last = max(constants.holidays).year
    path = tmp_path / "holidays.json"
    path.write_text(
        json.dumps({str(y): {"holidays": [], "workdays": []} for y in (last + 1, last + 2)})
    )
    return str(path)


def test_production_passes_the_deployment_check_without_any_warning(tmp_path):
    env = clean_env(tmp_path, **PRODUCTION, ODR_HOLIDAYS_FILE=_next_years_calendar(tmp_path))
    result = run(["manage.py", "check", "--deploy"], env)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    # The one silenced check is allauth's account.W001 (no login method is a required
    # sign-up field): an account needs an e-mail or a phone, odr.accounts.SignupBase asks
    # for one of the two (issue 12).
    assert "System check identified no issues (1 silenced)." in output
    assert "WARNING" not in output and "?:" not in output


def test_the_only_silenced_check_is_allauths_either_login_method_warning():
    from django.conf import settings

    assert settings.SILENCED_SYSTEM_CHECKS == ["account.W001"]


def test_the_deployment_check_warns_before_the_working_day_calendar_runs_out(tmp_path):
    """Statutory periods end on the next working day (odr.periods); past the calendar's
    last year production refuses to count them, so the check says so in advance."""
    from datetime import date, timedelta

    from chinese_calendar import constants

    last = max(constants.holidays).year
    result = run(["manage.py", "check", "--deploy"], clean_env(tmp_path, **PRODUCTION))
    output = result.stdout + result.stderr
    if date.today() + timedelta(days=60) > date(last, 12, 31):
        assert "odr.W020" in output or "odr.E020" in output
        assert "ODR_HOLIDAYS_FILE" in output
    else:
        assert "odr.W020" not in output and "odr.E020" not in output


def test_the_deployment_check_does_complain_about_a_weak_key(tmp_path):
    # The check above is only worth something if it can fail.
    env = clean_env(tmp_path, **{**PRODUCTION, "DJANGO_SECRET_KEY": "short"})
    result = run(["manage.py", "check", "--deploy"], env)
    assert "security.W009" in result.stdout + result.stderr


@pytest.mark.scaleout
def test_database_url_makes_migrate_work_on_postgresql(tmp_path):
    import psycopg

    with scratch_database("odr_settings") as url:
        env = clean_env(
            tmp_path,
            DJANGO_DEBUG="1",
            DATABASE_URL=url,
        )
        result = run(["manage.py", "migrate", "--noinput", "-v", "1"], env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Applying odr.0001_initial... OK" in result.stdout
        with psycopg.connect(url) as conn:
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
        assert {"odr_dispute", "odr_auditevent", "odr_casecounter"} <= tables
        # Nothing went to the SQLite default instead.
        assert not (tmp_path / "data" / "db.sqlite3").exists()


def test_a_sqlite_database_url_gets_wal_and_immediate_transactions(tmp_path):
    env = clean_env(tmp_path, DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    code = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; "
        "o = settings.DATABASES['default']['OPTIONS']; "
        "print(o['transaction_mode'], 'WAL' in o['init_command'])"
    )
    result = run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["IMMEDIATE", "True"]


def database_settings(env: dict[str, str]) -> dict:
    code = (
        "import json, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'], default=str))"
    )
    result = run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


PG_URL = "postgres://odr@db.example.cn:5432/odr"


def test_postgresql_connections_come_from_a_pool_with_sensible_defaults(tmp_path):
    db = database_settings(clean_env(tmp_path, DJANGO_DEBUG="1", DATABASE_URL=PG_URL))
    assert db["ENGINE"] == "django.db.backends.postgresql"
    # Django hands connections back to the pool only when it closes them.
    assert db["CONN_MAX_AGE"] == 0
    assert db["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 10, "max_idle": 300}


def test_the_pool_is_sized_from_the_environment_or_switched_off(tmp_path):
    sized = database_settings(
        clean_env(
            tmp_path,
            DJANGO_DEBUG="1",
            DATABASE_URL=PG_URL,
            ODR_DB_POOL_MIN="4",
            ODR_DB_POOL_MAX="40",
            ODR_DB_POOL_TIMEOUT="3",
            ODR_DB_POOL_MAX_IDLE="60",
        )
    )
    assert sized["OPTIONS"]["pool"] == {"min_size": 4, "max_size": 40, "timeout": 3, "max_idle": 60}
    off = database_settings(
        clean_env(tmp_path, DJANGO_DEBUG="1", DATABASE_URL=PG_URL, ODR_DB_POOL="0")
    )
    assert "pool" not in off.get("OPTIONS", {})
    # Without the pool a connection lives for one request (threads do not outlive it
    # under ASGI, so a longer CONN_MAX_AGE only left connections behind).
    assert off["CONN_MAX_AGE"] == 0


def test_sqlite_gets_no_pool(tmp_path):
    for env in (
        clean_env(tmp_path, DJANGO_DEBUG="1"),
        clean_env(tmp_path, DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path}/x.db"),
    ):
        db = database_settings(env)
        assert db["ENGINE"] == "django.db.backends.sqlite3"
        assert "pool" not in db["OPTIONS"]


# --- the helpers themselves, in this process ---------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("On", True), ("0", False), ("no", False), ("", False)],
)
def test_env_bool_understands_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG") is expected


def test_env_helpers_use_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("X_UNSET", raising=False)
    assert env_bool("X_UNSET", True) is True
    assert env_int("X_UNSET", 7) == 7
    assert env_list("X_UNSET", ["a"]) == ["a"]
    assert env_url("X_UNSET", schemes=("https",)) == ""


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("X_LIST", " a.example , ,b.example ")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
