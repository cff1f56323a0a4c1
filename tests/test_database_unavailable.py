"""The database out of reach is a 503 with Retry-After and a plain message, never a 500."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import DisconnectionError, OperationalError

from grants import create_app
from grants.blueprints.errors import RETRY_AFTER_SECONDS, database_unavailable

# Nothing listens on port 1: every connection is refused at once, as during a restart.
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/grants"


@pytest.fixture
def unreachable_app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "ENV_NAME": "testing",
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": UNREACHABLE,
        "REDIS_URL": None,
        "MAIL_SERVER": None,
        "MAIL_FOLDER": str(tmp_path / "mail"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "WTF_CSRF_ENABLED": False,
        # As in production: an unhandled error would become a 500 page, not a raise.
        "TESTING": False,
        "PROPAGATE_EXCEPTIONS": False,
        "SWEEP_INTERVAL_SECONDS": 0,  # no background sweeps against the missing database
    })
    yield app
    with app.app_context():
        from grants.extensions import db

        db.engine.dispose()


def test_a_page_needing_the_database_answers_503_with_retry_after(
    unreachable_app: Flask,
) -> None:
    response = unreachable_app.test_client().get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    body = response.get_data(as_text=True)
    assert "briefly unavailable" in body
    assert "Nothing was saved" in body
    assert "Traceback" not in body and "psycopg" not in body and "127.0.0.1" not in body


def test_a_logged_in_visitor_gets_the_503_page_too(unreachable_app: Flask) -> None:
    # Loading the user from the session is the first thing that needs the database.
    from flask_login.utils import _create_identifier

    client = unreachable_app.test_client()
    with unreachable_app.test_request_context(environ_base=client.environ_base):
        identifier = _create_identifier()  # what "strong" session protection compares
    with client.session_transaction() as session:
        session.update({"_user_id": "1", "_fresh": True, "_id": identifier})
    response = client.get("/applicant/", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert "briefly unavailable" in response.get_data(as_text=True)


def test_the_api_answers_503_in_json(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().get("/api/v1/open-data/iati")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.get_json()["code"] == "service_unavailable"
    assert "try again" in response.get_json()["message"]


def test_the_page_is_in_the_visitors_language(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().get("/", headers={"Accept-Language": "fr"})
    assert response.status_code == 503
    assert '<html lang="fr">' in response.get_data(as_text=True)


def _operational(orig: Exception) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig)


def test_only_outages_count_as_unavailable() -> None:
    import psycopg

    assert database_unavailable(_operational(psycopg.OperationalError("connection refused")))
    assert database_unavailable(DisconnectionError("stale connection"))
    assert database_unavailable(_operational(sqlite3.OperationalError("database is locked")))
    # A missing table is a bug in the deployment, not an outage: it stays a 500.
    assert not database_unavailable(_operational(sqlite3.OperationalError("no such table: x")))
    assert not database_unavailable(ValueError("unrelated"))


def test_a_missing_table_still_answers_500(tmp_path: Path) -> None:
    app = create_app({
        "ENV_NAME": "testing",
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "REDIS_URL": None,
        "MAIL_FOLDER": str(tmp_path / "mail"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "TESTING": False,
        "PROPAGATE_EXCEPTIONS": False,
        "SWEEP_INTERVAL_SECONDS": 0,
    })
    response = app.test_client().get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 500


def test_the_database_lost_after_the_user_was_loaded_still_answers_503(
    app: Flask, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user is read, then the server goes away: the answer must not read the user again."""
    import psycopg
    from flask_login import current_user, login_required

    from grants.extensions import db
    from tests.factories import PASSWORD, UserFactory

    user = UserFactory()
    db.session.commit()

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise _operational(psycopg.OperationalError("the database system is shutting down"))

    @app.get("/outage-after-login")
    @login_required
    def outage_after_login() -> str:
        assert current_user.name  # loaded from the database
        monkeypatch.setattr(db.engine.pool, "connect", refused)
        db.session.rollback()  # expires the user: reading it again needs a connection
        refused()
        return "unreachable"

    assert client.post(
        "/account/login", data={"email": user.email, "password": PASSWORD}
    ).status_code == 302
    response = client.get("/outage-after-login", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert "briefly unavailable" in response.get_data(as_text=True)


def test_the_database_lost_while_the_page_is_sent_does_not_make_it_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page is built, then the server goes: closing the session must not fail the page."""
    from sqlalchemy import text

    from grants.extensions import db

    # An app of its own: no app context held open around the request, so the session
    # is closed at the end of the request as in production.
    app = create_app({
        "ENV_NAME": "testing",
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'teardown.sqlite3'}",
        "REDIS_URL": None,
        "MAIL_FOLDER": str(tmp_path / "mail"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "TESTING": False,
        "PROPAGATE_EXCEPTIONS": False,
        "SWEEP_INTERVAL_SECONDS": 0,
    })

    def lost(*_args: Any, **_kwargs: Any) -> None:
        raise sqlite3.OperationalError("server closed the connection unexpectedly")

    @app.get("/outage-before-teardown")
    def outage_before_teardown() -> str:
        db.session.execute(text("SELECT 1"))  # a transaction the teardown must roll back
        monkeypatch.setattr(db.engine.dialect, "do_rollback", lost)
        monkeypatch.setattr(db.engine.dialect, "is_disconnect", lambda *_a, **_k: True)
        return "built"

    @app.get("/after-the-outage")
    def after_the_outage() -> str:
        return str(db.session.execute(text("SELECT 2")).scalar())

    client = app.test_client()
    response = client.get("/outage-before-teardown")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "built"
    monkeypatch.undo()
    # The next request gets a fresh session and connection.
    assert client.get("/after-the-outage").get_data(as_text=True) == "2"
