"""Backup and restore: the whole database and every stored file in one archive.

Format. One ``.tar.gz`` (a single file is easy to copy off-site and to check):

- ``tables/<table>.jsonl``: a logical dump of each table, one JSON array per row,
  columns in the order the manifest gives. Values keep their type exactly: money
  and other decimals as strings (``"120000.00"``), timestamps in ISO 8601 with
  their UTC offset, dates in ISO 8601, bytes in base64, JSON columns as JSON.
  A logical dump reads and writes the same on SQLite and PostgreSQL, so a backup
  of one restores into the other; a physical dump (``pg_dump``, the SQLite file)
  could not, and would not carry the attachments.
- ``files/<store>/<path>``: every stored file: attachments and uploaded signed
  contracts (``UPLOAD_FOLDER``), rendered contracts and export files (under the
  instance folder) and file-mode mail (``MAIL_FOLDER``).
- ``manifest.json``, written last (an archive cut short has none): the format and
  its version, the Alembic revision of the schema, when it was made, each table's
  columns and row count, and the size and SHA-256 of every other member.

Consistency. Tables are read in one transaction: REPEATABLE READ and READ ONLY on
PostgreSQL (one snapshot, writers are not held up), one read transaction on
SQLite. Rows are streamed in chunks, so memory does not grow with the data.

Restore is all or nothing. It first reads the whole archive and checks every
member against the manifest (a damaged, truncated or altered archive is refused
and nothing changes), then that the archive's schema revision is the code's and
the database's, and that the database is empty (or ``force``). Then, in one
transaction: every table is emptied, the rows are inserted in dependency order,
PostgreSQL's sequences are moved past the largest id; the files are written to
folders next to their stores and swapped in just before the commit (and swapped
back if the commit fails). Audit events keep their ids and hashes, so the
tamper-evident chain still verifies.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any

from flask import current_app
from sqlalchemy import Connection, Table, func, inspect, select, text
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import OperationalError

from ..extensions import db

log = logging.getLogger(__name__)

FORMAT = "mmd-grants-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK_ROWS = 1000
# How long a restore waits for the locks of processes still running before it gives up.
LOCK_TIMEOUT_SECONDS = 30
COPY_BYTES = 1024 * 1024
# Files being written when the backup runs (uploads, contracts) end in .part: skipped.
PARTIAL_SUFFIX = ".part"


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why and what to do."""


@dataclass
class BackupSummary:
    path: Path
    revision: str
    tables: int
    rows: int
    files: int
    bytes: int
    missing_files: list[str] = field(default_factory=list)


@dataclass
class RestoreSummary:
    revision: str
    created_at: str
    tables: int
    rows: int
    files: int
    replaced: bool
    missing_files: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# Where things are
# --------------------------------------------------------------------------


def stores() -> dict[str, Path]:
    """Every folder holding files the database refers to, by name in the archive."""
    config = current_app.config
    instance = Path(current_app.instance_path)
    found = {
        "uploads": Path(config["UPLOAD_FOLDER"]),
        "contracts": instance / "contracts",
        "exports": instance / "exports",
        "mail": Path(config["MAIL_FOLDER"]),
    }
    resolved = {name: path.resolve() for name, path in found.items()}
    for name, path in resolved.items():
        for other, other_path in resolved.items():
            if name != other and (path == other_path or other_path in path.parents):
                raise BackupError(
                    f"the {name} folder ({path}) is inside the {other} folder ({other_path}): "
                    "give each its own folder"
                )
    return resolved


def migrations_directory() -> str:
    return str(current_app.extensions["migrate"].directory)


def code_revision() -> str:
    """The head revision of the migrations shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", migrations_directory())
    heads = ScriptDirectory.from_config(config).get_heads()
    if len(heads) != 1:
        raise BackupError(
            f"the migrations have {len(heads)} heads ({', '.join(heads)}): merge them first"
        )
    return str(heads[0])


def database_revision(connection: Connection) -> str | None:
    """The Alembic revision the database's schema is at; None when it was never stamped."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


