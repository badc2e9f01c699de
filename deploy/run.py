"""The production topology on one machine, in the foreground (`./dev prod`).

    nginx (Debian's)  ── /static/: collectstatic's hashed files, precompressed, cached a year
        │             ── everything else, WebSockets included: round robin over
        ├── Daphne 1 … Daphne N (unix sockets; Redis channel layer and cache)
    PostgreSQL (DATABASE_URL; the database is created when missing), Redis (REDIS_URL)
    the task worker (django-tasks' db_worker), the reminders loop, coturn (TURN, REST
    credentials from ODR_TURN_SECRET) when Debian's `coturn` is installed.

Every secret comes from the environment; the launcher refuses to start without them.
`--dev-secrets` (explicitly, for a trial on a workstation) fills in what is missing: a
secret key and a TURN secret generated once into <state>/dev-secrets.env, local
PostgreSQL and Redis, a development CA and platform seal under ODR_PKI_DIR, plain HTTP.

The nginx configuration is generated from deploy/nginx.conf.template into <state>/nginx/;
pid files, logs and nginx's temporary files live under <state> (default var/prod). Ctrl-C
(SIGINT) or SIGTERM stops every process it started; if any of them dies, it stops the rest
and exits non-zero.

Run it with the project's virtualenv: `./dev prod [options]` or
`.venv/bin/python deploy/run.py [options]`; `--help` lists the options."""

from __future__ import annotations

import argparse
import gzip
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from string import Template
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
# Text files worth compressing ahead of time (fonts in woff2, images are compressed already).
COMPRESSIBLE = {".css", ".js", ".mjs", ".map", ".json", ".svg", ".txt", ".html", ".xml", ".ico"}
REQUIRED = ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL")
PKI_FILES = ("ODR_CA_CERT", "ODR_CA_KEY", "ODR_SEAL_CERT", "ODR_SEAL_KEY")
FALSE = {"0", "false", "no", "off"}


class Refusal(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"deploy/run.py: {message}")


_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[prod {time.monotonic() - _T0:5.1f}s] {message}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="./dev prod", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--listen",
        default=os.environ.get("ODR_LISTEN", "127.0.0.1:8080"),
        help="nginx's address, HOST:PORT (default 127.0.0.1:8080; ODR_LISTEN)",
    )
    p.add_argument("--daphne", type=int, default=2, help="how many Daphne processes (default 2)")
    p.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("ODR_STATE_DIR", ROOT / "var" / "prod")),
        help="pid files, logs, sockets, nginx's config and temp files (default var/prod)",
    )
    p.add_argument(
        "--tls-cert",
        default=os.environ.get("ODR_TLS_CERT", ""),
        help="certificate chain (PEM) for nginx's TLS (ODR_TLS_CERT)",
    )
    p.add_argument(
        "--tls-key",
        default=os.environ.get("ODR_TLS_KEY", ""),
        help="its private key (ODR_TLS_KEY)",
    )
    p.add_argument(
        "--http-redirect",
        default="",
        help="with TLS: also listen here (HOST:PORT) and redirect to https",
    )
    p.add_argument(
        "--forwarded-proto",
        choices=("scheme", "https"),
        default="scheme",
        help="`https` when an outer load balancer terminates TLS in front of this nginx",
    )
    p.add_argument(
        "--turn-ip",
        default=os.environ.get("ODR_TURN_IP", "127.0.0.1"),
        help="coturn's listening and relay address (default 127.0.0.1; ODR_TURN_IP)",
    )
    p.add_argument(
        "--turn-port",
        type=int,
        default=int(os.environ.get("ODR_TURN_PORT", 3478)),
        help="coturn's port, UDP and TCP (default 3478)",
    )
    p.add_argument(
        "--turn-external-ip",
        default=os.environ.get("ODR_TURN_EXTERNAL_IP", ""),
        help="the public address in front of --turn-ip (1:1 NAT); browsers are given it",
    )
    p.add_argument("--no-turn", action="store_true", help="do not start coturn")
    p.add_argument("--reminders-every", type=int, default=300, help="seconds (default 300)")
    p.add_argument(
        "--dev-secrets",
        action="store_true",
        help="a workstation trial: generate missing secrets into <state>/dev-secrets.env",
    )
    p.add_argument("--demo", action="store_true", help="seed the demo accounts (seed_demo)")
    args = p.parse_args(argv)
    if args.daphne < 1:
        p.error("--daphne must be at least 1")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("give both --tls-cert and --tls-key (ODR_TLS_CERT, ODR_TLS_KEY), or neither")
    args.state = args.state.resolve()
    return args


