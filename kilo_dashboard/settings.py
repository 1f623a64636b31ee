"""Settings for the Kilo Teams dashboard, read from the environment.

DJANGO_ENV selects the profile:
- "development" (default, used by `make run`): SQLite file, no broker (Celery tasks run eagerly),
  local-memory cache, emails printed to the console.
- "test": like development, but `make test` points DATABASE_URL/REDIS_URL at PostgreSQL and Redis.
- "production": every secret must come from the environment; a missing one stops the start.
"""

import base64
import hashlib
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from . import money
from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, test or production, got {DJANGO_ENV!r}."
    )
PRODUCTION = DJANGO_ENV == "production"

# --- Core -------------------------------------------------------------------------------------
SECRET_KEY = env_str(
    "SECRET_KEY",
    "dev-only-insecure-key-never-used-in-production-0123456789",
    required=PRODUCTION,
)
DEBUG = env_bool("DEBUG", default=DJANGO_ENV == "development")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production (comma-separated).")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000", required=PRODUCTION).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
    "allauth.mfa",  # TOTP and recovery codes, managed from the Account page
    "allauth.usersessions",  # the Account page's list of signed-in sessions
    "kilo_dashboard",
    "accounts",
    "audit",
    "organizations",
    "providers",
    "billing",
    "ninja",
    "usage",
    "subscriptions",
    "stripe_events",
    "sso",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "kilo_dashboard.session_activity.SessionActivityMiddleware",
]

# --- Static files with DEBUG off (production and the demo) ------------------------------------
# With DEBUG off, `collectstatic` writes hashed, compressed (gzip, brotli) copies to STATIC_ROOT
# and WhiteNoise serves them: a hashed name is cached for a year ("immutable"), and a client that
# accepts compression gets the compressed copy. With DEBUG on, and in the tests (whose DEBUG is
# off but which never collect), runserver or the test live server serve static/ as it is.
SERVE_COLLECTED_STATIC = not DEBUG and DJANGO_ENV != "test"
if SERVE_COLLECTED_STATIC:
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "kilo_dashboard.urls"
WSGI_APPLICATION = "kilo_dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kilo_dashboard.context_processors.navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}", required=PRODUCTION)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- SQLite (the demo) ------------------------------------------------------------------------
# The demo's web server, Celery worker, beat and localstripe's webhooks all write to one SQLite
# file at once. Without these, a second writer fails at once with "database is locked":
# - WAL lets readers go on while one connection writes;
# - the busy timeout makes a writer wait for the lock (seconds) instead of failing;
# - IMMEDIATE transactions take the write lock at BEGIN, so a transaction that read first can
#   never be refused the lock half-way (SQLite cannot wait in that case; it fails at once).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker, Celery --------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", required=PRODUCTION)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("CACHE_URL", REDIS_URL),
            "KEY_PREFIX": "kilo",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# With no broker configured (`manage.py` by hand), tasks run in-process at once. The in-memory
# transport keeps kombu from looking for a broker on localhost; no message ever goes through it.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"

