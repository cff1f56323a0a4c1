"""Background work: outbox delivery after commit, in-process or on rq.

Outbox rows written in a transaction are collected as they are flushed and
handed over only after the commit succeeds; a rollback forgets them. Without
REDIS_URL they are delivered in-process right after the commit; with it they
are enqueued on rq with the outbox id as the job id.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import OutboxMessage

log = logging.getLogger(__name__)
_PENDING = "outbox_pending_ids"


def init_app(app: Flask) -> None:
    app.extensions["grants_jobs"] = {"redis": None}


def _remember_new(session: Session, _flush_context: Any, _instances: Any) -> None:
    session.info.setdefault("_outbox_new_objs", []).extend(
        obj for obj in session.new if isinstance(obj, OutboxMessage)
    )


def _after_flush_postexec(session: Session, _flush_context: Any) -> None:
    objs = session.info.pop("_outbox_new_objs", [])
    session.info.setdefault(_PENDING, []).extend(obj.id for obj in objs)


def _after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, [])
    if ids:
        session.info.setdefault("outbox_committed_ids", []).extend(ids)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop("_outbox_new_objs", None)


event.listen(Session, "before_flush", _remember_new)
event.listen(Session, "after_flush_postexec", _after_flush_postexec)
event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_rollback", _after_rollback)


def dispatch_committed() -> list[int]:
    """Hand the outbox rows committed by this session to delivery; returns their ids."""
    ids = db.session.info.pop("outbox_committed_ids", [])
    for outbox_id in ids:
        enqueue_delivery(outbox_id)
    return ids


def enqueue_delivery(outbox_id: int) -> None:
    from .delivery import deliver

    redis_url = current_app.config.get("REDIS_URL")
    if not redis_url:
        deliver(outbox_id)
        return
    try:
        queue().enqueue(
            "grants.jobs.delivery.deliver_job",
            outbox_id,
            job_id=f"outbox-{outbox_id}",
            retry=None,
        )
    except Exception:  # Redis down: the row stays pending and the sweep enqueues it later
        log.warning(
            "could not enqueue outbox message %s; the sweep will retry", outbox_id, exc_info=True
        )


def queue() -> Any:
    from redis import Redis
    from rq import Queue

    state = current_app.extensions["grants_jobs"]
    if state["redis"] is None:
        state["redis"] = Redis.from_url(current_app.config["REDIS_URL"])
    return Queue(current_app.config["RQ_QUEUE"], connection=state["redis"])
