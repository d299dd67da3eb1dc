"""One settings module, read from the environment (see the README's configuration table).

Without any environment the project runs on embedded defaults: SQLite under var/,
Celery tasks executed in-process, emails printed to the console.
"""

from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.utils.csp import CSP
from django.utils.translation import pgettext_lazy

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# Outside DEBUG the embedded defaults (a development key, SQLite under var/, emails on the
# console) would be silent mistakes: each missing variable is named in one line instead
# (manage.py prints it without a traceback).
_REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "DATABASE_URL", "EMAIL_URL")
if not DEBUG:
    _missing = [name for name in _REQUIRED_IN_PRODUCTION if not env.str(name, default="")]
    if _missing:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"{', '.join(_missing)} must be set unless DEBUG is on "
            "(see the configuration table in the README)."
        )
SECRET_KEY = env.str("SECRET_KEY", default="") or "insecure-development-key-only-for-debug"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
# The address emailed links start with. Unset, it is the demo's own address on the port
# `make run` serves (PORT), so the links of a demo on another port work.
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")
SITE_URL = SITE_URL.rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    # Two-step sign-in (accounts/services/two_factor.py): TOTP devices and recovery codes.
    # Before accounts, whose admin removes their raw admin pages.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_countries",
    "billing_portal",
    "accounts",
    "emails",
    "webhooks",
    "invoices",
    "payments",
    "subscriptions",
    "support",
    "api",
    # The API's OpenAPI schema and docs page (api/routes.py); its Swagger UI is served from
    # our static files, no CDN.
    "ninja",
]

MIDDLEWARE = [
    "billing_portal.logging.RequestIdMiddleware",
    # A request waits on the broker for at most PUBLISH_BUDGET_SECONDS seconds in total.
    "billing_portal.queue.PublishBudgetMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # /api/ only, in the request's language: every error as problem details, and the
    # Idempotency-Key of a POST (api/middleware.py).
    "api.middleware.ApiMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After the session and the user: its 400 page is a page of the site, signed in or not.
    "billing_portal.middleware.RejectNullBytesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "billing_portal.middleware.VaryOnHtmxMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "billing_portal.urls"
WSGI_APPLICATION = "billing_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "accounts.context_processors.portal",
                "billing_portal.brand.context",
            ],
        },
    },
]

if not env.str("DATABASE_URL", default=""):
    # The demo's embedded database: its folder exists before anything opens it (a fresh
    # clone has no var/, and `check` opens SQLite to learn its JSON support).
    VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database that does not answer fails a request instead of holding it for ever.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, loading the membership and account with the user (one query a request).
    "accounts.backends.PortalBackend",
    # Sign-in from the host's identity provider (OpenID Connect), when OIDC_ISSUER is set.
    "accounts.oidc.PortalOIDCBackend",
]
# Proxies (load balancer, CDN) between the clients and the portal, each appending to
# X-Forwarded-For: the client's address is the N-th entry from the right
# (accounts.permissions.client_ip). 0: the portal faces the clients (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Failed sign-ins are throttled per account (username) and, separately, per IP address.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The account is the form's `username` field (an email), normalised: axes would otherwise
# read the user model's USERNAME_FIELD (`email`), which the form does not post, and count
# every failure under one shared NULL account.
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.sign_in.sign_in_username"
# The client address behind TRUSTED_PROXY_COUNT proxies, as everywhere else in the portal.
AXES_CLIENT_IP_CALLABLE = "accounts.permissions.client_ip"
# A success clears the failures of the account that signed in, never those of its address.
AXES_HANDLER = "accounts.sign_in.SignInAttemptHandler"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "code"]
LOGIN_URL = "login"
# Two-step sign-in (docs/security.md): after the right password, the code must come within
# this many seconds, or the sign-in starts again.
TWO_FACTOR_PENDING_SECONDS = env.int("TWO_FACTOR_PENDING_SECONDS", default=300)
# django-otp still counts failures on the device; the wait they impose is the portal's own,
# with a ceiling (accounts.services.two_factor._wait_until).
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in from the host's identity provider: OpenID Connect, authorization code with PKCE
# (accounts/oidc.py, docs/integration.md). On when OIDC_ISSUER and OIDC_CLIENT_ID are set;
# the endpoints come from the issuer's discovery document.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="").rstrip("/")
OIDC_DISCOVERY_URL = env.str(
    "OIDC_DISCOVERY_URL",
    default=f"{OIDC_ISSUER}/.well-known/openid-configuration" if OIDC_ISSUER else "",
)
OIDC_RP_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_RP_SCOPES = env.str("OIDC_SCOPES", default="openid email")
OIDC_RP_SIGN_ALGO = env.str("OIDC_SIGN_ALGO", default="RS256")
# The name on the sign-in button: « Se connecter avec <name> ».
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="")
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_CREATE_USER = False  # only provisioned people sign in
OIDC_TOKEN_USE_BASIC_AUTH = env.bool("OIDC_TOKEN_USE_BASIC_AUTH", default=False)
# Kept in the session for the provider's logout (id_token_hint).
OIDC_STORE_ID_TOKEN = True
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10)
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
# Password sign-in and password reset. On by default (the demo signs in with passwords);
# a deployment signing in through its identity provider turns it off.
PASSWORD_SIGN_IN = env.bool("PASSWORD_SIGN_IN", default=True)
if not PASSWORD_SIGN_IN and not (OIDC_DISCOVERY_URL and OIDC_RP_CLIENT_ID):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "PASSWORD_SIGN_IN=0 needs OIDC_ISSUER and OIDC_CLIENT_ID: nobody could sign in."
    )

