"""Calls for proposals: envelope, rules, deadlines, lots and evaluation grids."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.definitions import CALL

from ..clock import now
from ..database import JSONType, Rate, ScoreValue, Stateful, state_check
from ..extensions import db
from .reference import Dialogue, JvapDomain

APPLICATION_WORKFLOWS = ("application_two_stage", "application_single_stage")
STAGES = ("concept_note", "full_application")

call_jvap_domains = Table(
    "call_jvap_domains",
    db.metadata,
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    Column("domain_number", ForeignKey("jvap_domains.number"), primary_key=True),
)
call_dialogues = Table(
    "call_dialogues",
    db.metadata,
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    Column("dialogue_code", ForeignKey("dialogues.code"), primary_key=True),
)


class Call(Stateful, db.Model):
    __tablename__ = "calls"
    workflow_name = "call"
    __table_args__ = (
        CheckConstraint("budget > 0", name="budget_positive"),
        CheckConstraint("grant_min > 0 AND grant_min <= grant_max", name="grant_range"),
        CheckConstraint(
            "duration_min_months > 0 AND duration_min_months <= duration_max_months",
            name="duration_range",
        ),
        CheckConstraint(
            "workflow IN ('application_two_stage', 'application_single_stage')", name="workflow"
        ),
        state_check(CALL.states),
        # Published once it left the draft (a draft may be cancelled unpublished).
        CheckConstraint(
            "state IN ('draft', 'cancelled') OR published_at IS NOT NULL", name="published_at"
        ),
        CheckConstraint(
            "workflow = 'application_single_stage' OR state = 'draft' "
            "OR full_deadline_at IS NOT NULL",
            name="two_stage_full_deadline",
        ),
        CheckConstraint("max_funding_rate > 0 AND max_funding_rate <= 1", name="funding_rate"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    objectives: Mapped[str] = mapped_column(Text, default="")
    workflow: Mapped[str] = mapped_column(String(40), default="application_two_stage")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    budget: Mapped[Decimal]
    grant_min: Mapped[Decimal]
    grant_max: Mapped[Decimal]
    max_funding_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("1"))
    duration_min_months: Mapped[int]
    duration_max_months: Mapped[int]
    implementation_end_by: Mapped[datetime | None]
    # CallRules.to_dict() of grants.rules.eligibility: the rules as data.
    eligibility_rules: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    time_zone: Mapped[str] = mapped_column(String(60), default="Europe/Brussels")
    opens_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime]
    full_deadline_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    # Evaluation settings (PRAG practice, configurable per call).
    evaluators_per_application: Mapped[int] = mapped_column(default=2)
    divergence_share: Mapped[Decimal] = mapped_column(ScoreValue, default=Decimal("0.20"))
    exclude_same_country_evaluators: Mapped[bool] = mapped_column(default=False)
    blind_review: Mapped[bool] = mapped_column(default=False)
    preselection_ratio: Mapped[Decimal] = mapped_column(ScoreValue, default=Decimal("2.00"))
    # Contract settings.
    signature_period_days: Mapped[int] = mapped_column(default=30)
    prefinancing_shares: Mapped[list[Any]] = mapped_column(JSONType, default=lambda: ["0.80"])
    created_at: Mapped[datetime] = mapped_column(default=now)

    lots: Mapped[list[Lot]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="Lot.code"
    )
    grids: Mapped[list[Grid]] = relationship(back_populates="call", cascade="all, delete-orphan")
    documents: Mapped[list[CallDocument]] = relationship(
        back_populates="call",
        cascade="all, delete-orphan",
        order_by="[CallDocument.position, CallDocument.id]",
    )
    jvap_domains: Mapped[list[JvapDomain]] = relationship(
        secondary=call_jvap_domains, order_by=JvapDomain.number
    )
    dialogues: Mapped[list[Dialogue]] = relationship(secondary=call_dialogues)

    @property
    def label(self) -> str:
        return f"Call {self.code}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def is_two_stage(self) -> bool:
        return self.workflow == "application_two_stage"

    def local(self, moment: datetime | None) -> datetime | None:
        """A stored UTC moment shown in the call's own time zone."""
        return moment.astimezone(self.zone) if moment else None

    def grid_for(self, stage: str) -> Grid | None:
        for grid in self.grids:
            if grid.stage == stage:
                return grid
        return None

    def __str__(self) -> str:
        return self.title


class Lot(db.Model):
    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("call_id", "code"),
        CheckConstraint("budget > 0", name="budget_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    budget: Mapped[Decimal]

    call: Mapped[Call] = relationship(back_populates="lots")


class Grid(db.Model):
    """The evaluation grid of one stage of a call; locked once scoring starts."""

    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("call_id", "stage"),
        CheckConstraint("stage IN ('concept_note', 'full_application')", name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    total_threshold: Mapped[Decimal] = mapped_column(ScoreValue)
    locked_at: Mapped[datetime | None]

    call: Mapped[Call] = relationship(back_populates="grids")
    sections: Mapped[list[GridSection]] = relationship(
        back_populates="grid", cascade="all, delete-orphan", order_by="GridSection.position"
    )

    @property
    def max_total(self) -> int:
        return sum(s.max_score for s in self.sections)


class GridSection(db.Model):
    __tablename__ = "grid_sections"
    __table_args__ = (UniqueConstraint("grid_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    minimum: Mapped[Decimal | None] = mapped_column(ScoreValue)
    # Scored at an earlier stage and carried over (full-application relevance).
    carried_over: Mapped[bool] = mapped_column(default=False)

    grid: Mapped[Grid] = relationship(back_populates="sections")
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="section", cascade="all, delete-orphan", order_by="Criterion.position"
    )

    @property
    def max_score(self) -> int:
        return sum(5 * c.weight for c in self.criteria)


class Criterion(db.Model):
    __tablename__ = "criteria"
    __table_args__ = (CheckConstraint("weight IN (1, 2)", name="weight"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(
        ForeignKey("grid_sections.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(300))
    guidance: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[int] = mapped_column(default=1)
    position: Mapped[int]

    section: Mapped[GridSection] = relationship(back_populates="criteria")


CALL_DOCUMENT_KINDS = ("guidelines", "application_form", "budget_template", "annex")
CALL_DOCUMENT_LANGUAGES = ("en", "fr")


class CallDocument(db.Model):
    """A document published with a call (guidelines, templates, annexes), in one language.

    Stored like attachments: outside the static files under a random name; the
    type is judged by the content, and the hash names the exact bytes published.
    """

    __tablename__ = "call_documents"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size"),
        CheckConstraint("language IN ('en', 'fr')", name="language"),
        CheckConstraint(
            "kind IN ('guidelines', 'application_form', 'budget_template', 'annex')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=now)

    call: Mapped[Call] = relationship(back_populates="documents")

    @property
    def extension(self) -> str:
        return self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else ""
