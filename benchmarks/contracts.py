"""Contracts: render time and peak memory of a ten-page grant contract PDF.

A realistic but long contract (a full description, a logframe of several
objectives, a detailed work plan and budget) is rendered repeatedly after a
warm-up; the figures are the fastest, median and slowest render. Peak memory
is measured in a fresh subprocess, so nothing the parent did counts: a
process that starts the application, loads the grant and renders the
contract once.

Targets: one render in at most 1 s (the median), a resident set of at most
150 MB while rendering (the high-water mark is reset just before the render,
where Linux allows it; the whole process's peak, start-up included, is shown
beside it).

Then 200 contracts (20 with --quick) are rendered by two rq workers, each
job rendering one contract by id (grants.jobs.documents) and writing its file:
the total time from enqueueing to the last file, on PostgreSQL when a server
is reachable (else SQLite), with Redis at BENCHMARK_REDIS_URL (default
redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from .common import Figure, flag, make_app, note, per_second, profiled, scratch_postgres

TARGET_SECONDS = 1.0
BATCH = 200
QUICK_BATCH = 20
WORKERS = 2
REDIS_URL_VARIABLE = "BENCHMARK_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
ROOT = Path(__file__).resolve().parent.parent
TARGET_PEAK_MB = 150.0
PAGES_WANTED = 10
CHILD_FLAG = "--child"


def run(quick: bool) -> Iterator[Figure]:
    renders = 3 if quick else 10
    with tempfile.TemporaryDirectory(prefix="bench-contracts-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        app = make_app(url, Path(folder))
        with app.app_context():
            from grants.extensions import db

            db.create_all()
            [grant_id] = _build()
            times, pages, size, traced_peak = _render_times(grant_id, renders)
            db.session.remove()
            db.engine.dispose()
        child = _peak_in_subprocess(url, folder)

    best, median, worst = min(times), statistics.median(times), max(times)
    yield Figure("target_render_max_s", TARGET_SECONDS, "s")
    yield Figure("target_peak_rss_max_mb", TARGET_PEAK_MB, "mb")
    yield Figure("contract_pages", pages, "count")
    yield Figure("contract_bytes", size, "bytes")
    yield Figure("renders", len(times), "count")
    yield Figure("render_min_s", best, "s")
    yield Figure("render_median_s", median, "s")
    yield Figure("render_max_s", worst, "s")
    yield Figure("render_python_peak_mb", traced_peak / 2**20, "mb")
    render_peak = child["render_peak_kb"] / 1024
    yield Figure("process_rss_before_render_mb", child["before_kb"] / 1024, "mb")
    yield Figure("render_peak_rss_mb", render_peak, "mb")
    yield Figure("render_added_rss_mb", (child["render_peak_kb"] - child["before_kb"]) / 1024, "mb")
    yield Figure("process_peak_rss_mb", child["process_peak_kb"] / 1024, "mb")
    met = median <= TARGET_SECONDS and render_peak <= TARGET_PEAK_MB
    yield flag("target_met", met and pages >= PAGES_WANTED)
    yield from _batch(QUICK_BATCH if quick else BATCH)


def _batch(count: int) -> Iterator[Figure]:
    """`count` contracts rendered by WORKERS rq workers: total time, all files written."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown

    redis_url = os.environ.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL
    try:
        Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    except RedisDown as exc:
        note(f"Redis unreachable at {redis_url}, batch skipped: {exc}")
        yield flag("batch_skipped", True)
        return
    with (
        tempfile.TemporaryDirectory(prefix="bench-contracts-batch-") as folder,
        scratch_postgres(f"bench_contracts_{os.getpid()}") as pg_url,
    ):
        url = pg_url or f"sqlite:///{Path(folder) / 'batch.sqlite3'}"
        note(f"batch of {count} contracts on {'postgresql' if pg_url else 'sqlite'}")
        rendered, elapsed = _render_with_workers(url, redis_url, Path(folder), count)
    yield Figure("batch_contracts", count, "count")
    yield Figure("batch_workers", WORKERS, "count")
    yield Figure("batch_rendered", rendered, "count")
    yield Figure("batch_total_s", elapsed, "s")
    yield Figure("batch_contracts_per_s", per_second(rendered, elapsed), "count/s")
    yield flag("batch_all_rendered", rendered == count)


