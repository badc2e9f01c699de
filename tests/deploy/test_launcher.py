"""deploy/run.py's decisions, without starting anything: it refuses to start without the
secrets production must be given (and with DJANGO_DEBUG, and on plain HTTP unless told),
`--dev-secrets` generates a trial's once and keeps them, the nginx configuration it
writes, and the precompressed static files. test_topology.py runs the whole of it."""

from __future__ import annotations

import gzip
import importlib.util
import os
import re
import stat
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("deploy_run", ROOT / "deploy" / "run.py")
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

PRODUCTION = {
    "DJANGO_SECRET_KEY": "k" * 50,
    "DJANGO_ALLOWED_HOSTS": "odr.example.cn",
    "DATABASE_URL": "postgres://odr:pw@db.internal:5432/odr",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ODR_TURN_SECRET": "t" * 40,
    "ODR_CA_CERT": "/etc/odr/ca.pem",
    "ODR_CA_KEY": "/etc/odr/ca.key",
    "ODR_SEAL_CERT": "/etc/odr/seal.pem",
    "ODR_SEAL_KEY": "/etc/odr/seal.key",
}


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("DJANGO_", "ODR_")) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ODR_PKI_DIR", str(tmp_path / "pki"))
    monkeypatch.setenv("ODR_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def _args(tmp_path, *extra: str):
    return run.parse_args(["--state", str(tmp_path / "state"), *extra])


def test_it_refuses_to_start_without_every_secret(clean_env, tmp_path):
    with pytest.raises(SystemExit) as refused:
        run.build_env(_args(tmp_path), turn=True)
    message = str(refused.value)
    for name in [*run.REQUIRED, "ODR_TURN_SECRET", *run.PKI_FILES]:
        assert name in message
    assert "--dev-secrets" in message
    # Without coturn the TURN secret is not asked for.
    with pytest.raises(SystemExit) as refused:
        run.build_env(_args(tmp_path), turn=False)
    assert "ODR_TURN_SECRET" not in str(refused.value)


def test_production_settings_pass_and_plain_http_needs_saying_so(clean_env, tmp_path):
    for name, value in PRODUCTION.items():
        clean_env.setenv(name, value)
    with pytest.raises(SystemExit, match="no TLS"):
        run.build_env(_args(tmp_path), turn=True)
    env = run.build_env(_args(tmp_path, "--tls-cert", "c.pem", "--tls-key", "k.pem"), turn=True)
    assert env["ODR_TRUST_X_FORWARDED_FOR"] == "1"
    assert "DJANGO_DEBUG" not in env and env["ODR_TESTING"] == "0"
    assert env["ODR_TURN_URLS"].startswith("turn:127.0.0.1:3478?transport=udp,")
    env = run.build_env(_args(tmp_path, "--forwarded-proto", "https"), turn=False)
    assert "ODR_TURN_URLS" not in env
    clean_env.setenv("DJANGO_SECURE_SSL_REDIRECT", "0")
    assert run.build_env(_args(tmp_path), turn=True)["DATABASE_URL"] == PRODUCTION["DATABASE_URL"]
    clean_env.setenv("DJANGO_DEBUG", "1")
    with pytest.raises(SystemExit, match="DJANGO_DEBUG"):
        run.build_env(_args(tmp_path), turn=True)
    clean_env.delenv("DJANGO_DEBUG")
    clean_env.setenv("DATABASE_URL", "sqlite:///x.sqlite3")
    with pytest.raises(SystemExit, match="PostgreSQL"):
        run.build_env(_args(tmp_path), turn=True)


def test_dev_secrets_are_generated_once_kept_private_and_never_override(clean_env, tmp_path):
    env = run.build_env(_args(tmp_path, "--dev-secrets"), turn=True)
    secrets_file = tmp_path / "state" / "dev-secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert len(env["DJANGO_SECRET_KEY"]) >= 50 and env["ODR_TURN_SECRET"]
    assert env["DJANGO_SECURE_SSL_REDIRECT"] == "0"
    assert env["ODR_SITE_URL"] == "http://127.0.0.1:8080"
    assert env["DATABASE_URL"].startswith("postgres://")
    # A development CA and seal, outside the repository, as files production loads.
    for name in run.PKI_FILES:
        path = Path(env[name])
        assert path.is_file() and ROOT not in path.parents
    again = run.build_env(_args(tmp_path, "--dev-secrets"), turn=True)
    assert again["DJANGO_SECRET_KEY"] == env["DJANGO_SECRET_KEY"]
    # What the environment gives wins over anything generated.
    clean_env.setenv("DJANGO_SECRET_KEY", "from-the-environment-" + "x" * 40)
    given = run.build_env(_args(tmp_path, "--dev-secrets"), turn=True)
    assert given["DJANGO_SECRET_KEY"].startswith("from-the-environment-")


def test_the_nginx_configuration(clean_env, tmp_path):
    for name, value in PRODUCTION.items():
        clean_env.setenv(name, value)
    args = _args(
        tmp_path,
        "--listen",
        "0.0.0.0:443",
        "--tls-cert",
        "/etc/odr/tls.pem",
        "--tls-key",
        "/etc/odr/tls.key",
        "--http-redirect",
        "0.0.0.0:80",
        "--daphne",
        "3",
    )
    env = run.build_env(args, turn=False)
    sockets = [tmp_path / f"d{i}.sock" for i in range(3)]
    conf = run.nginx_conf(args, env, sockets)
    # Every placeholder filled: what is left of `$…` are nginx's own variables.
    nginx_vars = {
        "remote_addr", "time_local", "request", "status", "body_bytes_sent", "request_time",
        "upstream_addr", "upstream_response_time", "gzip_ratio", "http_upgrade",
        "connection_upgrade", "http_host", "host", "request_uri",
    }  # fmt: skip
    code = "\n".join(line for line in conf.splitlines() if not line.lstrip().startswith("#"))
    assert set(re.findall(r"\$(\w+)", code)) <= nginx_vars
    for sock in sockets:
        assert f"server unix:{sock} " in conf
    assert "listen 0.0.0.0:443 ssl http2;" in conf and "ssl_certificate /etc/odr/tls.pem;" in conf
    assert "return 301 https://$host$request_uri;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header X-Forwarded-Proto https;" in conf
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert 'add_header Cache-Control "public, max-age=31536000, immutable";' in conf
    assert f"root {(tmp_path / 'data').resolve()};" in conf
    assert "server_name odr.example.cn;" in conf
    assert f"pid {tmp_path / 'state'}/run/nginx.pid;" in conf


def test_precompressed_static_files(tmp_path):
    (tmp_path / "css").mkdir()
    big = tmp_path / "css" / "site.0123456789ab.css"
    big.write_text("body { color: #222; }\n" * 200)
    small = tmp_path / "tiny.js"
    small.write_text("1;")
    image = tmp_path / "logo.png"
    image.write_bytes(os.urandom(4096))
    assert run.precompress(tmp_path) == 1
    assert gzip.decompress((tmp_path / "css" / "site.0123456789ab.css.gz").read_bytes()) == (
        big.read_bytes()
    )
    assert not (tmp_path / "tiny.js.gz").exists() and not (tmp_path / "logo.png.gz").exists()
    assert run.precompress(tmp_path) == 0  # up to date: nothing rewritten


def test_nginx_accepts_the_tls_configuration_and_serves_static_files_over_https(
    clean_env, tmp_path
):
    """The TLS branch of the template, checked by nginx itself and served: a self-signed
    certificate, a static file over HTTPS, HTTP redirected to HTTPS."""
    import shutil
    import signal
    import ssl
    import subprocess
    import time
    import urllib.request

    from tests.deploy.test_topology import _require_nginx
    from tests.sessions.test_scaleout import _free_port

    _require_nginx()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cert, key = tmp_path / "tls.pem", tmp_path / "tls.key"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    subprocess.run(
        [*openssl, "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"],
        check=True,
        capture_output=True,
    )
    for name, value in PRODUCTION.items():
        clean_env.setenv(name, value)
    port, http_port = _free_port(), _free_port()
    args = _args(
        tmp_path,
        "--listen",
        f"127.0.0.1:{port}",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--http-redirect",
        f"127.0.0.1:{http_port}",
    )
    env = run.build_env(args, turn=False)
    static = tmp_path / "data" / "static"
    static.mkdir(parents=True)
    (static / "app.0123456789ab.js").write_text("console.log('odr');\n" * 50)
    run.precompress(static)
    for sub in ("run", "log", "nginx"):
        (args.state / sub).mkdir(parents=True, exist_ok=True)
    conf = args.state / "nginx" / "nginx.conf"
    conf.write_text(run.nginx_conf(args, env, [tmp_path / "d0.sock"]))
    command = [nginx, "-p", str(args.state / "nginx"), "-e", str(args.state / "log" / "e.log")]
    command += ["-c", str(conf)]
    tested = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stderr
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not run.connects(("127.0.0.1", port)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        request = urllib.request.Request(f"https://127.0.0.1:{port}/static/app.0123456789ab.js")
        request.add_header("Accept-Encoding", "gzip")
        response = urllib.request.urlopen(request, context=context, timeout=10)
        assert response.headers["Content-Encoding"] == "gzip"
        assert "immutable" in response.headers["Cache-Control"]
        assert gzip.decompress(response.read()).startswith(b"console.log")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(f"http://localhost:{http_port}/disputes/?x=1", timeout=10)
            raise AssertionError("plain HTTP was not redirected")
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 301
            assert redirect.headers["Location"] == f"https://localhost:{port}/disputes/?x=1"
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=10)


def test_a_dead_child_stops_the_rest_and_a_killed_launcher_takes_its_children(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "log").mkdir()
    sup = run.Supervisor(tmp_path)
    sleeper = sup.start("sleeper", ["sleep", "60"], dict(os.environ))
    short = sup.start("short", [sys.executable, "-c", "import time; time.sleep(0.3)"], {})
    assert sup.watch() == 1  # `short` exited: the watch ends
    assert sup.dead()[0] == "short"
    sup.stop_all()
    assert sleeper.poll() == -signal.SIGTERM and short.returncode == 0

    # A launcher killed outright (SIGKILL: no handler runs) still takes its children along.
    script = (
        "import sys; sys.path.insert(0, 'deploy'); import run, pathlib, time; "
        f"s = run.Supervisor(pathlib.Path({str(tmp_path)!r})); "
        "p = s.start('orphan', ['sleep', '60'], {}); "
        "print(f'PID={p.pid}', flush=True); time.sleep(60)"
    )
    launcher = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    line = ""
    while not line.startswith("PID="):
        line = launcher.stdout.readline()
        assert line, "the launcher said nothing"
    child = int(line[4:])
    launcher.kill()
    launcher.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and "zombie" not in _state(child):
        assert time.monotonic() < deadline, "the child outlived its launcher"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"