def split_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise Refusal(f"an address must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


# --- the environment -------------------------------------------------------------------


def dev_secrets(args: argparse.Namespace, env: dict[str, str]) -> None:
    """Fills in, for a trial only, what production must be given."""
    path = args.state / "dev-secrets.env"
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name and not name.startswith("#"):
                stored[name] = value
    for name in ("DJANGO_SECRET_KEY", "ODR_TURN_SECRET"):
        stored.setdefault(name, secrets.token_urlsafe(50))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# ./dev prod --dev-secrets: a trial's secrets, never production's.\n")
        handle.writelines(f"{k}={v}\n" for k, v in stored.items())
    host, port = split_address(args.listen)
    scheme = "https" if args.tls_cert else "http"
    defaults = {
        **stored,
        "DJANGO_ALLOWED_HOSTS": f"{host},localhost,127.0.0.1",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/odr_prod",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ODR_SITE_URL": f"{scheme}://{host}:{port}",
    }
    if not args.tls_cert and args.forwarded_proto != "https":
        defaults["DJANGO_SECURE_SSL_REDIRECT"] = "0"
    for name, value in defaults.items():
        if not env.get(name):
            env[name] = value
    pki = Path(env.get("ODR_PKI_DIR") or Path.home() / ".local/share/odr-pki").resolve()
    made_before = all(
        (pki / "ca" / f"{k}.{p}.pem").is_file() for k in ("root", "seal") for p in ("cert", "key")
    )
    if not all(env.get(n) for n in PKI_FILES) and not made_before:
        # A development CA and platform seal, generated once under ODR_PKI_DIR (outside
        # the repository), loaded by the production processes as if a CA had issued them.
        made = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from agreements.documents import pki; pki.ca(); pki.platform_seal(); "
                "print(pki.pki_dir())",
            ],
            cwd=ROOT,
            env={**env, "DJANGO_DEBUG": "1"},
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            raise Refusal(f"could not make a development CA:\n{made.stderr[-2000:]}")
        pki = Path(made.stdout.strip().splitlines()[-1])
    if not all(env.get(n) for n in PKI_FILES):
        for name, stem in (
            ("ODR_CA_CERT", "root.cert.pem"),
            ("ODR_CA_KEY", "root.key.pem"),
            ("ODR_SEAL_CERT", "seal.cert.pem"),
            ("ODR_SEAL_KEY", "seal.key.pem"),
        ):
            if not env.get(name):
                env[name] = str(pki / "ca" / stem)
    say(f"--dev-secrets: a trial's secrets in {path} (never use them in production)")


