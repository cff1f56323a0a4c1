"""Machinery of the load benchmarks: gunicorn, applicants with drafts, a timed surge.

The applicant benchmark's seeding, section data and page parsing are reused;
this module adds what the deadline-surge and fault benchmarks share:

- `Client`, one applicant's connection and cookies that reports every answer
  (status, time, body) instead of raising, so a run can count refusals, 503s
  and dropped connections;
- `gunicorn`, the application served on a free loopback port with a given
  environment, stopped (and its log kept for the notes) on leaving;
- `seed_drafts`, an open call and N organisations, each with a complete draft
  written through the application's own services;
- `surge`, applicants saving and submitting on a schedule relative to a start
  moment, with optional retries, and `verify`, the database's account of what
  was stored: submissions, references, receipts, half-written applications.
"""

from __future__ import annotations

import http.client
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .applicant import (
    PASSWORD,
    ROOT,
    VERSION,
    _free_port,
    _section_data,
    _seed,
    _token,
    _wait_for,
    _warm_up,
)
from .common import note

__all__ = [
    "PASSWORD", "Client", "Outcome", "Plan", "Reply", "Server", "Stored", "app_environment",
    "deadline_after", "free_port", "gunicorn", "log_in_all", "plans", "report_errors",
    "seed_drafts", "set_deadline", "surge", "verify",
]

REQUEST_TIMEOUT = 60.0
IDLE_SECONDS = 1.0
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 8
# What the server says when it refuses a submission after the deadline (the guard's
# reason, or the call's state once the periodic sweep has closed it).
REFUSAL_TEXTS = (
    "the deadline passed at", "la date limite est passée",
    "not open for submissions", "pas ouvert aux soumissions",
)
RECEIPT_KIND = "%.submit"

free_port = _free_port


@dataclass(frozen=True)
class Reply:
    """One answer: status 0 when the connection failed (error says how)."""

    status: int
    location: str
    text: str
    seconds: float
    error: str = ""
    retry_after: str = ""


class Client:
    """One applicant's connection and cookies; every answer returned, none raised."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        self.last_used = time.monotonic()

    def request(self, method: str, path: str, form: dict[str, Any] | None = None) -> Reply:
        headers = {"Host": f"127.0.0.1:{self.port}", "Accept-Language": "en"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if time.monotonic() - self.last_used > IDLE_SECONDS:
            # gunicorn closes idle keep-alive connections (2 s): a browser would not reuse
            # one so old either, and a request sent into a closing socket is lost.
            self.connection.close()
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            self.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT
            )
            self.last_used = time.monotonic()
            return Reply(0, "", "", time.perf_counter() - started, repr(exc))
        self.last_used = time.monotonic()
        seconds = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        location = response.getheader("Location") or ""
        return Reply(response.status, urllib.parse.urlsplit(location).path, text, seconds,
                     retry_after=response.getheader("Retry-After") or "")

    def close(self) -> None:
        self.connection.close()


# ------------------------------------------------------------------ the server


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def count_in_log(self, text: str) -> int:
        return self.log_path.read_text(errors="replace").count(text)


def app_environment(database_url: str, folder: Path, **extra: str) -> dict[str, str]:
    """The environment of gunicorn (and of workers) for a benchmark's database and folder."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "GRANTS_ENV": "development",
        "SECRET_KEY": "benchmark-secret-key",
        "MAIL_FOLDER": str(folder / "mail"),
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "REDIS_URL": "",
        **extra,
    }


