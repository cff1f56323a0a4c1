"""The `flask grants ...` commands, the demo data, and the migration against the models."""

from __future__ import annotations

import csv
import itertools
import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import CheckConstraint, create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from grants import create_app
from grants.extensions import db
from grants.models import (
    Application,
    AuditEvent,
    Call,
    Country,
    Dialogue,
    Grant,
    JvapDomain,
    StaffRole,
    User,
)
from grants.services.accounts import authenticate

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES_CSV = ROOT / "grants" / "data" / "partner_countries.csv"
POSTGRES_URL = os.environ.get("DATABASE_URL", "")
GOOD_PASSWORD = "a long enough password"


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """Alembic's env.py reconfigures logging (fileConfig): put it back for the next tests."""
    manager = logging.root.manager
    disabled = {
        name: logger.disabled
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    handlers, level = list(logging.root.handlers), logging.root.level
    yield
    for name, logger in manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.disabled = disabled.get(name, False)
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


def separate_app(tmp_path: Path, url: str | None = None) -> Flask:
    """An app of its own on a fresh database (the shared fixture's schema is create_all's)."""
    return create_app(
        {
            "ENV_NAME": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{tmp_path}/x.sqlite3",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "MAIL_FOLDER": str(tmp_path / "mail"),
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )


def reference_rows() -> list[tuple]:
    rows = [
        (
            c.iso2,
            c.iso3,
            c.name,
            c.region,
            c.au_member,
            c.eu_member,
            c.rabat_role,
            c.khartoum_role,
            c.c2cmmd,
        )
        for c in db.session.scalars(select(Country).order_by(Country.iso2))
    ]
    rows += [(d.number, d.code, d.title) for d in db.session.scalars(select(JvapDomain))]
    rows += [(d.code, d.name, d.full_name) for d in db.session.scalars(select(Dialogue))]
    return rows


# --- flask grants init ---


def test_init_twice_builds_the_schema_and_changes_nothing(tmp_path, keep_logging):
    app = separate_app(tmp_path)
    runner = app.test_cli_runner()

    first = runner.invoke(args=["grants", "init"])
    assert first.exit_code == 0, first.output
    assert "66 countries, 5 JVAP domains, 3 dialogues" in first.output
    with app.app_context():
        before = reference_rows()
        version = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        # someone edited a row by hand: init puts the reference value back
        db.session.get(Country, "NO").name = "Not Norway"
        db.session.commit()
        db.session.remove()

    second = runner.invoke(args=["grants", "init"])
    assert second.exit_code == 0, second.output
    assert "66 countries, 5 JVAP domains, 3 dialogues" in second.output
    with app.app_context():
        assert reference_rows() == before
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == version
        assert db.session.scalar(select(func.count()).select_from(Country)) == 66
        assert db.session.scalar(select(func.count()).select_from(JvapDomain)) == 5
        assert db.session.scalar(select(func.count()).select_from(Dialogue)) == 3
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        db.session.remove()
        db.engine.dispose()


def test_init_loads_the_countries_as_the_reference_file_says(tmp_path, keep_logging):
    app = separate_app(tmp_path)
    assert app.test_cli_runner().invoke(args=["grants", "init"]).exit_code == 0
    with COUNTRIES_CSV.open(newline="", encoding="utf-8") as handle:
        expected = {row["iso2"]: row for row in csv.DictReader(handle)}
    assert len(expected) == 66

    with app.app_context():
        countries = {c.iso2: c for c in db.session.scalars(select(Country))}
        assert set(countries) == set(expected)
        for iso2, row in expected.items():
            country = countries[iso2]
            assert country.name == row["name"] and country.iso3 == row["iso3"]
            assert country.au_member is (row["au_member"] == "yes"), iso2
            assert country.eu_member is (row["eu_member"] == "yes"), iso2
            assert country.rabat_role == (row["rabat_process"] or None), iso2
            assert country.khartoum_role == (row["khartoum_process"] or None), iso2
            assert country.c2cmmd is (row["c2cmmd"] == "yes"), iso2

        norway, algeria = countries["NO"], countries["DZ"]
        assert not norway.au_member and not norway.eu_member
        assert not norway.in_dialogue("c2cmmd") and norway.in_dialogue("rabat")
        assert algeria.au_member and algeria.rabat_role == "observer"
        assert algeria.in_dialogue("c2cmmd") and not algeria.in_dialogue("khartoum")
        assert countries["SN"].au_member and countries["FR"].eu_member
        assert not countries["FR"].au_member and not countries["SN"].eu_member
        db.session.remove()
        db.engine.dispose()


# --- the migration builds exactly the models' schema ---


def _checks_of_models() -> dict[str, dict[str, str]]:
    return {
        table.name: {
            str(c.name): str(c.sqltext) for c in table.constraints if isinstance(c, CheckConstraint)
        }
        for table in db.metadata.sorted_tables
    }


def _normalise(sql: str) -> str:
    return " ".join(sql.replace("(", " ( ").replace(")", " ) ").split())


def _schema_differences(app: Flask) -> tuple[list, dict[str, object]]:
    """What autogenerate would change, and CHECK constraints that differ (names; text on SQLite)."""
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            differences = compare_metadata(context, db.metadata)
            inspector = inspect(connection)
            checks: dict[str, object] = {}
            for table, modelled in _checks_of_models().items():
                migrated = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table)}
                if set(migrated) != set(modelled):
                    checks[table] = (sorted(migrated), sorted(modelled))
                elif connection.dialect.name == "sqlite":
                    for name, sql in modelled.items():
                        if _normalise(migrated[name]) != _normalise(sql):
                            checks[name] = (migrated[name], sql)
        db.session.remove()
        db.engine.dispose()
    return differences, checks


