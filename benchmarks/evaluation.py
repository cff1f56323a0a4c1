"""Evaluation: ranking and selection of 20,000 applications with 3 evaluations each.

The call is single-stage with the default full-application grid and five lots;
every application has three submitted evaluations and its final result (the mean),
bulk inserted. Measured: `grants.services.selection.build_proposal`, what the
manager's ranking screen and the confirmation run (candidates read in a fixed
number of queries, then ranked and selected by grants.rules.selection), on
SQLite and, when reachable, PostgreSQL. The same is measured with a tenth of the
applications to show that the number of SQL statements does not grow with them.
Target: under 2 s, and the same statement count at both sizes.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert

from .common import Figure, flag, make_app, note, profiled, scratch_postgres

TARGET_SECONDS = 2.0
FULL_SIZE = 20_000
QUICK_SIZE = 2_000
EVALUATIONS = 3
LOTS = 5
ORGANISATIONS = 50


def run(quick: bool) -> Iterator[Figure]:
    size = QUICK_SIZE if quick else FULL_SIZE
    met: list[bool] = []
    yield Figure("applications", size, "count")
    yield Figure("evaluations", size * EVALUATIONS, "count")
    yield Figure("target_seconds_max", TARGET_SECONDS, "s")
    with tempfile.TemporaryDirectory(prefix="bench-evaluation-") as folder:
        for n, count in enumerate((size // 10, size)):
            url = f"sqlite:///{Path(folder) / f'bench{n}.sqlite3'}"
            yield from _measure("sqlite", url, Path(folder) / f"sqlite{n}", count, size, met)
        with scratch_postgres(f"bench_evaluation_{os.getpid()}") as pg_url:
            yield flag("postgresql_available", pg_url is not None)
            if pg_url is not None:
                yield from _measure("postgresql", pg_url, Path(folder) / "pg", size // 10, size,
                                    met, reset=True)
                yield from _measure("postgresql", pg_url, Path(folder) / "pg", size, size, met,
                                    reset=True)
    yield flag("target_met", all(met))


_statements_small: dict[str, int] = {}


def _measure(backend: str, url: str, folder: Path, count: int, size: int, met: list[bool],
             reset: bool = False) -> Iterator[Figure]:
    from grants.extensions import db

    app = make_app(url, folder)
    with app.app_context():
        try:
            if reset:
                db.drop_all()
            db.create_all()
            started = time.perf_counter()
            call_id = _build(count)
            note(f"{backend}: {count} applications built in {time.perf_counter() - started:.1f} s")
            seconds, statements, selected, reserve, rejected = _rank(call_id)
        finally:
            db.session.remove()
            db.engine.dispose()
    if count < size:
        _statements_small[backend] = statements
        yield Figure(f"statements_{count}_applications_{backend}", statements, "count")
        return
    same = _statements_small.get(backend) == statements
    ok = seconds < TARGET_SECONDS and same and selected + reserve + rejected == count
    met.append(ok)
    yield Figure(f"ranking_selection_s_{backend}", seconds, "s")
    yield Figure(f"statements_{count}_applications_{backend}", statements, "count")
    yield Figure(f"selected_{backend}", selected, "count")
    yield Figure(f"reserve_{backend}", reserve, "count")
    yield Figure(f"rejected_{backend}", rejected, "count")
    yield flag(f"statements_constant_{backend}", same)
    yield flag(f"target_met_{backend}", ok)


def _rank(call_id: int) -> tuple[float, int, int, int, int]:
    """Time one proposal on a cold session, counting the statements it sends."""
    from grants.extensions import db
    from grants.models import Call
    from grants.services import selection

    count = 0

    def counter(*_args: Any) -> None:
        nonlocal count
        count += 1

    db.session.remove()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        started = time.perf_counter()
        with profiled("build_proposal"):
            call = db.session.get(Call, call_id)
            assert call is not None
            proposal = selection.build_proposal(call, "full_application")
        seconds = time.perf_counter() - started
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    summary = selection.summary(proposal)
    return seconds, count, summary["selected"], summary["reserve"], summary["rejected"]


def _build(count: int) -> int:
    """A call under evaluation with `count` scored applications, bulk inserted."""
    from grants.extensions import db
    from grants.models import (
        Application,
        Assignment,
        Call,
        EvaluationResult,
        Lot,
        Organisation,
        StaffRole,
        User,
    )
    from grants.services.grids import build_grid
    from grants.services.reference_data import load_reference_data

    load_reference_data()
    session = db.session
    rng = random.Random(20_000)
    t0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    users = [{"id": 1, "email": "manager@bench.example.org", "name": "Manager",
              "password_hash": "not-a-hash", "language": "en"}]
    users += [{"id": 2 + e, "email": f"evaluator{e}@bench.example.org", "name": f"Evaluator {e}",
               "password_hash": "not-a-hash", "language": "en"} for e in range(EVALUATIONS)]
    session.execute(insert(User), users)
    session.execute(insert(StaffRole), [{"user_id": 1, "role": "programme_manager"}]
                    + [{"user_id": 2 + e, "role": "evaluator"} for e in range(EVALUATIONS)])
    session.execute(insert(Organisation), [
        {"id": 1 + i, "name": f"Organisation {i}", "org_type": "cso", "country_iso2": "SN",
         "registration_number": f"REG-{i:04d}"} for i in range(ORGANISATIONS)
    ])
    budget = Decimal(count) * Decimal("40000.00")  # about a third of the requests fit
    call = Call(code="BENCH", year=2027, title="Benchmark call",
                workflow="application_single_stage",
                state="evaluation", budget=budget, grant_min=Decimal("50000.00"),
                grant_max=Decimal("200000.00"), duration_min_months=6, duration_max_months=24,
                deadline_at=t0 - timedelta(days=30), published_at=t0 - timedelta(days=90))
    for n in range(LOTS):
        call.lots.append(Lot(code=f"L{n + 1}", title=f"Lot {n + 1}", budget=budget / LOTS))
    build_grid(call, "full_application")
    session.add(call)
    session.commit()
    grid = call.grid_for("full_application")
    assert grid is not None
    lots = [lot.id for lot in call.lots]
    sections = [(s.code, s.max_score) for s in grid.sections]
    applications, assignments, results = [], [], []
    for i in range(count):
        app_id = 1 + i
        requested = Decimal(rng.randrange(50, 201) * 1000)
        applications.append({
            "id": app_id, "call_id": call.id, "lot_id": lots[i % LOTS],
            "organisation_id": 1 + i % ORGANISATIONS, "reference": f"BENCH-{app_id:06d}",
            "title": f"Action {app_id}", "requested_amount": requested, "total_cost": requested,
            "duration_months": 12, "created_by_id": 1, "state": "in_evaluation",
            "submitted_at": t0 - timedelta(days=31),
        })
        quality = rng.uniform(0.35, 0.95)
        per_evaluator = []
        for e in range(EVALUATIONS):
            scores = {code: round(maximum * min(1.0, max(0.2, rng.gauss(quality, 0.08))))
                      for code, maximum in sections}
            per_evaluator.append(scores)
            assignments.append({
                "application_id": app_id, "evaluator_id": 2 + e, "stage": "full_application",
                "state": "submitted", "assigned_at": t0 - timedelta(days=20),
                "submitted_at": t0 - timedelta(days=5), "total": Decimal(sum(scores.values())),
            })
        means = {code: (Decimal(sum(s[code] for s in per_evaluator)) / EVALUATIONS)
                 .quantize(Decimal("0.01")) for code, _m in sections}
        total = sum(means.values(), Decimal(0))
        results.append({
            "application_id": app_id, "stage": "full_application", "total": total,
            "section_scores": {k: str(v) for k, v in means.items()}, "method": "mean",
            "passes": total >= grid.total_threshold, "final": True, "recorded_by_id": 1,
            "recorded_at": t0,
        })
    for table, rows in ((Application, applications), (Assignment, assignments),
                        (EvaluationResult, results)):
        for start in range(0, len(rows), 5_000):
            session.execute(insert(table), rows[start:start + 5_000])
    session.commit()
    return call.id
