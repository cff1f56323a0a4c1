"""Applications: the proposal, its partners, budget, attachments and frozen submissions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.definitions import APPLICATION_SINGLE_STAGE, APPLICATION_TWO_STAGE

from ..clock import now
from ..database import JSONType, Stateful, sql_in, state_check
from ..extensions import db
from .accounts import Organisation, User
from .calls import Call, Lot
from .reference import Country, Dialogue, JvapDomain

APPLICATION_STATES = tuple(
    dict.fromkeys(APPLICATION_TWO_STAGE.states + APPLICATION_SINGLE_STAGE.states)
)
# The sections of the application form; each is saved, and versioned, on its own.
SECTION_KEYS = ("summary", "description", "logframe", "workplan")
BUDGET_HEADINGS = (
    "human_resources",
    "travel",
    "equipment",
    "local_office",
    "other_services",
    "other",
)

application_countries = Table(
    "application_countries",
    db.metadata,
    Column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("country_iso2", ForeignKey("countries.iso2"), primary_key=True),
)
application_dialogues = Table(
    "application_dialogues",
    db.metadata,
    Column("application_id", ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("dialogue_code", ForeignKey("dialogues.code"), primary_key=True),
)


class Application(Stateful, db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        state_check(APPLICATION_STATES),
        # Anything that has been submitted once carries its reference number.
        CheckConstraint(
            "state IN ('draft', 'withdrawn') OR reference IS NOT NULL", name="reference"
        ),
        CheckConstraint(
            "state NOT IN ('admin_rejected', 'ineligible') OR decision_reason IS NOT NULL",
            name="decision_reason",
        ),
        CheckConstraint(
            "state NOT IN ('admin_rejected', 'rejected', 'invited', 'lapsed', 'reserve', "
            "'provisionally_selected', 'awarded', 'ineligible') OR decided_at IS NOT NULL",
            name="decided_at",
        ),
        CheckConstraint("requested_amount IS NULL OR requested_amount > 0", name="requested"),
        CheckConstraint(
            "requested_amount IS NULL OR total_cost IS NULL OR requested_amount <= total_cost",
            name="requested_within_cost",
        ),
        CheckConstraint("language IN ('en', 'fr')", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    language: Mapped[str] = mapped_column(String(2), default="en")
    requested_amount: Mapped[Decimal | None]
    total_cost: Mapped[Decimal | None]
    duration_months: Mapped[int | None]
    primary_jvap_domain_number: Mapped[int | None] = mapped_column(
        ForeignKey("jvap_domains.number")
    )
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    call: Mapped[Call] = relationship()
    lot: Mapped[Lot | None] = relationship()
    organisation: Mapped[Organisation] = relationship()
    created_by: Mapped[User] = relationship()
    countries: Mapped[list[Country]] = relationship(secondary=application_countries)
    dialogues: Mapped[list[Dialogue]] = relationship(secondary=application_dialogues)
    jvap_links: Mapped[list[ApplicationJvapDomain]] = relationship(
        back_populates="application", cascade="all, delete-orphan"
    )
    partners: Mapped[list[ApplicationPartner]] = relationship(
        back_populates="application", cascade="all, delete-orphan"
    )
    sections: Mapped[list[ApplicationSection]] = relationship(
        back_populates="application", cascade="all, delete-orphan"
    )
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="BudgetLine.position"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="application", cascade="all, delete-orphan"
    )
    submissions: Mapped[list[Submission]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Submission.id"
    )

    @property
    def workflow_name(self) -> str:  # type: ignore[override]
        return self.call.workflow

    @property
    def label(self) -> str:
        return f"Application {self.reference or f'#{self.id}'}"

    @property
    def stage(self) -> str:
        """The stage the application is at: concept note until invited to apply in full."""
        if self.call.workflow == "application_single_stage":
            return "full_application"
        if self.state in ("draft", "submitted", "in_evaluation", "admin_rejected", "rejected") and (
            not any(s.stage == "full_application" for s in self.submissions)
        ):
            return "concept_note"
        return "full_application"

    @property
    def jvap_domains(self) -> list[JvapDomain]:
        return [link.domain for link in self.jvap_links]

    @property
    def co_applicants(self) -> list[Organisation]:
        return [p.organisation for p in self.partners if p.role == "co_applicant"]

    def section(self, key: str) -> ApplicationSection | None:
        for s in self.sections:
            if s.key == key:
                return s
        return None

    def section_data(self, key: str) -> dict[str, Any]:
        s = self.section(key)
        return dict(s.data) if s else {}

    @property
    def budget_total(self) -> Decimal:
        return sum((line.total for line in self.budget_lines), Decimal("0.00"))


class ApplicationJvapDomain(db.Model):
    __tablename__ = "application_jvap_domains"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    domain_number: Mapped[int] = mapped_column(ForeignKey("jvap_domains.number"), primary_key=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    application: Mapped[Application] = relationship(back_populates="jvap_links")
    domain: Mapped[JvapDomain] = relationship(lazy="joined")


class ApplicationPartner(db.Model):
    __tablename__ = "application_partners"
    __table_args__ = (
        UniqueConstraint("application_id", "organisation_id"),
        CheckConstraint("role IN ('co_applicant', 'affiliated_entity')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(20), default="co_applicant")

    application: Mapped[Application] = relationship(back_populates="partners")
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class ApplicationSection(db.Model):
    """One section of the form; its own version makes a stale save a conflict."""

    __tablename__ = "application_sections"
    __table_args__ = (UniqueConstraint("application_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    application: Mapped[Application] = relationship(back_populates="sections")

    __mapper_args__ = {"version_id_col": version}


class BudgetLine(db.Model):
    __tablename__ = "budget_lines"
    __table_args__ = (
        CheckConstraint(f"heading IN {sql_in(BUDGET_HEADINGS)}", name="heading"),
        CheckConstraint("quantity > 0 AND unit_cost >= 0", name="amounts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    heading: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(40), default="")
    quantity: Mapped[Decimal]
    unit_cost: Mapped[Decimal]
    position: Mapped[int] = mapped_column(default=0)

    application: Mapped[Application] = relationship(back_populates="budget_lines")

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.unit_cost).quantize(Decimal("0.01"))


class Attachment(db.Model):
    """A file uploaded with an application, stored outside static files under a random name."""

    __tablename__ = "attachments"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=now)

    application: Mapped[Application] = relationship(back_populates="attachments")


class Submission(db.Model):
    """What was submitted, frozen: the snapshot and its hash never change."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("application_id", "stage"),
        CheckConstraint("stage IN ('concept_note', 'full_application')", name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(20))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sha256: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(default=now)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    application: Mapped[Application] = relationship(back_populates="submissions")


class AdminCheck(db.Model):
    """One item of the administrative (opening) checklist of an application at a stage."""

    __tablename__ = "admin_checks"
    __table_args__ = (
        UniqueConstraint("application_id", "stage", "item"),
        CheckConstraint("passed OR reason IS NOT NULL", name="reason_when_failed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(20))
    item: Mapped[str] = mapped_column(String(60))
    passed: Mapped[bool]
    reason: Mapped[str | None] = mapped_column(Text)
    checked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime] = mapped_column(default=now)
