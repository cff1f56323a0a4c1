"""Applicant portal: page weight on first load, and many applicants at once against gunicorn.

Page weight: every applicant page (public calls, accounts, the dashboard, each
section of the form, attachments, preview, receipt) is rendered by the
application, and the bytes a first visit transfers are added up: the HTML
plus every stylesheet and script it links and every font those stylesheets
load. Applicants often work on slow connections: the target is at most
150 KB a page. The gzip size (what a compressing proxy would send) is shown
beside the largest page.

Load: gunicorn serves the application on a free loopback port against a
scratch PostgreSQL database created and dropped here. 200 applicants (5 with
--quick), each in a thread with its own cookies, log in, start an application,
open and save every concept-note section (reading the CSRF token and the
section's version from the page, as a browser does), preview and submit.
Figures: requests per second, p50 and p95 latency, errors (any unexpected
answer; the target is 0), and a check that every applicant's submission is in
the database exactly once. Everything is bounded: one timeout per request and
a deadline for the whole run.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from .common import Figure, flag, make_app, note, per_second, percentile, scratch_postgres

ROOT = Path(__file__).resolve().parent.parent
TARGET_PAGE_BYTES = 150 * 1024
APPLICANTS = 200
QUICK_APPLICANTS = 5
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 8
REQUEST_TIMEOUT = 60.0
RUN_DEADLINE = 420.0
QUICK_RUN_DEADLINE = 60.0
PASSWORD = "benchmark passphrase"
SECTIONS = ("summary", "domains", "countries", "partners", "description")
ASSET = re.compile(r"""<(?:link[^>]+href|script[^>]+src)="(/static/[^"?]+)""")
CSS_URL = re.compile(r"""url\(\s*['"]?(/static/[^'")?]+|[^'")?:]+\.(?:woff2?|ttf|otf))""")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'id="version" name="version" type="hidden" value="(\d*)"')


def run(quick: bool) -> Iterator[Figure]:
    started = time.perf_counter()
    yield from _page_weight()
    note(f"page weight measured in {time.perf_counter() - started:.1f} s")
    yield from _load(QUICK_APPLICANTS if quick else APPLICANTS, quick)


# ------------------------------------------------------------------ seeding


def _seed(count: int, password_hash: str) -> dict[str, Any]:
    """An open two-stage call, `count` organisations each with its owner; ids for the pages."""
    from sqlalchemy import insert, select

    from grants.clock import now
    from grants.extensions import db
    from grants.models import Call, Dialogue, JvapDomain, Membership, Organisation, User
    from grants.rules.eligibility import CallRules
    from grants.services.eligibility import rules_json
    from grants.services.grids import build_grid
    from grants.services.reference_data import load_reference_data

    load_reference_data()
    session = db.session
    rules = CallRules(**{**CallRules.mmd_second_call().__dict__, "mandatory_attachments": ()})
    moment = now()
    call = Call(
        code="BENCH", year=moment.year, title="Benchmark call for proposals",
        summary="Grants for civil-society organisations.", objectives="Safer migration.",
        workflow="application_two_stage", currency="EUR", budget=Decimal("30000000.00"),
        grant_min=rules.grant_min, grant_max=rules.grant_max,
        max_funding_rate=rules.max_funding_rate, duration_min_months=6, duration_max_months=6,
        eligibility_rules=rules_json(rules), time_zone="Europe/Brussels",
        opens_at=moment - timedelta(days=10), deadline_at=moment + timedelta(days=30),
        full_deadline_at=moment + timedelta(days=75), state="open",
        published_at=moment - timedelta(days=10),
    )
    build_grid(call, "concept_note")
    build_grid(call, "full_application")
    call.jvap_domains = list(session.scalars(select(JvapDomain)))
    call.dialogues = list(session.scalars(select(Dialogue)))
    session.add(call)
    session.flush()
    session.execute(insert(User), [
        {"id": 1 + i, "email": f"applicant{i}@bench.example.org", "name": f"Applicant {i}",
         "password_hash": password_hash, "language": "fr" if i % 2 else "en",
         "email_verified_at": moment} for i in range(count)
    ])
    session.execute(insert(Organisation), [
        {"id": 1 + i, "name": f"Organisation {i}", "org_type": "cso", "country_iso2": "SN",
         "registration_number": f"SN-{i:05d}", "address": "Dakar"} for i in range(count)
    ])
    session.execute(insert(Membership), [
        {"user_id": 1 + i, "organisation_id": 1 + i, "role": "owner"} for i in range(count)
    ])
    session.commit()
    return {"call_code": call.code, "call_id": call.id}


# ------------------------------------------------------------------ page weight


def _page_weight() -> Iterator[Figure]:
    from werkzeug.security import generate_password_hash

    with tempfile.TemporaryDirectory(prefix="bench-applicant-pages-") as folder:
        app = make_app(f"sqlite:///{Path(folder) / 'pages.sqlite3'}", Path(folder))
        with app.app_context():
            from grants.extensions import db

            db.create_all()
            seeded = _seed(1, generate_password_hash(PASSWORD, method="scrypt"))
            db.session.remove()
        client = app.test_client()
        code = seeded["call_code"]
        pages: dict[str, str] = {
            "calls": "/",
            "call": f"/calls/{code}",
            "eligibility": f"/calls/{code}/eligibility",
            "register": "/account/register",
            "login": "/account/login",
        }
        sizes = {name: _first_load(client, url) for name, url in pages.items()}
        response = client.post(
            "/account/login", data={"email": "applicant0@bench.example.org", "password": PASSWORD}
        )
        assert response.status_code == 302, response.status_code
        started = client.post(f"/applicant/calls/{code}/apply", data={"organisation_id": 1})
        application = started.headers["Location"].rsplit("/", 1)[1]
        base = f"/applicant/applications/{application}"
        _fill(client, base)
        sizes["dashboard"] = _first_load(client, "/applicant/")
        sizes["organisation"] = _first_load(client, "/applicant/organisations/1")
        sizes["overview"] = _first_load(client, base)
        for key in SECTIONS:
            sizes[f"section_{key}"] = _first_load(client, f"{base}/sections/{key}")
        sizes["attachments"] = _first_load(client, f"{base}/attachments")
        sizes["preview"] = _first_load(client, f"{base}/preview")
        submitted = client.post(f"{base}/submit", data={})
        assert submitted.status_code == 302, submitted.get_data(as_text=True)[:500]
        sizes["receipt"] = _first_load(client, f"{base}/receipt")

    for name, (raw, _zipped) in sizes.items():
        yield Figure(f"page_bytes_{name}", raw, "bytes")
    largest = max(sizes, key=lambda n: sizes[n][0])
    note(f"largest first load: {largest}, {sizes[largest][0]} bytes")
    yield Figure("page_bytes_max", sizes[largest][0], "bytes")
    yield Figure("page_bytes_max_gzip", max(z for _r, z in sizes.values()), "bytes")
    yield Figure("page_bytes_target", TARGET_PAGE_BYTES, "bytes")
    yield flag("target_met_page_bytes", sizes[largest][0] <= TARGET_PAGE_BYTES)


def _fill(client: Any, base: str) -> None:
    """Fill every concept-note section through the forms, so the pages show real content."""
    for key, data in _section_data(0).items():
        response = client.post(f"{base}/sections/{key}", data=data)
        assert response.status_code in (200, 302), (key, response.status_code)


def _first_load(client: Any, url: str) -> tuple[int, int]:
    """Bytes of a first visit: the page, its stylesheets and scripts, their fonts."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    html = response.get_data()
    raw, zipped = len(html), len(gzip.compress(html))
    seen: set[str] = set()
    for asset in ASSET.findall(html.decode()):
        if asset in seen:
            continue
        seen.add(asset)
        body = _static(client, asset)
        raw, zipped = raw + len(body), zipped + len(gzip.compress(body))
        if asset.endswith(".css"):
            for font in CSS_URL.findall(body.decode()):
                target = urllib.parse.urljoin(asset, font)
                if target not in seen:
                    seen.add(target)
                    data = _static(client, target)
                    raw, zipped = raw + len(data), zipped + len(gzip.compress(data))
    return raw, zipped


