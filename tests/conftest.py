"""Shared fixtures: `app`, `client`, `runner` (as in Flask's tutorial), a movable clock.

Tests run on SQLite by default. With DATABASE_URL pointing at PostgreSQL, the
same tests run there (each xdist worker on its own database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from grants import clock, create_app
from grants.extensions import db
from grants.services.accounts import login_throttle, two_factor_throttle
from grants.services.reference_data import load_reference_data

POSTGRES_URL = os.environ.get("DATABASE_URL", "")


def _worker_database(url: str, worker: str) -> str:
    """A database of the worker's own on the same server, created on first use."""
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    if worker in ("", "master"):
        return parsed.render_as_string(hide_password=False)
    name = f"{parsed.database}_{worker}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                   {"n": name})
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    if POSTGRES_URL.startswith("postgres"):
        return _worker_database(POSTGRES_URL, worker_id)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def _schema(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    app = create_app(_test_config(database_url, tmp_path_factory.mktemp("schema")))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield
    with app.app_context():
        db.engine.dispose()


def _test_config(database_url: str, instance: object) -> dict[str, object]:
    return {
        "ENV_NAME": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "MAIL_SERVER": None,
        "MAIL_FOLDER": str(instance) + "/mail",
        "UPLOAD_FOLDER": str(instance) + "/uploads",
        "WTF_CSRF_ENABLED": False,
        # Staff log in with their password alone in tests; tests of two-factor login turn
        # it on.
        "TWO_FACTOR_REQUIRED": False,
    }


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(database_url: str, _schema: None, tmp_path):  # type: ignore[no-untyped-def]
    # Failed logins are counted per process: one test's failures must not block the next.
    login_throttle.reset()
    two_factor_throttle.reset()
    app = create_app(_test_config(database_url, tmp_path))
    with app.app_context():
        _empty_tables()
        load_reference_data()
        yield app
        db.session.rollback()
        db.session.remove()
    clock.reset_clock()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


class MovableClock:
    """A frozen clock the test moves explicitly."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def frozen_clock() -> Iterator[MovableClock]:
    moving = MovableClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    clock.set_clock(moving)
    yield moving
    clock.reset_clock()
