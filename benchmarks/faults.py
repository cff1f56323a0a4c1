"""Faults during a surge: the database restarted, Redis stopped, a worker killed, a full disk.

Every service made to fail is this benchmark's own, started here and removed at
the end even when a scenario fails: a throwaway PostgreSQL cluster (initdb in a
temporary folder, its own port), a redis-server on its own port without
persistence, an SMTP sink in this process (it counts every message by its
Message-ID, so a duplicate shows) and a 1 MB tmpfs for the attachments. The
machine's own PostgreSQL and Redis are never stopped. Figures carry the
scenario's prefix:

- pg_restart_*: applicants save and submit against gunicorn while the cluster
  is stopped (fast shutdown) and started again a few seconds later. Requests
  during the outage must get a 503 with Retry-After (never a 500), the clients
  retry, and afterwards every application is either a clean draft or submitted
  with its reference, snapshot and receipt, every acknowledged submission once.
- redis_down_*: with REDIS_URL on the own Redis and a worker running, Redis is
  stopped during the surge. Submissions must still succeed (the outbox rows are
  in the database); then Redis is started again, the outbox sweep runs and a
  worker delivers: every message arrives exactly once ("mail catches up").
- worker_kill_*: a batch of messages on the queue, a worker killed (SIGKILL, with
  its work-horse) in the middle, another one started: every message exactly once.
  The rows the dead worker had claimed are leased for five minutes and rq marks
  its job abandoned after its timeout: instead of waiting, the outbox rows are
  aged by six minutes (creation and lease) and rq's registry is cleaned as of six
  minutes ahead, then the sweep runs: what the periodic sweep and rq do once the
  time has passed.
- disk_full_*: uploads into a 1 MB file system until it is full: the refusal
  says the file could not be stored, no partial file or attachment row is left,
  and the draft's text is unchanged.
"""

from __future__ import annotations

import asyncio
import email.parser
import glob
import io
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

from .common import Figure, flag, make_app, note, percentile, scratch_postgres
from .crowd import (
    PASSWORD,
    ROOT,
    app_environment,
    deadline_after,
    free_port,
    gunicorn,
    log_in_all,
    plans,
    report_errors,
    seed_drafts,
    set_deadline,
    surge,
    verify,
)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
MOUNT = shutil.which("mount") or "/usr/bin/mount"
UMOUNT = shutil.which("umount") or "/usr/bin/umount"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
OUTAGE_SECONDS = 4.0
RETRY_FOR_SECONDS = 60.0
MOUNT_BYTES = 1024 * 1024
UPLOAD_BYTES = 300 * 1024
SINK_DELAY_SECONDS = 0.05  # per recipient: the worker is mid-message when it is killed
MESSAGE_ID = re.compile(r"<outbox-(\d+)-\d+@")
STORAGE_MESSAGE = "could not store the file"
UNAVAILABLE_STATUS = 503


def run(quick: bool) -> Iterator[Figure]:
    for name, scenario in (("pg_restart", _pg_restart), ("redis_down", _redis_down),
                           ("worker_kill", _worker_killed), ("disk_full", _disk_full)):
        started = time.perf_counter()
        yield from scenario(quick)
        note(f"{name}: {time.perf_counter() - started:.1f} s")


# ------------------------------------------------------------------ own services


