"""The dashboard's facts and running totals, and the lists' search text, kept in step with
every change, in its transaction.

Why this way: counting 100,000 applications with their grants, payments, dialogues,
domains and countries takes the database most of a second on every dashboard view;
adding up the few hundred rows of `dashboard_rollups` takes milliseconds, and the
figures are those of the last commit, not of a cache.

How it stays right: a session hook notes, at each flush, which applications a change
may concern (an application itself, its JVAP domains, dialogues or countries, its
grant, a payment of its grant, its organisation's name, country or type). Just before the
commit, those applications' facts are computed again from the source tables
(`source_facts`, the one definition of what is counted) and compared with the stored
ones; the difference is added to the totals. The same code rebuilds everything from
scratch (`rebuild`, after a bulk load or a migration), and the tests compare the
stored facts and totals with that recomputation after each kind of change.

Concurrency (PostgreSQL): the stored facts rows are read FOR UPDATE, so two
transactions touching one application take turns, and the second computes its facts
after the first committed (READ COMMITTED reads afresh after the wait). The totals
rows are written in key order, so two transactions never wait on each other in a
circle. An application being created holds its organisation's row (FOR SHARE) while
it is counted: a concurrent change of the organisation's name or type, which cannot see
the new application, waits for it, or it for the change.
Anything written around the ORM (bulk inserts, raw SQL) is not seen: call `rebuild`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    bindparam,
    cast,
    delete,
    event,
    func,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Application, ApplicationJvapDomain, Grant, Organisation, Payment
from ..models.applications import application_countries, application_dialogues
from ..models.dashboard import ALL_TIME, ApplicationFacts, DashboardRollup
from ..models.search import search_text

# Grants whose contract is signed: their amount is a legal commitment.
COMMITTED_GRANT_STATES = ("active", "suspended", "final_reporting", "closed", "terminated")
# The breakdowns, each a kind of row in dashboard_rollups (submitted applications only).
BREAKDOWN_KINDS = (
    "jvap_domain", "dialogue", "implementation_country", "applicant_country", "applicant_type",
)
PIPELINE = "pipeline"
_PENDING = "dashboard_facts_pending"

# The attributes whose change may change an application's facts.
_WATCHED: dict[type, tuple[str, ...]] = {
    Application: ("state", "submitted_at", "requested_amount", "call_id", "lot_id",
                  "organisation_id", "countries", "dialogues", "jvap_links", "title",
                  "reference"),
    ApplicationJvapDomain: ("application_id", "domain_number"),
    Grant: ("application_id", "state", "amount", "number"),
    Payment: ("grant_id", "state", "amount"),
    Organisation: ("country_iso2", "org_type", "name"),
}


@dataclass(frozen=True)
class Facts:
    """What the dashboard counts of one application (amounts in cents)."""

    application_id: int
    call_id: int
    lot_id: int | None
    organisation_id: int
    state: str
    submitted_on: date | None
    requested_cents: int | None
    applicant_country: str
    applicant_type: str
    awarded_cents: int
    committed_cents: int
    paid_cents: int
    dialogues: str
    jvap_domains: str
    countries: str
    search_text: str

    def contributions(self) -> Iterator[tuple[tuple[Any, ...], tuple[int, ...]]]:
        """(rollup key, measures) this application adds to the totals.

        Key: (day, call, kind, dialogues, value, lot, state); measures: (applications,
        awarded applications, requested, awarded, committed, paid). Requested counts
        submitted applications only; the breakdowns count submitted applications only.
        """
        submitted = self.submitted_on is not None
        measures = (
            1,
            1 if self.state == "awarded" else 0,
            (self.requested_cents or 0) if submitted else 0,
            self.awarded_cents,
            self.committed_cents,
            self.paid_cents,
        )
        days = [ALL_TIME] + ([self.submitted_on.toordinal()] if self.submitted_on else [])
        values = {
            "jvap_domain": split(self.jvap_domains),
            "dialogue": split(self.dialogues),
            "implementation_country": split(self.countries),
            "applicant_country": [self.applicant_country],
            "applicant_type": [self.applicant_type],
        }
        for day in days:
            yield (day, self.call_id, PIPELINE, self.dialogues, "", self.lot_id or 0,
                   self.state), measures
            if submitted:
                for kind in BREAKDOWN_KINDS:
                    for value in values[kind]:
                        yield (day, self.call_id, kind, self.dialogues, value, 0, ""), measures


def joined(codes: Iterable[Any]) -> str:
    """Codes sorted between commas: ",c2cmmd,rabat," (just "," for none)."""
    items = sorted({str(c) for c in codes if c is not None},
                   key=lambda c: (len(c), c) if c.isdigit() else (0, c))
    return "," + "".join(f"{c}," for c in items)


def split(codes: str) -> list[str]:
    return [c for c in codes.split(",") if c]


def cents(amount: Any) -> int | None:
    if amount is None:
        return None
    return int((Decimal(str(amount)) * 100).to_integral_value())


def _utc_day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # a raw SQLite value: stored as UTC wall time
        return moment.date()
    return moment.astimezone(UTC).date()


# --------------------------------------------------------------------------
# The facts, computed from the source tables
# --------------------------------------------------------------------------


def _dialect(connection: Any) -> str:
    """The database's dialect name, from a Connection, a Session or a scoped_session."""
    if isinstance(connection, Connection):
        return str(connection.dialect.name)
    return str(connection.get_bind().dialect.name)


