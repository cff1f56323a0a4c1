"""Declarative base, naming convention and the column types shared by all models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, MetaData, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, registry
from sqlalchemy.types import DateTime, TypeDecorator

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        value = value.astimezone(UTC)
        # SQLite has no time zones: store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Money: exact decimals with two places, never float.
Money = Numeric(14, 2, asdecimal=True)
# Scores: means of weighted criterion scores, e.g. 87.33.
ScoreValue = Numeric(6, 2, asdecimal=True)
# Rates and shares, e.g. a funding rate of 0.8333.
Rate = Numeric(5, 4, asdecimal=True)

JSONType = JSON().with_variant(JSON(none_as_null=True), "postgresql")


def sql_in(values: tuple[str, ...]) -> str:
    """A SQL list of string literals, for CHECK constraints over fixed vocabularies."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def state_check(*states: tuple[str, ...]) -> CheckConstraint:
    """The database holds a row to the states of its workflow(s), as defined in workflows/."""
    return CheckConstraint(
        f"state IN {sql_in(tuple(dict.fromkeys(sum(states, ()))))}", name="state"
    )


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            Decimal: Money,
            dict[str, Any]: JSON(),
            list[Any]: JSON(),
        },
    )


class Stateful:
    """A row moved by a workflow: `state` plus a version that turns races into conflicts.

    The state column is written only by the transition pipeline (see
    grants.services.transitions); `version` is SQLAlchemy's version_id_col,
    so an UPDATE from a stale copy matches no row and fails.
    """

    # Set by each model: the workflow name (or a callable attribute for applications).
    workflow_name: ClassVar[str] = ""

    state: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column(default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}

    @property
    def object_type(self) -> str:
        return type(self).__tablename__  # type: ignore[attr-defined]
