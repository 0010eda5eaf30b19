"""Small strict readers for settings that come from the environment.

A typo in a production variable must stop the start-up with a clear message, not fall back silently.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


class ConfigError(RuntimeError):
    pass


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def database_from_url(url: str, base_dir: Path) -> dict:
    """Turns `DATABASE_URL` into a Django DATABASES entry (sqlite:///path or postgres://…)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path, sqlite:////absolute/path
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        name = path if Path(path).is_absolute() else str(base_dir / path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                # WAL lets readers go on while one writer writes; IMMEDIATE avoids upgrade deadlocks.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
                ),
                "transaction_mode": "IMMEDIATE",
            },
            # A file, not memory: the live server's threads then get connections of their own, as in
            # production; the process id keeps parallel runs in one checkout apart.
            "TEST": {"NAME": str(Path(name).with_name(f"test-{os.getpid()}.sqlite3"))},
        }
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        options: dict[str, Any] = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        # JIT compiling a list query's COUNT cost 300-400 ms of a 500 ms answer at 1M cases, for
        # queries that run in milliseconds without it. A text search ANDs the bigram index's bitmap
        # with the scope's: in PostgreSQL's default 4 MB of work_mem those bitmaps turned lossy at 1M
        # cases and every row on 14,000 pages was rechecked (community staff searching 小区: 210-265
        # ms, 54-80 with 16 MB; docs/performance.md). ?options=… overrides both.
        options.setdefault("options", "-c jit=off -c work_mem=16MB")
        # Server-side binding lets psycopg prepare a statement after its fifth run on a connection:
        # PostgreSQL then skips parsing and planning, half of its work in an API step (performance.md).
        # ?prepare_threshold=off turns it off, for a pooler that cannot keep prepared statements
        # (PgBouncer before 1.21 in transaction mode).
        threshold = options.pop("prepare_threshold", "5").strip().lower()
        if threshold in {"off", "none", "false", ""}:
            options["server_side_binding"] = False
        else:
            if not threshold.isdigit():
                raise ConfigError(
                    f"DATABASE_URL: prepare_threshold must be a whole number or off, not {threshold!r}"
                )
            options["server_side_binding"] = True
            options["prepare_threshold"] = int(threshold)
        name = unquote(parsed.path.lstrip("/")) or "civicgrid"
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
            # A suffix lets several test runs share one server (parallel checkouts, CI beside a developer).
            "TEST": {"NAME": f"test_{name}{os.environ.get('CIVICGRID_TEST_DB_SUFFIX', '')}"},
        }
    raise ConfigError(f"DATABASE_URL has an unknown scheme {parsed.scheme!r}: use sqlite:/// or postgres://")


def secret_key(var_dir: Path, production: bool) -> str:
    """The key from CIVICGRID_SECRET_KEY; for local use, one generated once and kept in var/."""
    value = os.environ.get("CIVICGRID_SECRET_KEY", "").strip()
    if value:
        if production and len(value) < 32:
            raise ConfigError("CIVICGRID_SECRET_KEY must be at least 32 characters in production")
        return value
    if production:
        raise ConfigError("CIVICGRID_SECRET_KEY is required when DEBUG is off")
    key_file = var_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    key_file.write_text(value)
    key_file.chmod(0o600)
    return value
