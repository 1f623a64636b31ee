"""Settings for the Kilo Teams dashboard, read from the environment.

DJANGO_ENV selects the profile:
- "development" (default, used by `make run`): SQLite file, no broker (Celery tasks run eagerly),
  local-memory cache, emails printed to the console.
- "test": like development, but `make test` points DATABASE_URL/REDIS_URL at PostgreSQL and Redis.
- "production": every secret must come from the environment; a missing one stops the start.
"""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

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
    "kilo_dashboard",
    "accounts",
    "audit",
    "organizations",
    "billing",
    "ninja",
    "usage",
    "subscriptions",
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
]

if PRODUCTION:  # runserver and the test live server serve static files themselves
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
# With no broker configured (the demo), tasks run in-process at once. The in-memory transport
# keeps kombu from looking for a broker on localhost; no message ever goes through it.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"
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
    "subscriptions-reconcile": {
        "task": "subscriptions.tasks.reconcile_subscriptions",
        "schedule": crontab(hour=3, minute=47),
    },
    "subscriptions-renewals": {
        "task": "subscriptions.tasks.apply_scheduled_changes",
        "schedule": crontab(minute="*/15"),
    },
    "usage-rollup": {"task": "usage.tasks.rollup_usage", "schedule": 30.0},
    "audit-retention": {
        "task": "audit.tasks.audit_retention",
        "schedule": crontab(hour=4, minute=23),
    },
    "usage-partitions": {
        "task": "usage.tasks.maintain_partitions",
        "schedule": crontab(hour=2, minute=41),
    },
}

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

# Usage ingestion (usage app): batch limits, per-key rate limit, raw-event retention.
USAGE_INGEST_MAX_EVENTS = 1000
USAGE_INGEST_MAX_BYTES = env_int("USAGE_INGEST_MAX_BYTES", 2_000_000)
USAGE_INGEST_RATE_LIMIT_PER_MINUTE = env_int("USAGE_INGEST_RATE_LIMIT_PER_MINUTE", 6000)
USAGE_RETENTION_DAYS = env_int("USAGE_RETENTION_DAYS", 400)

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
BILLING_CURRENCY = "usd"

# --- I18n, time, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Per-request chatter of the Stripe SDK and WeasyPrint's progress steps.
    "loggers": {name: {"level": "WARNING"} for name in ("stripe", "weasyprint", "fontTools")},
}
