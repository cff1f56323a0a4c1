"""Outbox delivery: exactly one mail per event, through Redis outages, killed workers,
refusing SMTP servers and administrator retries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any

from redis import Redis
from rq import SimpleWorker
from sqlalchemy import select
from sqlalchemy.orm import Session

from grants.extensions import db
from grants.jobs import delivery, dispatch_committed, queue, worker
from grants.models import AuditEvent, OutboxMessage
from grants.services import notifications, sweeps
from grants.services.transitions import transition
from tests.notifications_fixtures import *  # noqa: F403 (fixtures)
from tests.notifications_fixtures import SmtpSink, World


def _withdraw(world: World) -> None:
    """The owner withdraws the draft: the French editor and the manager hear of it."""
    transition(world.application, "withdraw", world.owner, comment="We will apply next year")


def _outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _use_redis(app: Any, client: Any) -> None:
    app.config["REDIS_URL"] = "redis://configured-by-the-test"
    app.extensions["grants_jobs"]["redis"] = client


def _work(client: Any) -> None:
    SimpleWorker([queue()], connection=client).work(burst=True)


def test_one_event_gives_exactly_one_mail_per_recipient(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World
) -> None:
    sink = smtp_sink[0]
    _withdraw(world)

    assert len(sink.to("editor@example.org")) == 1
    assert len(sink.to("manager@example.org")) == 1
    assert sink.to("owner@example.org") == []  # the actor is not told of their own act
    french = sink.to("editor@example.org")[0]
    assert french["Subject"].startswith("[MMD] Demande #1 : ")  # French name and typography
    text = french.get_body(("plain",)).get_content()
    assert text.startswith("Bonjour Fatou") and "est passé de" in text
    assert "Hello" in sink.to("manager@example.org")[0].get_body(("plain",)).get_content()
    assert "We will apply next year" in french.get_body(("html",)).get_content()
    assert [m.status for m in _outbox()] == ["sent", "sent"]

    # Nothing a second look can do sends it again.
    for message in _outbox():
        assert delivery.deliver(message.id) == "sent"
    frozen_clock.advance(hours=1)
    sweeps.run_all()
    assert len(sink.messages) == 2
    assert len(set(sink.message_ids())) == 2


def test_rq_job_has_the_outbox_id_and_runs_once(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World,
    redis_client: Any,
) -> None:
    sink = smtp_sink[0]
    _use_redis(mail_app, redis_client)
    _withdraw(world)
    ids = [m.id for m in _outbox()]
    assert sorted(queue().job_ids) == sorted(f"outbox-{i}" for i in ids)
    assert sink.messages == []

    frozen_clock.advance(minutes=5)
    sweeps.requeue_outbox()  # jobs still queued: not enqueued a second time
    assert len(queue().job_ids) == 2
    _work(redis_client)
    assert len(sink.messages) == 2
    assert {m.status for m in _outbox()} == {"sent"}


def test_redis_down_at_commit_the_transition_succeeds_and_mail_arrives_later(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World,
    redis_client: Any,
) -> None:
    sink = smtp_sink[0]
    _use_redis(mail_app, Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5))
    _withdraw(world)

    assert world.application.state == "withdrawn"
    assert db.session.scalar(select(AuditEvent.event).order_by(AuditEvent.id.desc())) == "withdraw"
    assert [m.status for m in _outbox()] == ["pending", "pending"]

    # Redis is back; the sweep re-enqueues what was left behind, once.
    mail_app.extensions["grants_jobs"]["redis"] = redis_client
    frozen_clock.advance(minutes=2)
    assert sweeps.requeue_outbox() == 2
    sweeps.requeue_outbox()
    _work(redis_client)
    sweeps.requeue_outbox()
    _work(redis_client)
    assert len(sink.to("editor@example.org")) == 1
    assert len(sink.to("manager@example.org")) == 1
    assert {m.status for m in _outbox()} == {"sent"}


def _pending_row(world: World) -> int:
    """One committed outbox row nobody has handed over yet (as after a crash at commit)."""
    notifications.queue("report.approve", world.colleague, None, {"object": "Interim report 1"})
    db.session.commit()
    db.session.info.pop("outbox_committed_ids", None)
    return _outbox()[-1].id


def test_worker_killed_mid_delivery_mail_is_delivered_exactly_once(
    mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World, tmp_path: Any
) -> None:
    sink, port = smtp_sink
    outbox_id = _pending_row(world)
    sink.stall_once = True
    env = {
        **os.environ,
        "GRANTS_ENV": "testing",
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": mail_app.config["SQLALCHEMY_DATABASE_URI"],
        "GRANTS_INSTANCE_PATH": str(tmp_path / "worker"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
    }
    env.pop("REDIS_URL", None)
    worker = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c",
         f"from grants.jobs.delivery import deliver_job; deliver_job({outbox_id})"],
        env=env,
    )
    try:
        assert sink.stalled.wait(30), "the worker never reached the SMTP server"
        os.kill(worker.pid, signal.SIGKILL)  # mid-transaction with the SMTP server
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        sink.release.set()

    message = _outbox()[-1]
    assert (message.status, message.attempts, sink.messages) == ("pending", 1, [])
    lease_end = message.next_attempt_at

    # While the lease runs, nobody else takes the row.
    from grants import clock

    clock.set_clock(lambda: lease_end - timedelta(seconds=1))
    assert sweeps.requeue_outbox() == 0 or sink.messages == []
    assert sink.messages == []

    # After it, the sweep's retry delivers it, once, however often the sweep runs.
    clock.set_clock(lambda: lease_end + timedelta(seconds=1))
    sweeps.requeue_outbox()
    sweeps.requeue_outbox()
    assert len(sink.messages) == 1
    assert sink.messages[0]["Message-ID"] == delivery.message_id(_outbox()[-1])
    assert _outbox()[-1].status == "sent"


def test_a_claimed_row_is_not_sent_by_a_second_job(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World
) -> None:
    outbox_id = _pending_row(world)
    with Session(db.engine) as session:  # another worker holds the claim
        assert delivery.claim(session, outbox_id) is True
        assert delivery.claim(session, outbox_id) is False
    assert delivery.deliver(outbox_id) == "pending"
    assert smtp_sink[0].messages == []


def test_smtp_refusing_is_retried_with_backoff_then_failed_then_retried_by_an_admin(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World,
    client: Any,
) -> None:
    sink = smtp_sink[0]
    sink.refuse = True
    notifications.queue("report.approve", world.colleague, None, {"object": "Interim report 1"})
    db.session.commit()
    dispatch_committed()

    message = _outbox()[0]
    assert (message.status, message.attempts) == ("pending", 1)
    assert "451" in message.last_error
    gaps = [message.next_attempt_at - frozen_clock.current]
    while message.status == "pending":
        # Not before it is due ...
        frozen_clock.set(message.next_attempt_at - timedelta(seconds=1))
        sweeps.requeue_outbox()
        assert _outbox()[0].attempts == message.attempts
        # ... and again once it is.
        frozen_clock.set(message.next_attempt_at)
        sweeps.requeue_outbox()
        message = _outbox()[0]
        gaps.append(message.next_attempt_at - frozen_clock.current)
    minutes = [gap.total_seconds() / 60 for gap in gaps]
    assert minutes[:5] == [1, 2, 4, 8, 16]
    assert (message.status, message.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert sink.messages == []

    # The administrator sees it with its error, and retries once the server accepts again.
    frozen_clock.advance(hours=1)
    sweeps.run_all()
    assert _outbox()[0].status == "failed"  # failed rows are not retried by the sweep
    login = client.post("/account/login",
                        data={"email": "admin@example.org", "password": "correct horse 1"})
    assert login.status_code == 302
    page = client.get("/admin/deliveries")
    assert page.status_code == 200
    assert b"451" in page.data and b"editor@example.org" in page.data
    sink.refuse = False
    answer = client.post(f"/admin/deliveries/{message.id}/retry")
    assert answer.status_code == 302
    assert _outbox()[0].status == "sent"
    assert len(sink.messages) == 1
    client.post(f"/admin/deliveries/{message.id}/retry")  # not failed any more: refused
    assert len(sink.messages) == 1


def test_delivery_admin_is_for_administrators_only(client: Any, world: World) -> None:
    client.post("/account/login",
                data={"email": "manager@example.org", "password": "correct horse 1"})
    assert client.get("/admin/deliveries").status_code == 403
    assert client.post("/admin/deliveries/1/retry").status_code == 403


def test_retry_post_needs_a_csrf_token(app: Any, client: Any, world: World) -> None:
    client.post("/account/login",
                data={"email": "admin@example.org", "password": "correct horse 1"})
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post("/admin/deliveries/1/retry").status_code in (400, 403)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_without_smtp_mail_goes_to_files_once(frozen_clock: Any, app: Any, world: World) -> None:
    _withdraw(world)
    folder = app.config["MAIL_FOLDER"]
    files = sorted(os.listdir(folder))
    assert len(files) == 2 and all(f.endswith(".eml") for f in files)
    # A second attempt (the window after sending, before recording) rewrites its own file.
    message = _outbox()[0]
    db.session.execute(
        OutboxMessage.__table__.update().where(OutboxMessage.id == message.id)
        .values(status="pending", sent_at=None)
    )
    db.session.commit()
    delivery.deliver(message.id)
    assert sorted(os.listdir(folder)) == files


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [delivery.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 7, 8, 20)] == [
        1, 2, 4, 60, 60, 60]


def test_message_id_is_stable_and_distinct(app: Any, world: World) -> None:
    first, second = _pending_row(world), _pending_row(world)
    rows = {m.id: m for m in _outbox()}
    assert delivery.message_id(rows[first]) == delivery.message_id(rows[first])
    assert delivery.message_id(rows[first]) != delivery.message_id(rows[second])


def test_worker_delivers_a_commits_messages_once_each_on_one_kept_connection(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World,
    redis_client: Any,
) -> None:
    sink = smtp_sink[0]
    _use_redis(mail_app, redis_client)
    for number in range(5):
        notifications.queue("report.approve", world.colleague, None,
                            {"object": f"Interim report {number}"})
    db.session.commit()
    ids = dispatch_committed()  # one commit's rows: one job each, put on Redis together
    assert sorted(queue().job_ids) == sorted(f"outbox-{i}" for i in ids)

    connections = []
    real_kept = delivery._kept_connection

    def kept() -> Any:
        connections.append(real_kept())
        return connections[-1]

    delivery._kept_connection = kept  # type: ignore[assignment]
    try:
        _, in_process = worker.worker_classes()
        rq_worker = in_process([queue()], connection=redis_client)
        with delivery.worker_connection():
            rq_worker.work(burst=True, with_scheduler=False)
        assert delivery._held["connection"] is None  # closed when the worker stops
    finally:
        delivery._kept_connection = real_kept  # type: ignore[assignment]
    assert len(connections) == 5 and len({id(c) for c in connections}) == 1
    assert sorted(sink.message_ids()) == sorted(delivery.message_id(m) for m in _outbox())
    assert {m.status for m in _outbox()} == {"sent"}
    assert [m.attempts for m in _outbox()] == [1] * 5


def test_kept_connection_that_died_while_idle_is_replaced_before_the_claim(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World
) -> None:
    first, second = _pending_row(world), _pending_row(world)
    with delivery.worker_connection():
        assert delivery.deliver(first) == "sent"
        dead = delivery._held["connection"]
        dead.connection.dbapi_connection.close()  # as when the database restarts
        assert delivery.deliver(second) == "sent"
        assert delivery._held["connection"] is not dead
    assert len(smtp_sink[0].messages) == 2
    assert [m.attempts for m in _outbox()] == [1, 1]


def test_worker_heartbeat_is_one_round_trip_and_idle_is_written_once(redis_client: Any) -> None:
    _, in_process = worker.worker_classes()
    rq_worker = in_process(["grants-test"], connection=redis_client)
    sent: list[int] = []
    real_pipeline = redis_client.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        def execute(*a: Any, **k: Any) -> Any:
            sent.append(len(pipe.command_stack))
            return real_execute(*a, **k)

        pipe.execute = execute
        return pipe

    redis_client.pipeline = counting_pipeline
    try:
        rq_worker.heartbeat()
        assert sent == [3]  # last_heartbeat and two expiries, together
        assert redis_client.hget(rq_worker.key, "last_heartbeat")
        assert redis_client.ttl(rq_worker.key) > 0
        rq_worker.set_state("idle")
        redis_client.hset(rq_worker.key, "state", "changed-elsewhere")
        rq_worker.set_state("idle")  # unchanged: not written again
        assert redis_client.hget(rq_worker.key, "state") == b"changed-elsewhere"
        rq_worker.set_state("busy")
        assert redis_client.hget(rq_worker.key, "state") == b"busy"
    finally:
        redis_client.pipeline = real_pipeline


def test_a_job_left_started_by_a_dead_worker_is_retried_once_the_lease_ran_out(
    frozen_clock: Any, mail_app: Any, smtp_sink: tuple[SmtpSink, int], world: World,
    redis_client: Any,
) -> None:
    from rq.job import Job, JobStatus

    sink = smtp_sink[0]
    _use_redis(mail_app, redis_client)
    outbox_id = _pending_row(world)
    # A worker claimed the row, rq marked its job started, and the worker died.
    assert delivery.claim(db.session, outbox_id) is True
    db.session.commit()
    job = queue().enqueue_call("grants.jobs.delivery.deliver_job", args=(outbox_id,),
                               job_id=f"outbox-{outbox_id}")
    job.set_status(JobStatus.STARTED)
    queue().remove(job)

    # While the lease runs the row is left alone; rq still calls the job started.
    frozen_clock.advance(minutes=1)
    sweeps.requeue_outbox()
    assert queue().job_ids == []
    # Once it ran out, the sweep hands the row over again, though rq has not noticed.
    frozen_clock.advance(minutes=5)
    sweeps.requeue_outbox()
    assert queue().job_ids == [f"outbox-{outbox_id}"]
    assert Job.fetch(f"outbox-{outbox_id}", connection=redis_client).get_status() == "queued"
    _work(redis_client)
    sweeps.requeue_outbox()
    _work(redis_client)
    assert len(sink.messages) == 1
    assert _outbox()[-1].status == "sent"
