"""Dashboard: the programme dashboard and the application list over 100,000 applications.

A scratch PostgreSQL database is bulk loaded (COPY) with 100,000 applications of
two calls (two lots each), from 2,000 organisations, each application naming
countries, dialogues and JVAP domains, with 300,000 evaluations (three submitted
assignments each) and grants with payments for the awarded ones. A manager then
requests, through the application (test client, logged in), the dashboard, the
first page of the application list and a deep one (the page after the row at
90% of the list, by its keyset cursor), and the last page: p95 latency and SQL
statements per request. The statement counts are also taken with a tenth of the
data loaded, to show they do not grow with it. The dashboard keeps its figures
until something is audited (at most a minute); `dashboard_recomputed_*` is the
same page computed on every request, what the first request after a change costs.
Targets: p95 at most 150 ms for every page, and the same statement counts at both sizes.
`--quick`: 5,000 applications, fewer requests.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text

from .common import Figure, flag, make_app, note, percentile, scratch_postgres

TARGET_P95_MS = 150.0
FULL_SIZE = 100_000
QUICK_SIZE = 5_000
EVALUATIONS = 3
ORGANISATIONS = 2_000
REQUESTS = 30
QUICK_REQUESTS = 5
WARM_UPS = 2
PASSWORD = "benchmark-password"

STATES = (
    ("draft", 4), ("submitted", 10), ("admin_rejected", 4), ("in_evaluation", 14),
    ("rejected", 22), ("invited", 6), ("fa_submitted", 4), ("fa_in_evaluation", 8),
    ("reserve", 6), ("provisionally_selected", 4), ("awarded", 14), ("withdrawn", 4),
)
DECIDED_STATES = ("admin_rejected", "rejected", "invited", "lapsed", "reserve",
                  "provisionally_selected", "awarded", "ineligible")
COUNTRIES = ("SN", "ML", "NE", "MA", "TN", "NG", "GH", "CI", "ET", "SD", "FR", "ES", "IT", "DE")
DIALOGUES = ("rabat", "khartoum", "c2cmmd")


# --------------------------------------------------------------------------
# Bulk loading (shared with the lists benchmark)
# --------------------------------------------------------------------------


def build_programme(count: int, *, first_id: int = 1, seed: int = 100_000) -> dict[str, Any]:
    """Load `count` applications (ids from `first_id`) with their evaluations and grants.

    The first call creates the reference data, the users, organisations and calls;
    later calls (first_id > 1) add applications only. Returns the ids a caller needs.
    """
    from grants.extensions import db
    from grants.models import Call, Lot, Organisation, StaffRole, User
    from grants.services.accounts import hash_password
    from grants.services.grids import build_grid
    from grants.services.reference_data import load_reference_data

    session = db.session
    t0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    if first_id == 1:
        load_reference_data()
        password_hash = hash_password(PASSWORD)
        users = [{"id": 1, "email": "manager@bench.example.org", "name": "Manager",
                  "password_hash": password_hash, "language": "en", "active": True,
                  "email_verified_at": t0}]
        users += [{"id": 2 + e, "email": f"evaluator{e}@bench.example.org",
                   "name": f"Evaluator {e}", "password_hash": password_hash, "language": "en",
                   "active": True, "email_verified_at": t0} for e in range(EVALUATIONS)]
        session.execute(insert(User), users)
        session.execute(insert(StaffRole), [{"user_id": 1, "role": "programme_manager"}]
                        + [{"user_id": 2 + e, "role": "evaluator"} for e in range(EVALUATIONS)])
        session.execute(insert(Organisation), [
            {"id": 1 + i, "name": f"Organisation {i} for {('safe', 'fair', 'legal')[i % 3]} "
             f"migration", "org_type": ("cso", "local_authority", "diaspora")[i % 3],
             "country_iso2": COUNTRIES[i % len(COUNTRIES)], "registration_number": f"REG-{i:05d}"}
            for i in range(ORGANISATIONS)
        ])
        for n in range(2):
            call = Call(code=f"BENCH{n + 1}", year=2027, title=f"Benchmark call {n + 1}",
                        workflow="application_two_stage", state="evaluation",
                        budget=Decimal("50000000.00"), grant_min=Decimal("50000.00"),
                        grant_max=Decimal("200000.00"), duration_min_months=6,
                        duration_max_months=24, deadline_at=t0 - timedelta(days=60),
                        full_deadline_at=t0 - timedelta(days=20),
                        published_at=t0 - timedelta(days=120))
            call.lots = [Lot(code=f"L{k + 1}", title=f"Lot {k + 1}",
                             budget=Decimal("25000000.00")) for k in range(2)]
            build_grid(call, "concept_note")
            build_grid(call, "full_application")
            session.add(call)
        session.commit()
    calls = [(c.id, [lot.id for lot in c.lots]) for c in session.scalars(
        db.select(Call).order_by(Call.id))]
    rng = random.Random(seed + first_id)
    states = [s for s, weight in STATES for _ in range(weight)]
    tables: dict[str, list[dict[str, Any]]] = {
        "applications": [], "assignments": [], "application_countries": [],
        "application_dialogues": [], "application_jvap_domains": [], "grants": [],
        "payments": [],
    }
    for app_id in range(first_id, first_id + count):
        state = states[app_id % len(states)]
        call_id, lots = calls[app_id % len(calls)]
        requested = Decimal(rng.randrange(50, 201) * 1000)
        submitted = t0 - timedelta(days=70, minutes=app_id)
        tables["applications"].append({
            "id": app_id, "call_id": call_id, "lot_id": lots[app_id % 2],
            "organisation_id": 1 + app_id % ORGANISATIONS,
            "reference": None if state == "draft" else f"MMD-2027-B{call_id}-{app_id:06d}",
            "title": f"Action {app_id} for {('safe', 'fair', 'legal')[app_id % 3]} migration "
                     f"in {COUNTRIES[app_id % len(COUNTRIES)]}",
            "language": "en", "requested_amount": requested, "total_cost": requested,
            "duration_months": 12, "created_by_id": 1, "created_at": submitted,
            "updated_at": submitted, "state": state, "version": 1,
            "submitted_at": None if state == "draft" else submitted,
            "decision_reason": "Missing documents" if state == "admin_rejected" else None,
            "decided_at": submitted + timedelta(days=30) if state in DECIDED_STATES else None,
        })
        for iso in rng.sample(COUNTRIES[:10], 2):
            tables["application_countries"].append({"application_id": app_id, "country_iso2": iso})
        for code in rng.sample(DIALOGUES, rng.randint(1, 2)):
            tables["application_dialogues"].append(
                {"application_id": app_id, "dialogue_code": code})
        for k, number in enumerate(rng.sample((1, 2, 3, 4, 5), 2)):
            tables["application_jvap_domains"].append(
                {"application_id": app_id, "domain_number": number, "is_primary": k == 0})
        if state != "draft":
            for e in range(EVALUATIONS):
                tables["assignments"].append({
                    "application_id": app_id, "evaluator_id": 2 + e, "stage": "concept_note",
                    "state": "submitted", "assigned_at": submitted + timedelta(days=5),
                    "submitted_at": submitted + timedelta(days=10),
                    "total": Decimal(rng.randrange(20, 50)), "version": 1,
                })
        if state == "awarded":
            tables["grants"].append({
                "id": app_id, "application_id": app_id, "number": f"MMD-G-{app_id:06d}",
                "amount": requested, "currency": "EUR", "funding_rate": Decimal("1"),
                "start_date": date(2027, 6, 1), "end_date": date(2028, 5, 31),
                "awarded_at": t0, "signed_at": t0 + timedelta(days=10), "state": "active",
                "version": 1,
            })
            tables["payments"] += [
                {"grant_id": app_id, "sequence": 1, "kind": "prefinancing", "trigger": "signature",
                 "planned_amount": requested * Decimal("0.8"), "amount": requested * Decimal("0.8"),
                 "state": "paid", "paid_at": t0 + timedelta(days=20), "version": 1},
                {"grant_id": app_id, "sequence": 2, "kind": "balance", "trigger": "final_report",
                 "planned_amount": requested * Decimal("0.2"), "amount": None,
                 "state": "planned", "paid_at": None, "version": 1},
            ]
    _bulk_insert(tables)
    return {"manager_email": "manager@bench.example.org", "password": PASSWORD}


def _bulk_insert(tables: dict[str, list[dict[str, Any]]]) -> None:
    """COPY on PostgreSQL; executemany in batches elsewhere."""
    from grants.extensions import db

    metadata = db.metadata
    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for name, rows in tables.items():
                if not rows:
                    continue
                columns = list(rows[0])
                with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
        return
    for name, rows in tables.items():
        table = metadata.tables[name]
        for start in range(0, len(rows), 5_000):
            db.session.execute(insert(table), rows[start:start + 5_000])
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


# --------------------------------------------------------------------------
# Measuring requests
# --------------------------------------------------------------------------


class Counter:
    """SQL statements sent while it listens."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.count = 0

    def __call__(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> Counter:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


def logged_in_client(app: Any, email: str, password: str) -> Any:
    client = app.test_client()
    response = client.post("/account/login", data={"email": email, "password": password})
    if response.status_code != 302:
        raise RuntimeError(f"could not log in: {response.status_code}")
    return client


def measure(client: Any, engine: Any, url: str, requests: int,
            warm_ups: int = WARM_UPS) -> dict[str, float]:
    """Milliseconds per request (median, p95), statements and HTML bytes of one request.

    Called outside any application context, so each request has its own, as in production
    (the user is loaded again, nothing is left in a session between requests).
    """
    for _ in range(warm_ups):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code}")
    times = []
    size = 0
    with Counter(engine) as counter:
        client.get(url)
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        size = len(response.data)
    return {
        "median": statistics.median(times),
        "p95": percentile(times, 0.95),
        "queries": counter.count,
        "bytes": size,
    }


