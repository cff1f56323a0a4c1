"""Evaluation: evaluator assignments, conflict declarations, scores and results."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.definitions import ASSIGNMENT

from ..clock import now
from ..database import JSONType, ScoreValue, Stateful, state_check
from ..extensions import db
from .accounts import User
from .applications import Application
from .calls import Criterion


class PanelMember(db.Model):
    """An evaluator attached to a call's evaluation panel."""

    __tablename__ = "panel_members"
    __table_args__ = (UniqueConstraint("call_id", "evaluator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(default=now)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    evaluator: Mapped[User] = relationship(foreign_keys=[evaluator_id])


class Assignment(Stateful, db.Model):
    """One evaluator asked to score one application at one stage."""

    __tablename__ = "assignments"
    workflow_name = "assignment"
    __table_args__ = (
        UniqueConstraint("application_id", "evaluator_id", "stage"),
        state_check(ASSIGNMENT.states),
        CheckConstraint("state != 'submitted' OR submitted_at IS NOT NULL", name="submitted_at"),
        CheckConstraint("stage IN ('concept_note', 'full_application')", name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    assigned_at: Mapped[datetime] = mapped_column(default=now)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    # The weighted total at submission, kept so rankings never recompute from scores.
    total: Mapped[Decimal | None] = mapped_column(ScoreValue)

    application: Mapped[Application] = relationship()
    evaluator: Mapped[User] = relationship(foreign_keys=[evaluator_id])
    scores: Mapped[list[Score]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan"
    )

    @property
    def label(self) -> str:
        return f"Assignment {self.id} ({self.evaluator.name} on {self.application.label})"


class ConflictDeclaration(db.Model):
    """What an evaluator declared before seeing an application's content."""

    __tablename__ = "conflict_declarations"
    __table_args__ = (
        CheckConstraint("NOT has_conflict OR statement IS NOT NULL", name="statement"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), unique=True
    )
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    has_conflict: Mapped[bool]
    statement: Mapped[str | None] = mapped_column(Text)
    declared_at: Mapped[datetime] = mapped_column(default=now)


class Score(db.Model):
    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("assignment_id", "criterion_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id"))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    assignment: Mapped[Assignment] = relationship(back_populates="scores")
    criterion: Mapped[Criterion] = relationship(lazy="joined")


class EvaluationResult(db.Model):
    """The score of an application at a stage: the mean of evaluations, or a consensus."""

    __tablename__ = "evaluation_results"
    __table_args__ = (
        UniqueConstraint("application_id", "stage"),
        CheckConstraint("method IN ('mean', 'consensus')", name="method"),
        CheckConstraint("method != 'consensus' OR justification IS NOT NULL", name="justified"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(20))
    total: Mapped[Decimal] = mapped_column(ScoreValue)
    section_scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    method: Mapped[str] = mapped_column(String(10), default="mean")
    justification: Mapped[str | None] = mapped_column(Text)
    passes: Mapped[bool]
    final: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=now)

    application: Mapped[Application] = relationship()
