"""Transitions: the bare engine on plain objects, and the full pipeline against plain Core.

(a) `Engine.trigger` through the workflow's shared machine against setting the
    attribute directly, and the memory the engine keeps after triggering many
    objects (nothing per object: the shared machine holds no models).
(b) `grants.services.transitions.transition` (policy, guards, state change,
    effect, audit row, outbox row, commit) on SQLite and PostgreSQL, against
    the same writes done with SQLAlchemy Core: an UPDATE of the state with a
    version check, an INSERT into audit_events and one into outbox_messages,
    a commit. The event is a payment `request` by a member of the grantee
    organisation: one guard (the payment is due: the report that opens it is
    approved), one cheap effect, one recipient (the manager).

Beside them, as a reference that is not part of the target, the same work written
by hand in Core: the reads any implementation needs before it may write (the
payment with its grant and organisation, the report that opens the payment, the
managers to tell, with how they like to be told) and the four rows the pipeline
writes (the state, the audit event, the outbox row, the in-app notification).
It shows how much of the ratio is that work itself and how much is the ORM's
and the pipeline's own cost. `pipeline_overhead_ms` (pipeline minus Core) does
not depend on what a commit costs on the machine's disk.

All sides do the same number of operations on distinct payments, in
interleaved rounds after a warm-up. Each pipeline operation runs in a new session
and loads its payment by id first, as a request does. Delivery of the outbox rows after
the commit (in-process without Redis) is replaced by a no-op hand-off, as it
is not part of the transaction being compared.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import Engine as SqlEngine

from .common import (
    Figure,
    flag,
    make_app,
    note,
    per_second,
    percentile,
    profiled,
    profiling,
    scratch_postgres,
)

TARGET_RATIO = 2.0
WORKFLOW = "payment"
EVENT = "request"
FROM_STATE = "planned"
TO_STATE = "requested"


@dataclass(frozen=True)
class Sizes:
    engine_objects: int
    engine_repeats: int
    memory_objects: int
    pipeline_ops: int
    warmup_ops: int
    rounds: int


FULL = Sizes(
    engine_objects=100_000,
    engine_repeats=5,
    memory_objects=100_000,
    pipeline_ops=3_000,
    warmup_ops=100,
    rounds=6,
)
QUICK = Sizes(
    engine_objects=10_000,
    engine_repeats=2,
    memory_objects=10_000,
    pipeline_ops=100,
    warmup_ops=10,
    rounds=2,
)


def run(quick: bool) -> Iterator[Figure]:
    sizes = QUICK if quick else FULL
    met: list[bool] = []
    yield from _engine_speed(sizes)
    yield from _engine_memory(sizes, met)
    yield Figure("target_pipeline_vs_core_max", TARGET_RATIO, "x")
    with tempfile.TemporaryDirectory(prefix="bench-transitions-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        yield from _pipeline("sqlite", url, Path(folder), sizes, met)
        with scratch_postgres(f"bench_transitions_{os.getpid()}") as pg_url:
            yield flag("postgresql_available", pg_url is not None)
            if pg_url is not None:
                yield from _pipeline("postgresql", pg_url, Path(folder), sizes, met)
    yield flag("target_met", all(met))


# --------------------------------------------------------------------------
# (a) The engine alone, on plain objects
# --------------------------------------------------------------------------


class PlainPayment:
    """Any object with a `state` attribute can be moved by the engine."""

    def __init__(self) -> None:
        self.state = FROM_STATE


def _shared_engine() -> Any:
    from grants.services.transitions import ENGINES

    return ENGINES[WORKFLOW]


def _engine_speed(sizes: Sizes) -> Iterator[Figure]:
    engine = _shared_engine()
    trigger = engine.trigger
    n = sizes.engine_objects

    def fresh() -> list[PlainPayment]:
        return [PlainPayment() for _ in range(n)]

    def timed(step: Callable[[list[PlainPayment]], None]) -> float:
        objects = fresh()  # built outside the timed part, a new list for every run
        started = time.perf_counter()
        step(objects)
        return time.perf_counter() - started

    def by_engine(objects: list[PlainPayment]) -> None:
        for obj in objects:
            trigger(obj, EVENT)

    def directly(objects: list[PlainPayment]) -> None:
        for obj in objects:
            obj.state = TO_STATE

    timed(by_engine)  # warm-up
    timed(directly)
    engine_s = min(timed(by_engine) for _ in range(sizes.engine_repeats))
    direct_s = min(timed(directly) for _ in range(sizes.engine_repeats))
    yield Figure("engine_triggers_per_s", per_second(n, engine_s), "per_s")
    yield Figure("direct_sets_per_s", per_second(n, direct_s), "per_s")
    yield Figure("engine_trigger_us", engine_s / n * 1e6, "us")
    yield Figure("engine_vs_direct_ratio", engine_s / direct_s if direct_s else 0.0, "x")


def _engine_memory(sizes: Sizes, met: list[bool]) -> Iterator[Figure]:
    engine = _shared_engine()
    n = sizes.memory_objects
    for obj in [PlainPayment() for _ in range(10)]:  # first-use caches are not per object
        engine.trigger(obj, EVENT)
    gc.collect()
    tracemalloc.start()
    try:
        empty = tracemalloc.get_traced_memory()[0]
        objects = [PlainPayment() for _ in range(n)]
        gc.collect()
        created = tracemalloc.get_traced_memory()[0]
        for obj in objects:
            engine.trigger(obj, EVENT)
        gc.collect()
        triggered = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    moved = sum(1 for obj in objects if obj.state == TO_STATE)
    retained = triggered - created
    models = len(engine.machine.models)
    yield Figure("memory_objects", n, "count")
    yield Figure("memory_triggers", moved, "count")
    yield Figure("memory_objects_bytes", created - empty, "bytes")
    yield Figure("memory_retained_after_triggers_bytes", retained, "bytes")
    yield Figure("memory_retained_per_object_bytes", retained / n, "bytes")
    yield Figure("machine_models", models, "count")
    ok = moved == n and retained / n < 1 and models == 0
    met.append(ok)
    yield flag("target_met_memory", ok)


# --------------------------------------------------------------------------
# (b) The full pipeline against plain Core writes
# --------------------------------------------------------------------------

ORGANISATIONS = 20
PAYMENTS_PER_GRANT = 4  # pre-financing, two further pre-financings, balance
SHARES = [Decimal("0.40"), Decimal("0.30"), Decimal("0.20")]
MANAGER_ID = 1
CALL_ID = 1
COUNTRIES = ("SN", "ML", "GH", "MA", "ET", "KE", "CI", "TN", "GM", "BF", "DE", "IT", "BE", "FR")


@dataclass(frozen=True)
class Target:
    """One payment to move, with what the Core side needs to write its rows."""

    payment_id: int
    grant_id: int
    owner_id: int
    label: str


@dataclass(frozen=True)
class Owner:
    id: int
    label: str
    organisation_id: int


@dataclass(frozen=True)
class Manager:
    id: int
    email: str
    language: str


@dataclass
class Dataset:
    targets: list[Target]
    owners: dict[int, Owner]
    manager: Manager


def _pipeline(
    backend: str, url: str, folder: Path, sizes: Sizes, met: list[bool]
) -> Iterator[Figure]:
    from grants.extensions import db

    app = make_app(url, folder / backend)
    with app.app_context():
        try:
            db.create_all()
            figures = _measure_pipeline(backend, sizes, met)
        finally:
            db.session.remove()
            db.engine.dispose()
    yield from figures


def _measure_pipeline(backend: str, sizes: Sizes, met: list[bool]) -> list[Figure]:
    from grants.extensions import db
    from grants.models import AuditEvent, OutboxMessage, Payment

    n, warm = sizes.pipeline_ops, sizes.warmup_ops
    probe = 20  # operations whose statements are counted, untimed
    extra = 500 if profiling() else 0
    total = 3 * (n + warm + probe) + extra
    started = time.perf_counter()
    data = _build(total)
    note(f"{backend}: {total} payments built in {time.perf_counter() - started:.1f} s")

    targets = iter(data.targets)

    def take(count: int) -> list[Target]:
        return [next(targets) for _ in range(count)]

    pipeline = _pipeline_runner(data)
    core = _core_runner(db.engine, data)
    by_hand = _hand_written_runner(db.engine, data)

    pipeline(take(warm))
    core(take(warm))
    by_hand(take(warm))
    pipeline_statements = _statements(db.engine, lambda c: pipeline(take(probe), c)) / probe
    core_statements = _statements(db.engine, lambda _c: core(take(probe))) / probe
    by_hand_statements = _statements(db.engine, lambda _c: by_hand(take(probe))) / probe

    pipeline_times: list[tuple[float, float]] = []
    core_times: list[float] = []
    by_hand_times: list[float] = []
    chunk = n // sizes.rounds
    for round_ in range(sizes.rounds):
        count = chunk if round_ < sizes.rounds - 1 else n - chunk * (sizes.rounds - 1)
        if round_ % 2:
            pipeline_times += pipeline(take(count))
            core_times += core(take(count))
            by_hand_times += by_hand(take(count))
        else:
            by_hand_times += by_hand(take(count))
            core_times += core(take(count))
            pipeline_times += pipeline(take(count))
    if extra:
        with profiled(f"{extra} pipeline transitions on {backend}"):
            pipeline(take(extra))

    db.session.remove()
    requested = db.session.scalar(
        select(func.count()).select_from(Payment).where(Payment.state == TO_STATE)
    )
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    outbox = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    errors = sum(1 for count in (requested, audits, outbox) if count != total)

    totals = [op for _load, op in pipeline_times]
    pipeline_s, core_s, by_hand_s = sum(totals), sum(core_times), sum(by_hand_times)
    load_s = sum(load for load, _op in pipeline_times)
    ratio = pipeline_s / core_s if core_s else 0.0
    pipeline_ms, core_ms = pipeline_s / len(totals) * 1e3, core_s / len(core_times) * 1e3
    by_hand_ms = by_hand_s / len(by_hand_times) * 1e3
    ok = errors == 0 and ratio <= TARGET_RATIO
    met.append(ok)
    b = backend
    return [
        Figure(f"pipeline_ops_{b}", len(totals), "count"),
        Figure(f"core_ops_{b}", len(core_times), "count"),
        Figure(f"pipeline_transitions_per_s_{b}", per_second(len(totals), pipeline_s), "per_s"),
        Figure(f"core_writes_per_s_{b}", per_second(len(core_times), core_s), "per_s"),
        Figure(f"pipeline_mean_ms_{b}", pipeline_ms, "ms"),
        Figure(f"core_mean_ms_{b}", core_ms, "ms"),
        Figure(f"pipeline_overhead_ms_{b}", pipeline_ms - core_ms, "ms"),
        Figure(f"pipeline_load_mean_ms_{b}", load_s / len(totals) * 1e3, "ms"),
        Figure(f"pipeline_p95_ms_{b}", percentile(totals, 0.95) * 1e3, "ms"),
        Figure(f"core_p95_ms_{b}", percentile(core_times, 0.95) * 1e3, "ms"),
        Figure(f"pipeline_statements_per_op_{b}", pipeline_statements, "count"),
        Figure(f"core_statements_per_op_{b}", core_statements, "count"),
        Figure(f"by_hand_mean_ms_{b}", by_hand_ms, "ms"),
        Figure(f"by_hand_statements_per_op_{b}", by_hand_statements, "count"),
        Figure(f"by_hand_vs_core_ratio_{b}", by_hand_ms / core_ms if core_ms else 0.0, "x"),
        Figure(
            f"pipeline_vs_by_hand_ratio_{b}", pipeline_ms / by_hand_ms if by_hand_ms else 0.0, "x"
        ),
        Figure(f"pipeline_vs_core_ratio_{b}", ratio, "x"),
        Figure(f"errors_{b}", errors, "count"),
        flag(f"target_met_{b}", ok),
    ]


class _Statements:
    """Counts the SQL statements an engine sends while listening (an executemany counts
    once); `paused` leaves out what is not part of the operation measured."""

    def __init__(self) -> None:
        self.count = 0
        self.on = True

    def __call__(self, *_args: Any) -> None:
        if self.on:
            self.count += 1

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.on = False
        try:
            yield
        finally:
            self.on = True


_NOT_COUNTING = _Statements()


def _statements(engine: SqlEngine, action: Callable[[_Statements], object]) -> int:
    """How many SQL statements `action` sends, given the counter to pause."""
    counter = _Statements()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        action(counter)
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return counter.count


@contextmanager
def _delivery_handed_off() -> Iterator[list[int]]:
    """Replace delivery after commit by a no-op hand-off that only records the ids."""
    import grants.jobs

    handed: list[int] = []
    original = grants.jobs.enqueue_delivery
    grants.jobs.enqueue_delivery = handed.append
    try:
        yield handed
    finally:
        grants.jobs.enqueue_delivery = original


def _pipeline_runner(data: Dataset) -> Callable[..., list[tuple[float, float]]]:
    """Each operation, as a request: a new session, the signed-in user loaded with roles
    and memberships as the login manager loads them (untimed: the other sides are
    handed their actor too), then the payment loaded by id and `transition`;
    (load, total) seconds."""
    from sqlalchemy.orm import selectinload

    from grants.extensions import db
    from grants.models import Membership, Payment, User
    from grants.services.transitions import transition

    session = db.session
    signed_in = [
        selectinload(User.staff_roles),
        selectinload(User.memberships).joinedload(Membership.organisation),
    ]

    def run(
        targets: list[Target], counter: _Statements = _NOT_COUNTING
    ) -> list[tuple[float, float]]:
        times = []
        clock = time.perf_counter
        with _delivery_handed_off() as handed:
            for target in targets:
                with counter.paused():
                    session.remove()
                    actor = session.get(User, target.owner_id, options=signed_in)
                started = clock()
                payment = session.get(Payment, target.payment_id)
                loaded = clock()
                transition(payment, EVENT, actor)  # type: ignore[arg-type]
                times.append((loaded - started, clock() - started))
        session.remove()
        if len(handed) != len(targets):
            raise RuntimeError(f"{len(handed)} outbox rows for {len(targets)} transitions")
        return times

    return run


def _core_runner(engine: SqlEngine, data: Dataset) -> Callable[[list[Target]], list[float]]:
    from grants.clock import now
    from grants.models import AuditEvent, OutboxMessage, Payment

    payments = Payment.__table__
    audit = insert(AuditEvent.__table__)
    outbox = insert(OutboxMessage.__table__)
    change = (
        update(payments)
        .where(payments.c.id == _param("b_id"), payments.c.version == _param("b_version"))
        .values(state=TO_STATE, requested_at=_param("b_at"), version=payments.c.version + 1)
    )
    manager = data.manager
    kind = f"{WORKFLOW}.{EVENT}"

    def run(targets: list[Target]) -> list[float]:
        times = []
        for target in targets:
            started = time.perf_counter()
            owner = data.owners[target.owner_id]
            at = now()
            with engine.begin() as connection:
                result = connection.execute(
                    change, {"b_id": target.payment_id, "b_version": 1, "b_at": at}
                )
                if result.rowcount != 1:
                    raise RuntimeError(f"payment {target.payment_id} was changed meanwhile")
                connection.execute(audit, _audit_row(target.payment_id, owner, at))
                connection.execute(
                    outbox,
                    {
                        "kind": kind,
                        "recipient_id": manager.id,
                        "recipient_email": manager.email,
                        "language": manager.language,
                        "object_type": "payments",
                        "object_id": target.payment_id,
                        "context": _notice(target.label),
                    },
                )
            times.append(time.perf_counter() - started)
        return times

    return run


def _hand_written_runner(engine: SqlEngine, data: Dataset) -> Callable[[list[Target]], list[float]]:
    """The pipeline's work for a payment `request`, written by hand in Core.

    It reads what the policy, the guard and the notice need, checks it, and writes
    the state, the audit event, the outbox row and the in-app notification: no ORM,
    no workflow engine, no generality. A reference for the figures, not a design.
    """
    from grants.clock import now
    from grants.models import (
        Application,
        AuditEvent,
        Grant,
        Notification,
        NotificationPreference,
        OutboxMessage,
        Payment,
        Report,
        StaffRole,
        User,
    )

    payments = Payment.__table__
    read_payment = (
        select(
            payments.c.state,
            payments.c.version,
            payments.c.trigger,
            payments.c.sequence,
            Grant.state,
            Grant.number,
            Application.organisation_id,
        )
        .join(Grant, Grant.id == payments.c.grant_id)
        .join(Application, Application.id == Grant.application_id)
        .where(payments.c.id == _param("b_id"))
    )
    read_report = select(Report.state).where(
        Report.grant_id == _param("b_grant"),
        Report.kind == _param("b_kind"),
        Report.sequence == _param("b_sequence"),
    )
    read_managers = (
        select(
            User.id,
            User.name,
            User.email,
            User.language,
            func.coalesce(NotificationPreference.delivery, "immediate"),
        )
        .join(StaffRole, StaffRole.user_id == User.id)
        .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(StaffRole.role == "programme_manager", User.active.is_(True))
    )
    change = (
        update(payments)
        .where(payments.c.id == _param("b_id"), payments.c.version == _param("b_version"))
        .values(state=TO_STATE, requested_at=_param("b_at"), version=payments.c.version + 1)
    )
    audit = insert(AuditEvent.__table__)
    outbox = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)
    notification = insert(Notification.__table__)
    kind = f"{WORKFLOW}.{EVENT}"

    def run(targets: list[Target]) -> list[float]:
        times = []
        for target in targets:
            started = time.perf_counter()
            owner = data.owners[target.owner_id]
            at = now()
            with engine.begin() as connection:
                state, version, trigger, sequence, grant_state, number, organisation_id = (
                    connection.execute(read_payment, {"b_id": target.payment_id}).one()
                )
                if organisation_id != owner.organisation_id or state != FROM_STATE:
                    raise RuntimeError(f"payment {target.payment_id} may not be requested")
                if grant_state != "active":
                    raise RuntimeError(f"grant {number} is {grant_state}")
                if trigger != "signature":
                    report_kind, report_number = (
                        ("final", 1)
                        if trigger == "final_report"
                        else ("interim", int(trigger.removeprefix("interim_report_")))
                    )
                    report_state = connection.scalar(
                        read_report,
                        {
                            "b_grant": target.grant_id,
                            "b_kind": report_kind,
                            "b_sequence": report_number,
                        },
                    )
                    if report_state != "approved":
                        raise RuntimeError(f"payment {target.payment_id} is not due")
                managers = connection.execute(read_managers).all()
                if (
                    connection.execute(
                        change, {"b_id": target.payment_id, "b_version": version, "b_at": at}
                    ).rowcount
                    != 1
                ):
                    raise RuntimeError(f"payment {target.payment_id} was changed meanwhile")
                label = f"Payment {sequence} of Grant {number}"
                connection.execute(audit, _audit_row(target.payment_id, owner, at))
                for manager_id, name, email, language, _delivery in managers:
                    context = {"recipient_name": name, **_notice(label)}
                    outbox_id = connection.scalar(
                        outbox,
                        {
                            "kind": kind,
                            "recipient_id": manager_id,
                            "recipient_email": email,
                            "language": language,
                            "object_type": "payments",
                            "object_id": target.payment_id,
                            "context": context,
                        },
                    )
                    connection.execute(
                        notification,
                        {
                            "user_id": manager_id,
                            "kind": kind,
                            "object_type": "payments",
                            "object_id": target.payment_id,
                            "context": context,
                            "email": "outbox",
                            "outbox_id": outbox_id,
                            "created_at": at,
                        },
                    )
            times.append(time.perf_counter() - started)
        return times

    return run


def _audit_row(payment_id: int, owner: Owner, at: datetime) -> dict[str, Any]:
    return {
        "occurred_at": at,
        "actor_id": owner.id,
        "actor_label": owner.label,
        "object_type": "payments",
        "object_id": payment_id,
        "event": EVENT,
        "from_state": FROM_STATE,
        "to_state": TO_STATE,
        "comment": None,
        "data": {},
    }


def _notice(label: str) -> dict[str, Any]:
    """The context of the notice, as the pipeline writes it."""
    return {
        "object": label,
        "from_state": FROM_STATE,
        "to_state": TO_STATE,
        "comment": None,
        "event": EVENT,
    }


def _param(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)


def _approved_report(grant_id: int, kind: str, sequence: int, at: datetime) -> dict[str, Any]:
    return {
        "grant_id": grant_id,
        "kind": kind,
        "sequence": sequence,
        "period_start": date(2026, 2, 1),
        "period_end": date(2027, 1, 31),
        "due_date": date(2027, 4, 30),
        "state": "approved",
        "submitted_at": at,
        "approved_at": at,
    }


def _build(count: int) -> Dataset:
    """`count` planned payments of active grants, bulk inserted: a realistic shape, quickly."""
    from grants.extensions import db
    from grants.models import (
        Application,
        Call,
        Grant,
        Membership,
        Organisation,
        Payment,
        Report,
        StaffRole,
        User,
    )
    from grants.rules.payments import plan_payments
    from grants.services.reference_data import load_reference_data

    load_reference_data()
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    grants_needed = -(-count // PAYMENTS_PER_GRANT)
    amount = Decimal("120000.00")
    schedule = plan_payments(amount, SHARES)
    assert len(schedule) == PAYMENTS_PER_GRANT

    session = db.session
    users = [
        {
            "id": MANAGER_ID,
            "email": "manager@bench.example.org",
            "name": "Programme Manager",
            "password_hash": "not-a-hash",
            "language": "en",
            "email_verified_at": t0,
        }
    ]
    owners: dict[int, Owner] = {}
    for i in range(ORGANISATIONS):
        uid = 2 + i
        email, name = f"owner{i}@org{i}.example.org", f"Owner {i}"
        users.append(
            {
                "id": uid,
                "email": email,
                "name": name,
                "password_hash": "not-a-hash",
                "language": "fr" if i % 3 == 0 else "en",
                "email_verified_at": t0,
            }
        )
        owners[uid] = Owner(uid, f"{name} <{email}>", 1 + i)
    session.execute(insert(User), users)
    session.execute(insert(StaffRole), [{"user_id": MANAGER_ID, "role": "programme_manager"}])
    session.execute(
        insert(Organisation),
        [
            {
                "id": 1 + i,
                "name": f"Organisation {i}",
                "org_type": "cso",
                "country_iso2": COUNTRIES[i % len(COUNTRIES)],
                "registration_number": f"REG-{i:04d}",
            }
            for i in range(ORGANISATIONS)
        ],
    )
    session.execute(
        insert(Membership),
        [
            {"user_id": 2 + i, "organisation_id": 1 + i, "role": "owner"}
            for i in range(ORGANISATIONS)
        ],
    )
    session.execute(
        insert(Call),
        [
            {
                "id": CALL_ID,
                "code": "BENCH",
                "year": t0.year,
                "title": "Benchmark call",
                "workflow": "application_single_stage",
                "state": "decided",
                "budget": Decimal("100000000.00"),
                "grant_min": Decimal("50000.00"),
                "grant_max": Decimal("200000.00"),
                "duration_min_months": 6,
                "duration_max_months": 24,
                "deadline_at": t0 - timedelta(days=90),
                "opens_at": t0 - timedelta(days=150),
                "published_at": t0 - timedelta(days=150),
            }
        ],
    )
    session.execute(
        insert(Application),
        [
            {
                "id": 1 + g,
                "call_id": CALL_ID,
                "organisation_id": 1 + g % ORGANISATIONS,
                "reference": f"BENCH-{1 + g:06d}",
                "title": f"Action {1 + g}",
                "requested_amount": amount,
                "total_cost": amount,
                "duration_months": 12,
                "created_by_id": 2 + g % ORGANISATIONS,
                "state": "awarded",
                "submitted_at": t0 - timedelta(days=100),
                "decided_at": t0 - timedelta(days=30),
            }
            for g in range(grants_needed)
        ],
    )
    session.execute(
        insert(Grant),
        [
            {
                "id": 1 + g,
                "application_id": 1 + g,
                "number": f"G-{1 + g:06d}",
                "amount": amount,
                "funding_rate": Decimal("0.90"),
                "start_date": date(2026, 2, 1),
                "end_date": date(2027, 1, 31),
                "awarded_at": t0 - timedelta(days=20),
                "sent_for_signature_at": t0 - timedelta(days=15),
                "signed_at": t0 - timedelta(days=10),
                "state": "active",
            }
            for g in range(grants_needed)
        ],
    )
    rows = []
    targets = []
    for g in range(grants_needed):
        for planned in schedule:
            pid = 1 + g * PAYMENTS_PER_GRANT + planned.sequence - 1
            rows.append(
                {
                    "id": pid,
                    "grant_id": 1 + g,
                    "sequence": planned.sequence,
                    "kind": planned.kind,
                    "trigger": planned.trigger,
                    "planned_amount": planned.amount,
                    "state": FROM_STATE,
                }
            )
            label = f"Payment {planned.sequence} of Grant G-{1 + g:06d}"
            targets.append(Target(pid, 1 + g, 2 + g % ORGANISATIONS, label))
    session.execute(insert(Payment), rows)
    # The reports that open the further payments and the balance, already approved, so
    # every payment is due and `request` runs its guards as it would in real life.
    reviewed = t0 - timedelta(days=5)
    reports = []
    for g in range(grants_needed):
        for number in range(1, len(SHARES)):
            reports.append(_approved_report(1 + g, "interim", number, reviewed))
        reports.append(_approved_report(1 + g, "final", 1, reviewed))
    session.execute(insert(Report), reports)
    session.commit()
    session.remove()
    manager = Manager(MANAGER_ID, "manager@bench.example.org", "en")
    return Dataset(targets[:count], owners, manager)