def _static(client: Any, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    data: bytes = response.get_data()
    response.close()
    return data


# ------------------------------------------------------------------ load


def _section_data(i: int) -> dict[str, dict[str, Any]]:
    return {
        "summary": {
            "title": f"Safe migration information, action {i}",
            "text": "Information centres on safe and regular migration. " * 5,
            "requested_amount": "120000", "total_cost": "130000", "duration_months": "6",
        },
        "domains": {"primary": "1", "secondary": ["3"], "dialogues": ["rabat"]},
        "countries": {"countries": ["SN", "ML"]},
        "partners": {},
        "description": {
            "text": "Two centres inform young people on the legal routes. " * 20,
            "target_groups": "Young people aged 18 to 30.",
            "sustainability": "The municipalities keep the centres open.",
        },
    }


class Browser:
    """One applicant's connection and cookies; every request timed and checked."""

    def __init__(
        self, port: int, latencies: list[tuple[str, float]], errors: list[str]
    ) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.latencies = latencies
        self.errors = errors
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)

    def request(self, method: str, path: str, form: dict[str, Any] | None = None,
                expect: tuple[int, ...] = (200,),
                kind: str = "page") -> tuple[int, dict[str, str], str]:
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
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
            self.errors.append(f"{method} {path}: {exc!r}")
            raise
        self.latencies.append((kind, time.perf_counter() - started))
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        answer = {k.lower(): v for k, v in response.getheaders()}
        if response.status not in expect:
            self.errors.append(f"{method} {path}: {response.status}")
            raise RuntimeError(f"{method} {path}: {response.status}")
        return response.status, answer, text

    def close(self) -> None:
        self.connection.close()


