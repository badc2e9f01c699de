"""Settings for the ODR platform: one module, every outside value read through config.env.

With no environment at all this is a safe production configuration that refuses to start
without a secret key; `DJANGO_DEBUG=1` gives the embedded development default (SQLite in
WAL mode, in-memory channel layer, mail on the console)."""

import sys
from datetime import timedelta
from pathlib import Path

import csp.constants
import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("ODR_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DJANGO_DEBUG", False)
# Under pytest the testing configuration applies without any environment to set.
TESTING = env_bool("ODR_TESTING", "pytest" in sys.modules)

SECRET_KEY = env_str("DJANGO_SECRET_KEY") or env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "django-insecure-development-only-key-not-for-production-use-0000"
    else:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (production) or DJANGO_DEBUG=1 (development)."
        )

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG or TESTING else []
)
if not ALLOWED_HOSTS and not (DEBUG or TESTING):
    # Otherwise production starts and answers every request with 400.
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Behind our own load balancer the client's address is the first of X-Forwarded-For;
# without one, that header is whatever the client wrote, so it is ignored.
ODR_TRUST_X_FORWARDED_FOR = env_bool("ODR_TRUST_X_FORWARDED_FOR", False)
# The demo accounts' password (seed_demo; CONTRACT §1).
ODR_DEMO_PASSWORD = env_str("ODR_DEMO_PASSWORD") or "odr-demo-2026"
ODR_DEMO_HOTLINE_TOKEN = env_str("ODR_DEMO_HOTLINE_TOKEN") or "odr-demo-hotline-2026"
# The public address used in e-mails, QR codes and ICS files.
# In production it defaults to https:// and the first allowed host, never to a local
# address that would put dead links in every e-mail.
_default_host = next((h for h in ALLOWED_HOSTS if h != "*" and not h.startswith(".")), "")
SITE_URL = (
    env_url("ODR_SITE_URL", schemes=("http", "https"))
    or (
        f"https://{_default_host}"
        if _default_host and not (DEBUG or TESTING)
        else "http://127.0.0.1:8000"
    )
).rstrip("/")
# Without ODR_SITE_URL, development links follow the address each request came to
# (odr.links.site_url): a server on another port sends links to that port.
ODR_SITE_URL_FROM_REQUEST = env_bool(
    "ODR_SITE_URL_FROM_REQUEST", DEBUG and not TESTING and not env_str("ODR_SITE_URL")
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.headless",
    # Serves the API docs' Swagger UI from our own static files, not a CDN.
    "ninja",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "odr",
    "sessions.apps.MediationConfig",
    "agreements",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "odr.middleware.RequireStaffMFAMiddleware",
    "odr.middleware.NotFoundMiddleware",
    "csp.middleware.CSPMiddleware",
    "odr.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Our layouts (base.html, allauth overrides) come before the apps' own templates.
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Every form's errors in plain words, with aria-invalid/aria-describedby (issue 12).
FORM_RENDERER = "odr.forms_render.FormRenderer"

# --- Database: SQLite (WAL, immediate transactions) unless DATABASE_URL is set. ---
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
_SQLITE_OPTIONS = {
    # WAL lets readers and the task worker run beside a writer; IMMEDIATE takes the write
    # lock at BEGIN so racing filings queue instead of failing.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
# PostgreSQL connections come from psycopg's pool (issue 14): under ASGI each request runs
# in a thread of its own, so CONN_MAX_AGE kept nothing and every request opened (and
# authenticated) a new server process. The pool is per process: Daphne processes times
# ODR_DB_POOL_MAX, plus the worker's, must stay under the server's max_connections. A
# request that finds every connection busy waits up to ODR_DB_POOL_TIMEOUT seconds, then
# fails; connections above ODR_DB_POOL_MIN idle for ODR_DB_POOL_MAX_IDLE seconds close.
# ODR_DB_POOL=0 goes back to one connection per request (behind PgBouncer, say).
ODR_DB_POOL = env_bool("ODR_DB_POOL", True)
ODR_DB_POOL_MIN = env_int("ODR_DB_POOL_MIN", 2, minimum=0)
ODR_DB_POOL_MAX = env_int("ODR_DB_POOL_MAX", 20, minimum=1)
ODR_DB_POOL_TIMEOUT = env_int("ODR_DB_POOL_TIMEOUT", 10, minimum=1)
ODR_DB_POOL_MAX_IDLE = env_int("ODR_DB_POOL_MAX_IDLE", 300, minimum=1)
if ODR_DB_POOL_MIN > ODR_DB_POOL_MAX:
    raise ImproperlyConfigured(
        f"ODR_DB_POOL_MIN ({ODR_DB_POOL_MIN}) must not exceed ODR_DB_POOL_MAX ({ODR_DB_POOL_MAX})"
    )
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # A SQLite file named by URL needs the same settings as the default one.
        DATABASES["default"]["OPTIONS"] = dict(_SQLITE_OPTIONS)
    elif ODR_DB_POOL:
        # Django hands a connection back to the pool when it would close it: at the end
        # of each request, so CONN_MAX_AGE must stay 0 (Django refuses a pool otherwise).
        DATABASES["default"]["OPTIONS"] = {
            **DATABASES["default"].get("OPTIONS", {}),
            "pool": {
                "min_size": ODR_DB_POOL_MIN,
                "max_size": ODR_DB_POOL_MAX,
                "timeout": ODR_DB_POOL_TIMEOUT,
                "max_idle": ODR_DB_POOL_MAX_IDLE,
            },
        }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer: in memory unless REDIS_URL is set. ---
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # channels-redis passes extra keys of a host dict to redis-py's
                # ConnectionPool.from_url. redis-py's async pool holds at most 100
                # connections and then RAISES MaxConnectionsError (it does not wait):
                # a burst of group_send/send from a full process needs more.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env_int("ODR_REDIS_MAX_CONNECTIONS", 2000, minimum=100),
                        # redis-py 8 reads with a 5 s socket timeout by default, the same
                        # as the core layer's BZPOPMIN wait (brpop_timeout 5 s): a quiet
                        # channel's receive timed out and its consumer closed with 1011
                        # (seen after one of two Daphne processes died; issue 13).
                        "socket_timeout": 30,
                    }
                ],
                # The default capacity of 100 silently drops a burst of ICE candidates
                # when a room fills at once; expiry frees a dead consumer's queue.
                "capacity": env_int("ODR_CHANNEL_CAPACITY", 1500, minimum=100),
                "expiry": 30,
                # Longer than any session (8 hours at most): a group member is never
                # expired out of a room that is still running.
                "group_expiry": 86400,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "sessions.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": env_int("ODR_CHANNEL_CAPACITY", 1500, minimum=100)},
        }
    }
