"""The audit log: reading it (filtered, paginated), and its tamper-evident hash chain.

Chain: events are sealed after they commit, in id order; an event's
``chain_hash`` is ``sha256(previous chain_hash + canonical JSON of its content)``,
the first event's previous hash being ``GENESIS``. Writers never compute it, so they
never wait on each other; `seal` runs from a command and from a periodic sweep.

On PostgreSQL, `seal` first takes a SHARE lock on the table: that waits for the
transactions still writing events to end and holds new writers back for the
moment sealing takes, so no event with a smaller id can commit after a larger one
was sealed. SQLite has one writer at a time, which gives the same guarantee.

`verify` recomputes the chain and names the first event whose stored hash does not
match (its content, or an earlier event's, was changed; or an event was deleted),
or an unsealed event followed by sealed ones (a hash was erased).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, text, update

from ..clock import now
from ..extensions import db
from ..models import AuditEvent

GENESIS = "0" * 64
SEAL_BATCH = 1000
PAGE_SIZE = 50


def record(
    actor: Any,
    object_type: str,
    object_id: int,
    event: str,
    *,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
) -> AuditEvent:
    """An audited act that is no workflow transition (roles, two-factor, documents...),
    in the caller's transaction."""
    row = AuditEvent(
        occurred_at=now(),
        actor_id=actor.id,
        actor_label=actor.label,
        object_type=object_type,
        object_id=object_id,
        event=event,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=data or {},
    )
    db.session.add(row)
    return row


def canonical(event: AuditEvent) -> str:
    """The event's content as canonical JSON: sorted keys, no spaces, UTC time."""
    occurred = event.occurred_at
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=UTC)
    content = {
        "id": event.id,
        "occurred_at": occurred.astimezone(UTC).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "event": event.event,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "comment": event.comment,
        "data": event.data if event.data is not None else {},
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def chain(previous: str, event: AuditEvent) -> str:
    return hashlib.sha256((previous + canonical(event)).encode()).hexdigest()


def _last_sealed_hash(before_id: int | None = None) -> str:
    query = select(AuditEvent.chain_hash).where(AuditEvent.chain_hash.is_not(None))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    found = db.session.scalar(query.order_by(AuditEvent.id.desc()).limit(1))
    return found or GENESIS


def seal() -> int:
    """Seal every committed unsealed event, in id order; returns how many were sealed."""
    sealed = 0
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE audit_events IN SHARE MODE"))
    try:
        previous = _last_sealed_hash()
        last_id = db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.chain_hash.is_not(None))
            .order_by(AuditEvent.id.desc()).limit(1)
        ) or 0
        while True:
            batch = list(db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.chain_hash.is_(None), AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(SEAL_BATCH)
            ))
            if not batch:
                break
            values = []
            for event in batch:
                previous = chain(previous, event)
                values.append({"id": event.id, "chain_hash": previous})
                last_id = event.id
            # ORM bulk UPDATE by primary key: one executemany per batch.
            db.session.execute(update(AuditEvent), values)
            sealed += len(batch)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return sealed


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    unsealed: int
    broken_id: int | None = None
    reason: str = ""


def verify() -> Verification:
    """Recompute the chain over every sealed event; the first break is named."""
    previous = GENESIS
    checked = 0
    unsealed_ids: list[int] = []
    query = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=SEAL_BATCH)
    for event in db.session.scalars(query):
        if event.chain_hash is None:
            unsealed_ids.append(event.id)
            continue
        if unsealed_ids:
            return Verification(
                False, checked, len(unsealed_ids), unsealed_ids[0],
                f"event {unsealed_ids[0]} has no hash but event {event.id} after it is sealed",
            )
        expected = chain(previous, event)
        if event.chain_hash != expected:
            return Verification(
                False, checked, 0, event.id,
                f"event {event.id} does not match its hash: it, or the event before it, "
                "was altered or deleted",
            )
        previous = event.chain_hash
        checked += 1
    db.session.rollback()  # nothing was written; end the read transaction
    return Verification(True, checked, len(unsealed_ids))


# --------------------------------------------------------------------------
# Reading the log
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    object_type: str | None = None
    object_id: int | None = None
    actor: str | None = None  # a user id, or words of the actor's label
    event: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_params(self) -> dict[str, str]:
        params = {
            "object_type": self.object_type or "",
            "object_id": str(self.object_id) if self.object_id else "",
            "actor": self.actor or "",
            "event": self.event or "",
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
        }
        return {k: v for k, v in params.items() if v}


def parse_filters(args: Any) -> AuditFilters:
    def day(key: str) -> date | None:
        try:
            return date.fromisoformat(args.get(key, "") or "")
        except ValueError:
            return None

    object_id = (args.get("object_id") or "").strip()
    return AuditFilters(
        object_type=(args.get("object_type") or "").strip()[:40] or None,
        object_id=int(object_id) if object_id.isdigit() else None,
        actor=(args.get("actor") or "").strip()[:100] or None,
        event=(args.get("event") or "").strip()[:40] or None,
        date_from=day("from"),
        date_to=day("to"),
    )


def _conditions(filters: AuditFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.object_type:
        conditions.append(AuditEvent.object_type == filters.object_type)
    if filters.object_id:
        conditions.append(AuditEvent.object_id == filters.object_id)
    if filters.actor:
        if filters.actor.isdigit():
            conditions.append(AuditEvent.actor_id == int(filters.actor))
        else:
            escaped = filters.actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(AuditEvent.actor_label.ilike(f"%{escaped}%", escape="\\"))
    if filters.event:
        conditions.append(AuditEvent.event == filters.event)
    if filters.date_from:
        conditions.append(
            AuditEvent.occurred_at >= datetime.combine(filters.date_from, time(), UTC)
        )
    if filters.date_to:
        conditions.append(
            AuditEvent.occurred_at
            < datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
        )
    return conditions


@dataclass
class AuditPage:
    events: list[AuditEvent]
    has_older: bool
    has_newer: bool
    older_than: int | None
    newer_than: int | None


def events(
    filters: AuditFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """Newest first, a page at a time by id (keyset): `before` an id for older ones,
    `after` an id for newer ones."""
    conditions = _conditions(filters)
    query = select(AuditEvent)
    if after is not None:
        query = query.where(and_(AuditEvent.id > after, *conditions))
        rows = list(db.session.scalars(query.order_by(AuditEvent.id).limit(size + 1)))
        more_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        has_newer, has_older = more_newer, True
    else:
        if before is not None:
            conditions = [AuditEvent.id < before, *conditions]
        if conditions:
            query = query.where(and_(*conditions))
        rows = list(db.session.scalars(query.order_by(AuditEvent.id.desc()).limit(size + 1)))
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = before is not None
    return AuditPage(
        events=rows,
        has_older=has_older and bool(rows),
        has_newer=has_newer and bool(rows),
        older_than=rows[-1].id if rows else None,
        newer_than=rows[0].id if rows else None,
    )


def event_names() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.event).distinct().order_by(AuditEvent.event)))


def object_types() -> list[str]:
    return list(db.session.scalars(
        select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)))


def object_history(object_types_ids: list[tuple[str, int]]) -> list[AuditEvent]:
    """The trail of several objects at once (a grant, its payments and reports), oldest first."""
    if not object_types_ids:
        return []
    return list(db.session.scalars(
        select(AuditEvent)
        .where(or_(*[and_(AuditEvent.object_type == t, AuditEvent.object_id == i)
                     for t, i in object_types_ids]))
        .order_by(AuditEvent.id)
    ))