def _token(page: str) -> str:
    found = CSRF.search(page)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1) or found.group(2)


def _applicant(port: int, i: int, call_code: str, latencies: list[tuple[str, float]],
               errors: list[str], deadline: float) -> None:
    browser = Browser(port, latencies, errors)
    try:
        _status, _h, page = browser.request("GET", "/account/login")
        browser.request("POST", "/account/login", {
            "csrf_token": _token(page), "email": f"applicant{i}@bench.example.org",
            "password": PASSWORD,
        }, expect=(302,), kind="login")
        _status, _h, page = browser.request("GET", f"/applicant/calls/{call_code}/apply")
        _status, headers, _t = browser.request("POST", f"/applicant/calls/{call_code}/apply", {
            "csrf_token": _token(page), "organisation_id": str(1 + i),
        }, expect=(302,))
        base = urllib.parse.urlsplit(headers["location"]).path
        for key, data in _section_data(i).items():
            if time.monotonic() > deadline:
                raise TimeoutError("the run's deadline passed")
            _status, _h, page = browser.request("GET", f"{base}/sections/{key}")
            version = VERSION.search(page)
            form = {**data, "csrf_token": _token(page),
                    "version": version.group(1) if version else ""}
            browser.request("POST", f"{base}/sections/{key}", form, expect=(302,), kind="save")
        _status, _h, page = browser.request("GET", f"{base}/preview")
        browser.request(
            "POST", f"{base}/submit", {"csrf_token": _token(page)}, expect=(302,), kind="submit"
        )
        browser.request("GET", f"{base}/receipt")
    except Exception as exc:  # every failure is counted; none stops the run
        if not errors or not errors[-1].startswith(("GET", "POST")):
            errors.append(f"applicant {i}: {exc!r}")
    finally:
        browser.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes], seconds: float) -> None:
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("gunicorn did not start")


def _warm_up(port: int, requests: int) -> None:
    """Load the application in every worker before timing (gunicorn imports it lazily)."""
    for _ in range(requests):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request("GET", "/account/login")
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"warm-up answered {response.status}")
        finally:
            connection.close()


