"""Backup and restore: a full round trip of the database and the stored files, and refusals.

The shared test database is built by create_all, not by the migrations, so the
tests stamp it with the code's revision (as `flask db stamp head` would) and take
the stamp away afterwards.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import shutil
import stat
import tarfile
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from grants import create_app
from grants.extensions import db
from grants.jobs.documents import enqueue_contract_renders
from grants.models import Application, Attachment, AuditEvent, Grant, Payment, User
from grants.services import attachments, audit, payments
from grants.services.backup import (
    MANIFEST,
    BackupError,
    backup,
    code_revision,
    restore,
    stores,
    verify_archive,
)
from grants.services.transitions import transition
from tests.factories import (
    PASSWORD,
    ApplicationFactory,
    ManagerFactory,
    SingleStageCallFactory,
    UserFactory,
    sign_as_grantee,
)

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def _drop_stamp() -> None:
    db.session.rollback()
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.commit()


@pytest.fixture(autouse=True)
def own_instance(app: Flask, tmp_path: Path) -> Iterator[None]:
    """Contracts and exports live under the instance folder: each test gets its own."""
    shared = app.instance_path
    app.instance_path = str(tmp_path / "instance")
    yield
    app.instance_path = shared


@pytest.fixture
def stamped(app: Flask) -> Iterator[str]:
    """The test database marked as being at the code's migration head."""
    head = code_revision()
    _drop_stamp()
    db.session.execute(
        text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    )
    db.session.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    db.session.commit()
    yield head
    db.session.remove()
    _drop_stamp()


def _table_rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, ordered by primary key."""
    rows = {}
    for table in db.metadata.sorted_tables:
        keys = list(table.primary_key.columns) or list(table.columns)
        rows[table.name] = [tuple(r) for r in db.session.execute(select(table).order_by(*keys))]
    db.session.rollback()
    return rows


def _files() -> dict[str, dict[str, bytes]]:
    found: dict[str, dict[str, bytes]] = {}
    for name, folder in stores().items():
        found[name] = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()
        } if folder.is_dir() else {}
    return found


def _empty_everything() -> None:
    """As a lost server: no rows (sequences back at 1 on PostgreSQL), no stored files."""
    tables = list(reversed(db.metadata.sorted_tables))
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()
    for folder in stores().values():
        shutil.rmtree(folder, ignore_errors=True)


def _build_world(frozen_clock: Any) -> dict[str, Any]:
    """Applications submitted with uploads, a signed grant with a payment, mail, audit."""
    manager = ManagerFactory()
    call = SingleStageCallFactory()
    application = ApplicationFactory(call=call, title="Centres d'information — Sénégal")
    owner = application.created_by
    # The factory's attachment rows get real files; one more goes through the upload service.
    folder = attachments.upload_folder()
    for row in application.attachments:
        (folder / row.stored_name).write_bytes(PDF + row.kind.encode())
    uploaded = attachments.upload(owner, application.id, "other", "annexe été.pdf", io.BytesIO(PDF))
    transition(application, "submit", owner)

    decided = SingleStageCallFactory(
        state="decided", prefinancing_shares=["0.40", "0.30", "0.20"],
        grant_max=Decimal("200000.00"), duration_max_months=24,
    )
    selected = ApplicationFactory(
        call=decided, state="provisionally_selected", requested_amount=Decimal("100000.00"),
        total_cost=Decimal("100000.00"), duration_months=24,
    )
    for row in selected.attachments:
        (folder / row.stored_name).write_bytes(PDF + row.kind.encode())
    transition(selected, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant).where(Grant.application_id == selected.id))
    transition(grant, "send_for_signature", manager)
    enqueue_contract_renders([grant.id])  # without Redis: the contract PDF is written now
    sign_as_grantee(grant, selected.created_by)
    transition(grant, "sign", manager)
    frozen_clock.advance(days=3)
    first = grant.payments[0]
    payments.request(first, selected.created_by)
    payments.approve(first, manager)
    payments.pay(first, manager)
    assert audit.seal() > 0
    return {
        "application_id": application.id,
        "attachment_id": uploaded.id,
        "owner_email": owner.email,
        "grant_id": grant.id,
    }


def test_a_full_round_trip_restores_every_row_and_every_file(
    app, client, runner, stamped, frozen_clock, tmp_path
):
    world = _build_world(frozen_clock)
    rows, files = _table_rows(), _files()
    assert rows["submissions"] and rows["payments"] and rows["audit_events"]
    assert rows["outbox_messages"] and len(files["uploads"]) == 5
    assert files["contracts"] and files["mail"]
    paid = db.session.scalar(select(Payment).where(Payment.state == "paid"))
    assert paid is not None and paid.amount == Decimal("40000.00")

    result = runner.invoke(args=["grants", "backup", str(tmp_path / "nightly.tar.gz")])
    assert result.exit_code == 0, result.output
    assert "Backup written" in result.output and "Warning" not in result.output
    archive = tmp_path / "nightly.tar.gz"
    # Password hashes and tokens are in it: readable by its owner only.
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    manifest = verify_archive(archive)
    assert manifest["alembic_revision"] == stamped
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {
        name: len(r) for name, r in rows.items()
    }

    _empty_everything()
    assert _table_rows()["users"] == [] and not any(_files().values())
    result = runner.invoke(args=["grants", "restore", str(archive)])
    assert result.exit_code == 0, result.output
    assert "previous content was replaced" not in result.output

    assert _table_rows() == rows
    assert _files() == files
    # Types survive exactly: money as decimals, times as aware UTC.
    paid = db.session.scalar(select(Payment).where(Payment.state == "paid"))
    assert paid is not None and paid.amount == Decimal("40000.00")
    assert paid.paid_at is not None and paid.paid_at.utcoffset() == timedelta(0)
    verified = runner.invoke(args=["grants", "audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "Audit chain intact" in verified.output

    # New rows take ids after the restored ones (PostgreSQL's sequences were moved on).
    highest = db.session.scalar(select(func.max(User.id)))
    assert UserFactory().id > highest
    highest_event = db.session.scalar(select(func.max(AuditEvent.id)))
    grant = db.session.get(Grant, world["grant_id"])
    transition(grant, "suspend", ManagerFactory(), comment="Audit visit.")
    assert db.session.scalar(select(func.max(AuditEvent.id))) > highest_event

    # The application still serves the restored attachment.
    response = client.post(
        "/account/login", data={"email": world["owner_email"], "password": PASSWORD}
    )
    assert response.status_code == 302
    download = client.get(
        f"/applicant/applications/{world['application_id']}/attachments/{world['attachment_id']}"
    )
    assert download.status_code == 200
    assert download.data == PDF


def _rewrite(source: Path, target: Path, change: Any) -> None:
    """Copy an archive member by member, letting `change(name, data)` alter each."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for info in old.getmembers():
            data = old.extractfile(info).read()  # type: ignore[union-attr]
            data = change(info.name, data)
            copy = tarfile.TarInfo(info.name)
            copy.size = len(data)
            new.addfile(copy, io.BytesIO(data))


