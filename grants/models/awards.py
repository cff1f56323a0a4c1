"""After award: the grant, its contract versions, payments, reports and amendments."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.definitions import GRANT, PAYMENT, REPORT

from ..clock import now
from ..database import JSONType, Rate, Stateful, state_check
from ..extensions import db
from .applications import Application


class Grant(Stateful, db.Model):
    __tablename__ = "grants"
    workflow_name = "grant"
    __table_args__ = (
        state_check(GRANT.states),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("start_date < end_date", name="dates"),
        CheckConstraint(
            "state IN ('contract_preparation', 'awaiting_signature', 'lapsed') "
            "OR signed_at IS NOT NULL",
            name="signed_at",
        ),
        CheckConstraint(
            "state != 'terminated' OR termination_reason IS NOT NULL", name="termination_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    funding_rate: Mapped[Decimal] = mapped_column(Rate)
    start_date: Mapped[date]
    end_date: Mapped[date]
    awarded_at: Mapped[datetime] = mapped_column(default=now)
    sent_for_signature_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    termination_reason: Mapped[str | None] = mapped_column(Text)

    # A grant is nearly always shown or checked with its application (title, organisation).
    application: Mapped[Application] = relationship(lazy="joined")
    contracts: Mapped[list[ContractVersion]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="ContractVersion.number"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="Payment.sequence"
    )
    reports: Mapped[list[Report]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="Report.due_date"
    )
    amendments: Mapped[list[Amendment]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="Amendment.id"
    )
    recovery_orders: Mapped[list[RecoveryOrder]] = relationship(
        back_populates="grant", cascade="all, delete-orphan", order_by="RecoveryOrder.id"
    )

    @property
    def label(self) -> str:
        return f"Grant {self.number}"

    @property
    def current_contract(self) -> ContractVersion | None:
        return self.contracts[-1] if self.contracts else None


class ContractVersion(db.Model):
    """One version of the contract; an addendum or notification produces the next."""

    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("grant_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    reason: Mapped[str] = mapped_column(String(300), default="Initial contract")
    terms: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)

    grant: Mapped[Grant] = relationship(back_populates="contracts")
    signatures: Mapped[list[Signature]] = relationship(
        back_populates="contract", cascade="all, delete-orphan"
    )


class Signature(db.Model):
    """Who signed which exact document, when, from where, and how."""

    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("contract_id", "side"),
        CheckConstraint("side IN ('grantee', 'programme')", name="side"),
        CheckConstraint("method IN ('in_app', 'upload')", name="method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract_versions.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[str] = mapped_column(String(10))
    method: Mapped[str] = mapped_column(String(10))
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(default=now)
    address: Mapped[str] = mapped_column(String(64))
    document_sha256: Mapped[str] = mapped_column(String(64))
    # The countersigned PDF, when signed by upload (stored like attachments).
    stored_name: Mapped[str | None] = mapped_column(String(64), unique=True)

    contract: Mapped[ContractVersion] = relationship(back_populates="signatures")


class Payment(Stateful, db.Model):
    __tablename__ = "payments"
    workflow_name = "payment"
    __table_args__ = (
        UniqueConstraint("grant_id", "sequence"),
        state_check(PAYMENT.states),
        CheckConstraint("kind IN ('prefinancing', 'further_prefinancing', 'balance')", name="kind"),
        CheckConstraint("planned_amount >= 0", name="planned_amount"),
        CheckConstraint(
            "state != 'paid' OR (paid_at IS NOT NULL AND amount IS NOT NULL)", name="paid"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int]
    kind: Mapped[str] = mapped_column(String(25))
    trigger: Mapped[str] = mapped_column(String(40))
    planned_amount: Mapped[Decimal]
    # The amount actually approved and paid, after any reduction.
    amount: Mapped[Decimal | None]
    explanation: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]

    # Policy and guards read the grant of every payment they see: one query, not two.
    grant: Mapped[Grant] = relationship(
        back_populates="payments", lazy="joined"
    )

    @property
    def label(self) -> str:
        return f"Payment {self.sequence} of {self.grant.label}"


class Report(Stateful, db.Model):
    __tablename__ = "reports"
    workflow_name = "report"
    __table_args__ = (
        UniqueConstraint("grant_id", "kind", "sequence"),
        state_check(REPORT.states),
        CheckConstraint("kind IN ('interim', 'final')", name="kind"),
        CheckConstraint("state = 'due' OR submitted_at IS NOT NULL", name="submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int]
    period_start: Mapped[date]
    period_end: Mapped[date]
    due_date: Mapped[date] = mapped_column(index=True)
    narrative: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    financial: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]

    grant: Mapped[Grant] = relationship(back_populates="reports", lazy="joined")

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()} report {self.sequence} of {self.grant.label}"

    def is_overdue(self, today: date) -> bool:
        """Overdue is derived, never stored: past due and not yet submitted."""
        return self.state in ("due", "changes_requested") and today > self.due_date


class Amendment(db.Model):
    """A change to a signed contract: by notification, or by addendum needing approval."""

    __tablename__ = "amendments"
    __table_args__ = (
        CheckConstraint("kind IN ('notification', 'addendum')", name="kind"),
        CheckConstraint("status IN ('requested', 'approved', 'refused')", name="status"),
        CheckConstraint("status = 'requested' OR decided_at IS NOT NULL", name="decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(15))
    status: Mapped[str] = mapped_column(String(10), default="requested")
    description: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=now)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)

    grant: Mapped[Grant] = relationship(back_populates="amendments")


class RecoveryOrder(db.Model):
    """Money the grantee must pay back: more was paid than the final grant."""

    __tablename__ = "recovery_orders"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('issued', 'settled', 'cancelled')", name="status"),
        CheckConstraint("status = 'issued' OR closed_at IS NOT NULL", name="closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="issued")
    issued_at: Mapped[datetime] = mapped_column(default=now)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]

    grant: Mapped[Grant] = relationship(back_populates="recovery_orders")