def _render_with_workers(url: str, redis_url: str, folder: Path, count: int) -> tuple[int, float]:
    from redis import Redis
    from sqlalchemy import func, select

    from grants.extensions import db
    from grants.jobs.documents import enqueue_contract_renders
    from grants.models import ContractVersion

    queue_name = f"bench-contracts-{os.getpid()}"
    instance = folder / "instance"
    app = make_app(url, folder)
    app.config.update(REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    redis = Redis.from_url(redis_url)
    try:
        with app.app_context():
            db.create_all()
            grant_ids = _build(count)
            started = time.perf_counter()
            enqueue_contract_renders(grant_ids)
            workers = [_start_worker(url, redis_url, queue_name, instance) for _ in range(WORKERS)]
            for worker in workers:
                if worker.wait(timeout=1800) != 0:
                    raise RuntimeError(f"worker exited with status {worker.returncode}")
            elapsed = time.perf_counter() - started
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            note(f"workers: {usage.ru_utime + usage.ru_stime:.1f} s of CPU together")
            db.session.expire_all()
            hashed = db.session.scalar(
                select(func.count())
                .select_from(ContractVersion)
                .where(ContractVersion.document_sha256.is_not(None))
            )
            files = len(list((instance / "contracts").glob("*.pdf")))
            note(f"{hashed} versions hashed, {files} files written")
            db.session.remove()
            db.engine.dispose()
    finally:
        redis.delete(*redis.keys(f"rq:*{queue_name}*") or ["-"])
        redis.close()
    return min(int(hashed or 0), files), elapsed


def _start_worker(
    url: str, redis_url: str, queue_name: str, instance: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
        "REDIS_URL": redis_url,
        "RQ_QUEUE": queue_name,
        "GRANTS_ENV": "testing",
        "SECRET_KEY": "benchmark-secret",
        "GRANTS_INSTANCE_PATH": str(instance),
        "FLASK_APP": "wsgi",
    }
    command = [sys.executable, "-m", "flask", "grants", "worker", "--burst", "--no-fork"]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _render_times(grant_id: int, renders: int) -> tuple[list[float], int, int, int]:
    from pypdf import PdfReader

    from grants.extensions import db
    from grants.models import Grant
    from grants.services.contracts import render_contract

    grant = db.session.get(Grant, grant_id)
    assert grant is not None
    document = render_contract(grant)  # warm-up: imports, template compilation, font parsing
    pages = len(PdfReader(io.BytesIO(document)).pages)
    note(f"contract of {pages} pages, {len(document)} bytes")
    times = []
    with profiled("render_contract"):
        for _ in range(renders):
            started = time.perf_counter()
            render_contract(grant)
            times.append(time.perf_counter() - started)
    # Python-level allocations of one render (the C libraries' memory shows in the RSS).
    tracemalloc.start()
    try:
        render_contract(grant)
        traced_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return times, pages, len(document), traced_peak


def _peak_in_subprocess(url: str, folder: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.contracts", CHILD_FLAG, url, folder],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _child(url: str, folder: str) -> None:
    """Load the grant, then render once; print the RSS before and the peaks (KiB)."""
    app = make_app(url, Path(folder))
    with app.app_context():
        from grants.extensions import db
        from grants.models import Grant
        from grants.services.contracts import render_contract

        grant = db.session.scalars(db.select(Grant)).one()
        _ = grant.application.organisation, grant.application.sections
        before_kb = _status_kb("VmRSS")
        # Start the high-water mark afresh (Linux), so the render's peak is not hidden
        # by a higher one reached while the application started.
        reset = _reset_peak()
        render_contract(grant)
        render_peak_kb = _status_kb("VmHWM") if reset else 0
        process_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "before_kb": before_kb,
                "render_peak_kb": render_peak_kb or process_peak_kb,
                "process_peak_kb": process_peak_kb,
            }
        )
    )


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------
# A long, realistic contract
# --------------------------------------------------------------------------

PARAGRAPH = (
    "The action strengthens the capacity of local authorities and civil-society "
    "organisations along the Central Mediterranean and Atlantic routes to provide "
    "reliable information on safe and regular migration, to refer migrants and returnees "
    "to protection and reintegration services, and to feed local evidence into the "
    "Rabat Process and the Continent-to-Continent dialogue. Activities combine "
    "information centres, outreach by trained community relays, coordination meetings "
    "with municipal services and a yearly exchange between partner cities."
)