class Cluster:
    """A throwaway PostgreSQL cluster: its own data folder, port and socket folder."""

    def __init__(self, binaries: Path, data: Path, port: int, as_postgres: bool) -> None:
        self.binaries = binaries
        self.data = data
        self.port = port
        self.prefix = [RUNUSER, "-u", "postgres", "--"] if as_postgres else []

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.binaries / "pg_ctl"), "-D", str(self.data), *args],
            check=True, capture_output=True, timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._pg_ctl("-l", str(self.data / "server.log"), "-o", options, "-w", "-t", "60",
                     "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


@contextmanager
def own_postgres() -> Iterator[Cluster | None]:
    """A new cluster on a free port, removed afterwards; None when initdb is not available."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = Path(found[-1]) if found else (Path(p) if (p := shutil.which("initdb")) else None)
    if initdb is None:
        note("no initdb on this machine: the PostgreSQL restart is skipped")
        yield None
        return
    as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root
    folder = Path(tempfile.mkdtemp(prefix="bench-faults-pg-"))
    data = folder / "data"
    cluster = Cluster(initdb.parent, data, free_port(), as_postgres)
    try:
        if as_postgres:
            shutil.chown(folder, "postgres")
        prefix = cluster.prefix
        subprocess.run(
            [*prefix, str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres",
             "--no-sync", "-E", "UTF8", "--locale", "C"],
            check=True, capture_output=True, timeout=180,
        )
        cluster.start()
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        note(f"could not start a cluster of our own ({exc}; {detail.decode(errors='replace')})")
        shutil.rmtree(folder, ignore_errors=True)
        yield None
        return
    try:
        yield cluster
    finally:
        if cluster.running():
            with suppress(subprocess.SubprocessError):
                cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


class OwnRedis:
    """redis-server on its own port, nothing saved to disk; stopped and started at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        limit = time.monotonic() + 20
        while time.monotonic() < limit:
            with suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise TimeoutError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # as a crash: whatever was only in memory is gone
            self.process.wait(timeout=30)
        self.process = None


@contextmanager
def own_redis(folder: Path) -> Iterator[OwnRedis | None]:
    if not Path(REDIS_SERVER).exists():
        note("no redis-server on this machine: the Redis and worker scenarios are skipped")
        yield None
        return
    redis = OwnRedis(folder)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


class Sink:
    """An SMTP server that keeps nothing but how often each outbox message arrived."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: Counter[int] = Counter()
        self.foreign = 0
        self.lock = threading.Lock()
        self.receiving = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.delay:
            self.receiving.set()  # a sender is waiting for this answer: a moment to kill it
            await asyncio.sleep(self.delay)
            self.receiving.clear()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        headers = email.parser.BytesHeaderParser().parsebytes(envelope.content)
        found = MESSAGE_ID.match(str(headers.get("Message-ID", "")))
        with self.lock:
            if found:
                self.received[int(found.group(1))] += 1
            else:
                self.foreign += 1
        return "250 Message accepted"

    def delivered(self) -> int:
        with self.lock:
            return len(self.received)


@contextmanager
def smtp_sink(delay: float = 0.0) -> Iterator[tuple[Sink, int]]:
    from aiosmtpd.controller import Controller

    sink = Sink(delay)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@contextmanager
def worker(env: dict[str, str], folder: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`flask grants worker` in its own process group (so its work-horse can be killed too)."""
    flask = str(Path(sys.executable).with_name("flask"))
    log = (folder / f"worker-{time.monotonic_ns()}.log").open("wb")
    process = subprocess.Popen(
        [flask, "--app", "wsgi:app", "grants", "worker", *args],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _mail_figures(prefix: str, url: str, sink: Sink) -> Iterator[Figure]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = dict(connection.execute(
                text("SELECT id, status FROM outbox_messages")
            ).all())
    finally:
        engine.dispose()
    delivered = [i for i in rows if sink.received[i] > 0]
    duplicated = sum(n - 1 for i, n in sink.received.items() if n > 1)
    unknown = [i for i in sink.received if i not in rows]
    yield Figure(f"{prefix}_mail_expected", len(rows), "count")
    yield Figure(f"{prefix}_mail_delivered", len(delivered), "count")
    yield Figure(f"{prefix}_mail_duplicated", duplicated + len(unknown) + sink.foreign, "count")
    yield Figure(f"{prefix}_mail_pending",
                 sum(status != "sent" for status in rows.values()), "count")


def _sweep_later(app: Any, url: str, minutes: int) -> int:
    """The outbox sweep as it runs `minutes` from now: the rows are aged by that much
    (their creation, their lease), which is what the database sees once time passes;
    the workers, on the real clock, then find the leases run out too."""
    from sqlalchemy import create_engine, text

    from grants.services.sweeps import requeue_outbox

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "UPDATE outbox_messages SET created_at = created_at - :shift, "
                "next_attempt_at = next_attempt_at - :shift"
            ), {"shift": timedelta(minutes=minutes)})
    finally:
        engine.dispose()
    with app.app_context():
        return requeue_outbox()


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants at once, as a crash or the OOM killer would.

    rq's work-horse runs in a process group of its own, so killing the worker's group
    would leave the horse to finish its message: the descendants are found in /proc.
    """
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    doomed = {pid}
    grown = True
    while grown:
        children = {child for child, parent in parents.items() if parent in doomed}
        grown = not children <= doomed
        doomed |= children
    for victim in sorted(doomed, reverse=True):
        with suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def _wait_for_worker(app: Any, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    """Until the worker listens on the queue (it imports the whole application first)."""
    from rq import Worker

    with app.app_context():
        from grants.jobs import queue

        rq_queue = queue()
        limit = time.monotonic() + seconds
        while Worker.count(queue=rq_queue) == 0:
            if process.poll() is not None or time.monotonic() > limit:
                raise RuntimeError("the rq worker did not start")
            time.sleep(0.2)


def _burst_worker(app: Any) -> None:
    """`flask grants worker --burst --no-fork`, in this process: work the queue empty."""
    from grants.jobs.worker import run_worker

    for name in ("rq.worker", "rq.job"):
        # rq prints its progress on standard output unless its loggers have a handler:
        # standard output carries the figures only.
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setLevel(logging.WARNING)
            logger.addHandler(handler)
    with app.app_context():
        run_worker(burst=True, fork=False, with_scheduler=False)


# ------------------------------------------------------------------ PostgreSQL restarted


def _pg_restart(quick: bool) -> Iterator[Figure]:
    count, window = (8, 10.0) if quick else (60, 30.0)
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as name, own_postgres() as cluster:
        if cluster is None:
            yield flag("pg_restart_skipped", True)
            return
        folder = Path(name)
        url = cluster.create_database("grants")
        app = make_app(url, folder)
        with app.app_context():
            from grants.extensions import db

            db.create_all()
            seeded = seed_drafts(count)
            db.session.remove()
            db.engine.dispose()
        schedule = plans(count, window, late_share=0.0, burst_share=0.5,
                         burst_seconds=window / 2, saves=2)
        outage: dict[str, float] = {}

        def restart(start: float) -> None:
            time.sleep(max(0.0, start + 0.4 * window - time.monotonic()))
            began = time.monotonic()
            cluster.stop("fast")
            time.sleep(OUTAGE_SECONDS)
            cluster.start()
            outage.update(began=began - start, seconds=time.monotonic() - began)

        with gunicorn(app_environment(url, folder), folder) as server:
            clients = log_in_all(server.port, count, seeded["drafts"])
            set_deadline(url, seeded["call_id"], deadline_after(3600))
            note(f"pg_restart: {count} applicants; the cluster stops {0.4 * window:.0f} s in")
            outcomes, latencies, _elapsed, _start = surge(
                clients, seeded["drafts"], schedule, retry_for=RETRY_FOR_SECONDS, during=restart
            )
            for client in clients:
                client.close()
            report_errors(outcomes, server)
        stored = verify(url)

    statuses = Counter(status for o in outcomes for status in o.statuses)
    acknowledged = [o for o in outcomes if o.acknowledged]
    lost = [o for o in acknowledged if stored.submissions.get(o.application_id, 0) == 0]
    duplicated = [a for a, n in stored.submissions.items() if n > 1]
    duplicated += [a for a, n in stored.receipts.items() if n > 1 and a not in duplicated]
    retried = [o for o in acknowledged if o.attempts > 1]
    errors = sum(len(o.unexpected) for o in outcomes) + sum(not o.acknowledged for o in outcomes)
    half_written = stored.half_written()
    note(f"pg_restart: outage of {outage.get('seconds', 0):.1f} s from "
         f"{outage.get('began', 0):.1f} s; answers {dict(sorted(statuses.items()))}")
    yield Figure("pg_restart_outage_s", outage.get("seconds", 0.0), "s")
    yield Figure("pg_restart_attempted", sum(o.attempts > 0 for o in outcomes), "count")
    yield Figure("pg_restart_acknowledged", len(acknowledged), "count")
    yield Figure("pg_restart_stored", sum(stored.submissions.values()), "count")
    yield Figure("pg_restart_lost", len(lost), "count")
    yield Figure("pg_restart_duplicated", len(duplicated), "count")
    yield Figure("pg_restart_half_written", len(half_written), "count")
    yield Figure("pg_restart_answers_503", statuses[UNAVAILABLE_STATUS], "count")
    yield Figure("pg_restart_answers_500", sum(n for s, n in statuses.items() if s >= 500
                                               and s != UNAVAILABLE_STATUS), "count")
    yield Figure("pg_restart_dropped_connections", statuses[0], "count")
    yield Figure("pg_restart_retries_succeeded", len(retried), "count")
    yield Figure("pg_restart_errors", errors, "count")
    if latencies:
        yield Figure("pg_restart_p95_ms", percentile(latencies, 0.95) * 1000, "ms")
    yield flag("pg_restart_target_met", not lost and not duplicated and not half_written
               and not errors and len(acknowledged) == count)


# ------------------------------------------------------------------ Redis stopped


def _mailing_app(url: str, folder: Path, redis_url: str, smtp_port: int) -> tuple[Any, Any]:
    """The environment of worker processes and the app, on one PostgreSQL, Redis and sink."""
    queue_name = f"bench-faults-{os.getpid()}"
    settings = {"REDIS_URL": redis_url, "RQ_QUEUE": queue_name, "MAIL_SERVER": "127.0.0.1"}
    env = app_environment(url, folder, MAIL_PORT=str(smtp_port), **settings)
    app = make_app(url, folder)
    app.config.update(MAIL_PORT=smtp_port, **settings)
    return env, app


def _redis_down(quick: bool) -> Iterator[Figure]:
    count, window = (8, 10.0) if quick else (60, 30.0)
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as name, \
            scratch_postgres(f"bench_faults_redis_{os.getpid()}") as url, \
            own_redis(Path(name)) as redis, smtp_sink() as (sink, smtp_port):
        if url is None or redis is None:
            yield flag("redis_down_skipped", True)
            return
        folder = Path(name)
        env, app = _mailing_app(url, folder, redis.url, smtp_port)
        with app.app_context():
            from grants.extensions import db

            db.create_all()
            seeded = seed_drafts(count)
            db.session.remove()
            db.engine.dispose()
        schedule = plans(count, window, late_share=0.0, burst_share=0.5,
                         burst_seconds=window / 2, saves=1)
        down: dict[str, float] = {}

        def stop_redis(start: float) -> None:
            time.sleep(max(0.0, start + 0.3 * window - time.monotonic()))
            redis.stop()
            down["at"] = time.monotonic() - start

        with gunicorn(env, folder) as server:
            clients = log_in_all(server.port, count, seeded["drafts"])
            set_deadline(url, seeded["call_id"], deadline_after(3600))
            with worker(env, folder) as running:
                _wait_for_worker(app, running)
                note(f"redis_down: {count} applicants; Redis stops {0.3 * window:.0f} s in")
                outcomes, _latencies, _elapsed, _start = surge(
                    clients, seeded["drafts"], schedule, during=stop_redis
                )
                delivered_before = sink.delivered()
            for client in clients:
                client.close()
            report_errors(outcomes, server)
        redis.start()
        requeued = _sweep_later(app, url, 6)
        _burst_worker(app)
        note(f"redis_down: {delivered_before} mails during the surge, {requeued} rows "
             f"handed over by the sweep, {sink.delivered()} delivered in the end")
        stored = verify(url)
        mail = list(_mail_figures("redis_down", url, sink))
        with app.app_context():
            db.engine.dispose()

    during_outage = [o for o in outcomes if o.submit_sent_at >= down.get("at", 0.0)]
    ok = [o for o in during_outage if o.acknowledged]
    lost = [o for o in outcomes
            if o.acknowledged and stored.submissions.get(o.application_id, 0) == 0]
    errors = sum(len(o.unexpected) for o in outcomes) + sum(not o.acknowledged for o in outcomes)
    yield Figure("redis_down_attempted", sum(o.attempts > 0 for o in outcomes), "count")
    yield Figure("redis_down_submissions_attempted", len(during_outage), "count")
    yield Figure("redis_down_submissions_ok", len(ok), "count")
    yield Figure("redis_down_lost", len(lost), "count")
    yield Figure("redis_down_half_written", len(stored.half_written()), "count")
    yield Figure("redis_down_errors", errors, "count")
    yield from mail
    values = {f.name: f.value for f in mail}
    yield flag("redis_down_target_met", not errors and not lost and len(ok) == len(during_outage)
               and values["redis_down_mail_delivered"] == values["redis_down_mail_expected"]
               and values["redis_down_mail_duplicated"] == 0)


# ------------------------------------------------------------------ a worker killed


def _queue_messages(total: int, applicants: int) -> int:
    """`total` receipt notices on the outbox, handed to rq after the commit as usual."""
    from grants.extensions import db
    from grants.jobs import dispatch_committed
    from grants.models import Application, User
    from grants.services import notifications

    apps = db.session.query(Application).order_by(Application.id).all()
    for n in range(total):
        app = apps[n % applicants]
        colleague = db.session.get(User, 1 + applicants + n % applicants)
        notifications.queue(
            "application_two_stage.submit", colleague, app,
            {"object": app.label, "from_state": "draft", "to_state": "submitted",
             "comment": None, "event": "submit"},
        )
    db.session.commit()
    return len(dispatch_committed())


def _worker_killed(quick: bool) -> Iterator[Figure]:
    total, applicants = (30, 3) if quick else (300, 10)
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as name, \
            scratch_postgres(f"bench_faults_worker_{os.getpid()}") as url, \
            own_redis(Path(name)) as redis, smtp_sink(SINK_DELAY_SECONDS) as (sink, smtp_port):
        if url is None or redis is None:
            yield flag("worker_kill_skipped", True)
            return
        folder = Path(name)
        env, app = _mailing_app(url, folder, redis.url, smtp_port)
        with app.app_context():
            from grants.extensions import db

            db.create_all()
            seed_drafts(applicants)
            queued = _queue_messages(total, applicants)
            db.session.remove()
        note(f"worker_kill: {queued} messages queued")

        with worker(env, folder) as first:
            limit = time.monotonic() + 300
            while sink.delivered() < total // 3 and time.monotonic() < limit:
                if first.poll() is not None:
                    raise RuntimeError(f"the worker exited with {first.returncode}")
                time.sleep(0.02)
            # In the middle of a message: claimed, the SMTP server not yet answering.
            sink.receiving.wait(timeout=30)
            _kill_tree(first.pid)
            first.wait()
        at_kill = sink.delivered()
        time.sleep(0.5)  # let a message in flight reach the sink, as it would
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as connection:
            orphans = connection.scalar(text(
                "SELECT count(*) FROM outbox_messages WHERE status = 'pending' AND attempts > 0"
            )) or 0
        engine.dispose()
        # Time passes: rq gives up the dead worker's job, the rows' lease runs out.
        from rq.registry import StartedJobRegistry

        with app.app_context():
            from grants.jobs import queue

            rq_queue = queue()
            StartedJobRegistry(queue=rq_queue).cleanup(time.time() + 6 * 60)
        requeued = _sweep_later(app, url, 6)
        _burst_worker(app)
        note(f"worker_kill: killed after {at_kill} mails with {orphans} rows claimed; "
             f"{requeued} rows handed over by the sweep")
        mail = list(_mail_figures("worker_kill", url, sink))
        with app.app_context():
            db.engine.dispose()
    yield Figure("worker_kill_messages", queued, "count")
    yield Figure("worker_kill_delivered_before_kill", at_kill, "count")
    yield Figure("worker_kill_claimed_by_dead_worker", orphans, "count")
    yield from mail
    values = {f.name: f.value for f in mail}
    yield flag("worker_kill_target_met",
               values["worker_kill_mail_delivered"] == values["worker_kill_mail_expected"]
               and values["worker_kill_mail_duplicated"] == 0
               and values["worker_kill_mail_pending"] == 0)


# ------------------------------------------------------------------ the disk full


def _png(size: int) -> bytes:
    """A valid PNG of about `size` bytes (noise does not compress)."""
    width = 256
    rows = max(1, size // (width * 3))
    noise = os.urandom(rows * (width * 3))
    raw = b"".join(b"\x00" + noise[r * width * 3:(r + 1) * width * 3] for r in range(rows))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, rows, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b""))


@contextmanager
def tiny_filesystem(path: Path) -> Iterator[bool]:
    """A MOUNT_BYTES tmpfs at `path`; False when mounting is not permitted here."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        [MOUNT, "-t", "tmpfs", "-o", f"size={MOUNT_BYTES},mode=0700", "tmpfs", str(path)],
        capture_output=True, check=False,
    )
    if mounted.returncode != 0:
        note(f"could not mount a tmpfs: {mounted.stderr.decode(errors='replace').strip()}")
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run([UMOUNT, "-l", str(path)], capture_output=True, check=False)