# French is the product's reference language; English is the second. The source strings
# are written in French, so French needs no catalogue and English is a translation.
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English dates day-first with a 24-hour clock (Django's "en" formats are American).
FORMAT_MODULE_PATH = ["billing_portal.formats"]
# Country names come from django-countries' catalogue, but for these few, which an invoice
# would print wrongly: its French catalogue calls Guyana "Guyane" (that is French Guiana),
# and its English names follow ISO's short forms ("Naoero", "Bahamas (The)"). With a
# context, so that its own catalogue (which translates the msgid "Guyana" into French as
# "Guyane") does not answer for ours.
COUNTRIES_OVERRIDE = {
    "GY": pgettext_lazy("pays", "Guyana"),
    "NR": pgettext_lazy("pays", "Nauru"),
    "BS": pgettext_lazy("pays", "Bahamas"),
    "US": pgettext_lazy("pays", "États-Unis"),
}
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

# Documents (invoice PDFs) go through Django's storage API: local files by default,
# S3-compatible object storage when AWS_STORAGE_BUCKET_NAME is set.
_documents_storage = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(Path(MEDIA_ROOT) / "documents")},
}
if env.str("AWS_STORAGE_BUCKET_NAME", default=""):
    from botocore.config import Config as BotoConfig

    _documents_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            # A PDF download waits on the object store: bounded, as every network call.
            "client_config": BotoConfig(
                connect_timeout=5, read_timeout=10, retries={"max_attempts": 2}
            ),
        },
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "documents": _documents_storage,
    "staticfiles": {
        # Hashed, compressed names need `collectstatic` first (production, the benchmark).
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Email: EMAIL_URL such as smtp://user:pass@host:port, smtp+tls://..., consolemail://,
# memorymail:// (tests). Translated into Django 6.1's MAILERS.
_email = env.email_url("EMAIL_URL", default="consolemail://")
_mailer_options = {}
if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
    _mailer_options = {
        "host": _email.get("EMAIL_HOST") or "localhost",
        "port": int(_email.get("EMAIL_PORT") or 25),
        "username": _email.get("EMAIL_HOST_USER") or "",
        "password": _email.get("EMAIL_HOST_PASSWORD") or "",
        "use_tls": bool(_email.get("EMAIL_USE_TLS")),
        "use_ssl": bool(_email.get("EMAIL_USE_SSL")),
        "timeout": env.int("EMAIL_TIMEOUT", default=10),
    }
MAILERS = {"default": {"BACKEND": _email["EMAIL_BACKEND"], "OPTIONS": _mailer_options}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Facturation <facturation@example.com>")
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@example.com")

# Celery: without a broker, tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# A worker consumes this queue, and tasks published from inside it go back to it; tests
# give each worker its own so parallel runs never take each other's messages.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Publishing must never hang a web request when the broker is down: a few short retries,
# then the outbox row stays pending and the periodic sweep sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# A web request spends at most this long, in total, handing tasks to the broker; a
# publish that fails or overruns it makes the process leave the broker alone for
# PUBLISH_BACKOFF_SECONDS seconds (the outbox sweep sends what was not published).
PUBLISH_BUDGET_SECONDS = env.float("PUBLISH_BUDGET_SECONDS", default=0.5)
PUBLISH_BACKOFF_SECONDS = env.float("PUBLISH_BACKOFF_SECONDS", default=30.0)
# Crontab schedules read the portal's time zone, not UTC.
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "emails-sweep": {"task": "emails.tasks.email_sweep", "schedule": 60.0},
    "webhooks-sweep": {"task": "webhooks.tasks.webhook_sweep", "schedule": 60.0},
}

# The seller printed on invoices (a French company by default).
SELLER = {
    "legal_name": env.str("SELLER_LEGAL_NAME", default="Palmarès Logiciels SAS"),
    "address_lines": env.list(
        "SELLER_ADDRESS_LINES", default=["12 rue de la Paix", "75002 Paris", "France"]
    ),
    "country": env.str("SELLER_COUNTRY", default="FR"),
    "siren": env.str("SELLER_SIREN", default="552100554"),
    "vat_number": env.str("SELLER_VAT_NUMBER", default="FR96552100554"),
    "legal_form": env.str("SELLER_LEGAL_FORM", default="SAS au capital de 50 000 €"),
    "rcs": env.str("SELLER_RCS", default="RCS Paris 552 100 554"),
    "iban": env.str("SELLER_IBAN", default="FR7630006000011234567890189"),
    "bic": env.str("SELLER_BIC", default="AGRIFRPPXXX"),
    "vat_rate": Decimal(env.str("SELLER_VAT_RATE", default="20.00")),
    # "Option pour le paiement de la taxe d'après les débits", printed when chosen.
    "vat_on_debits": env.bool("SELLER_VAT_ON_DEBITS", default=False),
    # SEPA creditor identifier (ICS in France: FR, two check digits, a business code, the
    # national identifier the Banque de France gave): printed on mandates, pre-notifications
    # and invoices collected by direct debit, and sent in every pain.008 file.
    "creditor_id": env.str("SELLER_CREDITOR_ID", default="FR72ZZZ123456"),
}

# Payments (docs/payments.md). The accounts whose bank files support imports: the one the
# invoices print by default; a file of any other account is refused.
PAYMENTS_BANK_IBANS = env.list("PAYMENTS_BANK_IBANS", default=[SELLER["iban"]])
# The largest camt.053/camt.054 file accepted (40 MiB: a month of a busy account; a
# larger file is refused with a message, before it is read).
PAYMENTS_STATEMENT_MAX_BYTES = env.int("PAYMENTS_STATEMENT_MAX_BYTES", default=40 * 1024 * 1024)
# SEPA direct debit: the pre-notification leaves at least this many days before each
# collection (the SEPA rulebooks' default; a mandate may agree on less); a mandate is
# suspended after this many returned or refused collections.
DIRECT_DEBIT_NOTICE_DAYS = env.int("DIRECT_DEBIT_NOTICE_DAYS", default=14)
DIRECT_DEBIT_MAX_RETURNS = env.int("DIRECT_DEBIT_MAX_RETURNS", default=2)
# The daily pre-notification run (payments.tasks; docs/payments.md), checked every hour:
# each collection is notified once, so the other runs of the day find nothing, and a
# missed run is caught up within the hour.
CELERY_BEAT_SCHEDULE["payments-prenotifications"] = {
    "task": "payments.tasks.prenotifications_run",
    "schedule": 3600.0,
}

# Late-payment penalties (invoices.late_payment, art. L. 441-10 of the Code de commerce): the
# rate the ECB applied to its most recent main refinancing operation on 1 January (first
# half of the year) or 1 July (second half), in percent; the penalty rate is this plus 10
# points. Update it twice a year.
LATE_PAYMENT_ECB_RATE = Decimal(env.str("LATE_PAYMENT_ECB_RATE", default="2.15"))
# Payment reminders (payments.reminders, docs/payments.md « Relances »): days relative to the
# due date (negative: before it) on which an invoice still unpaid gets a reminder; the daily
# run hands the accounts to the workers this many at a time.
PAYMENT_REMINDER_OFFSETS = sorted(
    set(env.list("PAYMENT_REMINDER_OFFSETS", cast=int, default=[-3, 1, 15, 30]))
)
PAYMENT_REMINDER_CHUNK = env.int("PAYMENT_REMINDER_CHUNK", default=100)
CELERY_BEAT_SCHEDULE["payments-reminders"] = {
    "task": "payments.tasks.payment_reminders_run",
    # Every hour of the working day, Paris time: the first run of the day sends; the run is
    # idempotent (a reminder is sent once per invoice and stage), so the later ones only
    # catch what a failed or late run left.
    "schedule": crontab(minute=0, hour="8-18"),
}

# An invoice with VAT in another currency than the euro also gives its VAT in euros, at the
# ECB reference rate of its issue date (invoices.exchange_rates): the latest rate known on or
# before that day, at most this many days old (weekends and TARGET holidays leave gaps of up
# to five days); older or none, the invoice is refused until support records one.
EXCHANGE_RATE_MAX_AGE_DAYS = env.int("EXCHANGE_RATE_MAX_AGE_DAYS", default=7)

# The brand (docs/brand.md): the name, logo and colour of the page header, the emails and
# the invoice PDFs. A logo is a static file path (static/brand/logo.svg is "brand/logo.svg")
# or an absolute URL. Emails need a raster logo (clients do not show SVG): by default the
# PNG twin of the default logo, none when BRAND_LOGO is an SVG of your own.
BRAND_NAME = env.str("BRAND_NAME", default="Palmarès")
BRAND_COLOR = env.str("BRAND_COLOR", default="#2f5bea")
BRAND_LOGO = env.str("BRAND_LOGO", default="brand/logo.svg")
BRAND_EMAIL_LOGO = env.str(
    "BRAND_EMAIL_LOGO",
    default="brand/logo.png"
    if BRAND_LOGO == "brand/logo.svg"
    else ("" if BRAND_LOGO.lower().endswith(".svg") else BRAND_LOGO),
)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in {"http", "https"} else ""


# Security headers. No inline script or style anywhere, so the policy can be strict.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # A logo given as a URL is the one image the pages load from elsewhere.
    "img-src": [CSP.SELF, "data:", *filter(None, {_origin(BRAND_LOGO)})],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# An expired form answers a page of the site (templates/403_csrf.html), not Django's own.
CSRF_FAILURE_VIEW = "billing_portal.errors.csrf_failure"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Probes come from the load balancer over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "billing_portal.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "billing_portal.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env.str("LOG_FORMAT", default="plain" if DEBUG else "json"),
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint narrates every render at INFO.
    "loggers": {
        "weasyprint.progress": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # The factur-x package writes four INFO lines per XML it reads: 40,000 for an
        # export of 10,000 invoices.
        "factur-x": {"level": "WARNING"},
    },
}

