"""Human reference numbers: stable, sequential per series, never reused."""

from __future__ import annotations

from sqlalchemy import insert, select, update

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
        exists = session.scalar(
            select(ReferenceCounter.series).where(ReferenceCounter.series == series)
        )
        if exists is None:
            session.execute(insert(ReferenceCounter).values(series=series, last=0))
        return next_number(series)
    return taken


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
