"""The audit trail, the outbox of notifications and reference counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import now
from ..database import JSONType
from ..extensions import db


class AuditEvent(db.Model):
    """One change of state (or other audited act), written in the same transaction."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(300))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int]
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Tamper evidence: each sealed event's hash covers its content and the previous
    # event's hash. Events are sealed in id order after they commit, so writers never
    # wait on each other for the chain.
    chain_hash: Mapped[str | None] = mapped_column(String(64), index=True)


class OutboxMessage(db.Model):
    """A notification to deliver after commit; delivered at most once, retried until then."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        CheckConstraint("status != 'sent' OR sent_at IS NOT NULL", name="sent_at"),
        Index("ix_outbox_messages_pending", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    kind: Mapped[str] = mapped_column(String(80))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recipient_email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="en")
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None]
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]


class ReferenceCounter(db.Model):
    """The last number given in a series (e.g. applications of one call); never reused."""

    __tablename__ = "reference_counters"

    series: Mapped[str] = mapped_column(String(60), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class ExportJob(db.Model):
    """A large export produced in the background; downloadable by its owner when ready."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'ready', 'failed')", name="status"),
        CheckConstraint("status != 'ready' OR file_name IS NOT NULL", name="file_when_ready"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    file_name: Mapped[str | None] = mapped_column(String(100))
    row_count: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]