# --------------------------------------------------------------------------
# Values: typed to JSON and back
# --------------------------------------------------------------------------


def column_kind(column_type: Any) -> str:
    """How a column's values are written: the name of a codec below."""
    if isinstance(column_type, sqltypes.JSON):
        return "json"
    if isinstance(column_type, sqltypes.TypeDecorator):
        return column_kind(column_type.impl_instance)
    if isinstance(column_type, sqltypes.Numeric) and not isinstance(column_type, sqltypes.Float):
        return "decimal" if column_type.asdecimal else "float"
    checks: list[tuple[type, str]] = [
        (sqltypes.Boolean, "bool"),
        (sqltypes.Integer, "int"),
        (sqltypes.Float, "float"),
        (sqltypes.DateTime, "datetime"),
        (sqltypes.Date, "date"),
        (sqltypes.Time, "time"),
        (sqltypes._Binary, "bytes"),
        (sqltypes.String, "str"),
    ]
    for kind_type, kind in checks:
        if isinstance(column_type, kind_type):
            return kind
    raise BackupError(f"no backup codec for the column type {column_type!r}")


def encode(kind: str, value: Any) -> Any:
    if value is None or kind in ("json", "bool", "int", "float", "str"):
        return value
    if kind == "decimal":
        return str(value)  # exact: "120000.00" stays "120000.00"
    if kind in ("datetime", "date", "time"):
        return value.isoformat()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    raise BackupError(f"no backup codec for {kind}")


def decode(kind: str, value: Any) -> Any:
    if value is None or kind in ("json", "bool", "int", "float", "str"):
        return value
    if kind == "decimal":
        return Decimal(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value)
    raise BackupError(f"no backup codec for {kind}")


def stored_columns(table: Table) -> list[Any]:
    """The columns a dump carries: generated (computed) ones are the database's to fill."""
    return [c for c in table.columns if c.computed is None]


def table_columns(table: Table) -> list[dict[str, str]]:
    return [{"name": c.name, "kind": column_kind(c.type)} for c in stored_columns(table)]


def _ordered(table: Table) -> Any:
    keys = list(table.primary_key.columns) or stored_columns(table)
    return select(*stored_columns(table)).order_by(*keys)


# --------------------------------------------------------------------------
# Backup
# --------------------------------------------------------------------------