def _load(count: int, quick: bool) -> Iterator[Figure]:
    from werkzeug.security import generate_password_hash

    with tempfile.TemporaryDirectory(prefix="bench-applicant-load-") as folder, \
            scratch_postgres(f"bench_applicant_{os.getpid()}") as url:
        if url is None:
            note("no PostgreSQL server: the load part is skipped")
            return
        app = make_app(url, Path(folder))
        with app.app_context():
            from grants.extensions import db

            db.create_all()
            seeded = _seed(count, generate_password_hash(PASSWORD, method="scrypt"))
            db.session.remove()
            db.engine.dispose()
        note(f"scratch database ready with {count} applicants")

        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "GRANTS_ENV": "development",
            "SECRET_KEY": "benchmark-secret-key",
            "MAIL_FOLDER": str(Path(folder) / "mail"),
            "UPLOAD_FOLDER": str(Path(folder) / "uploads"),
            "REDIS_URL": "",
        }
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        log = (Path(folder) / "gunicorn.log").open("wb")
        server = subprocess.Popen(
            [gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", str(GUNICORN_WORKERS),
             "--threads", str(GUNICORN_THREADS), "--worker-class", "gthread",
             "--timeout", "120", "--chdir", str(ROOT), "wsgi:app"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        try:
            _wait_for(port, server, 60)
            _warm_up(port, GUNICORN_WORKERS * 4)
            note(f"gunicorn ready on port {port}")
            latencies: list[tuple[str, float]] = []
            errors: list[str] = []
            deadline = time.monotonic() + (QUICK_RUN_DEADLINE if quick else RUN_DEADLINE)
            threads = [
                threading.Thread(
                    target=_applicant,
                    args=(port, i, seeded["call_code"], latencies, errors, deadline),
                    daemon=True,
                )
                for i in range(count)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT)
            elapsed = time.perf_counter() - started
            stuck = sum(thread.is_alive() for thread in threads)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
        if stuck:
            errors.append(f"{stuck} applicants still running at the deadline")
        for line in errors[:10]:
            note(f"error: {line}")
        if errors:
            tail = (Path(folder) / "gunicorn.log").read_text(errors="replace").splitlines()[-30:]
            note("gunicorn's log ends with:\n" + "\n".join(tail))

        with app.app_context():
            from sqlalchemy import func, select

            from grants.extensions import db
            from grants.models import Application, Submission

            per_application = dict(db.session.execute(
                select(Application.organisation_id, func.count(Submission.id))
                .join(Submission, Submission.application_id == Application.id)
                .group_by(Application.organisation_id)
            ).all())
            submitted = db.session.scalar(
                select(func.count()).select_from(Application)
                .where(Application.state == "submitted")
            )
            db.session.remove()
            db.engine.dispose()
        exactly_once = (
            len(per_application) == count
            and all(n == 1 for n in per_application.values())
            and submitted == count
        )
    note(f"{count} applicants, {len(latencies)} requests in {elapsed:.1f} s, "
         f"gunicorn {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads")
    yield Figure("load_applicants", count, "count")
    yield Figure("load_requests", len(latencies), "count")
    yield Figure("load_requests_per_s", per_second(len(latencies), elapsed), "per_s")
    every = [seconds for _kind, seconds in latencies]
    if every:
        yield Figure("load_p50_ms", percentile(every, 0.50) * 1000, "ms")
        yield Figure("load_p95_ms", percentile(every, 0.95) * 1000, "ms")
    # Logging in checks a scrypt hash (deliberately slow): apart, it would hide the rest.
    for kind in ("login", "page", "save", "submit"):
        values = [seconds for k, seconds in latencies if k == kind]
        if values:
            yield Figure(f"load_{kind}_p50_ms", percentile(values, 0.50) * 1000, "ms")
            yield Figure(f"load_{kind}_p95_ms", percentile(values, 0.95) * 1000, "ms")
    yield Figure("load_errors", len(errors), "count")
    yield Figure("load_submissions", sum(per_application.values()), "count")
    yield flag("submissions_exactly_once", exactly_once)
    yield flag("target_met_load", not errors and exactly_once)
