"""What the programme dashboard reads: each application's figures, and their running totals.

Both tables are derived data, kept by `grants.services.dashboard_facts` in the same
transaction as any change to what they are derived from, and rebuilt from scratch by
its `rebuild()`:

- `application_facts`: one narrow row per application with everything the dashboard
  counts (call, lot, state, day of submission, requested, awarded, committed and paid,
  the applicant's country and type, the dialogues, JVAP domains and countries it names).
  It is what a change is compared with, to know what to take off the totals.
  It also keeps the application's searchable text (title, reference, organisation's
  name, grant number; folded), which the lists search through a GIN index.
- `dashboard_rollups`: the sums of those figures per call, lot and state (the pipeline
  and the money) and per value of each breakdown, for all time (day 0) and per day of
  submission, per set of dialogues named. The dashboard adds up a few hundred of these
  rows instead of reading 100,000 applications.

Amounts are integer cents: exact on every database, and fast to add up.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    Date,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .search import document

# The day of the all-time totals in dashboard_rollups (real days are date ordinals, > 0).
ALL_TIME = 0


class ApplicationFacts(db.Model):
    """One application's figures as last counted in the totals.

    Not a foreign key to applications: when an application is deleted, this row must
    still be there at commit time to say what to take off the totals (then it goes too).
    """

    __tablename__ = "application_facts"
    __table_args__ = (
        # PostgreSQL's full-text search of the lists (SQLite searches with LIKE).
        Index("ix_application_facts_search", document(literal_column("search_text")),
              postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    application_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    call_id: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[int | None] = mapped_column(Integer)
    organisation_id: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(30))
    submitted_on: Mapped[date | None] = mapped_column(Date)
    requested_cents: Mapped[int | None] = mapped_column(BigInteger)
    applicant_country: Mapped[str] = mapped_column(String(2))
    applicant_type: Mapped[str] = mapped_column(String(20))
    awarded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    committed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # Sorted codes between commas (",c2cmmd,rabat,"), so one LIKE finds a code.
    dialogues: Mapped[str] = mapped_column(String(200), default=",")
    jvap_domains: Mapped[str] = mapped_column(String(100), default=",")
    countries: Mapped[str] = mapped_column(String(400), default=",")
    search_text: Mapped[str] = mapped_column(Text, default="")


class DashboardRollup(db.Model):
    """The sum of the facts of the applications sharing one key.

    kind 'pipeline' rows are keyed by lot and state (every application, drafts too);
    the breakdown kinds ('jvap_domain', 'dialogue', 'implementation_country',
    'applicant_country', 'applicant_type') by value, submitted applications only,
    with lot 0 and state ''. day is ALL_TIME or the ordinal of the day of submission.
    """

    __tablename__ = "dashboard_rollups"
    __table_args__ = (
        # The day first: the dashboard reads day 0, or a range of days, then a call.
        PrimaryKeyConstraint("day", "call_id", "kind", "dialogues", "value", "lot_id", "state"),
    )

    day: Mapped[int] = mapped_column(Integer)
    call_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    dialogues: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(40))
    lot_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(30))
    applications: Mapped[int] = mapped_column(Integer, default=0)
    awarded_applications: Mapped[int] = mapped_column(Integer, default=0)
    requested_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    awarded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    committed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