class _HashingReader(io.RawIOBase):
    """Reads a file for tarfile while hashing it, so each file is read once."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.digest.update(chunk)
        return chunk


def default_path(folder: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return folder / f"grants-backup-{stamp}.tar.gz"


def backup(target: str | Path | None = None) -> BackupSummary:
    """Write the archive; `target` is a file name or a folder (a dated name is chosen)."""
    if target is None:
        path = default_path(Path(current_app.instance_path) / "backups")
    else:
        path = Path(target)
        if path.is_dir():
            path = default_path(path)
    path = path.absolute()
    if path.exists():
        raise BackupError(f"{path} already exists: choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    folders = stores()
    head = code_revision()

    db.session.rollback()  # nothing of the caller's session may be in the snapshot's way
    staging = Path(tempfile.mkdtemp(prefix=".backup-", dir=path.parent))
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    try:
        members: dict[str, dict[str, Any]] = {}
        tables, revision, dialect = _dump_tables(staging, head, members)
        attachment_names = _attachment_names_from_dump(staging, tables)
        store_counts: dict[str, int] = {}
        total_bytes = 0
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive:
            for entry in tables:
                archive.add(staging / entry["member"], arcname=entry["member"], recursive=False)
            for name, folder in folders.items():
                count = 0
                for file_path, relative in _store_files(folder):
                    arcname = f"files/{name}/{relative}"
                    size, digest = _add_file(archive, file_path, arcname)
                    members[arcname] = {"size": size, "sha256": digest}
                    count += 1
                    total_bytes += size
                store_counts[name] = count
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "created_at": datetime.now(UTC).isoformat(),
                "alembic_revision": revision,
                "database": dialect,
                "tables": tables,
                "stores": store_counts,
                "members": members,
            }
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(datetime.now(UTC).timestamp()), 0o600
            archive.addfile(info, io.BytesIO(data))
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    uploads = folders["uploads"]
    missing = sorted(n for n in attachment_names if not (uploads / n).is_file())
    return BackupSummary(
        path=path,
        revision=revision,
        tables=len(tables),
        rows=sum(t["rows"] for t in tables),
        files=sum(store_counts.values()),
        bytes=total_bytes,
        missing_files=missing,
    )


def _dump_tables(
    staging: Path, head: str, members: dict[str, dict[str, Any]]
) -> tuple[list[dict[str, Any]], str, str]:
    """Every table to staging/tables/, in one snapshot; their manifest entries."""
    (staging / "tables").mkdir()
    tables: list[dict[str, Any]] = []
    with db.engine.connect() as connection:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        elif dialect == "sqlite":
            # The driver opens no transaction for reads: one BEGIN holds one snapshot.
            connection.exec_driver_sql("BEGIN")
        try:
            revision = database_revision(connection)
            if revision is None:
                raise BackupError(
                    "the database has no migration revision (no alembic_version table): "
                    "run `flask grants init` (or `flask db stamp head` if its schema is "
                    "already current)"
                )
            if revision != head:
                raise BackupError(
                    f"the database schema is at revision {revision} but this code is at "
                    f"{head}: take the backup with the release that matches the database, "
                    "or run `flask db upgrade` first"
                )
            for table in db.metadata.sorted_tables:
                tables.append(_dump_table(connection, table, staging, members))
        finally:
            connection.rollback()
    return tables, revision, dialect


def _dump_table(
    connection: Connection, table: Table, staging: Path, members: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    columns = table_columns(table)
    kinds = [c["kind"] for c in columns]
    member = f"tables/{table.name}.jsonl"
    digest = hashlib.sha256()
    rows = size = 0
    result = connection.execute(_ordered(table).execution_options(yield_per=CHUNK_ROWS))
    with open(staging / member, "wb") as out:
        for chunk in result.partitions():
            lines = [
                json.dumps(
                    [encode(kind, value) for kind, value in zip(kinds, row, strict=True)],
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                + "\n"
                for row in chunk
            ]
            data = "".join(lines).encode()
            out.write(data)
            digest.update(data)
            rows += len(lines)
            size += len(data)
    members[member] = {"size": size, "sha256": digest.hexdigest()}
    return {"name": table.name, "member": member, "columns": columns, "rows": rows}


def _attachment_names_from_dump(staging: Path, tables: list[dict[str, Any]]) -> set[str]:
    """Stored names the dumped rows refer to (attachments, signed uploads...)."""
    names: set[str] = set()
    for entry in tables:
        positions = [i for i, c in enumerate(entry["columns"]) if c["name"] == "stored_name"]
        if not positions:
            continue
        with open(staging / entry["member"], encoding="utf-8") as lines:
            for line in lines:
                value = json.loads(line)[positions[0]]
                if value:
                    names.add(value)
    return names


def _store_files(folder: Path) -> Iterator[tuple[Path, str]]:
    """Regular files under a folder (sorted, symlinks and partial files left out)."""
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            file_path = Path(root) / name
            if name.endswith(PARTIAL_SUFFIX) or file_path.is_symlink() or not file_path.is_file():
                continue
            yield file_path, file_path.relative_to(folder).as_posix()


def _add_file(archive: tarfile.TarFile, file_path: Path, arcname: str) -> tuple[int, str]:
    with open(file_path, "rb") as source:
        stat = os.fstat(source.fileno())
        info = tarfile.TarInfo(arcname)
        info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
        reader = _HashingReader(source)
        archive.addfile(info, reader)
    return stat.st_size, reader.digest.hexdigest()


# --------------------------------------------------------------------------
# Reading an archive
# --------------------------------------------------------------------------

_DAMAGED = (tarfile.TarError, EOFError, zlib.error, OSError, UnicodeDecodeError, ValueError)


def _safe_member_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        not path.is_absolute()
        and ".." not in path.parts
        and "" not in name.split("/")
        and "\\" not in name
        and "\x00" not in name
    )


def _members(path: Path) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """The archive's members in order, streamed; only plain files with plain names."""
    with tarfile.open(path, mode="r|gz") as archive:
        for info in archive:
            if not info.isfile() or not _safe_member_name(info.name):
                raise BackupError(
                    f"the archive holds {info.name!r}, which is not a plain file with a "
                    "plain name: it was not made by `flask grants backup`"
                )
            handle = archive.extractfile(info)
            if handle is None:
                raise BackupError(f"cannot read {info.name} in the archive")
            yield info, handle