def _build(count: int = 1) -> list[int]:
    """`count` awarded grants whose contracts run to about ten pages each; their ids."""
    from grants.models import (
        Call,
        Organisation,
        User,
    )
    from grants.services.reference_data import load_reference_data

    load_reference_data()
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    owner = User(
        email="owner@bench.example.org", name="Awa Diop", password_hash="not-a-hash", language="en"
    )
    org = Organisation(
        name="Association sénégalaise pour une migration sûre",
        acronym="ASMS",
        org_type="cso",
        country_iso2="SN",
        registration_number="SN-DKR-2019-B-4471",
        address="12 Avenue de l'Indépendance\nBP 4471, Dakar",
        contact_email="contact@asms.example.org",
    )
    call = Call(
        code="BENCH",
        year=2026,
        title="Benchmark call",
        workflow="application_single_stage",
        state="decided",
        budget=Decimal("5000000.00"),
        grant_min=Decimal("50000.00"),
        grant_max=Decimal("300000.00"),
        max_funding_rate=Decimal("0.90"),
        duration_min_months=6,
        duration_max_months=24,
        deadline_at=t0,
        opens_at=t0,
        published_at=t0,
        prefinancing_shares=["0.40", "0.30", "0.20"],
    )
    amount, total = Decimal("248750.00"), Decimal("276388.89")
    ids = []
    for n in range(1, count + 1):
        ids.append(_grant(n, call, org, owner, amount, total, t0))
    return ids


def _grant(seq: int, call, org, owner, amount, total, t0) -> int:  # type: ignore[no-untyped-def]
    from grants.extensions import db
    from grants.models import (
        Application,
        ApplicationJvapDomain,
        ApplicationSection,
        BudgetLine,
        ContractVersion,
        Country,
        Dialogue,
        Grant,
    )

    app = Application(
        call=call,
        organisation=org,
        created_by=owner,
        reference=f"MMD-2026-BENCH-{seq:04d}",
        title="Safe migration information centres and reintegration referral in Dakar, "
        "Saint-Louis, Bamako and Kayes",
        language="en",
        requested_amount=amount,
        total_cost=total,
        duration_months=24,
        state="awarded",
        submitted_at=t0,
        decided_at=t0,
    )
    app.countries = [db.session.get(Country, iso) for iso in ("SN", "ML", "GM", "MR")]
    app.dialogues = [db.session.get(Dialogue, code) for code in ("rabat", "c2cmmd")]
    app.jvap_links = [
        ApplicationJvapDomain(domain_number=1, is_primary=True),
        ApplicationJvapDomain(domain_number=3),
        ApplicationJvapDomain(domain_number=5),
    ]
    objectives = [
        {
            "objective": f"Specific objective {o}: {PARAGRAPH[:120]}",
            "results": [
                {
                    "result": f"Result {o}.{r}: information and referral services in place "
                    "and used by the target groups",
                    "indicators": [
                        {
                            "indicator": f"Indicator {o}.{r}.{i}: people reached, "
                            "disaggregated by sex, age and status",
                            "baseline": str(100 * i),
                            "target": str(1500 * i),
                        }
                        for i in range(1, 3)
                    ],
                }
                for r in range(1, 4)
            ],
        }
        for o in range(1, 4)
    ]
    app.sections = [
        ApplicationSection(key="summary", data={"text": "\n\n".join([PARAGRAPH] * 2)}),
        ApplicationSection(
            key="description",
            data={
                "text": "\n\n".join([PARAGRAPH] * 5),
                "target_groups": "Prospective migrants, returnees, families and local "
                "authorities of the partner cities.",
            },
        ),
        ApplicationSection(key="logframe", data={"objectives": objectives}),
        ApplicationSection(
            key="workplan",
            data={
                "activities": [
                    {"activity": f"Activity {n}: {PARAGRAPH[:90]}", "months": [n, n + 1, n + 2]}
                    for n in range(1, 21)
                ]
            },
        ),
    ]
    headings = ("human_resources", "travel", "equipment", "local_office", "other_services")
    lines = []
    remaining = total
    for n in range(30):
        cost = (total / 30).quantize(Decimal("0.01")) if n < 29 else remaining
        remaining -= cost
        lines.append(
            BudgetLine(
                heading=headings[n % len(headings)],
                description=f"Budget item {n + 1}: staff, travel or services for the action",
                unit="month",
                quantity=Decimal(1),
                unit_cost=cost,
                position=n,
            )
        )
    app.budget_lines = lines
    grant = Grant(
        application=app,
        number=f"MMD-2026-BENCH-G{seq:03d}",
        amount=amount,
        funding_rate=(amount / total).quantize(Decimal("0.0001")),
        start_date=date(2026, 3, 1),
        end_date=date(2028, 2, 29),
        awarded_at=t0,
        state="contract_preparation",
    )
    grant.contracts.append(ContractVersion(number=1, reason="Initial contract", created_at=t0))
    db.session.add(grant)
    db.session.commit()
    return grant.id


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == CHILD_FLAG:
    _child(sys.argv[2], sys.argv[3])
