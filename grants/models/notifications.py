"""In-app notifications and each user's notification preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import now
from ..database import JSONType
from ..extensions import db
from .audit import OutboxMessage

DELIVERY_MODES = ("immediate", "daily_digest")
# How a notification reaches the mailbox: its own outbox message, a later digest, or not at all.
EMAIL_STATES = ("outbox", "digest", "digested", "none")


class Notification(db.Model):
    """One thing a user was told about, listed in the app with read and unread."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("email IN ('outbox', 'digest', 'digested', 'none')", name="email"),
        Index("ix_notifications_user_unread", "user_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[int | None]
    context: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=now)
    read_at: Mapped[datetime | None]
    email: Mapped[str] = mapped_column(String(10), default="outbox")
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL")
    )
    # Sweeps name what they announce ("report_due:12:7:u5"); the unique key makes a
    # second run of the same sweep a no-op instead of a second reminder.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    outbox: Mapped[OutboxMessage | None] = relationship()

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(db.Model):
    """How a user wants their mail: at once or as one daily digest; reminders on or off."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint("delivery IN ('immediate', 'daily_digest')", name="delivery"),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    delivery: Mapped[str] = mapped_column(String(15), default="immediate")
    reminders: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