def _read_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(COPY_BYTES):
        yield chunk


def verify_archive(path: str | Path) -> dict[str, Any]:
    """Read the whole archive and check it against its manifest; returns the manifest."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    seen: dict[str, dict[str, Any]] = {}
    manifest_data: bytes | None = None
    try:
        for info, handle in _members(path):
            if info.name == MANIFEST:
                manifest_data = handle.read()
                continue
            digest = hashlib.sha256()
            size = 0
            for chunk in _read_chunks(handle):
                digest.update(chunk)
                size += len(chunk)
            seen[info.name] = {"size": size, "sha256": digest.hexdigest()}
    except BackupError:
        raise
    except _DAMAGED as exc:
        raise BackupError(
            f"{path} is damaged or truncated ({exc or type(exc).__name__}): nothing was "
            "restored; use another copy of the backup"
        ) from None
    if manifest_data is None:
        raise BackupError(
            f"{path} has no manifest: it is incomplete (cut short while it was written or "
            "copied) or not a backup of this application; nothing was restored"
        )
    try:
        manifest = json.loads(manifest_data)
    except ValueError:
        raise BackupError(
            f"the manifest of {path} is not valid JSON; nothing was restored"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup of this application; nothing was restored")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is in backup format {manifest.get('format_version')}, this release reads "
            f"format {FORMAT_VERSION}: restore it with the release that made it"
        )
    expected = manifest.get("members") or {}
    problems = []
    for name in sorted(set(expected) | set(seen)):
        if name not in seen:
            problems.append(f"{name} is missing")
        elif name not in expected:
            problems.append(f"{name} is not in the manifest")
        elif seen[name] != expected[name]:
            problems.append(f"{name} does not match its checksum")
    listed = {t["member"] for t in manifest.get("tables", [])}
    problems += [f"{name} (a table) is missing" for name in sorted(listed - set(expected))]
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        shown = "; ".join(problems[:5]) + more
        raise BackupError(f"{path} is damaged or was altered: {shown}. Nothing was restored")
    return manifest


# --------------------------------------------------------------------------
# Restore
# --------------------------------------------------------------------------


def restore(path: str | Path, *, force: bool = False) -> RestoreSummary:
    """Replace the database and the stored files by the archive's; all or nothing."""
    path = Path(path)
    manifest = verify_archive(path)
    head = code_revision()
    revision = manifest["alembic_revision"]
    if revision != head:
        raise BackupError(
            f"the backup's schema is at revision {revision} but this code is at {head}: "
            f"restore it with the release whose migrations end at {revision}, then run "
            "`flask db upgrade` with this release; nothing was restored"
        )
    folders = stores()
    for name, folder in folders.items():
        if os.path.ismount(folder):
            raise BackupError(
                f"the {name} folder {folder} is a mount point and cannot be swapped whole: "
                "point the setting at a folder inside the mount; nothing was restored"
            )
    db.session.rollback()
    db.session.close()
    _prepare_schema(head)
    tables = {t.name: t for t in db.metadata.sorted_tables}
    _check_tables(manifest, tables)

    token = secrets.token_hex(6)
    staged = {
        name: folder.parent / f".{folder.name}.restoring-{token}"
        for name, folder in folders.items()
    }
    swapped: list[tuple[Path, Path | None]] = []
    replaced = False
    try:
        for name, folder in folders.items():
            folder.parent.mkdir(parents=True, exist_ok=True)
            staged[name].mkdir()
        with db.engine.connect() as connection, _lock_wait_limited(connection):
            try:
                with connection.begin():
                    replaced = _empty_database(connection, tables, force)
                    rows, files = _load(path, manifest, connection, tables, staged)
                    if connection.dialect.name == "postgresql":
                        _reset_sequences(connection, tables.values())
                    swapped = _swap_in(folders, staged, token)
            except BaseException:
                _swap_back(swapped)
                raise
    except OperationalError as exc:
        if _waited_for_a_lock(exc):
            raise BackupError(
                "the database is in use (a lock was not granted within "
                f"{LOCK_TIMEOUT_SECONDS} s): stop the web processes, the workers and the "
                "scheduler, then restore again; nothing was restored"
            ) from None
        raise
    else:
        for _folder, old in swapped:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        for folder in staged.values():
            shutil.rmtree(folder, ignore_errors=True)
        db.session.remove()
    uploads = folders["uploads"]
    missing = sorted(n for n in _stored_names_in_database() if not (uploads / n).is_file())
    return RestoreSummary(
        revision=revision,
        created_at=manifest.get("created_at", ""),
        tables=len(manifest["tables"]),
        rows=rows,
        files=files,
        replaced=replaced,
        missing_files=missing,
    )


