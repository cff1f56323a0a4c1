"""Settings from the environment, with embedded defaults that need no services."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app refuses to start."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings: defaults, then the environment, then explicit overrides."""
    env = os.environ
    overrides = dict(overrides or {})
    environment = overrides.get("ENV_NAME") or env.get("GRANTS_ENV", "development")
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"GRANTS_ENV must be one of {', '.join(ENVIRONMENTS)}")
    instance = Path(instance_path)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'grants.sqlite3'}"
    if database_url.startswith("postgres://"):  # the scheme some hosts still hand out
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    config: dict[str, Any] = {
        "ENV_NAME": environment,
        "SECRET_KEY": env.get("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("REDIS_URL") or None,
        "RQ_QUEUE": env.get("RQ_QUEUE", "grants"),
        # Mail: SMTP when MAIL_SERVER is set, otherwise files under the instance folder.
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), False),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "grants@mmd.example.org"),
        "MAIL_FOLDER": env.get("MAIL_FOLDER") or str(instance / "mail"),
        "UPLOAD_FOLDER": env.get("UPLOAD_FOLDER") or str(instance / "uploads"),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(20 * 1024 * 1024))),
        # Reverse proxies in front of the app whose X-Forwarded-* headers are believed.
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "BABEL_DEFAULT_LOCALE": "en",
        "LANGUAGES": ("en", "fr"),
        # Catalogues under grants/translations (compiled .mo files are committed).
        "BABEL_TRANSLATION_DIRECTORIES": "translations",
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the session's own lifetime bounds the token
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": environment == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": environment == "production",
        "PERMANENT_SESSION_LIFETIME": int(env.get("SESSION_LIFETIME_SECONDS", "7200")),
        # Two-factor login (TOTP) required of staff (evaluators, managers, administrators).
        "TWO_FACTOR_REQUIRED": _bool(env.get("TWO_FACTOR_REQUIRED"), True),
        # Awarding, approving payments and changing roles need a login this recent.
        "REAUTH_MAX_AGE_SECONDS": int(env.get("REAUTH_MAX_AGE_SECONDS", "600")),
        # Strict-Transport-Security, sent only in production (never on plain-HTTP dev).
        "HSTS_MAX_AGE_SECONDS": int(env.get("HSTS_MAX_AGE_SECONDS", str(365 * 24 * 3600))),
        "PROGRAMME_NAME": env.get("PROGRAMME_NAME", "MMD Grant Facility"),
        # Named on contracts and letters as the organisation implementing the programme.
        "PROGRAMME_IMPLEMENTER": env.get(
            "PROGRAMME_IMPLEMENTER", "International Centre for Migration Policy Development"
        ),
        "REFERENCE_PREFIX": env.get("REFERENCE_PREFIX", "MMD"),
        # Open-data identifiers (reports/exports); the defaults stand in until the
        # programme registers its own organisation identifier and 360Giving prefix.
        "IATI_REPORTING_ORG_REF": env.get("IATI_REPORTING_ORG_REF", "XI-IATI-MMD"),
        "GIVING360_PREFIX": env.get("GIVING360_PREFIX", "360G-MMD"),
        "EXPORT_BASE_URL": env.get("EXPORT_BASE_URL", "https://grants.mmd.example.org"),
    }
    if environment == "testing":
        config["TESTING"] = True
    config.update(overrides)

    if not config.get("SECRET_KEY"):
        if config["ENV_NAME"] == "production":
            raise ConfigError("SECRET_KEY must be set in production (GRANTS_ENV=production)")
        config["SECRET_KEY"] = _development_secret(instance)
    return config


def _development_secret(instance: Path) -> str:
    """A random secret kept in the instance folder, so sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
