"""The production topology of `./dev prod` (deploy/run.py), brought up on free ports with a
scratch PostgreSQL database and a Redis database of its own, and walked through nginx only:
file → invite (the e-mail sent by the task worker) → accept → intake → a session's room
(two parties join /ws/sessions/<id>/ with tickets, through nginx, and exchange a signal
and a chat message) → the agreement signed by all three through the API. Static files
come from nginx with hashed names, gzip and a year's immutable cache; requests are spread
over both Daphne processes; coturn answers on its port with the platform's REST
credentials; Ctrl-C (SIGINT) stops every process.

Needs nginx and coturn (Debian's packages, which `./dev test` installs), PostgreSQL and
Redis on 127.0.0.1. Under CI (CI set, as .ci/run does) a missing nginx or coturn FAILS
the test; elsewhere it skips with the command that installs them. PostgreSQL and Redis
missing always fail."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from tests import factories
from tests.sessions.test_scaleout import PG, REDIS, Peer, _free_port, _require_services

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 13  # the scale-out test uses 14
PASSWORD = factories.PASSWORD

pytestmark = [pytest.mark.scaleout, pytest.mark.topology]


def _require_nginx() -> None:
    missing = [
        package
        for package, program in (("nginx", "/usr/sbin/nginx"), ("coturn", "/usr/bin/turnserver"))
        if not (shutil.which(Path(program).name) or Path(program).exists())
    ]
    if not missing:
        return
    message = (
        f"not installed: `apt-get install {' '.join(missing)}` (./dev test installs them as root)."
    )
    if os.environ.get("CI"):
        pytest.fail(message + " Under CI the topology test must run.")
    pytest.skip(message)


def _udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with socket.socket() as s:  # TURN also listens on TCP
        s.bind(("127.0.0.1", port))
    return port


def _template_database(env: dict[str, str], tmp: Path) -> str:
    """A migrated, seeded database to copy (CREATE DATABASE … TEMPLATE): migrating an empty
    PostgreSQL database takes half a minute on two cores. Named by a hash of the project's
    migrations and seed_demo, built once under an advisory lock (parallel runs wait),
    older ones dropped. The launcher still migrates and seeds it, so a template that lags
    behind a third-party app's migrations is only slower, never wrong."""
    import psycopg

    digest = hashlib.sha256()
    sources = [ROOT / "odr" / "management" / "commands" / "seed_demo.py"]
    for app in ("odr", "sessions", "agreements", "frontend"):
        sources += sorted((ROOT / app).rglob("migrations/*.py"))
    for path in sources:
        digest.update(path.read_bytes())
    name = f"odr_topology_tpl_{digest.hexdigest()[:12]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext('odr_topology_template'))")
        try:
            names = [
                row[0]
                for row in admin.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE 'odr_topology_tpl_%%'"
                )
            ]
            if name in names:
                return name
            for old in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
            build = f"odr_topology_build_{secrets.token_hex(4)}"
            admin.execute(f'CREATE DATABASE "{build}"')
            try:
                built = subprocess.run(
                    [
                        sys.executable,
                        "manage.py",
                        "shell",
                        "-c",
                        "from django.core.management import call_command; "
                        "call_command('migrate', verbosity=0); call_command('seed_demo')",
                    ],
                    cwd=ROOT,
                    env={
                        **env,
                        "DJANGO_DEBUG": "1",
                        "ODR_TESTING": "0",
                        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{build}",
                        "ODR_DATA_DIR": str(tmp / "template-data"),
                    },
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                if built.returncode != 0:
                    pytest.fail(f"building the template database failed:\n{built.stderr[-3000:]}")
                admin.execute(f'ALTER DATABASE "{build}" RENAME TO "{name}"')
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{build}" WITH (FORCE)')
        finally:
            admin.execute("SELECT pg_advisory_unlock(hashtext('odr_topology_template'))")
    return name


@pytest.fixture(scope="module")
def topology(tmp_path_factory) -> Iterator[dict]:
    """deploy/run.py in the foreground, every secret given in its environment."""
    import psycopg
    import redis

    _require_nginx()
    _require_services()
    tmp = tmp_path_factory.mktemp("topology")
    name = f"odr_topology_{secrets.token_hex(4)}"
    port, turn_port = _free_port(), _udp_port()
    redis_client = redis.Redis(host=REDIS[0], port=REDIS[1], db=REDIS_DB)
    redis_client.flushdb()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "ODR_", "PYTEST_"))
        and k not in ("DATABASE_URL", "REDIS_URL")
    }
    # A CA and platform seal as an operator would be given them: files named by settings
    # (made here by the development code path, in this test process).
    pki = tmp / "pki"
    with override_settings(ODR_PKI_DIR=pki):
        from agreements.documents import pki as platform_pki

        platform_pki.ca()
        platform_pki.platform_seal()
    # The template holds the demo accounts already (seed_demo): no `--demo` needed.
    template = _template_database(base, tmp)
    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    # Redis pub/sub channels ignore the database number: a room group named after session 1
    # would be shared with a scale-out test running at the same time. Our ids start apart.
    with psycopg.connect(dbname=name, autocommit=True, **PG) as scratch:
        scratch.execute(
            "SELECT setval(pg_get_serial_sequence('mediation_mediationsession', 'id'), %s)",
            (secrets.randbelow(10**6) + 10**6,),
        )
    turn_secret = secrets.token_urlsafe(32)
    env = {
        **base,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "ODR_TURN_SECRET": turn_secret,
        "ODR_CA_CERT": str(pki / "ca" / "root.cert.pem"),
        "ODR_CA_KEY": str(pki / "ca" / "root.key.pem"),
        "ODR_SEAL_CERT": str(pki / "ca" / "seal.cert.pem"),
        "ODR_SEAL_KEY": str(pki / "ca" / "seal.key.pem"),
        "ODR_PKI_DIR": str(pki),
        # A plain-HTTP trial on loopback: no TLS to redirect to.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "ODR_SITE_URL": f"http://127.0.0.1:{port}",
        "ODR_DATA_DIR": str(tmp / "data"),
        "ODR_EMAIL_DIR": str(tmp / "mail"),
        # The demo's staff have no TOTP device; production asks them for one.
        "ODR_REQUIRE_STAFF_MFA": "0",
        "ODR_LOG_LEVEL": "WARNING",
    }
    state = tmp / "state"
    out = tmp / "run.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "deploy/run.py",
            "--state",
            str(state),
            "--listen",
            f"127.0.0.1:{port}",
            "--daphne",
            "2",
            "--turn-port",
            str(turn_port),
            "--reminders-every",
            "30",
        ],
        cwd=ROOT,
        env=env,
        stdout=out.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 150
        while "ready:" not in out.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"./dev prod did not come up:\n{out.read_text()[-4000:]}")
            time.sleep(0.2)
        yield {
            "proc": proc,
            "url": f"http://127.0.0.1:{port}",
            "port": port,
            "turn_port": turn_port,
            "turn_secret": turn_secret,
            "state": state,
            "data": tmp / "data",
            "mail": tmp / "mail",
            "out": out,
        }
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis_client.flushdb()
        with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Http:
    """A client of nginx's port only: the API with the allauth app client's session token."""

    def __init__(self, base: str, email: str | None = None) -> None:
        self.base = base
        self.token = ""
        if email:
            login = self.request(
                "POST", "/_allauth/app/v1/auth/login", {"email": email, "password": PASSWORD}
            )
            self.token = login["meta"]["session_token"]

    def raw(self, method: str, path: str, body=None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("X-Session-Token", self.token)
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            return urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as exc:
            return exc

    def request(self, method: str, path: str, body=None, status: int | tuple = (200, 201)):
        response = self.raw(method, path, body)
        payload = response.read()
        allowed = (status,) if isinstance(status, int) else status
        assert response.status in allowed, (method, path, response.status, payload[:800])
        return json.loads(payload) if payload else None


def _invitation_token(mail: Path, to: str) -> str:
    """The token in the invitation the task worker sent (file-based mail)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for message in sorted(mail.glob("*.log")) if mail.exists() else []:
            text = message.read_text(errors="replace")
            if f"To: {to}" in text and (found := re.search(r"/invitations/([^/\s]+)/", text)):
                return found.group(1)
        time.sleep(0.3)
    raise AssertionError(f"no invitation e-mail to {to} in {mail} after 30 s")


async def _room_through_nginx(port: int, session_id: int, tickets: dict[str, str]) -> None:
    from websockets.asyncio.client import connect

    async def join(who: str) -> tuple[Peer, dict]:
        ws = await connect(f"ws://127.0.0.1:{port}/ws/sessions/{session_id}/?ticket={tickets[who]}")
        peer = Peer(ws)
        return peer, await peer.until("welcome")

    mediator, med_w = await join("mediator")
    applicant, app_w = await join("applicant")
    respondent, res_w = await join("respondent")
    assert med_w["state"] == "room" and app_w["state"] == res_w["state"] == "lobby"
    for peer in (app_w, res_w):
        await mediator.send({"type": "admit", "peer_id": peer["peer_id"]})
    await applicant.until("admitted")
    await respondent.until("admitted")
    # The applicant may signal the respondent once its own view of the room holds them
    # (CONTRACT §4: a signal is relayed only to a peer in the sender's room right now).
    # The respondent's `admitted` and the applicant's `peer-joined` are separate events on
    # separate channels, possibly through two processes: either may arrive first.
    assert (await applicant.until("peer-joined"))["peer"]["peer_id"] == res_w["peer_id"]
    offer = {"sdp": {"type": "offer", "sdp": "v=0"}}
    await applicant.send({"type": "signal", "to": res_w["peer_id"], "data": offer})
    assert await respondent.until("signal") == {
        "type": "signal",
        "from": app_w["peer_id"],
        "data": offer,
    }
    await respondent.send({"type": "chat", "text": "同意调解方案"})
    chat = await applicant.until("chat")
    assert chat["text"] == "同意调解方案" and chat["from"] == res_w["peer_id"]
    for peer in (mediator, applicant, respondent):
        await peer.ws.close()


def _stun_binding(port: int) -> bytes:
    """A STUN Binding request to coturn; returns the response's message type."""
    txn = secrets.token_bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(struct.pack("!HHI", 0x0001, 0, 0x2112A442) + txn, ("127.0.0.1", port))
        data, _ = s.recvfrom(2048)
    assert data[8:20] == txn
    return data[:2]


def _turn_allocate(port: int, username: str, password: str) -> int:
    """A TURN Allocate over UDP with the long-term credential the platform hands out
    (RFC 5766/5389): the first attempt is challenged (401 with realm and nonce), the second
    is signed with MESSAGE-INTEGRITY. Returns the final message type (0x0103 = success)."""

    def attr(kind: int, value: bytes) -> bytes:
        return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)

    def message(attrs: bytes, txn: bytes, integrity_key: bytes | None = None) -> bytes:
        if integrity_key is None:
            return struct.pack("!HHI", 0x0003, len(attrs), 0x2112A442) + txn + attrs
        header = struct.pack("!HHI", 0x0003, len(attrs) + 24, 0x2112A442) + txn
        mac = hmac.new(integrity_key, header + attrs, hashlib.sha1).digest()
        return header + attrs + attr(0x0008, mac)

    def attributes(data: bytes) -> dict[int, bytes]:
        out, i = {}, 20
        while i + 4 <= len(data):
            kind, length = struct.unpack("!HH", data[i : i + 4])
            out[kind] = data[i + 4 : i + 4 + length]
            i += 4 + length + (-length % 4)
        return out

    transport = attr(0x0019, bytes([17, 0, 0, 0]))  # REQUESTED-TRANSPORT: UDP
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(message(transport, secrets.token_bytes(12)), ("127.0.0.1", port))
        challenge, _ = s.recvfrom(4096)
        assert challenge[:2] == b"\x01\x13", challenge[:2]  # Allocate error: 401
        found = attributes(challenge)
        realm, nonce = found[0x0014], found[0x0015]
        key = hashlib.md5(f"{username}:{realm.decode()}:{password}".encode()).digest()
        signed = attr(0x0006, username.encode()) + attr(0x0014, realm) + attr(0x0015, nonce)
        s.sendto(message(transport + signed, secrets.token_bytes(12), key), ("127.0.0.1", port))
        answer, _ = s.recvfrom(4096)
    return struct.unpack("!H", answer[:2])[0]