def _concatenated(column: Any, dialect: str) -> Any:
    text_column = cast(column, String)
    if dialect == "postgresql":
        return func.string_agg(text_column, literal(","))
    return func.group_concat(text_column, literal(","))


def _source_statement(dialect: str, ids: Any | None) -> Select[Any]:
    """The applications of `ids` (an expanding bind parameter; all if None), with what
    is counted."""

    def codes(table: Any, column: Any, label: str) -> Any:
        query = select(table.c.application_id, _concatenated(column, dialect).label("codes"))
        if ids is not None:
            query = query.where(table.c.application_id.in_(ids))
        return query.group_by(table.c.application_id).subquery(label)

    jvap = ApplicationJvapDomain.__table__
    domains = codes(jvap, jvap.c.domain_number, "fact_domains")
    dialogues = codes(application_dialogues, application_dialogues.c.dialogue_code,
                      "fact_dialogues")
    countries = codes(application_countries, application_countries.c.country_iso2,
                      "fact_countries")
    paid = (
        select(func.sum(Payment.amount))
        .where(Payment.grant_id == Grant.id, Payment.state == "paid")
        .correlate(Grant)
        .scalar_subquery()
    )
    # The grant's number is searched whatever its state (a lapsed grant is no award).
    number = (
        select(Grant.number).where(Grant.application_id == Application.id)
        .correlate(Application)
        .scalar_subquery()
    )
    statement = (
        select(
            Application.id, Application.call_id, Application.lot_id,
            Application.organisation_id, Application.state, Application.submitted_at,
            Application.requested_amount, Organisation.country_iso2, Organisation.org_type,
            Grant.state, Grant.amount, paid, dialogues.c.codes, domains.c.codes,
            countries.c.codes, Application.title, Application.reference, Organisation.name,
            number,
        )
        .join(Organisation, Organisation.id == Application.organisation_id)
        # A lapsed grant (never signed) is no award.
        .outerjoin(Grant, and_(Grant.application_id == Application.id, Grant.state != "lapsed"))
        .outerjoin(dialogues, dialogues.c.application_id == Application.id)
        .outerjoin(domains, domains.c.application_id == Application.id)
        .outerjoin(countries, countries.c.application_id == Application.id)
    )
    return statement.where(Application.id.in_(ids)) if ids is not None else statement


def _facts_of(row: Any) -> Facts:
    (app_id, call_id, lot_id, organisation_id, state, submitted_at, requested, country,
     org_type, grant_state, grant_amount, paid, dialogues, domains, countries, title,
     reference, organisation_name, grant_number) = row
    awarded = cents(grant_amount) or 0
    return Facts(
        application_id=app_id, call_id=call_id, lot_id=lot_id,
        organisation_id=organisation_id, state=state, submitted_on=_utc_day(submitted_at),
        requested_cents=cents(requested), applicant_country=country, applicant_type=org_type,
        awarded_cents=awarded,
        committed_cents=awarded if grant_state in COMMITTED_GRANT_STATES else 0,
        paid_cents=(cents(paid) or 0) if grant_state is not None else 0,
        dialogues=joined(split(dialogues or "")), jvap_domains=joined(split(domains or "")),
        countries=joined(split(countries or "")),
        search_text=search_text(title, reference, organisation_name, grant_number),
    )


def source_facts(connection: Connection | Session,
                 ids: Iterable[int] | None = None) -> dict[int, Facts]:
    """The facts of the applications given (all if None), from the source tables."""
    if ids is None:
        rows = connection.execute(_source_statement(_dialect(connection), None))
    else:
        rows = connection.execute(_refresh_statements(_dialect(connection))[1],
                                  {"ids": sorted(ids)})
    return {facts.application_id: facts for facts in map(_facts_of, rows)}


_IDS = bindparam("ids", expanding=True)
_statements: dict[str, tuple[Any, Any]] = {}
_HOLD_ORGANISATIONS = (
    select(Organisation.id)
    .where(
        Organisation.id.in_(
            select(Application.organisation_id).where(Application.id.in_(_IDS))
        )
    )
    .order_by(Organisation.id)
    .with_for_update(read=True)
)


