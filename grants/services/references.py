"""Human reference numbers: stable, sequential per series, never reused."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Application, Call, ReferenceCounter


def next_number(series: str) -> int:
    """Take the next number of a series inside the current transaction.

    The UPDATE ... RETURNING takes the row lock, so two concurrent
    submissions can never receive the same number; a rolled-back
    transaction gives its number back, which keeps the series without gaps.
    """
    session = db.session
    taken = session.scalar(
        update(ReferenceCounter)
        .where(ReferenceCounter.series == series)
        .values(last=ReferenceCounter.last + 1)
        .returning(ReferenceCounter.last)
    )
    if taken is None:
        # The first number of a series: create its counter; a concurrent transaction
        # creating it too is not an error, both then take their turn on the row lock.
        session.execute(_insert_ignoring_duplicate(series))
        return next_number(series)
    return taken


def _insert_ignoring_duplicate(series: str) -> Any:
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(ReferenceCounter)
        .values(series=series, last=0)
        .on_conflict_do_nothing(index_elements=["series"])
    )


def call_prefix(call: Call, prefix: str) -> str:
    return f"{prefix}-{call.year}-{call.code}"


def application_reference(application: Application, prefix: str) -> str:
    """MMD-<year>-<call>-<seq>, e.g. MMD-2026-C02-0007."""
    base = call_prefix(application.call, prefix)
    return f"{base}-{next_number(base):04d}"


def grant_number(application: Application, prefix: str) -> str:
    """MMD-<year>-<call>-G<seq>, e.g. MMD-2026-C02-G003."""
    base = call_prefix(application.call, prefix)
    return f"{base}-G{next_number(base + '-G'):03d}"
