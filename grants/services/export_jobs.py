"""Exports of the manager's lists: small ones answered at once, large ones as background jobs.

A job (ExportJob) remembers who asked, which list, which filters and which format.
Without REDIS_URL it runs in-process right after the request commits it; with it,
an rq worker runs it (job id ``export-<id>``). The file is written under the
instance folder (``exports/``) with a random name; only the job's owner may
download it, anyone else gets a 404, as if it did not exist.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from reports.spreadsheets import CSV_TYPE, XLSX_TYPE, write_csv, write_xlsx

from ..clock import now
from ..extensions import db
from ..models import ExportJob, User
from . import lists
from .errors import NotFound, ValidationFailed

log = logging.getLogger(__name__)
FORMATS = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE}
DEFAULT_INLINE_MAX_ROWS = 2000


def inline_limit() -> int:
    """Up to this many rows an export is answered at once, beyond it a job is queued."""
    return int(current_app.config.get("EXPORT_INLINE_MAX_ROWS", DEFAULT_INLINE_MAX_ROWS))


def export_folder() -> Path:
    folder = Path(current_app.instance_path) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check(list_name: str, fmt: str) -> lists.ListSpec:
    spec = lists.spec_named(list_name)
    if spec is None:
        raise NotFound("no such list")
    if fmt not in FORMATS:
        raise ValidationFailed("unknown export format", {"format": ["csv or xlsx"]})
    return spec


def write(spec: lists.ListSpec, query: lists.Query, fmt: str, out: Any) -> int:
    """Write every row of the list matching the query to `out`; returns the row count."""
    rows = lists.export_rows(spec, query)
    if fmt == "csv":
        return write_csv(lists.headings(spec), rows, out)
    return write_xlsx(lists.headings(spec), rows, out, title=spec.title)


def file_name(spec: lists.ListSpec, fmt: str) -> str:
    return f"{spec.name}-{now():%Y%m%d-%H%M}.{fmt}"


def start(list_name: str, params: dict[str, str], fmt: str, user: User) -> ExportJob:
    """Queue the export of a list (with the filters in `params`) for `user`."""
    _check(list_name, fmt)
    job = ExportJob(user_id=user.id, kind=f"{list_name}.{fmt}",
                    params={"list": list_name, "format": fmt, "query": params})
    db.session.add(job)
    db.session.commit()
    dispatch(job.id)
    return job


def dispatch(job_id: int) -> None:
    """Run the job now (no Redis) or put it on the queue."""
    if not current_app.config.get("REDIS_URL"):
        run(job_id)
        return
    from ..jobs import queue

    try:
        queue().enqueue_call("grants.services.export_jobs.export_job", args=(job_id,),
                             job_id=f"export-{job_id}", result_ttl=3600,
                             failure_ttl=7 * 24 * 3600)
    except Exception as exc:  # Redis down: the job is marked failed and can be asked again
        log.warning("could not enqueue export %s", job_id, exc_info=True)
        _fail(job_id, f"could not be queued: {exc}")


def _fail(job_id: int, message: str) -> None:
    db.session.rollback()
    job = db.session.get(ExportJob, job_id)
    if job is not None:
        job.status = "failed"
        job.error = message[:2000]
        job.finished_at = now()
        db.session.commit()


def run(job_id: int) -> ExportJob | None:
    """Produce the job's file; idempotent (a job already ready or failed is left alone)."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.status in ("ready", "failed"):
        return job
    job.status = "running"
    db.session.commit()
    path: Path | None = None
    try:
        spec = _check(job.params["list"], job.params["format"])
        fmt = job.params["format"]
        query = lists.query_from_params(spec, job.params.get("query") or {})
        stored = f"{secrets.token_hex(16)}.{fmt}"
        path = export_folder() / stored
        if fmt == "csv":
            with path.open("w", encoding="utf-8", newline="") as out:
                count = write(spec, query, fmt, out)
        else:
            count = write(spec, query, fmt, str(path))
        job.status = "ready"
        job.file_name = stored
        job.row_count = count
        job.finished_at = now()
        db.session.commit()
    except Exception as exc:
        log.exception("export %s failed", job_id)
        if path is not None and path.exists():
            path.unlink()
        _fail(job_id, str(exc) or type(exc).__name__)
    return db.session.get(ExportJob, job_id)


def export_job(job_id: int) -> str:
    """rq entry point."""
    from flask import has_app_context

    if has_app_context():
        job = run(job_id)
        return job.status if job else "missing"
    from ..jobs.worker import app_context

    with app_context():
        job = run(job_id)
        return job.status if job else "missing"


def jobs_of(user: User, limit: int = 50) -> list[ExportJob]:
    return list(db.session.scalars(
        select(ExportJob).where(ExportJob.user_id == user.id)
        .order_by(ExportJob.id.desc()).limit(limit)
    ))


@dataclass(frozen=True)
class Download:
    path: Path
    name: str
    mimetype: str


def download(job_id: int, user: User) -> Download:
    """The file of a ready job of the user's; anything else is a 404."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.user_id != user.id or job.status != "ready" or not job.file_name:
        raise NotFound("no such export")
    path = export_folder() / os.path.basename(job.file_name)
    if not path.is_file():
        raise NotFound("the export file is no longer available")
    list_name, fmt = job.params["list"], job.params["format"]
    return Download(path, f"{list_name}-{job.id}.{fmt}", FORMATS[fmt])