def build_env(args: argparse.Namespace, turn: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST",)}
    if env.get("DJANGO_DEBUG", "").strip().lower() not in FALSE | {""}:
        raise Refusal("DJANGO_DEBUG is set: the production topology runs without it.")
    env.pop("DJANGO_DEBUG", None)
    env["ODR_TESTING"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["PYTHONUNBUFFERED"] = "1"
    if args.dev_secrets:
        dev_secrets(args, env)
    missing = [n for n in REQUIRED if not env.get(n)]
    if turn and not env.get("ODR_TURN_SECRET"):
        missing.append("ODR_TURN_SECRET (or --no-turn)")
    missing += [n for n in PKI_FILES if not env.get(n)]
    if missing:
        raise Refusal(
            "refusing to start without " + ", ".join(missing) + ". Production takes every "
            "secret from the environment (docs/deploy.md); `./dev prod --dev-secrets` "
            "generates a trial's."
        )
    if not urlparse(env["DATABASE_URL"]).scheme.startswith("postgres"):
        raise Refusal("DATABASE_URL must name a PostgreSQL database (postgres://…).")
    plain = not args.tls_cert and args.forwarded_proto != "https"
    if plain and env.get("DJANGO_SECURE_SSL_REDIRECT", "").strip().lower() not in FALSE:
        raise Refusal(
            "no TLS: give --tls-cert/--tls-key, or --forwarded-proto https behind a TLS "
            "load balancer, or DJANGO_SECURE_SSL_REDIRECT=0 for a plain-HTTP trial."
        )
    # nginx replaces X-Forwarded-For with the client's address: the app may trust it.
    env["ODR_TRUST_X_FORWARDED_FOR"] = "1"
    env.setdefault("ODR_DATA_DIR", str(ROOT / "var"))
    if turn:
        ip = args.turn_external_ip or args.turn_ip
        env.setdefault("ODR_STUN_URLS", f"stun:{ip}:{args.turn_port}")
        env.setdefault(
            "ODR_TURN_URLS",
            f"turn:{ip}:{args.turn_port}?transport=udp,turn:{ip}:{args.turn_port}?transport=tcp",
        )
    return env


# --- one-off steps ---------------------------------------------------------------------


# Run by `manage.py shell -c` in one process (each Django start costs seconds): the deploy
# checks (warnings printed, errors stop), the migrations, the demo accounts on request.
PREPARE = """
from django.core.management import call_command
call_command("check", deploy=True)
call_command("migrate", interactive=False, verbosity=0)
if {demo}:
    call_command("seed_demo")
"""


def spawn_manage(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def create_database(url: str) -> None:
    """CREATE DATABASE when the one DATABASE_URL names does not exist yet."""
    import psycopg

    parts = urlparse(url)
    name = unquote(parts.path.lstrip("/"))
    conninfo = {
        "host": parts.hostname or None,
        "port": parts.port or 5432,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    conninfo = {k: v for k, v in conninfo.items() if v is not None}
    try:
        with psycopg.connect(
            dbname="postgres", autocommit=True, connect_timeout=5, **conninfo
        ) as c:
            exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                say(f"creating the database {name}")
                c.execute(f'CREATE DATABASE "{name.replace(chr(34), "")}"')
    except psycopg.OperationalError as exc:
        raise Refusal(f"PostgreSQL at DATABASE_URL is not reachable: {exc}") from exc


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise Refusal(f"Redis at REDIS_URL is not reachable: {exc}") from exc


def precompress(static_root: Path) -> int:
    """file.gz beside every compressible file (nginx's gzip_static serves it as is)."""
    count = 0
    for path in static_root.rglob("*"):
        if path.suffix not in COMPRESSIBLE or not path.is_file() or path.stat().st_size < 256:
            continue
        target = path.with_name(path.name + ".gz")
        if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
        if len(data) < path.stat().st_size:
            target.write_bytes(data)
            stat = path.stat()
            os.utime(target, (stat.st_atime, stat.st_mtime))
            count += 1
    return count


def nginx_conf(args: argparse.Namespace, env: dict[str, str], sockets: list[Path]) -> str:
    host, port = split_address(args.listen)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if args.tls_cert:
        listen = (
            f"        listen {bind} ssl http2;\n"
            f"        ssl_certificate {Path(args.tls_cert).resolve()};\n"
            f"        ssl_certificate_key {Path(args.tls_key).resolve()};\n"
            "        ssl_protocols TLSv1.2 TLSv1.3;\n"
            "        ssl_session_cache shared:odr_tls:10m;\n"
            "        ssl_session_timeout 1d;"
        )
    else:
        listen = f"        listen {bind};"
    redirect = ""
    if args.tls_cert and args.http_redirect:
        rhost, rport = split_address(args.http_redirect)
        redirect = (
            "    server {\n"
            f"        listen {rhost}:{rport};\n"
            f"        return 301 https://$host{'' if port == 443 else f':{port}'}$request_uri;\n"
            "    }"
        )
    hosts = [h for h in env["DJANGO_ALLOWED_HOSTS"].split(",") if h.strip() and h != "*"]
    max_body = int(env.get("ODR_EVIDENCE_MAX_BYTES") or 50 * 1024 * 1024) + 2 * 1024 * 1024
    static_root = Path(env["ODR_DATA_DIR"]).resolve() / "static"
    forwarded = "https" if args.tls_cert or args.forwarded_proto == "https" else "$scheme"
    return Template(TEMPLATE.read_text()).substitute(
        state=args.state,
        # Started as root, nginx's workers would drop to `nobody`, who may not read the
        # checkout nor the state directory; an operator runs this as a service user.
        user_directive="user root;" if os.geteuid() == 0 else "",
        client_max_body_size=max_body,
        upstream_servers="\n".join(
            f"        server unix:{s} max_fails=3 fail_timeout=5s;" for s in sockets
        ),
        listen_directives=listen,
        server_name=" ".join(h.strip().lstrip(".") for h in hosts) or "_",
        static_parent=static_root.parent,
        forwarded_proto=forwarded,
        redirect_server=redirect,
    )


def turn_conf(args: argparse.Namespace, env: dict[str, str]) -> Path:
    lines = [
        f"listening-ip={args.turn_ip}",
        f"listening-port={args.turn_port}",
        f"relay-ip={args.turn_ip}",
        "min-port=49160",
        "max-port=49999",
        # The platform's REST credentials (sessions.services.access): user "<expiry>:<id>",
        # password base64(HMAC-SHA1(secret, user)).
        "use-auth-secret",
        f"static-auth-secret={env['ODR_TURN_SECRET']}",
        f"realm={env['DJANGO_ALLOWED_HOSTS'].split(',')[0].strip() or 'odr'}",
        "fingerprint",
        "no-cli",
        "no-tls",
        "no-dtls",
        "no-multicast-peers",
        f"userdb={args.state / 'run' / 'turndb'}",
        f"pidfile={args.state / 'run' / 'turnserver.pid'}",
        f"log-file={args.state / 'log' / 'turnserver.log'}",
        "simple-log",
    ]
    if args.turn_external_ip:
        lines.append(f"external-ip={args.turn_external_ip}/{args.turn_ip}")
    path = args.state / "run" / "turnserver.conf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the secret
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


# --- the processes ---------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies, even by SIGKILL, so no
    Daphne or nginx outlives it (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class Supervisor:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.children: list[tuple[str, subprocess.Popen, Path]] = []
        self.stopping = False

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.state / "log" / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.children.append((name, proc, log))
        say(f"started {name} (pid {proc.pid}, log {log})")
        return proc

    def watch(self) -> int:
        """Until a signal asks to stop (0) or a child dies (1)."""
        while not self.stopping:
            gone = self.dead()
            if gone is not None:
                name, proc, log = gone
                say(f"{name} exited ({proc.returncode}); see {log}. Stopping the rest.")
                return 1
            time.sleep(0.5)
        return 0

    def dead(self) -> tuple[str, subprocess.Popen, Path] | None:
        return next((c for c in self.children if c[1].poll() is not None), None)

    def stop_all(self) -> None:
        self.stopping = True
        for name, proc, _ in reversed(self.children):
            if proc.poll() is None:
                # nginx: SIGQUIT is its graceful shutdown; everyone else takes SIGTERM.
                proc.send_signal(signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, proc, _ in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time: killing it")
                proc.kill()
                proc.wait()
            else:
                say(f"{name} stopped ({proc.returncode})")


def wait_until(check, what: str, sup: Supervisor, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (gone := sup.dead()) is not None:
            name, proc, log = gone
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise Refusal(f"{name} exited ({proc.returncode}) while starting:\n{tail}")
        if check():
            return
        time.sleep(0.1)
    raise Refusal(f"{what} did not come up within {timeout:.0f} s")


def connects(address) -> bool:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    if family == socket.AF_INET and ":" in address[0]:
        family = socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(address)
        return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not nginx:
        raise Refusal(
            "nginx is not installed (Debian: apt-get install nginx; ./dev prod does it as root)."
        )
    turnserver = shutil.which("turnserver") or (
        "/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else ""
    )
    turn = not args.no_turn and bool(turnserver)
    if not args.no_turn and not turnserver:
        say("coturn is not installed (Debian: apt-get install coturn): running without TURN")
    for sub in ("run", "log", "nginx"):
        (args.state / sub).mkdir(parents=True, exist_ok=True)
    env = build_env(args, turn)

    create_database(env["DATABASE_URL"])
    check_redis(env["REDIS_URL"])
    # Two Django processes side by side: the deploy checks, migrations (and the demo
    # accounts) in one; collectstatic, which needs no database, in the other.
    say("checking the deployment settings, migrating, collecting static files")
    collect = spawn_manage(env, "collectstatic", "--noinput", "-v0")
    prepare = spawn_manage(env, "shell", "-c", PREPARE.format(demo=args.demo))
    for step, proc in (("check --deploy and migrate", prepare), ("collectstatic", collect)):
        out, err = proc.communicate()
        if proc.returncode != 0:
            collect.kill()
            prepare.kill()
            raise Refusal(f"{step} failed:\n{out[-2000:]}{err[-3000:]}")
        if err.strip():
            print(err.rstrip(), file=sys.stderr, flush=True)
        # The demo's logins, when asked for (shell's own chatter left out).
        shown = [line for line in out.splitlines() if "objects imported" not in line]
        if proc is prepare and any(line.strip() for line in shown):
            print("\n".join(shown), flush=True)
    static_root = Path(env["ODR_DATA_DIR"]).resolve() / "static"
    say(f"migrated; precompressed {precompress(static_root)} static files")

    sockets = [args.state / "run" / f"daphne-{i}.sock" for i in range(args.daphne)]
    conf = args.state / "nginx" / "nginx.conf"
    conf.write_text(nginx_conf(args, env, sockets))
    nginx_cmd = [
        nginx,
        "-p",
        str(args.state / "nginx"),
        "-e",
        str(args.state / "log" / "nginx-error.log"),
        "-c",
        str(conf),
    ]
    tested = subprocess.run([*nginx_cmd, "-t", "-q"], capture_output=True, text=True, check=False)
    if tested.returncode != 0:
        raise Refusal(f"nginx refuses {conf}:\n{tested.stderr}")

    sup = Supervisor(args.state)

    def on_signal(signum, _frame) -> None:
        if not sup.stopping:
            say(f"{signal.Signals(signum).name}: stopping every process")
        sup.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for i, sock in enumerate(sockets):
            sock.unlink(missing_ok=True)
            sup.start(
                f"daphne-{i}",
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    # The listen backlog above Twisted's 50, so that a burst of
                    # joins queues instead of being refused (issue 13).
                    "-e",
                    f"unix:{sock}:backlog=4096",
                    "--proxy-headers",
                    "config.asgi:application",
                ],
                env,
            )
        # The worker and the reminders start once the Daphne processes are up: on a small
        # machine, five Django processes importing at once slow every one of them.
        for sock in sockets:
            wait_until(lambda s=sock: connects(str(s)), f"Daphne on {sock}", sup)
        sup.start(
            "worker",
            [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--no-reload"],
            env,
        )
        sup.start(
            "reminders",
            [sys.executable, "manage.py", "send_reminders", "--loop", str(args.reminders_every)],
            env,
        )
        if turn:
            sup.start("turnserver", [turnserver, "-c", str(turn_conf(args, env))], env)
        (args.state / "run" / "nginx.pid").unlink(missing_ok=True)
        sup.start("nginx", nginx_cmd, env)
        host, port = split_address(args.listen)
        wait_until(lambda: connects((host, port)), f"nginx on {args.listen}", sup)
        scheme = "https" if args.tls_cert else "http"
        say(f"ready: {scheme}://{args.listen}/ ({args.daphne} Daphne processes; Ctrl-C stops)")
        return sup.watch()
    finally:
        sup.stop_all()
        say("stopped")


if __name__ == "__main__":
    sys.exit(main())
