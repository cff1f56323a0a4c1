"""Benchmark `notifications`: outbox messages delivered to a local SMTP sink by 2 rq workers.

Builds N outbox rows on a scratch PostgreSQL database (SQLite when PostgreSQL is
unreachable), enqueues one rq job per row (job id `outbox-<id>`, as the dispatch
after a commit does), and starts two `flask grants worker --burst --no-fork`
processes against a real Redis and an SMTP server on localhost that counts every
message and its Message-ID. The SMTP server runs in a process of its own, so that
its work competes with the workers only for the CPU, as a real server's would.
The clock runs from the first enqueue to the last worker exiting with every row sent.
Figures: total time, mails per second, and duplicates (same Message-ID twice; must be 0).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .common import Figure, flag, make_app, note, per_second, scratch_postgres

TARGET_SECONDS = 60.0
FULL_COUNT = 10_000
QUICK_COUNT = 300
WORKERS = 2
REDIS_URL_VARIABLE = "BENCHMARK_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parent.parent


class CountingSink:
    """An SMTP handler that keeps only what the benchmark needs: Message-IDs."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = ""
        for line in envelope.original_content.split(b"\r\n"):
            if not line:
                break  # end of headers
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
        with self.lock:
            self.ids[message_id] += 1
        return "250 OK"

    @property
    def received(self) -> int:
        return sum(self.ids.values())

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.ids.values() if count > 1)


def _serve_sink(port: int, ready: Any, stop: Any, results: Connection) -> None:
    """The sink process: serve until told to stop, then send back the Message-ID counts."""
    from aiosmtpd.controller import Controller

    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.send((dict(sink.ids), usage.ru_utime + usage.ru_stime))
    results.close()


@contextmanager
def sink_process(port: int) -> Iterator[CountingSink]:
    """Run a CountingSink on `port` in its own process; its counts fill the yielded
    sink when the block ends."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_serve_sink, args=(port, ready, stop, sending), name="smtp-sink", daemon=True
    )
    process.start()
    sending.close()
    counts = CountingSink()
    try:
        if not ready.wait(60):
            raise RuntimeError("the SMTP sink did not start")
        yield counts
    finally:
        stop.set()
        if receiving.poll(30):
            ids, cpu_seconds = receiving.recv()
            counts.ids.update(ids)
            note(f"SMTP sink: {sum(ids.values())} messages, {cpu_seconds:.1f} s of CPU")
        process.join(10)
        if process.is_alive():
            process.kill()


def run(quick: bool) -> Iterator[Figure]:
    count = QUICK_COUNT if quick else FULL_COUNT
    redis_url = os.environ.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL
    with (
        tempfile.TemporaryDirectory(prefix="bench-notifications-") as folder,
        scratch_postgres(f"bench_notifications_{os.getpid()}") as pg_url,
    ):
        url = pg_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        backend = "postgresql" if pg_url else "sqlite"
        figures = _measure(url, backend, redis_url, Path(folder), count)
    yield from figures


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _measure(url: str, backend: str, redis_url: str, folder: Path, count: int) -> list[Figure]:
    port = _free_port()
    with sink_process(port) as sink:
        sent, elapsed = _deliver_all(url, backend, redis_url, folder, count, port)
    return [
        Figure("notifications_delivered", sink.received, "mails"),
        Figure("notifications_total_time", elapsed, "s"),
        Figure("notifications_per_second", per_second(sink.received, elapsed), "mails/s"),
        Figure("notifications_duplicates", sink.duplicates, "mails"),
        Figure("notifications_target_max", TARGET_SECONDS, "s"),
        flag("notifications_all_sent", sent == count and sink.received - sink.duplicates == count),
        flag("target_met", elapsed <= TARGET_SECONDS and sink.duplicates == 0
             and sent == count),
    ]


def _deliver_all(
    url: str, backend: str, redis_url: str, folder: Path, count: int, port: int
) -> tuple[int, float]:
    """Rows, jobs and workers; returns how many rows ended sent and the time taken."""
    from redis import Redis
    from sqlalchemy import func, insert, select

    from grants.extensions import db
    from grants.jobs import enqueue_deliveries
    from grants.models import OutboxMessage

    queue_name = f"bench-notifications-{os.getpid()}"
    app = make_app(url, folder)
    app.config.update(REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    redis = Redis.from_url(redis_url)
    try:
        with app.app_context():
            db.create_all()
            db.session.execute(
                insert(OutboxMessage),
                [
                    {"kind": "payment.pay", "recipient_email": f"grantee{i}@example.org",
                     "language": "fr" if i % 3 == 0 else "en",
                     "context": {"recipient_name": f"Grantee {i}",
                                 "object": f"Payment 1 of Grant MMD-2026-C02-G{i:05d}"}}
                    for i in range(count)
                ],
            )
            db.session.commit()
            ids = list(db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
            note(f"{backend}: {count} outbox rows; Redis {redis_url}; SMTP sink on port {port}")

            started = time.perf_counter()
            # One commit's rows, handed over as dispatch_committed does: a job per row.
            if not enqueue_deliveries(ids):
                raise RuntimeError(f"Redis unreachable at {redis_url}")
            enqueued = time.perf_counter() - started
            workers = [_start_worker(url, redis_url, queue_name, port, folder, n)
                       for n in range(WORKERS)]
            for worker in workers:
                if worker.wait(timeout=600) != 0:
                    raise RuntimeError(f"worker exited with status {worker.returncode}")
            elapsed = time.perf_counter() - started
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            note(f"workers: {usage.ru_utime + usage.ru_stime:.1f} s of CPU together")
            db.session.expire_all()
            sent = db.session.scalar(
                select(func.count()).select_from(OutboxMessage)
                .where(OutboxMessage.status == "sent")
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        redis.delete(*redis.keys(f"rq:*{queue_name}*") or ["-"])
        redis.close()
    note(f"enqueueing took {enqueued:.1f} s; {sent} rows marked sent")
    return int(sent or 0), elapsed


def _start_worker(
    url: str, redis_url: str, queue_name: str, port: int, folder: Path, number: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
        "REDIS_URL": redis_url,
        "RQ_QUEUE": queue_name,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "GRANTS_ENV": "testing",
        "SECRET_KEY": "benchmark-secret",
        "GRANTS_INSTANCE_PATH": str(folder / f"worker{number}"),
        "FLASK_APP": "wsgi",
    }
    command = [sys.executable, "-m", "flask", "grants", "worker", "--burst", "--no-fork"]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