def _logs(topology: dict) -> str:
    """The tail of every process's log, for a failure's message."""
    out = []
    for log in sorted((topology["state"] / "log").glob("*.log")):
        out.append(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}")
    return "\n".join(out)


def test_file_invite_accept_room_sign_through_nginx(topology):
    try:
        _walk(topology)
    except Exception as exc:  # any failure of the walk: show what the servers said
        raise AssertionError(f"{exc}\n\nThe topology's logs:\n{_logs(topology)}") from exc


def _walk(topology: dict) -> None:
    url, port = topology["url"], topology["port"]
    citizen1 = Http(url, "citizen1@demo.odr")
    citizen2 = Http(url, "citizen2@demo.odr")
    coordinator = Http(url, "coordinator@demo.odr")
    mediator = Http(url, "mediator@demo.odr")

    # File; the invitation goes out by e-mail from the task worker's own process.
    dispute = citizen1.request(
        "POST",
        "/api/v1/disputes",
        {
            "category": "debt",
            "title": "借款未还",
            "description": "2025年3月借给李四一万元，约定半年归还，至今未还。",
            "region": "330523000000",
            "claim_amount": "10000.00",
            "respondent": {"name": "李四", "email": "citizen2@demo.odr"},
        },
        status=201,
    )
    token = _invitation_token(topology["mail"], "citizen2@demo.odr")
    accepted = citizen2.request("POST", f"/api/v1/invitations/{token}/accept")
    assert accepted["status"] == "awaiting_intake"
    mediator_id = mediator.request("GET", "/api/v1/me")["id"]
    in_mediation = coordinator.request(
        "POST", f"/api/v1/disputes/{dispute['id']}/actions/accept", {"mediator": mediator_id}
    )
    assert in_mediation["status"] == "in_mediation"

    # The room: tickets from the API, WebSockets through nginx to either Daphne process.
    when = (timezone.now() + timedelta(minutes=10)).replace(microsecond=0).isoformat()
    session = mediator.request(
        "POST", f"/api/v1/disputes/{dispute['id']}/sessions", {"scheduled_at": when}, status=201
    )
    tickets = {}
    for who, client in (("mediator", mediator), ("applicant", citizen1), ("respondent", citizen2)):
        issued = client.request("POST", f"/api/v1/sessions/{session['id']}/ticket")
        tickets[who] = issued["ticket"]
    # coturn's REST credentials, as the browser gets them, open a relay allocation.
    turn = next(s for s in issued["ice_servers"] if any("turn:" in u for u in s["urls"]))
    assert turn["urls"][0] == f"turn:127.0.0.1:{topology['turn_port']}?transport=udp"
    expected = base64.b64encode(
        hmac.new(topology["turn_secret"].encode(), turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected
    assert _stun_binding(topology["turn_port"]) == b"\x01\x01"
    assert _turn_allocate(topology["turn_port"], turn["username"], turn["credential"]) == 0x0103
    asyncio.run(_room_through_nginx(port, session["id"], tickets))

    # The agreement, drafted, opened and signed by all three through the API.
    draft = mediator.request(
        "PUT", f"/api/v1/disputes/{dispute['id']}/agreement", factories.complete_agreement_data()
    )
    mediator.request("POST", f"/api/v1/agreements/{draft['id']}/actions/open")
    # Each signs in two steps with a key of their own (CONTRACT §3, tests/signing.py).
    from tests.signing import new_key, public_pem, sign_bytes

    for signer in (citizen1, citizen2, mediator):
        key = new_key()
        step1 = signer.request(
            "POST",
            f"/api/v1/agreements/{draft['id']}/sign",
            {
                "password": PASSWORD,
                "consent": True,
                "signature_png": factories.signature_png_b64(),
                "public_key": public_pem(key),
                "version": draft["version"],
            },
        )
        signature = sign_bytes(key, base64.b64decode(step1["to_sign"]))
        signed = signer.request(
            "POST",
            f"/api/v1/agreements/{draft['id']}/sign/complete",
            {"signing_id": step1["signing_id"], "signature": base64.b64encode(signature).decode()},
        )
    assert signed["status"] == "signed"
    assert citizen2.request("GET", f"/api/v1/disputes/{dispute['id']}")["status"] == "settled"
    pdf = citizen2.raw("GET", f"/api/v1/agreements/{draft['id']}/pdf")
    data = pdf.read()
    assert pdf.status == 200 and data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == signed["pdf_sha256"]

    # Every request above went through nginx, spread over both Daphne processes.
    log = (topology["state"] / "log" / "nginx-access.log").read_text()
    upstreams = re.findall(r"upstream=unix:\S*(daphne-\d)\.sock", log)
    assert set(upstreams) == {"daphne-0", "daphne-1"}, upstreams
    assert min(upstreams.count("daphne-0"), upstreams.count("daphne-1")) >= 5
    assert log.count("GET /ws/sessions/") >= 3


def test_static_files_hashed_compressed_and_cached_a_year_by_nginx(topology):
    page = urllib.request.urlopen(topology["url"] + "/accounts/login/", timeout=30).read().decode()
    css = re.search(r'href="(/static/[^"]+\.([0-9a-f]{12})\.css)"', page)
    assert css, "the page links no hashed stylesheet"
    request = urllib.request.Request(topology["url"] + css.group(1))
    request.add_header("Accept-Encoding", "gzip")
    response = urllib.request.urlopen(request, timeout=30)
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in response.headers["Vary"]
    body = gzip.decompress(response.read())
    on_disk = topology["data"] / css.group(1).removeprefix("/")
    assert body == on_disk.read_bytes()
    # The precompressed copy (gzip_static) is the one served, byte for byte.
    assert (on_disk.parent / (on_disk.name + ".gz")).exists()
    # nginx served it: no Daphne process saw a /static/ request.
    log = (topology["state"] / "log" / "nginx-access.log").read_text()
    static_lines = [line for line in log.splitlines() if '"GET /static/' in line]
    assert static_lines and all("upstream=-" in line for line in static_lines)
    # Without Accept-Encoding, the plain file, still cached.
    plain = urllib.request.urlopen(topology["url"] + css.group(1), timeout=30)
    assert plain.headers.get("Content-Encoding") is None and plain.read() == on_disk.read_bytes()


def test_ctrl_c_stops_every_process(topology):
    """Last in this module: SIGINT to the launcher stops nginx, both Daphne processes,
    the worker, the reminders and coturn."""
    proc, state = topology["proc"], topology["state"]
    assert proc.poll() is None
    pids = [int(p) for p in re.findall(r"\(pid (\d+),", topology["out"].read_text())]
    assert len(pids) == 6  # daphne ×2, worker, reminders, turnserver, nginx
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
        ), pid
    assert not (state / "run" / "nginx.pid").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", topology["port"]), timeout=1).close()