def deep_cursor(share: float) -> str:
    """The cursor of the row at `share` of the application list in its default order."""
    from grants.extensions import db
    from grants.services import lists

    spec = lists.APPLICATIONS
    total = lists.count(spec, lists.Query())
    key = spec.sorts[spec.default_sort].expression()
    row = db.session.execute(
        spec.joins(db.select(spec.model.id, key))
        .order_by(key.desc(), spec.model.id.desc())
        .offset(int(total * share)).limit(1)
    ).one()
    db.session.rollback()
    return lists.encode_cursor(row[1], row[0])


def pages(deep: str) -> dict[str, str]:
    return {
        "dashboard": "/dashboard/",
        "list_first": "/dashboard/lists/applications",
        "list_deep": f"/dashboard/lists/applications?after={deep}",
        "list_last": "/dashboard/lists/applications?last=1",
    }


def run(quick: bool) -> Iterator[Figure]:
    size = QUICK_SIZE if quick else FULL_SIZE
    requests = QUICK_REQUESTS if quick else REQUESTS
    yield Figure("applications", size, "count")
    yield Figure("evaluations_max", size * EVALUATIONS, "count")
    yield Figure("target_p95_ms_max", TARGET_P95_MS, "ms")
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder, \
            scratch_postgres(f"bench_dashboard_{os.getpid()}") as url:
        yield flag("postgresql_available", url is not None)
        if url is None:
            return
        yield from _run(url, Path(folder), size, requests)