# --- The demo's embedded broker (`make run`) --------------------------------------------------
# `make run` sets CELERY_BROKER_URL=filesystem://localhost// (the host is only there to keep
# kombu from warning that none was given): kombu's filesystem transport keeps each queued
# task as a file under .celery/, so the demo runs a real worker and beat (rollups, reconcile,
# retries, as in production) with no Redis. One folder is both in- and outbox: one machine.
CELERY_BROKER_FOLDER = Path(env_str("CELERY_BROKER_FOLDER", str(BASE_DIR / ".celery" / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
        "polling_interval": 0.5,
    }
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL) or None
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "expire-invitations": {
        "task": "organizations.tasks.expire_invitations",
        "schedule": crontab(minute="*/15"),
    },
    # Hourly, because "the 1st of the month" starts at a different hour in each org's time zone.
    "billing-monthly-statements": {
        "task": "billing.tasks.issue_monthly_statements",
        "schedule": crontab(minute=5),
    },
    "billing-stripe-reconcile": {
        "task": "billing.tasks.reconcile_stripe",
        "schedule": crontab(hour=3, minute=17),
    },
    # Hourly: failed events run again (bounded), missed ones received, ones failing for over an
    # hour logged at ERROR (stripe_events.replay).
    "stripe-events-replay": {
        "task": "stripe_events.tasks.replay_missed_events",
        "schedule": crontab(minute=23),
    },
    # Hourly (and after every failed change): plan, quantity and interval drift is repaired
    # from Stripe and listed in admin as "Corrected from Stripe".
    "subscriptions-reconcile": {
        "task": "subscriptions.tasks.reconcile_subscriptions",
        "schedule": crontab(minute=47),
    },
    # Changes at once left open by a request (an abandoned 3-D Secure, an error after Stripe
    # charged): finished, or refunded and restored.
    "subscriptions-resume-intents": {
        "task": "subscriptions.tasks.resume_change_intents",
        "schedule": crontab(minute="*/5"),
    },
    "sso-domain-checks": {
        "task": "sso.tasks.check_pending_domains",
        "schedule": crontab(minute="*/5"),
    },
    "subscriptions-renewals": {
        "task": "subscriptions.tasks.apply_scheduled_changes",
        "schedule": crontab(minute="*/15"),
    },
    "providers-refresh-catalog": {
        "task": "providers.tasks.refresh_model_catalog",
        "schedule": crontab(hour=4, minute=23),
    },
    "usage-rollup": {"task": "usage.tasks.rollup_usage", "schedule": 30.0},
    # Billing claims the cost of rolled-up days: recent days every minute, every day nightly.
    "billing-usage-debits": {"task": "billing.tasks.post_usage_debits", "schedule": 60.0},
    "billing-usage-debits-all-days": {
        "task": "billing.tasks.post_usage_debits_all_days",
        "schedule": crontab(hour=4, minute=23),
    },
    # Refund intents a crash or an unreachable Stripe left reserved: finished or released.
    "billing-finish-refunds": {
        "task": "billing.tasks.finish_refunds",
        "schedule": crontab(minute="*/5"),
    },
    "audit-retention": {
        "task": "audit.tasks.audit_retention",
        "schedule": crontab(hour=4, minute=41),
    },
    "usage-partitions": {
        "task": "usage.tasks.maintain_partitions",
        "schedule": crontab(hour=2, minute=41),
    },
}

# --- Single Sign-On (sso app) ------------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes) for connection secrets, newest first; README: rotation.
# Outside production a key derived from SECRET_KEY keeps the demo and tests self-contained.
SSO_ENCRYPTION_KEYS = env_list("SSO_ENCRYPTION_KEYS") or (
    []
    if PRODUCTION
    else [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]
)
if PRODUCTION and not SSO_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("Set SSO_ENCRYPTION_KEYS (see README, Single Sign-On).")
# "host:port" DNS servers for domain proof; empty = the system resolver.
SSO_DNS_NAMESERVERS = env_list("SSO_DNS_NAMESERVERS")
SSO_DNS_TIMEOUT_SECONDS = env_int("SSO_DNS_TIMEOUT_SECONDS", 5)
SSO_HTTP_TIMEOUT_SECONDS = env_int("SSO_HTTP_TIMEOUT_SECONDS", 10)
SOCIALACCOUNT_ADAPTER = "sso.adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False

# --- Auth and allauth -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_ADAPTER = "sso.adapters.AccountAdapter"
ACCOUNT_FORMS = {"reset_password": "sso.forms.SSOAwareResetPasswordForm"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupDetailsForm"
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Kilo] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Kilo Teams"
# allauth's tracking writes the session row on every request; ours at most every 5 minutes.
USERSESSIONS_TRACK_ACTIVITY = False
# allauth's defaults, spelled out: they are enforced through the cache (Redis outside the demo).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}

# --- Email ------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Kilo Teams <no-reply@kilo.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST", required=True)
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# --- Product rules ----------------------------------------------------------------------------
INVITATION_TTL_DAYS = 7
NEW_ORGANIZATION_SEATS = env_int("NEW_ORGANIZATION_SEATS", 5)
MEMBERS_PAGE_SIZE = 25

# Invitations must not make us an email relay (organizations/limits.py): invitation emails, new or
# resent, per (count, seconds) window; a resend cooldown; a cap on pending invitations while an
# organization is new.
INVITATION_LIMITS = {
    "inviter": (env_int("INVITATION_LIMIT_PER_INVITER_HOUR", 50), 3600),
    "organization": (env_int("INVITATION_LIMIT_PER_ORGANIZATION_HOUR", 100), 3600),
    "recipient": (env_int("INVITATION_LIMIT_PER_RECIPIENT_DAY", 5), 86400),
}
INVITATION_RESEND_COOLDOWN_SECONDS = env_int("INVITATION_RESEND_COOLDOWN_SECONDS", 600)
NEW_ORGANIZATION_DAYS = 7
NEW_ORGANIZATION_MAX_PENDING_INVITATIONS = env_int("NEW_ORGANIZATION_MAX_PENDING_INVITATIONS", 10)

