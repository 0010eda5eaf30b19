"""Django settings: everything that differs between installations comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from civicgrid.env import (
    ConfigError,
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    secret_key,
)

PACKAGE_DIR = Path(__file__).resolve().parent
# var/ holds the SQLite file, the generated key and uploads; it lives where the command runs.
VAR_DIR = Path(env_str("CIVICGRID_VAR_DIR", str(Path.cwd() / "var"))).resolve()

PRODUCTION = env_str("CIVICGRID_ENV", "development") == "production"
DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ConfigError("DEBUG must be off when CIVICGRID_ENV=production")
SECRET_KEY = secret_key(VAR_DIR, PRODUCTION)
# Old keys, still accepted for signatures (sessions, photo links) while they run out after a rotation.
SECRET_KEY_FALLBACKS = env_list("CIVICGRID_SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS is required when CIVICGRID_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "civicgrid.core",
    "civicgrid.people",
    "civicgrid.cases",
    "civicgrid.notify",
    "civicgrid.routing",
    "civicgrid.intake",
    "civicgrid.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "civicgrid.core.middleware.DomainErrorMiddleware",
    "civicgrid.core.middleware.RefuseNulMiddleware",
]

ROOT_URLCONF = "civicgrid.urls"
WSGI_APPLICATION = "civicgrid.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "civicgrid.notify.context.unread_count",
                "civicgrid.cases.context.desk_links",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'civicgrid.sqlite3'}"), Path.cwd()
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "people.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "people:login"
LOGIN_REDIRECT_URL = "people:desk"
LOGOUT_REDIRECT_URL = "people:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# After this many failures for one account or one address within the window, logins wait.
LOGIN_FAILURE_LIMIT = env_int("CIVICGRID_LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("CIVICGRID_LOGIN_ADDRESS_FAILURE_LIMIT", 50)
LOGIN_LOCK_SECONDS = env_int("CIVICGRID_LOGIN_LOCK_SECONDS", 900)

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("CIVICGRID_STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# Finders let one process serve assets without collectstatic (demo, tests); production collects.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Nothing is served here: uploads are reached only through signed links under /photos/ (core.media).
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("CIVICGRID_MEDIA_ROOT", str(VAR_DIR / "media")))
# Uploads are private: signed, expiring links, checked by civicgrid.core.media.serve.
STORAGES = {
    "default": {"BACKEND": "civicgrid.core.media.PrivateMediaStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Behind nginx: the `internal` location that sends MEDIA_ROOT's files once Django has checked the link.
CIVICGRID_MEDIA_ACCEL_REDIRECT = env_str("CIVICGRID_MEDIA_ACCEL_REDIRECT", "")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Working hours for time limits, as "HH:MM-HH:MM" spans; see docs/time-limits.md.
CIVICGRID_WORKING_HOURS = env_str("CIVICGRID_WORKING_HOURS", "08:30-12:00,14:00-17:30")
# A point outside every grid falls back to the nearest community within this distance.
# Key for personal data at rest; keep it apart from SECRET_KEY in production (docs/configuration.md).
CIVICGRID_DATA_KEY = env_str("CIVICGRID_DATA_KEY", "")
CIVICGRID_LOCATE_FALLBACK_METERS = env_int("CIVICGRID_LOCATE_FALLBACK_METERS", 500)

# Background work: django-tasks with its database backend; `civicgrid worker` runs the queue and the
# periodic jobs (docs/worker.md). A Redis/RQ backend can replace it for scale-out.
TASKS = {"default": {"BACKEND": env_str("CIVICGRID_TASK_BACKEND", "django_tasks_db.DatabaseBackend")}}

# Notifications (docs/notifications.md).
CIVICGRID_SITE_URL = env_str("CIVICGRID_SITE_URL", "")
CIVICGRID_NOTIFY_ON_COMMIT = env_str("CIVICGRID_NOTIFY_ON_COMMIT", "send")  # "enqueue" in production
if CIVICGRID_NOTIFY_ON_COMMIT not in {"send", "enqueue", "none"}:
    raise ConfigError("CIVICGRID_NOTIFY_ON_COMMIT must be send, enqueue or none")
# How notices reach accounts that keep the site's default (people.User.sms_notices, email_notices):
# every notice, and the urgent ones (an urgent case, a passed time limit, a superior pressing).
CIVICGRID_NOTIFY_USER_CHANNELS = env_list("CIVICGRID_NOTIFY_USER_CHANNELS", ["inapp"])
CIVICGRID_NOTIFY_URGENT_CHANNELS = env_list("CIVICGRID_NOTIFY_URGENT_CHANNELS", ["inapp", "sms"])
for _name, _channels in (
    ("CIVICGRID_NOTIFY_USER_CHANNELS", CIVICGRID_NOTIFY_USER_CHANNELS),
    ("CIVICGRID_NOTIFY_URGENT_CHANNELS", CIVICGRID_NOTIFY_URGENT_CHANNELS),
):
    if not set(_channels) <= {"inapp", "email", "sms"}:
        raise ConfigError(f"{_name} lists inapp, email or sms, not {', '.join(_channels)}")
if "inapp" not in CIVICGRID_NOTIFY_USER_CHANNELS:
    raise ConfigError("CIVICGRID_NOTIFY_USER_CHANNELS must include inapp: every notice is in the inbox")
CIVICGRID_NOTIFY_MAX_ATTEMPTS = env_int("CIVICGRID_NOTIFY_MAX_ATTEMPTS", 10)
CIVICGRID_NOTIFY_RETRY_BASE_SECONDS = env_int("CIVICGRID_NOTIFY_RETRY_BASE_SECONDS", 60)
CIVICGRID_NOTIFY_RETRY_MAX_SECONDS = env_int("CIVICGRID_NOTIFY_RETRY_MAX_SECONDS", 3600)
CIVICGRID_NOTIFY_LEASE_SECONDS = env_int("CIVICGRID_NOTIFY_LEASE_SECONDS", 300)
CIVICGRID_NOTIFY_HTTP_TIMEOUT = env_int("CIVICGRID_NOTIFY_HTTP_TIMEOUT", 5)
CIVICGRID_WECOM_WEBHOOK_URL = env_str(
    "CIVICGRID_WECOM_WEBHOOK_URL", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
)
CIVICGRID_WECOM_MSGTYPE = env_str("CIVICGRID_WECOM_MSGTYPE", "markdown")
_robots = env_list("CIVICGRID_WECOM_ROBOTS", [])  # name=key,name2=key2
if any("=" not in item for item in _robots):
    raise ConfigError("CIVICGRID_WECOM_ROBOTS must be name=key pairs separated by commas")
CIVICGRID_WECOM_ROBOTS = dict(item.split("=", 1) for item in _robots)
CIVICGRID_SMS_BACKEND = env_str("CIVICGRID_SMS_BACKEND", "civicgrid.notify.channels.ConsoleSmsGateway")
CIVICGRID_SMS_GATEWAY_URL = env_str("CIVICGRID_SMS_GATEWAY_URL", "")
CIVICGRID_SMS_GATEWAY_TOKEN = env_str("CIVICGRID_SMS_GATEWAY_TOKEN", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # a hung mail server must not hold the worker
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "civicgrid@localhost")

# Maps: no tiles from the internet by default (grid outlines are the base layer); an intranet tile
# server can be named here, e.g. https://tiles.example.gov.cn/{z}/{x}/{y}.png (docs/intake.md).
CIVICGRID_MAP_TILE_URL = env_str("CIVICGRID_MAP_TILE_URL", "")
CIVICGRID_MAP_TILE_COORD = env_str("CIVICGRID_MAP_TILE_COORD", "wgs84")
if CIVICGRID_MAP_TILE_COORD not in {"wgs84", "gcj02"}:
    raise ConfigError("CIVICGRID_MAP_TILE_COORD must be wgs84 or gcj02")
CIVICGRID_MAP_ATTRIBUTION = env_str("CIVICGRID_MAP_ATTRIBUTION", "")
# Behind a reverse proxy, how many X-Forwarded-For hops to trust for the client's address (rate limits).
CIVICGRID_TRUSTED_PROXY_HOPS = env_int("CIVICGRID_TRUSTED_PROXY_HOPS", 0)
CIVICGRID_OPEN311_CONTACT = env_str("CIVICGRID_OPEN311_CONTACT", "")
# Intake rate limits, overriding the defaults in intake/limits.py: "submit_ip=20/3600,follow_ip=10/900".
CIVICGRID_INTAKE_LIMITS: dict[str, tuple[int, int]] = {}
for _item in env_list("CIVICGRID_INTAKE_LIMITS", []):
    try:
        _name, _rule = _item.split("=", 1)
        _count, _seconds = _rule.split("/", 1)
        CIVICGRID_INTAKE_LIMITS[_name.strip()] = (int(_count), int(_seconds))
    except ValueError as exc:
        raise ConfigError(f"CIVICGRID_INTAKE_LIMITS: {_item!r} is not name=count/seconds") from exc

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CIVICGRID_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The task queue says "starting" and "no more tasks" on every idle round of the worker (5 s).
        "django_tasks_db": {"level": "WARNING"},
    },
}