def _refresh_statements(dialect: str) -> tuple[Any, Any]:
    """(stored facts, locked; source facts) of the applications given as "ids": built
    once, as building them costs more than running them."""
    if dialect not in _statements:
        facts = ApplicationFacts.__table__
        stored = (
            select(*[facts.c[c] for c in _FACT_COLUMNS])
            .where(facts.c.application_id.in_(_IDS))
            .order_by(facts.c.application_id)
            .with_for_update()
        )
        _statements[dialect] = (stored, _source_statement(dialect, _IDS))
    return _statements[dialect]


def totals_of(facts: Iterable[Facts]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """The rollup rows the facts add up to (rows adding up to nothing left out)."""
    totals: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 6)
    for item in facts:
        for key, measures in item.contributions():
            total = totals[key]
            for i, value in enumerate(measures):
                total[i] += value
    return {key: tuple(v) for key, v in totals.items() if any(v)}


_FACT_COLUMNS = [c.name for c in ApplicationFacts.__table__.columns]
_ROLLUP_KEY = ["day", "call_id", "kind", "dialogues", "value", "lot_id", "state"]
_ROLLUP_MEASURES = ["applications", "awarded_applications", "requested_cents",
                    "awarded_cents", "committed_cents", "paid_cents"]


def stored_facts(connection: Connection | Session) -> dict[int, Facts]:
    """Every application's facts as stored."""
    table = ApplicationFacts.__table__
    query = select(*[table.c[c] for c in _FACT_COLUMNS]).order_by(table.c.application_id)
    return {row[0]: Facts(*row) for row in connection.execute(query)}


def stored_totals(connection: Connection | Session) -> dict[tuple[Any, ...], tuple[int, ...]]:
    table = DashboardRollup.__table__
    rows = connection.execute(select(*[table.c[c] for c in _ROLLUP_KEY + _ROLLUP_MEASURES]))
    return {tuple(r[:7]): tuple(int(v) for v in r[7:]) for r in rows if any(r[7:])}


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------


def _insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


_upserts: dict[str, tuple[Any, Any]] = {}


def _upsert_statements(dialect: str) -> tuple[Any, Any]:
    """(facts replaced, totals added to), built once and sent with many rows at a time
    (compiling a statement per change would cost more than running it)."""
    if dialect not in _upserts:
        facts, totals = ApplicationFacts.__table__, DashboardRollup.__table__
        replace = _insert(dialect)(facts)
        replace = replace.on_conflict_do_update(
            index_elements=["application_id"],
            set_={c: replace.excluded[c] for c in _FACT_COLUMNS[1:]},
        )
        add = _insert(dialect)(totals)
        add = add.on_conflict_do_update(
            index_elements=_ROLLUP_KEY,
            set_={c: totals.c[c] + add.excluded[c] for c in _ROLLUP_MEASURES},
        )
        _upserts[dialect] = (replace, add)
    return _upserts[dialect]


def _write(connection: Any, dialect: str, facts: list[Facts],
           deltas: dict[tuple[Any, ...], tuple[int, ...]]) -> None:
    """Write the facts, and add the deltas to the totals in key order (so no two
    transactions wait for each other in a circle)."""
    replace, add = _upsert_statements(dialect)
    if facts:
        connection.execute(replace, [dict(zip(_FACT_COLUMNS, astuple(f), strict=True))
                                     for f in facts])
    if deltas:
        connection.execute(add, [
            dict(zip(_ROLLUP_KEY + _ROLLUP_MEASURES, key + deltas[key], strict=True))
            for key in sorted(deltas)])


