"""Sportello settings.

Settings come from the environment (12-factor); policy (SLA targets, statuses, templates) lives in
the database. Every reader below has a default that makes `make run` work with no configuration.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SRC_DIR = Path(__file__).resolve().parent
BASE_DIR = SRC_DIR.parent.parent
DATA_DIR = Path(env_str("SPORTELLO_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("SPORTELLO_DEBUG", False)


def _secret_key() -> str:
    """The key signs sessions and reply addresses: from the environment in production.

    For a developer's `make run` a random key is made once and kept in the data folder, so it
    never lives in the repository and survives restarts.
    """
    key = env_str("SPORTELLO_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("SPORTELLO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("SPORTELLO_CSRF_TRUSTED_ORIGINS")
# The port `sportello run` and `serve` listen on (`--port` sets it for the run): the default public
# address follows it, so the banner, portal links and {{ site.url }} point where the server is.
PORT = env_int("SPORTELLO_PORT", 8000)
SITE_URL = env_str("SPORTELLO_SITE_URL", f"http://127.0.0.1:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's passkey list (/auth/2fa/webauthn/) loads it
    "channels",
    "ninja",  # its bundled Swagger UI for /api/v1/docs; never a CDN
    "django_tasks",
    "django_tasks_db",
    "sportello.core",
    "sportello.accounts",
    "sportello.customers",
    "sportello.tickets",
    "sportello.inbox",
    "sportello.notifications",
    "sportello.search",
    "sportello.semantic",
    "sportello.webform",
    "sportello.mail",
    "sportello.sla",
    "sportello.triage",  # before automation: triggers and assignment see its predictions
    "sportello.automation",
    "sportello.kb",
    "sportello.portal",
    "sportello.forum",
    "sportello.csat",
    "sportello.chat",
    "sportello.social",
    "sportello.reports",
    "sportello.fields",
    "sportello.phone",
    "sportello.audit",
    "sportello.admin_area",
    "sportello.privacy",
    "sportello.importers",
    "sportello.assist",
    # Single sign-on and two-factor (docs/sso.md); sso first, so its templates override allauth's.
    "sportello.sso",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sportello.core.middleware.ContentSecurityPolicyMiddleware",
    "sportello.core.middleware.ApiJsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A token call to /api/ without a session cookie goes from here to its End by a shorter chain.
    "sportello.core.middleware.TokenApiShortcut",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: an agent's own language and time zone (profile page) win over the browser's.
    "sportello.core.middleware.AgentPreferencesMiddleware",
    "sportello.audit.middleware.CurrentRequestMiddleware",  # who acts, for the audit trail's hooks
    "allauth.account.middleware.AccountMiddleware",
    "sportello.sso.middleware.TwoFactorRequiredMiddleware",  # the "require two-factor" switch
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sportello.core.middleware.TokenApiShortcutEnd",
]

ROOT_URLCONF = "sportello.urls"
WSGI_APPLICATION = "sportello.wsgi.application"
ASGI_APPLICATION = "sportello.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SRC_DIR / "templates"],
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

# --- Database: SQLite (WAL) by default, PostgreSQL through DATABASE_URL --------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'sportello.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool per process (psycopg_pool through Django 5.1+). Under ASGI every request
    # has a context of its own (asgiref's Local), so persistent connections (CONN_MAX_AGE) would leak.
    pool_size = env_int("SPORTELLO_DB_POOL_SIZE", 8)
    if pool_size > 0:
        DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 1, "max_size": pool_size, "timeout": 20}}
    # Statements sent through core.rows.bound_cursor (intake's INSERTs, mail's look-up) are
    # prepared on a connection once run this many times; Django's own cursors put the values into
    # the SQL text and are never prepared. 0 turns it off (PgBouncer before 1.21 in transaction
    # pooling mode needs that).
    prepare_threshold = env_int("SPORTELLO_DB_PREPARE_THRESHOLD", 1)
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = prepare_threshold or None
    # .iterator() (form choices, exports) would DECLARE a server-side cursor: a round trip more per
    # list and unsafe behind a transaction-pooling proxy such as PgBouncer.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while a writer commits; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue up (busy timeout) instead of failing with "database is locked" on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": env_str("SPORTELLO_SQLITE_TEST_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"
# Passwords are refused for agents while "agents must use single sign-on" is on (sso/backends.py).
AUTHENTICATION_BACKENDS = ["sportello.sso.backends.PasswordPolicyBackend"]
# allauth serves single sign-on (OIDC, SAML) and two-factor only: passwords stay with accounts.LoginView
# (sso/urls.py hides allauth's own sign-up, password and email pages).
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "sportello.sso.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "sportello.sso.adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True  # an agent's existing account is taken over by a verified email
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "Sportello"
# WebAuthn needs HTTPS, except on a developer's http://127.0.0.1 (and the browser tests').
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env_bool("SPORTELLO_WEBAUTHN_INSECURE_ORIGIN", DEBUG)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]


# HTTP requests an ASGI web process (`sportello serve`) serves at once, each in a thread of its
# own (asgi.py); as many as the database pool's connections by default, so none waits for one.
WEB_THREADS = env_int("SPORTELLO_WEB_THREADS", env_int("SPORTELLO_DB_POOL_SIZE", 8) or 8)

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("it", "Italiano"), ("de", "Deutsch"), ("bg", "Български")]
LOCALE_PATHS = [SRC_DIR / "locale"]
# One date and time format per language on every page (Django's own mix short/long and US styles).
FORMAT_MODULE_PATH = ["sportello.formats"]
TIME_ZONE = env_str("SPORTELLO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [SRC_DIR / "static"]
MEDIA_ROOT = Path(env_str("SPORTELLO_MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Files browsers ask for at the site's root (/favicon.ico), served by WhiteNoise as they are.
WHITENOISE_ROOT = SRC_DIR / "static" / "root"
MAX_ATTACHMENT_BYTES = env_int("SPORTELLO_MAX_ATTACHMENT_MB", 25) * 1024 * 1024
# Uploads stream to temporary files past this size; the attachment limit above is ours to enforce.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Background work -----------------------------------------------------------------------------
TASK_BACKEND = env_str("SPORTELLO_TASK_BACKEND", "database")
REDIS_URL = env_str("REDIS_URL")
if TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
elif TASK_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Mail ------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("SPORTELLO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = DATA_DIR / "sent-mail"
EMAIL_HOST = env_str("SPORTELLO_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = env_int("SPORTELLO_SMTP_PORT", 25)
EMAIL_HOST_USER = env_str("SPORTELLO_SMTP_USER")
EMAIL_HOST_PASSWORD = env_str("SPORTELLO_SMTP_PASSWORD")
EMAIL_USE_TLS = env_bool("SPORTELLO_SMTP_STARTTLS", False)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env_str("SPORTELLO_FROM_EMAIL", "Sportello Support <support@sportello.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SPORTELLO_MAIL_DOMAIN = env_str("SPORTELLO_MAIL_DOMAIN", "sportello.localhost")

# --- Product settings ------------------------------------------------------------------------------
TICKET_NUMBER_START = env_int("SPORTELLO_TICKET_NUMBER_START", 10001)
WEBFORM_RATE_LIMIT = env_int("SPORTELLO_WEBFORM_RATE_LIMIT", 5)  # submissions per client IP and per email per window
WEBFORM_RATE_WINDOW = env_int("SPORTELLO_WEBFORM_RATE_WINDOW", 600)  # seconds
WEBFORM_MIN_FILL_SECONDS = env_int("SPORTELLO_WEBFORM_MIN_FILL_SECONDS", 2)  # faster is a bot
PORTAL_LINK_RATE_LIMIT = env_int("SPORTELLO_PORTAL_LINK_RATE_LIMIT", 5)  # sign-in links per client IP and per address
PORTAL_LINK_RATE_WINDOW = env_int("SPORTELLO_PORTAL_LINK_RATE_WINDOW", 900)  # seconds
# Failed password sign-ins (agents and portal) before sign-in is locked, per account and per client IP
SIGN_IN_ACCOUNT_LIMIT = env_int("SPORTELLO_SIGN_IN_ACCOUNT_LIMIT", 10)
SIGN_IN_IP_LIMIT = env_int("SPORTELLO_SIGN_IN_IP_LIMIT", 30)
SIGN_IN_WINDOW = env_int("SPORTELLO_SIGN_IN_WINDOW", 900)  # seconds over which failures are counted
SIGN_IN_LOCK = env_int("SPORTELLO_SIGN_IN_LOCK", 900)  # seconds a lock lasts
INBOX_PAGE_SIZE = env_int("SPORTELLO_INBOX_PAGE_SIZE", 50)
# The acknowledgement mail lists up to 3 public help-centre articles that match the new request.
KB_ACK_SUGGESTIONS = env_bool("SPORTELLO_KB_ACK_SUGGESTIONS", True)
FORUM_POST_RATE_LIMIT = env_int("SPORTELLO_FORUM_POST_RATE_LIMIT", 10)  # a member's forum posts per window
FORUM_POST_RATE_WINDOW = env_int("SPORTELLO_FORUM_POST_RATE_WINDOW", 600)  # seconds
KB_MAX_FILE_BYTES = env_int("SPORTELLO_KB_MAX_FILE_MB", 10) * 1024 * 1024  # per image or attachment of an article
MAIL_RATE_LIMIT = env_int("SPORTELLO_MAIL_RATE_LIMIT", 20)  # inbound messages per sender per window
MAIL_RATE_WINDOW = env_int("SPORTELLO_MAIL_RATE_WINDOW", 3600)  # seconds; past the limit mail is quarantined
# A larger inbound message is refused (SMTP 552, HTTP 413) or, from IMAP, left on the server and quarantined.
MAIL_MAX_MESSAGE_BYTES = env_int("SPORTELLO_MAIL_MAX_MESSAGE_MB", 50) * 1024 * 1024
MAIL_MAX_ATTACHMENTS = env_int("SPORTELLO_MAIL_MAX_ATTACHMENTS", 100)  # files per message; the rest stay in the raw one
MAIL_POLL_SECONDS = env_int("SPORTELLO_MAIL_POLL_SECONDS", 60)  # how often the scheduler polls IMAP mailboxes
# Webhooks call public internet addresses only; hosts listed here (an internal receiver) may be anywhere.
WEBHOOK_ALLOW_HOSTS = env_list("SPORTELLO_WEBHOOK_ALLOW_HOSTS")
# Past this many ticket vectors, similar-ticket lookups go through an approximate index (usearch),
# built in the background by each process; below it brute force is exact and cheap (docs/semantic.md).
SEMANTIC_ANN_THRESHOLD = env_int("SPORTELLO_SEMANTIC_ANN_THRESHOLD", 20_000)
# Only for bench/: exposes /bench/insert, a one-INSERT endpoint measured as the ceiling.
BENCH_ENDPOINTS = env_bool("SPORTELLO_BENCH_ENDPOINTS", False)

# --- Realtime (Django Channels): in-memory within one process; Redis between processes and machines --
# Messages waiting for one socket before the layer drops new ones (Channels' default is 100): an
# agent's console that falls behind under load should catch up, not lose chat lines.
CHANNEL_CAPACITY = env_int("SPORTELLO_CHANNEL_CAPACITY", 1000)
CHANNEL_LAYERS = {
    "default": (
        # redis-py 8 reads with a 5 s socket timeout by default, which aborts the layer's blocking
        # pop (BZPOPMIN, up to 5 s) and kills idle consumers; longer than that, still not forever.
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "capacity": CHANNEL_CAPACITY},
        }
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": CHANNEL_CAPACITY}}
    )
}
CHAT_MAX_MESSAGE_CHARS = env_int("SPORTELLO_CHAT_MAX_MESSAGE_CHARS", 4000)  # a longer chat line is refused
CHAT_MAX_FRAME_BYTES = env_int("SPORTELLO_CHAT_MAX_FRAME_BYTES", 16384)  # a larger websocket frame is refused
CHAT_RATE_LIMIT = env_int("SPORTELLO_CHAT_RATE_LIMIT", 20)  # frames per visitor connection per window
CHAT_RATE_WINDOW = env_int("SPORTELLO_CHAT_RATE_WINDOW", 10)  # seconds
# Open visitor sockets per client IP (counted in the cache, across processes); 0: no limit.
CHAT_MAX_CONNECTIONS_PER_IP = env_int("SPORTELLO_CHAT_MAX_CONNECTIONS_PER_IP", 20)
CHAT_DB_THREADS = env_int("SPORTELLO_CHAT_DB_THREADS", 4)  # visitors' database work in parallel, per web process
CHAT_MAX_FILE_BYTES = env_int("SPORTELLO_CHAT_MAX_FILE_MB", 10) * 1024 * 1024  # a file a visitor sends in a chat
CHAT_UPLOAD_LIMIT = env_int("SPORTELLO_CHAT_UPLOAD_LIMIT", 10)  # files per visitor per CHAT_UPLOAD_WINDOW
CHAT_UPLOAD_WINDOW = env_int("SPORTELLO_CHAT_UPLOAD_WINDOW", 600)  # seconds
# An agent whose last screen closed is set offline after this many seconds (a reload is not leaving).
AGENT_OFFLINE_GRACE_SECONDS = env_int("SPORTELLO_AGENT_OFFLINE_GRACE_SECONDS", 30)

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        # The ticket page keeps each entry's HTML here (a 100-entry thread fills a third of the
        # default 300 places): room for a busy team's open threads, ~2 KB each, ~10 MB at most.
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 5000}}
    )
}

# --- Security headers --------------------------------------------------------------------------------
# SPORTELLO_SECURE_COOKIES=1 when the site is served over HTTPS: session and CSRF cookies are sent
# only over TLS, and browsers are told (HSTS, on HTTPS answers) to use nothing else for a year.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SPORTELLO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if SESSION_COOKIE_SECURE else 0
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Scripts and styles come from our own static files only: no inline <script>, event handler or
# style attribute runs. core.middleware adds ws(s):// of the page's host to connect-src and lifts
# frame-ancestors on the pages made to be framed (the embeddable web form).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "sportello": {"handlers": ["console"], "level": env_str("SPORTELLO_LOG_LEVEL", "INFO").upper()},
        # Server errors (with their tracebacks) reach the console in production too, not only with DEBUG.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