# With Redis, channels-redis' pub/sub layer is the default (its publishes and subscribes
# sent in batches, one round trip each: sessions.layers.RedisPubSubChannelLayer, issue 13):
# it keeps no per-channel lists (nothing to size or expire) and hands a message straight
# to the subscribed process;
# bench/signaling measured its signal relay at N=999 p50 3.3 ms / p99 16 ms against
# 205 ms / 6.9 s for the tuned core layer. ODR_CHANNEL_LAYER=core selects the core layer
# (capacity and pool sized above); the scale-out test runs on both.
ODR_CHANNEL_LAYER = env_str("ODR_CHANNEL_LAYER", "pubsub")
if ODR_CHANNEL_LAYER not in ("core", "pubsub"):
    raise ImproperlyConfigured("ODR_CHANNEL_LAYER must be `core` or `pubsub`.")
if REDIS_URL and ODR_CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "sessions.layers.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]},
        }
    }

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {
        # One Redis client per process, not one per request (odr/cache.py).
        "default": {"BACKEND": "odr.cache.SharedRedisCache", "LOCATION": REDIS_URL}
    }

# --- Background tasks: django-tasks' database backend (the run command starts the worker).
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if env_bool("ODR_TASKS_IMMEDIATE", TESTING)
            else "django_tasks_db.DatabaseBackend"
        )
    }
}