def _disk_full(_quick: bool) -> Iterator[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as name:
        folder = Path(name)
        uploads = folder / "uploads"
        with tiny_filesystem(uploads) as mounted:
            if not mounted:
                yield flag("disk_full_skipped", True)
                return
            app = make_app(f"sqlite:///{folder / 'disk.sqlite3'}", folder)
            app.config["UPLOAD_FOLDER"] = str(uploads)
            with app.app_context():
                from sqlalchemy import func, select

                from grants.extensions import db
                from grants.models import ApplicationSection, Attachment

                db.create_all()
                draft = seed_drafts(1)["drafts"][0]
                before = {s.key: s.data for s in db.session.scalars(
                    select(ApplicationSection).where(ApplicationSection.application_id == draft))}
                db.session.remove()
            client = app.test_client()
            logged_in = client.post("/account/login", data={
                "email": "applicant0@bench.example.org", "password": PASSWORD})
            assert logged_in.status_code == 302, logged_in.status_code
            stored = refused = 0
            clear = False
            for n in range(2 * MOUNT_BYTES // UPLOAD_BYTES + 2):
                response = client.post(
                    f"/applicant/applications/{draft}/attachments",
                    data={"kind": "other",
                          "file": (io.BytesIO(_png(UPLOAD_BYTES)), f"scan-{n}.png")},
                    content_type="multipart/form-data",
                    headers={"Accept-Language": "en"},
                )
                if response.status_code == 302:
                    stored += 1
                    continue
                refused += 1
                clear = STORAGE_MESSAGE in response.get_data(as_text=True)
                break
            files = sorted(p.name for p in uploads.iterdir())
            with app.app_context():
                rows = db.session.scalar(select(func.count()).select_from(Attachment)) or 0
                after = {s.key: s.data for s in db.session.scalars(
                    select(ApplicationSection).where(ApplicationSection.application_id == draft))}
                db.session.remove()
                db.engine.dispose()
    partial = [f for f in files if f.endswith(".part")]
    note(f"disk_full: {stored} uploads of {UPLOAD_BYTES // 1024} KB fitted in "
         f"{MOUNT_BYTES // 1024} KB, then {'a clear' if clear else 'an unclear'} refusal")
    yield Figure("disk_full_uploads_stored", stored, "count")
    yield Figure("disk_full_uploads_refused", refused, "count")
    yield flag("disk_full_refusal_clear", clear)
    yield Figure("disk_full_partial_files", len(partial), "count")
    yield Figure("disk_full_attachment_rows", rows, "count")
    yield Figure("disk_full_files", len(files), "count")
    yield flag("disk_full_draft_kept", before == after and bool(after))
    yield flag("disk_full_target_met", refused == 1 and clear and not partial
               and rows == stored == len(files) and before == after)