@contextmanager
def gunicorn(env: dict[str, str], folder: Path, workers: int = GUNICORN_WORKERS,
             threads: int = GUNICORN_THREADS) -> Iterator[Server]:
    """The application under gunicorn on a free loopback port, warmed up; stopped after."""
    port = _free_port()
    executable = str(Path(sys.executable).with_name("gunicorn"))
    log_path = folder / f"gunicorn-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [executable, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--threads", str(threads), "--worker-class", "gthread",
             "--timeout", "120", "--graceful-timeout", "10", "--chdir", str(ROOT), "wsgi:app"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        try:
            _wait_for(port, process, 60)
            _warm_up(port, workers * 4)
            yield Server(port, process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# ------------------------------------------------------------------ seeding


def seed_drafts(count: int) -> dict[str, Any]:
    """An open call and `count` applicants, each with a complete draft (in an app context).

    The drafts go through the services a browser's saves go through, so each is
    exactly what the form would have stored; returns the call and draft ids.
    """
    from sqlalchemy import insert, text
    from werkzeug.security import generate_password_hash

    from grants.clock import now
    from grants.extensions import db
    from grants.models import Membership, User
    from grants.services import applications

    if db.engine.dialect.name == "postgresql":
        # Seeding, not measuring: no wait for the disk at each of the many commits.
        db.session.execute(text("SET synchronous_commit TO off"))
    # Logging in is set-up here, not measured: a cheap hash spares a loaded machine
    # the seconds of scrypt per applicant (the applicant benchmark measures logins).
    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    seeded = _seed(count, password_hash)
    # A colleague in each organisation: every member, the submitter too, gets the receipt
    # by mail (one outbox row per member and submission).
    db.session.execute(insert(User), [
        {"id": 1 + count + i, "email": f"colleague{i}@bench.example.org",
         "name": f"Colleague {i}", "password_hash": password_hash, "language": "en",
         "email_verified_at": now()} for i in range(count)
    ])
    db.session.execute(insert(Membership), [
        {"user_id": 1 + count + i, "organisation_id": 1 + i, "role": "viewer"}
        for i in range(count)
    ])
    db.session.commit()
    drafts: list[int] = []
    for i in range(count):
        user = db.session.get(User, 1 + i)
        assert user is not None
        draft = applications.start_application(user, seeded["call_id"], 1 + i)
        for key, data in _section_data(i).items():
            applications.save_section(user, draft.id, key, None, data)
        drafts.append(draft.id)
        db.session.expunge_all()
    return {**seeded, "drafts": drafts}


def set_deadline(database_url: str, call_id: int, deadline: datetime) -> None:
    """Move the call's deadline (the server reads the call on every request)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE calls SET deadline_at = :d WHERE id = :i"),
                {"d": deadline, "i": call_id},
            )
    finally:
        engine.dispose()


def log_in_all(port: int, count: int, drafts: list[int], parallel: int = 8) -> list[Client]:
    """Every applicant logged in, with the CSRF token of its preview page remembered."""

    def one(i: int) -> Client:
        client = Client(port)
        page = client.request("GET", "/account/login")
        reply = client.request("POST", "/account/login", {
            "csrf_token": _token(page.text), "email": f"applicant{i}@bench.example.org",
            "password": PASSWORD,
        })
        if reply.status != 302:
            raise RuntimeError(f"applicant {i} could not log in: {reply.status} {reply.error}")
        preview = client.request("GET", f"/applicant/applications/{drafts[i]}/preview")
        if preview.status != 200:
            raise RuntimeError(f"applicant {i}: preview answered {preview.status}")
        client.csrf = _token(preview.text)  # type: ignore[attr-defined]
        return client

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(count)))


# ------------------------------------------------------------------ the surge


@dataclass(frozen=True)
class Plan:
    """When one applicant acts, in seconds after the surge's start."""

    saves: tuple[float, ...]
    submit_at: float
    late: bool = False  # plans to submit after the deadline (must be refused)


@dataclass
class Outcome:
    """What one applicant saw."""

    application_id: int
    late: bool
    submit_sent_at: float = -1.0
    acknowledged: bool = False
    refused: bool = False
    refused_clearly: bool = False
    saves_ok: int = 0
    saved_at: list[float] = field(default_factory=list)  # seconds after the start
    attempts: int = 0
    unexpected: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


def plans(count: int, window: float, *, late_share: float, burst_share: float,
          burst_seconds: float, saves: int, seed: int = 8) -> list[Plan]:
    """Saves spread over the window, most submissions in a burst just before its end,
    and `late_share` of the applicants first trying a little after it."""
    rng = random.Random(seed)
    late_count = round(count * late_share)
    result: list[Plan] = []
    for i in range(count):
        late = i >= count - late_count
        if late:
            submit_at = window + rng.uniform(0.5, 3.0)
        elif rng.random() < burst_share:
            submit_at = rng.uniform(window - burst_seconds, window - 2.0)
        else:
            submit_at = rng.uniform(0.1 * window, window - burst_seconds)
        times = sorted(rng.uniform(0.0, max(0.1, submit_at - 0.5)) for _ in range(saves))
        result.append(Plan(tuple(times), submit_at, late))
    return result


def _wait_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _act(client: Client, i: int, application_id: int, plan: Plan, start: float,
         latencies: list[float], lock: threading.Lock, retry_for: float) -> Outcome:
    outcome = Outcome(application_id, plan.late)
    base = f"/applicant/applications/{application_id}"
    keys = list(_section_data(i))
    data = _section_data(i)

    def call(method: str, path: str, form: dict[str, Any] | None = None) -> Reply:
        reply = client.request(method, path, form)
        with lock:
            latencies.append(reply.seconds)
        outcome.statuses.append(reply.status)
        if reply.status == 503 and not reply.retry_after:
            outcome.unexpected.append(f"{method} {path}: 503 without Retry-After")
        return reply

    def retrying(method: str, path: str, form: dict[str, Any] | None,
                 done: Callable[[Reply], bool]) -> Reply:
        """Try again on a 503 or a dropped connection for up to `retry_for` seconds."""
        limit = time.monotonic() + retry_for
        while True:
            reply = call(method, path, form)
            if done(reply) or reply.status not in (0, 503) or time.monotonic() > limit:
                return reply
            time.sleep(0.5)

    for n, moment in enumerate(plan.saves):
        _wait_until(start + moment)
        key = keys[n % len(keys)]
        page = retrying("GET", f"{base}/sections/{key}", None, lambda r: r.status == 200)
        if page.status != 200:
            outcome.unexpected.append(f"GET section {key}: {page.status} {page.error}")
            continue
        version = VERSION.search(page.text)
        form = {**data[key], "csrf_token": _token(page.text),
                "version": version.group(1) if version else ""}
        saved = retrying("POST", f"{base}/sections/{key}", form, lambda r: r.status == 302)
        if saved.status == 302:
            outcome.saves_ok += 1
            outcome.saved_at.append(time.monotonic() - start)
        else:
            outcome.unexpected.append(f"POST section {key}: {saved.status} {saved.error}")

    _wait_until(start + plan.submit_at)
    outcome.submit_sent_at = time.monotonic() - start
    limit = time.monotonic() + retry_for
    while True:
        outcome.attempts += 1
        reply = call("POST", f"{base}/submit", {"csrf_token": client.csrf})  # type: ignore[attr-defined]
        if reply.status == 302 and reply.location.endswith("/receipt"):
            outcome.acknowledged = True
            break
        if reply.status == 409 and outcome.attempts > 1:
            # A retry refused because an earlier attempt did commit before its answer
            # was lost: the receipt page says whether the application is submitted.
            receipt = call("GET", f"{base}/receipt")
            if receipt.status == 200:
                outcome.acknowledged = True
                break
        if reply.status == 409:
            outcome.refused = True
            outcome.refused_clearly = any(t in reply.text for t in REFUSAL_TEXTS)
            break
        if reply.status in (0, 503) and time.monotonic() < limit:
            time.sleep(0.5)
            continue
        outcome.unexpected.append(f"POST submit: {reply.status} {reply.error}")
        break
    return outcome


def surge(clients: list[Client], drafts: list[int], schedule: list[Plan], *,
          retry_for: float = 0.0, during: Callable[[float], None] | None = None
          ) -> tuple[list[Outcome], list[float], float, float]:
    """Run the plans; `during(start)` runs alongside (e.g. to cause a fault).

    Returns the outcomes, every request's latency, the elapsed seconds and the
    monotonic start.
    """
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    fault = None
    if during is not None:
        fault = threading.Thread(target=during, args=(start,), daemon=True)
        fault.start()
    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [
            pool.submit(_act, clients[i], i, drafts[i], schedule[i], start, latencies, lock,
                        retry_for)
            for i in range(len(clients))
        ]
        outcomes = [future.result() for future in futures]
    elapsed = time.monotonic() - start
    if fault is not None:
        fault.join()
    return outcomes, latencies, elapsed, start


# ------------------------------------------------------------------ the database's account


@dataclass(frozen=True)
class Stored:
    """Per application: submissions, receipts (most copies of the submit notice one member
    got), state."""

    submissions: dict[int, int]
    receipts: dict[int, int]
    states: dict[int, str]
    references: dict[int, str | None]
    latest_submitted_at: datetime | None

    def half_written(self) -> list[int]:
        """Applications neither a clean draft nor fully submitted."""
        wrong = []
        for app_id, state in self.states.items():
            parts = (self.submissions.get(app_id, 0), self.receipts.get(app_id, 0),
                     self.references.get(app_id) is not None)
            expected = {"draft": (0, 0, False), "submitted": (1, 1, True)}.get(state)
            if parts != expected:
                wrong.append(app_id)
        return wrong


def verify(database_url: str) -> Stored:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            submissions = dict(connection.execute(text(
                "SELECT application_id, count(*) FROM submissions GROUP BY application_id"
            )).all())
            # Every member (the submitter included) gets the receipt mail: per application,
            # the most copies any one of them got (1 when each got exactly one).
            receipts = dict(connection.execute(text(
                "SELECT object_id, max(copies) FROM (SELECT object_id, recipient_id, "
                "count(*) AS copies FROM outbox_messages WHERE object_type = 'applications' "
                "AND kind LIKE :kind GROUP BY object_id, recipient_id) AS per_member "
                "GROUP BY object_id"
            ), {"kind": RECEIPT_KIND}).all())
            rows = connection.execute(text("SELECT id, state, reference FROM applications")).all()
            latest = connection.scalar(text("SELECT max(submitted_at) FROM submissions"))
    finally:
        engine.dispose()
    return Stored(
        submissions=submissions, receipts=receipts,
        states={row.id: row.state for row in rows},
        references={row.id: row.reference for row in rows},
        latest_submitted_at=latest,
    )


def deadline_after(seconds: float) -> datetime:
    from grants.clock import now

    return now() + timedelta(seconds=seconds)


def report_errors(outcomes: list[Outcome], server: Server | None, limit: int = 10) -> None:
    unexpected = [line for o in outcomes for line in o.unexpected]
    for line in unexpected[:limit]:
        note(f"unexpected: {line}")
    if unexpected and server is not None:
        lines = server.log_path.read_text(errors="replace").splitlines()
        starts = [n for n, line in enumerate(lines) if line.startswith("Traceback")]
        if starts:  # the last failure in full, not the 503 warnings that may follow it
            note("gunicorn's last traceback:\n" + "\n".join(lines[starts[-1] - 2:starts[-1] + 60]))
        else:
            note("gunicorn's log ends with:\n" + server.tail())