# --- Accounts (django-allauth) ---
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# An account is opened and used with an e-mail or a mobile number (issue 12): both are
# optional to allauth and odr.accounts.SignupBase asks for at least one; the phone lives
# in the profile, read and written by odr.accounts.AccountAdapter.
ACCOUNT_ADAPTER = "odr.accounts.AccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "odr.accounts.SignupBase"
ACCOUNT_FORMS = {"signup": "odr.signup_form.SignupForm", "login": "odr.signup_form.LoginForm"}
ACCOUNT_LOGIN_METHODS = {"email", "phone"}
ACCOUNT_SIGNUP_FIELDS = ["email", "phone", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# allauth could make verification mandatory only by making e-mail required; the adapter's
# login stage makes it mandatory (in production) for the accounts that have an address.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ODR_EMAIL_VERIFICATION_MANDATORY = env_bool("ODR_EMAIL_VERIFICATION_MANDATORY", not DEBUG)
# A phone number is proven by a texted code: valid 10 minutes, 3 tries, one use (allauth).
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_TIMEOUT = 10 * 60
ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS = 3
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND = 3
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
# Log-in codes (texted or e-mailed) the same: six digits, as people know them.
ALLAUTH_USER_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
# Log in with a texted (or e-mailed) code instead of the password.
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 5 * 60
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3
# Texts cost money and can be used to pester someone: a code may be asked for once in
# 30 seconds and 3 times a minute per number ("key"), 10 times a minute per address
# ("ip"). Development and tests run without limits (many log-ins a minute); the tests
# of the limits switch these on.
ODR_CODE_RATE_LIMITS = {
    "verify_phone": "1/30s/key,10/m/ip",
    "request_login_code": "10/m/ip,3/m/key",
}
ACCOUNT_RATE_LIMITS = False if (DEBUG or TESTING) else dict(ODR_CODE_RATE_LIMITS)
# account.W001 says that no login method is a required sign-up field: SignupBase
# requires one of the two.
SILENCED_SYSTEM_CHECKS = ["account.W001"]
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if not DEBUG else "http"
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"
HEADLESS_CLIENTS = ("app", "browser")
HEADLESS_ONLY = False
HEADLESS_FRONTEND_URLS = {
    "account_confirm_email": f"{SITE_URL}/accounts/confirm-email/{{key}}/",
    "account_reset_password_from_key": f"{SITE_URL}/accounts/password/reset/key/{{key}}/",
    "account_signup": f"{SITE_URL}/accounts/signup/",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "ODR"
# TOTP is required of mediators, coordinators and court staff in production.
ODR_REQUIRE_STAFF_MFA = env_bool("ODR_REQUIRE_STAFF_MFA", not DEBUG and not TESTING)

# --- E-mail ---
ODR_EMAIL_DIR = env_str("ODR_EMAIL_DIR")
if ODR_EMAIL_DIR:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = ODR_EMAIL_DIR
elif env_str("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ODR <noreply@odr.localhost>")

# --- SMS (odr.sms) ---
# ODR_SMS_GATEWAY_URL sends through an HTTP gateway (production: the county's SMS
# provider behind a small adapter, or the provider's own JSON endpoint); otherwise every
# text is a file in ODR_SMS_DIR (default var/sms), as ODR_EMAIL_DIR does for e-mail.
ODR_SMS_GATEWAY_URL = env_url("ODR_SMS_GATEWAY_URL", schemes=("http", "https"))
ODR_SMS_GATEWAY_TOKEN = env_str("ODR_SMS_GATEWAY_TOKEN")
ODR_SMS_GATEWAY_TIMEOUT = env_int("ODR_SMS_GATEWAY_TIMEOUT", 10)
ODR_SMS_SIGNATURE = env_str("ODR_SMS_SIGNATURE", "【矛调中心】")
ODR_SMS_DIR = env_str("ODR_SMS_DIR") or str(DATA_DIR / "sms")

# --- The 12345 hotline bridge (odr.hotline) ---
# First contact with the caller is due within this many hours of the ticket's arrival when
# the ticket gives no `respond_by` of its own.
ODR_HOTLINE_RESPOND_HOURS = env_int("ODR_HOTLINE_RESPOND_HOURS", 24, minimum=1)
# The weights of the three rates (response, resolution, satisfaction) in a township's or an
# organisation's score: Beijing's 接诉即办 assessment as published at its start (2019).
ODR_HOTLINE_WEIGHTS = (0.2, 0.4, 0.4)

# --- Internationalisation: Simplified Chinese first, English second. ---
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# App catalogues are found in each app's locale/; these sub-packages keep their own.
LOCALE_PATHS = [
    # allauth's words as the platform says them (退出登录, 手机号, 验证码): issue 12.
    BASE_DIR / "odr" / "accounts_locale",
    BASE_DIR / "agreements" / "documents" / "locale",
    BASE_DIR / "agreements" / "court" / "locale",
    BASE_DIR / "sessions" / "media" / "locale",
]
TIME_ZONE = env_str("ODR_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Files ---
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
    },
}
ODR_EVIDENCE_MAX_BYTES = env_int("ODR_EVIDENCE_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Domain deadlines (DESIGN.md §2: deadlines are data). ---
ODR_INVITATION_DAYS = env_int("ODR_INVITATION_DAYS", 14, minimum=1)
ODR_INVITATION_REMINDER_DAYS = env_int("ODR_INVITATION_REMINDER_DAYS", 3, minimum=0)
ODR_MEDIATION_DAYS = env_int("ODR_MEDIATION_DAYS", 30, minimum=1)
ODR_CONFIRMATION_WINDOW_DAYS = env_int("ODR_CONFIRMATION_WINDOW_DAYS", 30, minimum=1)

# --- Mediation rooms: ICE servers and TURN REST credentials (coturn's use-auth-secret). ---
ODR_STUN_URLS = env_list("ODR_STUN_URLS", [])
ODR_TURN_URLS = env_list("ODR_TURN_URLS", [])
ODR_TURN_SECRET = env_str("ODR_TURN_SECRET")
ODR_TURN_TTL = timedelta(seconds=env_int("ODR_TURN_TTL_SECONDS", 3600, minimum=60))
ODR_ROOM_TICKET_TTL = timedelta(seconds=env_int("ODR_ROOM_TICKET_TTL_SECONDS", 60, minimum=5))
# A room connection's limits: messages larger than this are refused, and a token bucket
# (burst, then per second) keeps one client from flooding the room.
ODR_ROOM_MAX_MESSAGE_BYTES = env_int("ODR_ROOM_MAX_MESSAGE_BYTES", 64 * 1024, minimum=1024)
ODR_ROOM_RATE_BURST = env_int("ODR_ROOM_RATE_BURST", 200, minimum=1)
ODR_ROOM_RATE_PER_SECOND = float(env_int("ODR_ROOM_RATE_PER_SECOND", 50, minimum=1))
# Who is connected is kept by heartbeats with an expiry in the cache (Redis with
# REDIS_URL): a Daphne process that dies leaves nobody marked connected for longer than
# this (sessions.presence).
ODR_ROOM_HEARTBEAT_SECONDS = env_int("ODR_ROOM_HEARTBEAT_SECONDS", 30, minimum=3)
# Recordings (only with every participant's consent) keep the mixed audio; with this on,
# also a tiled video of everyone (WebM instead of Ogg).
ODR_RECORD_VIDEO = env_bool("ODR_RECORD_VIDEO", False)

# --- Signing keys: generated on first use outside the repository in development. ---
ODR_PKI_DIR = Path(env_str("ODR_PKI_DIR", str(Path.home() / ".local/share/odr-pki")))
ODR_TSA_URL = env_str("ODR_TSA_URL")
# Production loads the CA and the platform seal from these files and never generates them.
ODR_CA_CERT = env_str("ODR_CA_CERT")
ODR_CA_KEY = env_str("ODR_CA_KEY")
ODR_SEAL_CERT = env_str("ODR_SEAL_CERT")
ODR_SEAL_KEY = env_str("ODR_SEAL_KEY")
# Each court's own seal (certificate, key, seal image), never minted by the platform: a JSON
# object, or the path of a JSON file, mapping a court's code (浙0523) to its files; see
# agreements.documents.pki.court_seal. Development falls back to a 样章 specimen.
ODR_COURT_SEALS = env_str("ODR_COURT_SEALS")
# Encrypts every key the platform writes under ODR_PKI_DIR (and opens encrypted CA/seal keys).
ODR_PKI_KEY_PASSWORD = env_str("ODR_PKI_KEY_PASSWORD")
# The TrueType font embedded (subset) in every PDF; TTC files use their first face.
# The documents' body face: a Song/Ming serif (Debian's fonts-arphic-uming), embedded and
# subset; the sans face stays for labels on pages and the drawn seal's legend.
ODR_PDF_FONT = env_str("ODR_PDF_FONT", "/usr/share/fonts/truetype/arphic/uming.ttc")
ODR_PDF_SANS_FONT = env_str("ODR_PDF_SANS_FONT", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# Statutory periods (odr.periods): an operator's supplement for a year the chinesecalendar
# package does not cover yet, and whether an uncovered day raises (production) or counts
# weekends only with a warning (development).
ODR_HOLIDAYS_FILE = env_str("ODR_HOLIDAYS_FILE")
ODR_CALENDAR_STRICT = env_bool("ODR_CALENDAR_STRICT", not DEBUG and not TESTING)
# Judicial confirmation goes to an intermediate court (CPL 2023 Art. 205) when the claim
# is at or above this many yuan (SPC 2021 first-instance thresholds, 法发〔2021〕27号).
ODR_INTERMEDIATE_COURT_THRESHOLD = env_int(
    "ODR_INTERMEDIATE_COURT_THRESHOLD", 500_000_000, minimum=1
)

# --- Security: production passes `manage.py check --deploy` with no warnings. ---
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# The language switcher's cookie travels like the session's (issue 11, L1).
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = not DEBUG and not TESTING

# A strict Content-Security-Policy (django-csp): scripts and styles from our own static
# files only (an inline script needs the request's nonce), media and the camera preview
# from blob:, WebSockets to our own host ('self' covers ws: and wss: of it), no frames.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.constants.SELF],
        "script-src": [csp.constants.SELF, csp.constants.NONCE],
        "style-src": [csp.constants.SELF],
        "img-src": [csp.constants.SELF, "data:", "blob:"],
        "media-src": [csp.constants.SELF, "blob:"],
        "font-src": [csp.constants.SELF],
        "connect-src": [csp.constants.SELF],
        "worker-src": [csp.constants.SELF],
        "manifest-src": [csp.constants.SELF],
        "object-src": [csp.constants.NONE],
        "base-uri": [csp.constants.SELF],
        "form-action": [csp.constants.SELF],
        "frame-ancestors": [csp.constants.NONE],
    }
}
# Only our own pages may use the camera, microphone and screen (the room, the signing
# pad needs none of them); nothing may use the rest.
ODR_PERMISSIONS_POLICY = (
    "camera=(self), microphone=(self), display-capture=(self), geolocation=(), "
    "payment=(), usb=(), interest-cohort=()"
)

if TESTING:
    # Every test seeds the demo accounts: a deliberately slow hash costs seconds each time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("ODR_LOG_LEVEL", "INFO")},
}

# Each app's reminder job: `send_due(*, now) -> int`, run by `manage.py send_reminders`.
ODR_REMINDER_JOBS = [
    "odr.reminders.send_due",
    "sessions.reminders.send_due",
    "sessions.services.sessions_close_orphaned",
    "agreements.reminders.send_due",
    # Not a reminder: the public statistics and the dashboards counted ahead of the
    # requests, which read them in one query (odr.stats, issue 14).
    "odr.stats.refresh_figures",
]
# A request finding figures older than this (seconds; the worker has stopped) counts them
# itself (odr.stats.read_snapshot); 0: every request counts (the tests).
ODR_FIGURES_MAX_AGE = env_int("ODR_FIGURES_MAX_AGE", 0 if TESTING else 1800)