@contextmanager
def _lock_wait_limited(connection: Connection) -> Iterator[None]:
    """Wait at most LOCK_TIMEOUT_SECONDS for a lock held by a running process, not forever."""
    dialect = connection.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        yield
        return
    # Session settings, outside the restore's transaction; put back afterwards.
    if dialect == "postgresql":
        connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")
        undo = "RESET lock_timeout"
    else:
        previous = int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_SECONDS * 1000}")
        undo = f"PRAGMA busy_timeout = {previous}"
    connection.commit()
    try:
        yield
    finally:
        connection.exec_driver_sql(undo)
        connection.commit()


def _waited_for_a_lock(exc: OperationalError) -> bool:
    # 55P03: lock_not_available (PostgreSQL); SQLite says "database is locked".
    return getattr(exc.orig, "sqlstate", None) == "55P03" or "database is locked" in str(exc.orig)


def _prepare_schema(head: str) -> None:
    """A database without any table gets the schema from the migrations; others must be at head."""
    with db.engine.connect() as connection:
        revision = database_revision(connection)
        existing = set(inspect(connection).get_table_names())
    ours = {t.name for t in db.metadata.sorted_tables}
    if revision is None and not (existing & ours):
        from flask_migrate import upgrade

        upgrade(directory=migrations_directory())
        db.session.remove()
        return
    if revision is None:
        raise BackupError(
            "the database has tables but no migration revision (no alembic_version table): "
            "run `flask db stamp head` if its schema is current; nothing was restored"
        )
    if revision != head:
        raise BackupError(
            f"the database schema is at revision {revision} but this code is at {head}: run "
            "`flask db upgrade` first; nothing was restored"
        )


def _check_tables(manifest: dict[str, Any], tables: dict[str, Table]) -> None:
    archived = {t["name"]: t for t in manifest["tables"]}
    if set(archived) != set(tables):
        extra = sorted(set(archived) - set(tables))
        missing = sorted(set(tables) - set(archived))
        raise BackupError(
            "the backup's tables are not this code's "
            f"(only in the backup: {', '.join(extra) or 'none'}; "
            f"only in the code: {', '.join(missing) or 'none'}); nothing was restored"
        )
    for name, table in tables.items():
        if archived[name]["columns"] != table_columns(table):
            raise BackupError(
                f"the backup's columns of {name} are not this code's; nothing was restored"
            )


def _empty_database(connection: Connection, tables: dict[str, Table], force: bool) -> bool:
    """Empty every table (force) or make sure they are empty; True if rows were deleted."""
    filled = [
        name
        for name, table in tables.items()
        if connection.execute(select(func.count()).select_from(table)).scalar()
    ]
    if filled and not force:
        raise BackupError(
            f"the database is not empty ({len(filled)} tables hold rows: "
            f"{', '.join(filled[:5])}{'...' if len(filled) > 5 else ''}): restore into an "
            "empty database, or pass --force to replace everything in it; nothing was restored"
        )
    if not filled:
        return False
    if connection.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables.values())
        connection.exec_driver_sql(f"TRUNCATE {names}")
    else:
        for table in reversed(list(tables.values())):
            connection.execute(table.delete())
    return True