def refresh(session: Session, applications: Iterable[int] = (), grants: Iterable[int] = (),
            organisations: Iterable[int] = ()) -> int:
    """Count again the applications given, those of the grants and of the organisations
    given; returns how many applications' facts changed."""
    applications, grants, organisations = set(applications), set(grants), set(organisations)
    if not (applications or grants or organisations):
        return 0
    dialect = _dialect(session)
    table = ApplicationFacts.__table__
    connection = session.connection()  # Core statements: no ORM layer to go through
    stored, source = _refresh_statements(dialect)
    if grants or organisations:
        # A payment or an organisation: the applications concerned, found first.
        applications |= set(connection.scalars(
            select(Grant.application_id).where(Grant.id.in_(sorted(grants)))
            .union(select(Application.id)
                   .where(Application.organisation_id.in_(sorted(organisations))))))
    if not applications:
        return 0
    given = {"ids": sorted(applications)}
    # Locked first (PostgreSQL): a concurrent change to one of these waits for our commit.
    before = {row[0]: Facts(*row) for row in connection.execute(stored, given)}
    new = sorted(applications - set(before))
    if new and dialect == "postgresql":
        # A new application is invisible to a concurrent change of its organisation,
        # which counts only the applications it can see: hold the organisation row, so
        # that change waits for our commit (and sees ours), or we for its (and read it).
        connection.execute(_HOLD_ORGANISATIONS, {"ids": new})
    after = {f.application_id: f for f in map(_facts_of, connection.execute(source, given))}
    changed = [f for app_id, f in after.items() if before.get(app_id) != f]
    gone = sorted(set(before) - set(after))
    if not changed and not gone:
        return 0
    # What the changed applications add now, less what they added before.
    taken = [before[i] for i in gone] + [before[f.application_id] for f in changed
                                         if f.application_id in before]
    deltas: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 6)
    for facts, sign in [(f, -1) for f in taken] + [(f, 1) for f in changed]:
        for key, measures in facts.contributions():
            total = deltas[key]
            for i, value in enumerate(measures):
                total[i] += sign * value
    if gone:
        connection.execute(delete(table).where(table.c.application_id.in_(gone)))
    moved = {key: tuple(v) for key, v in deltas.items() if any(v)}
    _write(connection, dialect, sorted(changed, key=lambda f: f.application_id), moved)
    return len(changed) + len(gone)


def rebuild(connection: Connection | Session) -> int:
    """Count every application again from the source tables; returns how many there are."""
    dialect = _dialect(connection)
    facts_table, rollups = ApplicationFacts.__table__, DashboardRollup.__table__
    if dialect == "postgresql":
        # No change is counted meanwhile: it waits, then counts against the rebuilt rows.
        connection.execute(text(
            "LOCK TABLE application_facts, dashboard_rollups IN EXCLUSIVE MODE"))
    connection.execute(delete(rollups))
    connection.execute(delete(facts_table))
    facts = source_facts(connection)
    rows = [dict(zip(_FACT_COLUMNS, astuple(f), strict=True)) for f in facts.values()]
    for start in range(0, len(rows), 5_000):
        connection.execute(facts_table.insert(), rows[start:start + 5_000])
    totals = [dict(zip(_ROLLUP_KEY + _ROLLUP_MEASURES, key + measures, strict=True))
              for key, measures in sorted(totals_of(facts.values()).items())]
    for start in range(0, len(totals), 5_000):
        connection.execute(rollups.insert(), totals[start:start + 5_000])
    return len(facts)


# --------------------------------------------------------------------------
# The session hook
# --------------------------------------------------------------------------


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _values(obj: Any, name: str) -> set[Any]:
    """The attribute's value now and, if it changed in this flush, before."""
    state = inspect(obj)
    value = state.dict.get(name)
    if value is None and not state.deleted and not state.was_deleted:
        value = getattr(obj, name)  # expired: loaded again
    found = {value} | set(state.attrs[name].history.deleted or ())
    return {v for v in found if v is not None}


def _note_changes(session: Session, _flush_context: Any) -> None:
    pending = session.info.setdefault(
        _PENDING, {"applications": set(), "grants": set(), "organisations": set()})
    for obj in [*session.new, *session.deleted, *session.dirty]:
        watched = _WATCHED.get(type(obj))
        if watched is None:
            continue
        if obj in session.dirty and not _changed(obj, watched):
            continue
        if isinstance(obj, Application):
            pending["applications"] |= _values(obj, "id")
        elif isinstance(obj, ApplicationJvapDomain | Grant):
            pending["applications"] |= _values(obj, "application_id")
        elif isinstance(obj, Payment):
            # Only paid payments count (the paid total): requesting or approving one
            # changes no figure, and the pipeline's payment steps then cost no recount.
            if "paid" in _values(obj, "state"):
                pending["grants"] |= _values(obj, "grant_id")
        elif isinstance(obj, Organisation) and obj not in session.new:
            pending["organisations"] |= _values(obj, "id")


def bring_up_to_date(session: Session) -> None:
    """Flush, and count again what changed since the last count (in this transaction)."""
    session.flush()
    pending = session.info.pop(_PENDING, None)
    if pending and any(pending.values()):
        refresh(session, **pending)


def _before_commit(session: Session) -> None:
    bring_up_to_date(session)


def _forget(session: Session, transaction: Any) -> None:
    # Rolled back (or committed, counted already): nothing left to count.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def listen(session: Any) -> None:
    """Keep the facts of `session` (a Session, sessionmaker or scoped_session) in step."""
    for name, fn in (("after_flush", _note_changes), ("before_commit", _before_commit),
                     ("after_transaction_end", _forget)):
        if not event.contains(session, name, fn):
            event.listen(session, name, fn)


listen(db.session)