# Usage ingestion (usage app): batch limits, per-key rate limit, raw-event retention.
USAGE_INGEST_MAX_EVENTS = 1000
USAGE_INGEST_MAX_BYTES = env_int("USAGE_INGEST_MAX_BYTES", 2_000_000)
USAGE_INGEST_RATE_LIMIT_PER_MINUTE = env_int("USAGE_INGEST_RATE_LIMIT_PER_MINUTE", 6000)
USAGE_RETENTION_DAYS = env_int("USAGE_RETENTION_DAYS", 400)
# Days the minutely usage-debit run compares (older days: the nightly run over the retention).
USAGE_DEBIT_LOOKBACK_DAYS = env_int("USAGE_DEBIT_LOOKBACK_DAYS", 7)

# Model catalog (providers app). The daily refresh fetches this URL; empty (the demo and tests)
# turns it off. A sync that would remove more than max(this, 10% of the models) is refused.
PROVIDERS_CATALOG_URL = env_str(
    "PROVIDERS_CATALOG_URL", "https://models.dev/api.json" if PRODUCTION else ""
)
PROVIDERS_CATALOG_MAX_REMOVALS = env_int("PROVIDERS_CATALOG_MAX_REMOVALS", 50)
PROVIDERS_PAGE_SIZE = 50

# --- Stripe (billing) ---------------------------------------------------------------------------
# Only billing/stripe_gateway.py reads these. The demo and the tests point STRIPE_API_BASE at a
# localstripe server (a local fake Stripe) and STRIPE_JS_URL at its fake Stripe.js.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "sk_test_localstripe", required=PRODUCTION)
STRIPE_PUBLISHABLE_KEY = env_str(
    "STRIPE_PUBLISHABLE_KEY", "pk_test_localstripe", required=PRODUCTION
)
STRIPE_WEBHOOK_SECRET = env_str(
    "STRIPE_WEBHOOK_SECRET", "whsec_localstripe_demo_secret", required=PRODUCTION
)
STRIPE_API_BASE = env_str(
    "STRIPE_API_BASE", "https://api.stripe.com" if PRODUCTION else "http://127.0.0.1:8420"
).rstrip("/")
STRIPE_JS_URL = env_str(
    "STRIPE_JS_URL",
    "https://js.stripe.com/v3/" if PRODUCTION else f"{STRIPE_API_BASE}/js.stripe.com/v3/",
)
# The one pinned API version (sent as Stripe-Version on every call).
STRIPE_API_VERSION = "2024-06-20"
# "stripe" (the real API) or "localstripe" (its older dialect): the gateway's only switch.
STRIPE_API_DIALECT = env_str("STRIPE_API_DIALECT", "stripe" if PRODUCTION else "localstripe")
if STRIPE_API_DIALECT not in {"stripe", "localstripe"}:
    raise ImproperlyConfigured("STRIPE_API_DIALECT must be stripe or localstripe.")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env_int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 20)
# Not configurable: every stored amount is US cents or microdollars (kilo_dashboard/money.py says
# why). The Stripe gateway sends this; money formatting uses the same constant.
BILLING_CURRENCY = money.CURRENCY

# --- I18n, time, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "kilo_dashboard.static_storage.CompressedManifestStorage"
            if SERVE_COLLECTED_STATIC
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Only the hashed names are kept (and compressed): every page links them through {% static %}.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Content-Security-Policy and caching of private pages (django-csp) --------------------------
# No inline script anywhere (every script is a static file), so script-src needs no nonce.
# kilo_dashboard.middleware adds Stripe.js's origins (or localstripe's) to script-src, frame-src,
# connect-src and img-src. Styles allow 'unsafe-inline' because plotly and htmx set style
# attributes and <style> elements at run time. No form-action: SSO logins post to our server and
# are then redirected to the identity provider, which form-action would block in Chromium.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
INSTALLED_APPS.append("csp")

# --- Staff admin behind allauth's sign-in, rate limits and MFA (kilo_dashboard/admin_site.py) ----
INSTALLED_APPS[INSTALLED_APPS.index("django.contrib.admin")] = (
    "kilo_dashboard.admin_config.KiloAdminConfig"
)
if "allauth.mfa" not in INSTALLED_APPS:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("allauth.account") + 1, "allauth.mfa")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "kilo_dashboard.middleware.ContentSecurityPolicyMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "kilo_dashboard.middleware.PrivateNoStoreMiddleware",
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Per-request chatter of the Stripe SDK and WeasyPrint's progress steps.
    "loggers": {name: {"level": "WARNING"} for name in ("stripe", "weasyprint", "fontTools")},
}
