"""The app factory: settings, secure defaults, the shell pages."""

from __future__ import annotations

import pytest

from grants import create_app
from grants.config import ConfigError


def test_production_refuses_to_start_without_a_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("GRANTS_ENV", "production")
    monkeypatch.setenv("GRANTS_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_development_generates_and_keeps_a_secret(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("GRANTS_ENV", raising=False)
    monkeypatch.setenv("GRANTS_INSTANCE_PATH", str(tmp_path))
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    second = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    assert len(first) == 64 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secure_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("GRANTS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("GRANTS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["WTF_CSRF_ENABLED"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["MAX_CONTENT_LENGTH"] == 20 * 1024 * 1024


def test_embedded_defaults(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "GRANTS_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRANTS_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'grants.sqlite3'}"
    assert app.config["REDIS_URL"] is None
    assert app.config["MAIL_FOLDER"] == str(tmp_path / "mail")
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_sqlite_file_is_shared_and_its_commits_are_durable(monkeypatch, tmp_path):
    from sqlalchemy import text

    from grants.extensions import db

    monkeypatch.setenv("GRANTS_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'file.sqlite3'}"})
    with app.app_context(), db.engine.connect() as connection:

        def pragma(name: str) -> object:
            return connection.execute(text(f"PRAGMA {name}")).scalar()

        assert pragma("journal_mode") == "wal"  # readers never wait for the writer
        assert pragma("synchronous") == 2  # FULL: a commit survives a power cut
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 10000
        db.engine.dispose()


def test_postgres_urls_use_psycopg(monkeypatch, tmp_path):
    monkeypatch.setenv("GRANTS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1/db")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/db"


def test_csrf_is_enforced_on_forms(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/account/login", data={"email": "a@b.org", "password": "x"})
    assert response.status_code == 400
