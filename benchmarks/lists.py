"""Lists: the manager's pages over 10,000 applications, each timed against a trivial page.

10,000 applications, each with three evaluations (submitted assignments), are
bulk inserted (SQLite in a temporary folder, and PostgreSQL when reachable). A
logged-in manager requests, through the application (test client): the
application list's first and last pages, an application's page (with its
history), the dashboard, and a trivial logged-in page of the same app (the
notification list, empty) as the yardstick. For each: median and p95 of 20
requests after 2 warm-ups, SQL statements per request, HTML bytes; printed as
ratios to the trivial page.
Targets: every page within 20 times the trivial page (median), the last page as
fast as the first (within 1.5 times, plus a millisecond of noise), at most 10
statements per page, at most 60 KB of HTML for 50 rows.
`--quick`: 1,000 applications, 5 requests.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .common import Figure, flag, make_app, note, scratch_postgres
from .dashboard import build_programme, logged_in_client, measure

FULL_SIZE = 10_000
QUICK_SIZE = 1_000
REQUESTS = 20
QUICK_REQUESTS = 5
TARGET_RATIO = 20.0
TARGET_LAST_VS_FIRST = 1.5
TARGET_QUERIES = 10
TARGET_HTML_BYTES = 60 * 1024


def run(quick: bool) -> Iterator[Figure]:
    size = QUICK_SIZE if quick else FULL_SIZE
    requests = QUICK_REQUESTS if quick else REQUESTS
    yield Figure("applications", size, "count")
    yield Figure("target_ratio_max", TARGET_RATIO, "x")
    yield Figure("target_queries_max", TARGET_QUERIES, "count")
    yield Figure("target_html_bytes_max", TARGET_HTML_BYTES, "bytes")
    met: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="bench-lists-") as folder:
        url = f"sqlite:///{Path(folder) / 'lists.sqlite3'}"
        yield from _measure("sqlite", url, Path(folder) / "sqlite", size, requests, met)
        with scratch_postgres(f"bench_lists_{os.getpid()}") as pg_url:
            yield flag("postgresql_available", pg_url is not None)
            if pg_url is not None:
                yield from _measure("postgresql", pg_url, Path(folder) / "pg", size, requests,
                                    met)
    yield flag("target_met", all(met))


def _measure(backend: str, url: str, folder: Path, size: int, requests: int,
             met: list[bool]) -> Iterator[Figure]:
    from grants.extensions import db

    app = make_app(url, folder)
    # A benchmark's manager logs in with a password alone (no second factor to script).
    app.config["TWO_FACTOR_REQUIRED"] = False
    try:
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            login = build_programme(size, seed=10_000)
            note(f"{backend}: {size} applications loaded in {time.perf_counter() - started:.1f} s")
            engine = db.engine
            db.session.remove()
        client = logged_in_client(app, login["manager_email"], login["password"])
        urls = {
            "trivial": "/notifications/",
            "list_first": "/dashboard/lists/applications",
            "list_last": "/dashboard/lists/applications?last=1",
            "application": f"/dashboard/applications/{size // 2}",
            "dashboard": "/dashboard/",
        }
        results = {name: measure(client, engine, page, requests) for name, page in urls.items()}
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    trivial = results["trivial"]
    yield Figure(f"trivial_median_ms_{backend}", trivial["median"], "ms")
    yield Figure(f"trivial_p95_ms_{backend}", trivial["p95"], "ms")
    for name in ("list_first", "list_last", "application", "dashboard"):
        figures = results[name]
        ratio = figures["median"] / trivial["median"]
        ok = ratio <= TARGET_RATIO and figures["queries"] <= TARGET_QUERIES
        if name.startswith("list_"):
            ok = ok and figures["bytes"] <= TARGET_HTML_BYTES
        met.append(ok)
        yield Figure(f"{name}_median_ms_{backend}", figures["median"], "ms")
        yield Figure(f"{name}_p95_ms_{backend}", figures["p95"], "ms")
        yield Figure(f"{name}_vs_trivial_{backend}", ratio, "x")
        yield Figure(f"{name}_p95_vs_trivial_{backend}", figures["p95"] / trivial["p95"], "x")
        yield Figure(f"{name}_queries_{backend}", figures["queries"], "count")
        yield Figure(f"{name}_html_bytes_{backend}", figures["bytes"], "bytes")
        yield flag(f"{name}_target_met_{backend}", ok)
    first, last = results["list_first"]["median"], results["list_last"]["median"]
    even = last <= first * TARGET_LAST_VS_FIRST + 1.0
    met.append(even)
    yield Figure(f"last_vs_first_page_{backend}", last / first, "x")
    yield flag(f"last_page_as_fast_as_first_{backend}", even)
