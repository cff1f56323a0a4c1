"""Background work: outbox delivery after commit, in-process or on rq; periodic sweeps.

Outbox rows written in a transaction are collected as they are flushed and
handed over only after the commit succeeds; a rollback forgets them. Without
REDIS_URL they are delivered in-process right after the commit and the web
process runs the periodic sweeps in a background thread; with it they are
enqueued on rq with `outbox-<id>` as the job id, and `flask grants scheduler`
enqueues the sweeps.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import OutboxMessage

log = logging.getLogger(__name__)
_PENDING = "outbox_pending_ids"
# rq states in which a job will still run: enqueueing it again would only duplicate it.
_LIVE_JOB_STATES = ("queued", "started", "scheduled", "deferred")
DEFAULT_SWEEP_INTERVAL = 60
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


def init_app(app: Flask) -> None:
    app.extensions["grants_jobs"] = {"redis": None, "sweeper": None}
    app.config.setdefault(
        "SWEEP_INTERVAL_SECONDS",
        int(os.environ.get("SWEEP_INTERVAL_SECONDS", str(DEFAULT_SWEEP_INTERVAL))),
    )

    @app.before_request
    def _start_sweeper() -> None:
        # Started by the first request, not at import: `flask db upgrade` and other
        # commands must not sweep a database that is not ready.
        if not app.config.get("REDIS_URL") and not app.config.get("TESTING"):
            start_sweeper(app)


def _remember_new(session: Session, _flush_context: Any, _instances: Any) -> None:
    session.info.setdefault("_outbox_new_objs", []).extend(
        obj for obj in session.new if isinstance(obj, OutboxMessage)
    )


def _after_flush_postexec(session: Session, _flush_context: Any) -> None:
    objs = session.info.pop("_outbox_new_objs", [])
    session.info.setdefault(_PENDING, []).extend(obj.id for obj in objs)


def remember_outbox_rows(ids: list[int]) -> None:
    """Outbox rows written without the unit of work (bulk INSERTs): deliver after commit."""
    db.session.info.setdefault(_PENDING, []).extend(ids)


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
    enqueue_deliveries(ids)
    return ids


# Jobs put on Redis in one round trip by enqueue_deliveries.
ENQUEUE_BATCH = 500


def enqueue_deliveries(outbox_ids: list[int]) -> bool:
    """enqueue_delivery for many rows, one Redis round trip per ENQUEUE_BATCH jobs.

    Each row still gets its own job `outbox-<id>`; False when Redis is unreachable
    (the rows not enqueued stay pending and the sweep enqueues them later).
    """
    if not current_app.config.get("REDIS_URL") or len(outbox_ids) <= 1:
        return all([enqueue_delivery(outbox_id) for outbox_id in outbox_ids])
    try:
        rq_queue = queue()
        for start in range(0, len(outbox_ids), ENQUEUE_BATCH):
            batch = outbox_ids[start:start + ENQUEUE_BATCH]
            rq_queue.enqueue_many([_job_data(rq_queue, outbox_id) for outbox_id in batch])
    except Exception:  # Redis down: the rows stay pending and the sweep enqueues them later
        log.warning("could not enqueue %s outbox messages; the sweep will retry",
                    len(outbox_ids), exc_info=True)
        return False
    return True


def _job_data(rq_queue: Any, outbox_id: int) -> Any:
    return rq_queue.prepare_data(
        "grants.jobs.delivery.deliver_job",
        args=(outbox_id,),
        job_id=f"outbox-{outbox_id}",
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
    )


def enqueue_delivery(
    outbox_id: int, *, check_live: bool = False, lease_expired: bool = False
) -> bool:
    """Deliver now (no Redis) or enqueue the delivery job; False when Redis is unreachable.

    `check_live` (used by the sweep) skips rows whose job is still queued or running.
    `lease_expired`: the row was claimed and its lease ran out. A send never outlasts
    the lease, so a job rq still calls "started" died with its worker; rq notices that
    only minutes later, and the message would wait for it.
    """
    from .delivery import deliver

    if not current_app.config.get("REDIS_URL"):
        deliver(outbox_id)
        return True
    job_id = f"outbox-{outbox_id}"
    try:
        rq_queue = queue()
        if check_live and _job_is_live(rq_queue, job_id, started_is_dead=lease_expired):
            return True
        rq_queue.enqueue_call(
            "grants.jobs.delivery.deliver_job",
            args=(outbox_id,),
            job_id=job_id,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
    except Exception:  # Redis down: the row stays pending and the sweep enqueues it later
        log.warning("could not enqueue outbox message %s; the sweep will retry", outbox_id,
                    exc_info=True)
        return False
    return True


def _job_is_live(rq_queue: Any, job_id: str, *, started_is_dead: bool = False) -> bool:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        status = Job.fetch(job_id, connection=rq_queue.connection).get_status(refresh=False)
    except NoSuchJobError:
        return False
    state = str(getattr(status, "value", status))
    if started_is_dead and state == "started":
        return False
    return state in _LIVE_JOB_STATES


def redis_connection() -> Any:
    """The app's Redis client; tests may place their own in app.extensions first."""
    from redis import Redis

    state = current_app.extensions["grants_jobs"]
    if state["redis"] is None:
        state["redis"] = Redis.from_url(
            current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10
        )
    return state["redis"]


def queue() -> Any:
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection())


def enqueue_sweeps() -> None:
    """Put one run of every sweep on the queue (the scheduler calls this each interval)."""
    queue().enqueue_call("grants.jobs.sweep_job", result_ttl=600, failure_ttl=7 * 24 * 3600)


def sweep_job() -> dict[str, int]:
    """rq entry point of the periodic sweeps."""
    from flask import has_app_context

    from ..services.sweeps import run_all

    if has_app_context():
        return run_all()
    from .worker import app_context

    with app_context():
        return run_all()


def start_sweeper(app: Flask) -> None:
    """Run the sweeps every SWEEP_INTERVAL_SECONDS in a daemon thread (no-Redis mode)."""
    state = app.extensions["grants_jobs"]
    interval = int(app.config["SWEEP_INTERVAL_SECONDS"])
    if interval <= 0 or state["sweeper"] is not None:
        return
    lock = state.setdefault("sweeper_lock", threading.Lock())
    with lock:
        if state["sweeper"] is not None:
            return
        thread = threading.Thread(
            target=_sweep_forever, args=(app, interval), name="grants-sweeper", daemon=True
        )
        state["sweeper"] = thread
        thread.start()


def _sweep_forever(app: Flask, interval: int) -> None:
    from ..services.sweeps import run_all

    while True:
        try:
            with app.app_context():
                run_all()
        except Exception:  # a failing sweep must not stop the next one; it is logged
            log.exception("periodic sweep failed")
        time.sleep(interval)