def _state() -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, dict[str, bytes]]]:
    return _table_rows(), _files()


@pytest.fixture
def archive(app, stamped, frozen_clock, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    _build_world(frozen_clock)
    return backup(tmp_path / "backup.tar.gz").path


def test_a_truncated_archive_is_refused_and_nothing_changes(app, runner, archive, tmp_path):
    before = _state()
    cut = tmp_path / "cut.tar.gz"
    data = archive.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    result = runner.invoke(args=["grants", "restore", "--force", str(cut)])
    assert result.exit_code == 1
    assert "damaged or truncated" in result.output and "nothing was restored" in result.output
    assert _state() == before


def test_a_corrupted_byte_is_refused_and_nothing_changes(app, runner, archive, tmp_path):
    before = _state()
    bad = tmp_path / "bad.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 3] ^= 0xFF
    bad.write_bytes(bytes(data))
    result = runner.invoke(args=["grants", "restore", "--force", str(bad)])
    assert result.exit_code == 1
    assert "nothing was restored" in result.output.lower()
    assert _state() == before


def test_an_altered_member_fails_its_checksum(app, runner, archive, tmp_path):
    before = _state()
    altered = tmp_path / "altered.tar.gz"

    def change(name: str, data: bytes) -> bytes:
        return data.replace(b"40000.00", b"90000.00") if name == "tables/payments.jsonl" else data

    _rewrite(archive, altered, change)
    result = runner.invoke(args=["grants", "restore", "--force", str(altered)])
    assert result.exit_code == 1
    assert "tables/payments.jsonl does not match its checksum" in result.output
    assert _state() == before


def test_an_archive_without_its_manifest_is_incomplete(app, archive, tmp_path):
    partial = tmp_path / "partial.tar.gz"
    with tarfile.open(archive, "r:gz") as old, tarfile.open(partial, "w:gz") as new:
        for info in old.getmembers():
            if info.name != MANIFEST:
                new.addfile(info, old.extractfile(info))
    with pytest.raises(BackupError, match="has no manifest: it is incomplete"):
        restore(partial, force=True)


def test_a_backup_of_another_schema_revision_is_refused(app, runner, archive, tmp_path):
    before = _state()
    older = tmp_path / "older.tar.gz"

    def change(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        manifest = json.loads(data)
        manifest["alembic_revision"] = "0003"
        return json.dumps(manifest).encode()

    _rewrite(archive, older, change)
    result = runner.invoke(args=["grants", "restore", "--force", str(older)])
    assert result.exit_code == 1
    head = code_revision()
    assert f"the backup's schema is at revision 0003 but this code is at {head}" in result.output
    assert "flask db upgrade" in result.output
    assert _state() == before


def test_a_database_at_another_revision_is_refused(app, runner, archive):
    db.session.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    db.session.commit()
    before = _state()
    result = runner.invoke(args=["grants", "restore", "--force", str(archive)])
    assert result.exit_code == 1
    assert "the database schema is at revision 0002" in result.output
    assert "run `flask db upgrade` first" in result.output
    assert _state() == before


def test_a_database_with_rows_is_kept_unless_forced(app, runner, archive):
    rows, files = _state()
    UserFactory(email="after.backup@example.org")
    attachments.upload_folder().joinpath("stray").write_bytes(b"not in the backup")
    before = _state()
    result = runner.invoke(args=["grants", "restore", str(archive)])
    assert result.exit_code == 1
    assert "the database is not empty" in result.output and "--force" in result.output
    assert _state() == before

    result = runner.invoke(args=["grants", "restore", "--force", str(archive)])
    assert result.exit_code == 0, result.output
    assert "the previous content was replaced" in result.output
    assert _state() == (rows, files)
    assert db.session.scalar(select(User).where(User.email == "after.backup@example.org")) is None


def test_a_failing_restore_changes_nothing(app, archive, monkeypatch):
    """A failure after the rows went in (here: the folder swap) rolls everything back."""
    from grants.services import backup as service

    before = _state()

    def broken(*_args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(service, "_swap_in", broken)
    with pytest.raises(OSError, match="disk full"):
        restore(archive, force=True)
    assert _state() == before
    parent = stores()["uploads"].parent
    assert [p.name for p in parent.iterdir() if ".restoring-" in p.name] == []


def test_a_database_still_in_use_is_refused_after_a_short_wait(app, archive, monkeypatch):
    from grants.services import backup as service

    monkeypatch.setattr(service, "LOCK_TIMEOUT_SECONDS", 1)
    before = _state()
    # A web process still running: in a transaction that read (PostgreSQL) or writes (SQLite).
    running = db.engine.connect()
    if running.dialect.name == "sqlite":
        running.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        running.execute(select(User.id).limit(1))
    try:
        with pytest.raises(BackupError, match=r"the database is in use .* stop the web processes"):
            restore(archive, force=True)
    finally:
        running.rollback()
        running.close()
    assert _state() == before


def test_backup_refuses_an_unstamped_database_and_an_existing_file(app, runner, tmp_path):
    result = runner.invoke(args=["grants", "backup", str(tmp_path)])
    assert result.exit_code == 1
    assert "no migration revision" in result.output and "flask grants init" in result.output
    assert list(tmp_path.iterdir()) == []


def test_backup_does_not_overwrite_and_names_missing_files(app, runner, stamped, tmp_path):
    application = ApplicationFactory()  # its attachment rows have no files
    taken = tmp_path / "taken.tar.gz"
    taken.write_bytes(b"an older backup")
    result = runner.invoke(args=["grants", "backup", str(taken)])
    assert result.exit_code == 1 and "already exists" in result.output
    assert taken.read_bytes() == b"an older backup"

    result = runner.invoke(args=["grants", "backup", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "2 stored files the database refers to are not in the upload folder" in result.output
    assert application.attachments[0].stored_name in result.output
    written = [p for p in tmp_path.iterdir() if p.name.startswith("grants-backup-")]
    assert len(written) == 1 and written[0].name.endswith(".tar.gz")


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """Alembic's env.py reconfigures logging (fileConfig): put it back afterwards."""
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


def test_a_backup_restores_into_a_new_sqlite_database_built_by_the_migrations(
    app, archive, tmp_path, keep_logging
):
    """A logical dump moves between databases: from this one (SQLite or PostgreSQL) into a
    fresh SQLite file, whose schema the restore builds from the migrations."""
    rows, files = _state()
    fresh = tmp_path / "fresh"
    other = create_app(
        {
            "ENV_NAME": "testing",
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{fresh}.sqlite3",
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "MAIL_FOLDER": str(fresh / "mail"),
            "UPLOAD_FOLDER": str(fresh / "uploads"),
        }
    )
    other.instance_path = str(fresh / "instance")
    with other.app_context():
        try:
            summary = restore(archive)
            assert summary.rows == sum(len(r) for r in rows.values())
            assert _table_rows() == rows
            assert _files()["uploads"] == files["uploads"]
            assert audit.verify().ok
            assert db.session.get(Application, rows["applications"][0][0]) is not None
            assert db.session.scalar(select(func.count()).select_from(Attachment)) == 5
        finally:
            db.session.remove()
            db.engine.dispose()


def test_gzip_member_order_puts_the_manifest_last(archive):
    with gzip.open(archive) as raw, tarfile.open(fileobj=raw, mode="r|") as members:
        names = [info.name for info in members]
    assert names[-1] == MANIFEST
    assert names[0] == "tables/" + db.metadata.sorted_tables[0].name + ".jsonl"