def _run(url: str, folder: Path, size: int, requests: int) -> Iterator[Figure]:
    from grants.extensions import db

    app = make_app(url, folder)
    met = []
    try:
        with app.app_context():
            db.create_all()
            engine = db.engine
            tenth = size // 10
            started = time.perf_counter()
            login = build_programme(tenth)
            deep = deep_cursor(0.9)
        client = logged_in_client(app, login["manager_email"], login["password"])
        small = {name: measure(client, engine, page, 1, warm_ups=1)["queries"]
                 for name, page in pages(deep).items()}
        with app.app_context():
            build_programme(size - tenth, first_id=tenth + 1)
            note(f"{size} applications loaded in {time.perf_counter() - started:.1f} s")
            evaluations = db.session.scalar(text("SELECT count(*) FROM assignments"))
            deep = deep_cursor(0.9)
            db.session.remove()
        yield Figure("evaluations", evaluations, "count")
        for name, page in pages(deep).items():
            figures = measure(client, engine, page, requests)
            same = figures["queries"] == small[name]
            ok = figures["p95"] <= TARGET_P95_MS and same
            met.append(ok)
            yield Figure(f"{name}_p95_ms", figures["p95"], "ms")
            yield Figure(f"{name}_median_ms", figures["median"], "ms")
            yield Figure(f"{name}_queries", figures["queries"], "count")
            yield Figure(f"{name}_queries_at_tenth", small[name], "count")
            yield flag(f"{name}_target_met", ok)
        # The same dashboard computed on every request (its figures not kept): what the
        # first request after a change costs.
        app.config["DASHBOARD_CACHE_SECONDS"] = 0
        cold = measure(client, engine, "/dashboard/", max(3, requests // 3), warm_ups=1)
        yield Figure("dashboard_recomputed_p95_ms", cold["p95"], "ms")
        yield Figure("dashboard_recomputed_median_ms", cold["median"], "ms")
        yield Figure("dashboard_recomputed_queries", cold["queries"], "count")
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    yield flag("target_met", all(met))