# --- Subscriptions ---
# How long an emailed confirmation link (upgrade, closure) stays valid.
CONFIRMATION_LINK_HOURS = env.int("CONFIRMATION_LINK_HOURS", default=48)
# Days a closed account can still be reopened by support before its people are anonymised.
CLOSURE_GRACE_DAYS = env.int("CLOSURE_GRACE_DAYS", default=30)
# The owner is reminded of the renewal this many days before it.
RENEWAL_REMINDER_DAYS = env.int("RENEWAL_REMINDER_DAYS", default=30)
CELERY_BEAT_SCHEDULE.update(
    {
        "subscriptions-renewals": {
            "task": "subscriptions.tasks.renewals_run",
            "schedule": 3600.0,
        },
        "subscriptions-renewal-reminders": {
            "task": "subscriptions.tasks.renewal_reminders_run",
            "schedule": 3600.0,
        },
        "subscriptions-anonymisations": {
            "task": "subscriptions.tasks.anonymisations_run",
            "schedule": 3600.0,
        },
    }
)

# --- Rate limits (accounts.ratelimit) ---
# Counters whose window has ended are removed every hour.
CELERY_BEAT_SCHEDULE["api-idempotency-purge"] = {
    "task": "api.tasks.idempotency_purge_run",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["accounts-ratelimit-purge"] = {
    "task": "accounts.tasks.ratelimit_purge_run",
    "schedule": 3600.0,
}