def _load(
    path: Path,
    manifest: dict[str, Any],
    connection: Connection,
    tables: dict[str, Table],
    staged: dict[str, Path],
) -> tuple[int, int]:
    """Insert every table's rows and write every file to its staged folder."""
    by_member = {t["member"]: t for t in manifest["tables"]}
    expected = manifest["members"]
    rows = files = 0
    try:
        for info, handle in _members(path):
            if info.name == MANIFEST:
                continue
            digest = hashlib.sha256()
            if info.name in by_member:
                entry = by_member[info.name]
                count = _insert_rows(connection, tables[entry["name"]], entry, handle, digest)
                if count != entry["rows"]:
                    raise BackupError(
                        f"{entry['name']}: {count} rows read, the manifest says {entry['rows']}"
                    )
                rows += count
            else:
                _, store, relative = info.name.split("/", 2)
                if store not in staged:
                    raise BackupError(f"{info.name}: no such store in this release")
                target = staged[store] / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    for chunk in _read_chunks(handle):
                        digest.update(chunk)
                        out.write(chunk)
                files += 1
            if digest.hexdigest() != expected[info.name]["sha256"]:
                raise BackupError(
                    f"{info.name} changed while it was restored; nothing was restored"
                )
    except BackupError:
        raise
    except _DAMAGED as exc:
        raise BackupError(f"{path} could not be read ({exc}); nothing was restored") from None
    return rows, files


def _insert_rows(
    connection: Connection, table: Table, entry: dict[str, Any], handle: IO[bytes], digest: Any
) -> int:
    names = [c["name"] for c in entry["columns"]]
    kinds = [c["kind"] for c in entry["columns"]]
    batch: list[dict[str, Any]] = []
    count = 0
    for line in handle:
        digest.update(line)
        values = json.loads(line)
        batch.append(
            {n: decode(k, v) for n, k, v in zip(names, kinds, values, strict=True)}
        )
        if len(batch) >= CHUNK_ROWS:
            connection.execute(table.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
        count += len(batch)
    return count


def _reset_sequences(connection: Connection, tables: Any) -> None:
    """Move each serial column's sequence past the largest restored id."""
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sqltypes.Integer):
                continue
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            if sequence is None:
                continue
            highest = connection.execute(select(func.max(column))).scalar() or 0
            # is_called=false: the next nextval() returns exactly highest + 1.
            connection.execute(
                text("SELECT setval(CAST(:sequence AS regclass), :next, false)"),
                {"sequence": sequence, "next": highest + 1},
            )


def _swap_in(
    folders: dict[str, Path], staged: dict[str, Path], token: str
) -> list[tuple[Path, Path | None]]:
    """Put each staged folder in place of its store; returns what to undo or clean up."""
    swapped: list[tuple[Path, Path | None]] = []
    try:
        for name, folder in folders.items():
            old: Path | None = None
            if folder.exists():
                old = folder.parent / f".{folder.name}.replaced-{token}"
                os.replace(folder, old)
            os.replace(staged[name], folder)
            swapped.append((folder, old))
    except BaseException:
        _swap_back(swapped)
        raise
    return swapped


def _swap_back(swapped: list[tuple[Path, Path | None]]) -> None:
    for folder, old in reversed(swapped):
        shutil.rmtree(folder, ignore_errors=True)
        if old is not None:
            os.replace(old, folder)
    swapped.clear()


def _stored_names_in_database() -> set[str]:
    """Stored names of files the restored rows refer to in the upload folder."""
    names: set[str] = set()
    for table in db.metadata.sorted_tables:
        if "stored_name" in table.columns:
            column = table.columns["stored_name"]
            names.update(n for n in db.session.scalars(select(column)) if n)
    db.session.rollback()
    return names