def test_the_migration_builds_exactly_the_models_schema_on_sqlite(tmp_path, keep_logging):
    differences, checks = _schema_differences(separate_app(tmp_path))
    assert differences == []
    assert checks == {}


@pytest.mark.postgres
@pytest.mark.skipif(
    not POSTGRES_URL.startswith("postgres"), reason="DATABASE_URL does not point at PostgreSQL"
)
def test_the_migration_builds_exactly_the_models_schema_on_postgresql(tmp_path, keep_logging):
    server = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"scratch_migration_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        differences, checks = _schema_differences(separate_app(tmp_path, url))
        assert differences == []
        assert checks == {}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- flask grants demo-data ---


def _audit_trails() -> dict[tuple[str, int], list[AuditEvent]]:
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    trails: dict[tuple[str, int], list[AuditEvent]] = {}
    for row in rows:
        trails.setdefault((row.object_type, row.object_id), []).append(row)
    return trails


def test_demo_data_fills_an_empty_database_through_the_pipeline(app, runner):
    result = runner.invoke(args=["grants", "demo-data"])
    assert result.exit_code == 0, result.output
    assert "Demo data created" in result.output

    calls = list(db.session.scalars(select(Call)))
    applications = list(db.session.scalars(select(Application)))
    assert len(calls) >= 1
    assert any(c.state == "open" for c in calls)
    states = {a.state for a in applications}
    assert len(states) >= 8, states
    assert "draft" in states and "awarded" in states

    trails = _audit_trails()
    for application in applications:
        trail = trails.get(("applications", application.id), [])
        if application.state == "draft":
            assert trail == [], application.label
            continue
        # Every state it reached has its audit event: an unbroken trail from draft.
        assert trail, f"{application.label} is {application.state} without an audit event"
        assert trail[0].from_state == "draft"
        for before, after in itertools.pairwise(trail):
            assert after.from_state == before.to_state, application.label
        assert trail[-1].to_state == application.state, application.label
        if application.state not in ("withdrawn",):
            assert application.reference is not None

    for obj in [*calls, *db.session.scalars(select(Grant))]:
        trail = trails.get((obj.object_type, obj.id), [])
        assert trail and trail[-1].to_state == obj.state, obj.label
        assert trail[0].from_state in ("draft", "contract_preparation")

    # Users for every role, who can log in with the printed password.
    roles = set(db.session.scalars(select(StaffRole.role)))
    assert roles == {"admin", "programme_manager", "evaluator"}
    printed = re.search(r"\(password: (\S+)\)", result.output)
    assert printed, result.output
    managers = db.session.scalars(
        select(User).join(StaffRole).where(StaffRole.role == "programme_manager")
    ).all()
    assert managers and authenticate(managers[0].email, printed.group(1)) == managers[0]

    counts = {
        model: db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Call, Application, AuditEvent)
    }
    again = runner.invoke(args=["grants", "demo-data"])
    assert again.exit_code != 0
    assert "already has users" in again.output and "empty database" in again.output
    db.session.expire_all()
    assert counts == {
        model: db.session.scalar(select(func.count()).select_from(model))
        for model in (User, Call, Application, AuditEvent)
    }


# --- flask grants create-user ---


def _create_user(
    runner, *extra: str, email: str = "ana@example.org", password: str = GOOD_PASSWORD
):  # type: ignore[no-untyped-def]
    return runner.invoke(
        args=[
            "grants",
            "create-user",
            "--email",
            email,
            "--name",
            "Ana Pereira",
            "--password",
            password,
            *extra,
        ]
    )


def test_create_user_creates_a_verified_user_with_roles(app, runner):
    result = _create_user(
        runner,
        "--role",
        "evaluator",
        "--role",
        "admin",
        "--language",
        "fr",
        email="  Ana@Example.ORG ",
    )
    assert result.exit_code == 0, result.output
    assert "Created user" in result.output and "ana@example.org" in result.output

    user = db.session.scalar(select(User).where(User.email == "ana@example.org"))
    assert user is not None and user.name == "Ana Pereira" and user.language == "fr"
    assert user.roles == {"evaluator", "admin"}
    assert user.email_verified_at is not None
    assert user.password_hash != "a long enough password"
    assert authenticate("ana@example.org", "a long enough password") == user
    assert authenticate("ana@example.org", "a wrong password!!") is None


def test_create_user_refuses_a_duplicate_email(app, runner):
    assert _create_user(runner).exit_code == 0
    result = _create_user(runner, email="ANA@example.org")
    assert result.exit_code == 1
    assert "Error:" in result.output and "an account with this email exists" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_create_user_refuses_a_short_password(app, runner):
    result = _create_user(runner, password="short")
    assert result.exit_code == 1
    assert "password: at least 10 characters" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_refuses_an_unknown_role(app, runner):
    result = _create_user(runner, "--role", "superuser")
    assert result.exit_code == 2 and "superuser" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


# --- flask grants diagrams ---


@pytest.mark.skipif(
    not (ROOT / "docs" / "workflows").is_dir(),
    reason="docs/workflows is not in this checkout yet (run `flask grants diagrams`)",
)
def test_the_committed_diagrams_are_up_to_date(app, runner):
    result = runner.invoke(args=["grants", "diagrams", "--check"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
