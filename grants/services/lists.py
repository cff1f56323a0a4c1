"""The manager's lists (applications, grants, payments, reports): filtered, sorted, searched,
paginated on the server by keyset, and exported.

Keyset pagination: a page is "the next N rows after (sort value, id)" (or before it,
for the previous page; the last page is the first page of the reversed order), so
the last page costs what the first does, and a row added or removed meanwhile never
shifts a page. The id breaks ties, so the order is total and stable. A cursor is the
(sort value, id) of the row at the edge of the page, encoded in the link.

Each page is two queries whatever its position: the rows, with what they show loaded
by joins (no query per row), and the count of matching rows.

Text search: on PostgreSQL, full-text search of each application's kept search text
(title, reference, organisation's name, grant number, accents folded) through its GIN
index, every word typed matched as a prefix; elsewhere (SQLite) every word must occur
in one of the list's text columns (LIKE, case and accents folded).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, and_, exists, func, literal, or_, select, tuple_
from sqlalchemy.orm import contains_eager

from workflows.definitions import GRANT, PAYMENT, REPORT

from ..clock import now
from ..extensions import db
from ..models import (
    APPLICATION_STATES,
    ORGANISATION_TYPES,
    Application,
    Call,
    Grant,
    Organisation,
    Payment,
    Report,
)
from ..models.applications import application_dialogues
from ..models.dashboard import ApplicationFacts
from ..models.search import SQLITE_FOLD_FUNCTION, document, prefix_query
from ..models.search import words as search_words

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SEARCH_MAX_WORDS = 8


@dataclass(frozen=True)
class Sort:
    label: str
    expression: Callable[[], Any]
    kind: str  # how a cursor value is read back: str, int, decimal, datetime, date


@dataclass(frozen=True)
class Column:
    """A column of the export: its heading and the SQL expression it reads."""

    heading: str
    expression: Callable[[], Any]


@dataclass(frozen=True)
class Filter:
    """A filter: its label, its SQL condition for a value, its choices, which values it takes.

    `valid` checks a value without the database (so reading a request costs no query);
    `choices`, read only to draw the form, may query.
    """

    label: str
    condition: Callable[[str], Any]
    choices: Callable[[], list[tuple[str, str]]] | None = None
    valid: Callable[[str], bool] = lambda v: len(v) <= 100


@dataclass(frozen=True)
class ListSpec:
    name: str
    title: str
    model: Any
    joins: Callable[[Select[Any]], Select[Any]]
    eager: Callable[[], list[Any]]
    sorts: dict[str, Sort]
    default_sort: str
    default_descending: bool
    filters: dict[str, Filter]
    search_columns: Callable[[], list[Any]]
    columns: list[Column]
    extras: Callable[[], list[Any]] = field(default=lambda: [])
    # Filters that read the model's own table only: with just these (and no search) the
    # count needs no join (the joins are inner joins on required foreign keys).
    own_filters: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Query:
    """What the person asked for: filters, search, sort, and where the page starts."""

    filters: dict[str, str] = field(default_factory=dict)
    search: str = ""
    sort: str = ""
    descending: bool = False
    after: str | None = None
    before: str | None = None
    last: bool = False
    size: int = PAGE_SIZE

    def params(self, **changes: Any) -> dict[str, str]:
        """Query-string parameters of this query (without the page position)."""
        params = {k: v for k, v in self.filters.items() if v}
        if self.search:
            params["q"] = self.search
        if self.sort:
            params["sort"] = self.sort
            params["dir"] = "desc" if self.descending else "asc"
        if self.size != PAGE_SIZE:
            params["size"] = str(self.size)
        params.update({k: v for k, v in changes.items() if v is not None})
        return params


@dataclass
class Page:
    spec: ListSpec
    query: Query
    rows: list[Any]
    total: int
    has_next: bool
    has_previous: bool
    next_cursor: str | None
    previous_cursor: str | None


def parse_query(spec: ListSpec, args: Any) -> Query:
    """The list query from request arguments; unknown or malformed values are dropped."""
    filters = {}
    for key, item in spec.filters.items():
        value = (args.get(key) or "").strip()
        if value and item.valid(value):
            filters[key] = value
    sort = args.get("sort") or ""
    if sort not in spec.sorts:
        sort = spec.default_sort
        descending = spec.default_descending
    else:
        descending = args.get("dir") == "desc"
    try:
        size = min(MAX_PAGE_SIZE, max(1, int(args.get("size") or PAGE_SIZE)))
    except ValueError:
        size = PAGE_SIZE
    return Query(
        filters=filters,
        search=(args.get("q") or "").strip()[:200],
        sort=sort,
        descending=descending,
        after=args.get("after") or None,
        before=args.get("before") or None,
        last=args.get("last") == "1",
        size=size,
    )


# --------------------------------------------------------------------------
# Cursors
# --------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(value: Any, row_id: int) -> str:
    raw = json.dumps([_encode(value), row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> tuple[Any, int] | None:
    """(sort value, id) of a cursor, or None when it was tampered with or is stale."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, row_id = json.loads(raw)
        if not isinstance(row_id, int):
            return None
        if kind == "datetime":
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                return None
        elif kind == "date":
            value = date.fromisoformat(value)
        elif kind == "decimal":
            value = Decimal(value)
        elif kind == "int":
            value = int(value)
        elif not isinstance(value, str):
            return None
        return value, row_id
    except (ValueError, TypeError, binascii.Error, InvalidOperation, json.JSONDecodeError):
        return None


# --------------------------------------------------------------------------
# Filtering and search
# --------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """The words typed, lower case, accents folded; "_", "-" and "." split words."""
    return search_words(text)[:SEARCH_MAX_WORDS]


def search_condition(spec: ListSpec, text: str) -> Any:
    """Every word typed, as a prefix, in the row's texts; None for no words.

    PostgreSQL: one lookup in the GIN index of the applications' kept search text
    (title, reference, organisation's name, grant number; see dashboard_facts), with
    every word required. Elsewhere (SQLite): LIKE on every word in the source columns,
    case and accents folded.
    """
    typed = _words(text)
    if not typed:
        return None
    if db.engine.dialect.name == "postgresql":
        facts = ApplicationFacts
        return Application.id.in_(
            select(facts.application_id).where(
                document(facts.search_text).op("@@")(prefix_query(typed)))
        )
    fold = getattr(func, SQLITE_FOLD_FUNCTION)
    conditions = []
    for word in typed:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(or_(*[fold(c).like(pattern, escape="\\")
                                for c in spec.search_columns()]))
    return and_(*conditions)


def _conditions(spec: ListSpec, query: Query) -> list[Any]:
    conditions = [spec.filters[k].condition(v) for k, v in query.filters.items()]
    found = search_condition(spec, query.search)
    if found is not None:
        conditions.append(found)
    return conditions


def filtered(spec: ListSpec, statement: Select[Any], query: Query) -> Select[Any]:
    statement = spec.joins(statement)
    conditions = _conditions(spec, query)
    return statement.where(and_(*conditions)) if conditions else statement


def count(spec: ListSpec, query: Query) -> int:
    """How many rows match (without the joins when no filter or search needs them)."""
    statement = select(func.count(spec.model.id))
    # PostgreSQL's search reads the application's id only; LIKE reads the joined names.
    search_joins = bool(query.search) and not (
        spec.model is Application and db.engine.dialect.name == "postgresql")
    if search_joins or not set(query.filters) <= spec.own_filters:
        return int(db.session.scalar(filtered(spec, statement, query)) or 0)
    conditions = _conditions(spec, query)
    if conditions:
        statement = statement.where(and_(*conditions))
    return int(db.session.scalar(statement) or 0)


# --------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------


def page(spec: ListSpec, query: Query) -> Page:
    """One page of the list: rows loaded with what they show, in two queries."""
    sort = spec.sorts[query.sort or spec.default_sort]
    key = sort.expression()
    row_id = spec.model.id
    descending = query.descending
    position = None
    backwards = False
    if query.before:
        position = decode_cursor(query.before, sort.kind)
        backwards = position is not None
    elif query.after:
        position = decode_cursor(query.after, sort.kind)
    elif query.last:
        backwards = True
    # Walking backwards reads the reversed order and turns the rows round afterwards.
    reverse = descending != backwards
    statement = filtered(spec, select(spec.model, key, *spec.extras()), query)
    statement = statement.options(*spec.eager())
    if position is not None:
        edge = tuple_(key, row_id)
        bound = tuple_(literal(position[0], key.type), literal(position[1]))
        statement = statement.where(edge < bound if reverse else edge > bound)
    order = (key.desc(), row_id.desc()) if reverse else (key.asc(), row_id.asc())
    statement = statement.order_by(*order).limit(query.size + 1)
    fetched = db.session.execute(statement).unique().all()
    more = len(fetched) > query.size
    fetched = fetched[: query.size]
    if backwards:
        fetched.reverse()
    total = count(spec, query)
    if backwards:
        # Before a cursor there is a next page (the cursor's row); the last page has none.
        has_previous, has_next = more, position is not None
    else:
        has_next, has_previous = more, position is not None
    first_row, last_row = (fetched[0], fetched[-1]) if fetched else (None, None)
    extras = len(spec.extras())
    rows = [r[0] if not extras else (r[0], *r[2:]) for r in fetched]
    return Page(
        spec=spec,
        query=query,
        rows=rows,
        total=total,
        has_next=has_next,
        has_previous=has_previous,
        next_cursor=encode_cursor(last_row[1], last_row[0].id) if last_row else None,
        previous_cursor=encode_cursor(first_row[1], first_row[0].id) if first_row else None,
    )


def export_rows(spec: ListSpec, query: Query) -> Iterator[list[Any]]:
    """Every matching row as export values, in the list's order, streamed from the database."""
    sort = spec.sorts[query.sort or spec.default_sort]
    key = sort.expression()
    order = (key.desc(), spec.model.id.desc()) if query.descending else (key, spec.model.id)
    statement = filtered(spec, select(*[c.expression() for c in spec.columns]), query)
    result = db.session.execute(statement.order_by(*order).execution_options(yield_per=1000))
    for row in result:
        yield list(row)


def headings(spec: ListSpec) -> list[str]:
    return [c.heading for c in spec.columns]


# --------------------------------------------------------------------------
# The four lists
# --------------------------------------------------------------------------


def _choices(values: tuple[str, ...]) -> dict[str, Any]:
    """choices and valid of a filter over a fixed vocabulary."""
    return {
        "choices": lambda: [(v, v.replace("_", " ")) for v in values],
        "valid": lambda v: v in values,
    }


def _call_choices() -> list[tuple[str, str]]:
    return [(str(i), code) for i, code in db.session.execute(
        select(Call.id, Call.code).order_by(Call.code))]


def _dialogue_choices() -> list[tuple[str, str]]:
    from ..models import Dialogue

    return [(c, n) for c, n in db.session.execute(
        select(Dialogue.code, Dialogue.name).order_by(Dialogue.name))]


def _call_filter(column: Any) -> Filter:
    return Filter("Call", lambda v: column == int(v), _call_choices,
                  lambda v: v.isdigit() and len(v) < 10)


def _has_dialogue(code: str) -> Any:
    named = application_dialogues.alias("named_dialogue")
    return exists().where(named.c.application_id == Application.id, named.c.dialogue_code == code)


def _overdue(value: str) -> Any:
    late = and_(Report.state.in_(("due", "changes_requested")), Report.due_date < now().date())
    return late if value == "yes" else ~late


def _submitted_or_created() -> Any:
    return func.coalesce(Application.submitted_at, Application.created_at)


APPLICATIONS = ListSpec(
    name="applications",
    title="Applications",
    model=Application,
    joins=lambda s: s.join(Organisation, Organisation.id == Application.organisation_id).join(
        Call, Call.id == Application.call_id
    ),
    eager=lambda: [contains_eager(Application.organisation), contains_eager(Application.call)],
    sorts={
        "newest": Sort("Newest", lambda: Application.id, "int"),
        "submitted": Sort("Submitted", _submitted_or_created, "datetime"),
        "reference": Sort("Reference", lambda: func.coalesce(Application.reference, ""), "str"),
        "title": Sort("Title", lambda: Application.title, "str"),
        "organisation": Sort("Organisation", lambda: Organisation.name, "str"),
        "state": Sort("State", lambda: Application.state, "str"),
        "requested": Sort(
            "Requested", lambda: func.coalesce(Application.requested_amount, 0), "decimal"
        ),
    },
    # Newest first by id: the primary key's index serves the first and the last page.
    default_sort="newest",
    default_descending=True,
    own_filters=frozenset({"call", "state", "dialogue"}),
    filters={
        "call": _call_filter(Application.call_id),
        "state": Filter("State", lambda v: Application.state == v, **_choices(APPLICATION_STATES)),
        "dialogue": Filter("Dialogue", _has_dialogue, _dialogue_choices),
        "org_type": Filter(
            "Type of applicant",
            lambda v: Organisation.org_type == v,
            **_choices(ORGANISATION_TYPES),
        ),
        "country": Filter("Applicant's country (ISO code)",
                          lambda v: Organisation.country_iso2 == v.upper(),
                          valid=lambda v: len(v) == 2 and v.isalpha()),
    },
    search_columns=lambda: [Application.title, Application.reference, Organisation.name],
    columns=[
        Column("Reference", lambda: Application.reference),
        Column("Title", lambda: Application.title),
        Column("Call", lambda: Call.code),
        Column("Organisation", lambda: Organisation.name),
        Column("Type of applicant", lambda: Organisation.org_type),
        Column("Applicant's country", lambda: Organisation.country_iso2),
        Column("State", lambda: Application.state),
        Column("Requested", lambda: Application.requested_amount),
        Column("Total cost", lambda: Application.total_cost),
        Column("Currency", lambda: Call.currency),
        Column("Submitted (UTC)", lambda: Application.submitted_at),
    ],
)


def _grant_joins(s: Select[Any]) -> Select[Any]:
    return (
        s.join(Application, Application.id == Grant.application_id)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .join(Call, Call.id == Application.call_id)
    )


def _paid() -> Any:
    return (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.grant_id == Grant.id, Payment.state == "paid")
        .correlate(Grant)
        .scalar_subquery()
    )


GRANTS = ListSpec(
    name="grants",
    title="Grants",
    model=Grant,
    joins=_grant_joins,
    eager=lambda: [
        contains_eager(Grant.application).contains_eager(Application.organisation),
        contains_eager(Grant.application).contains_eager(Application.call),
    ],
    sorts={
        "number": Sort("Number", lambda: Grant.number, "str"),
        "awarded": Sort("Awarded", lambda: Grant.awarded_at, "datetime"),
        "amount": Sort("Amount", lambda: Grant.amount, "decimal"),
        "end": Sort("End date", lambda: Grant.end_date, "date"),
        "organisation": Sort("Grantee", lambda: Organisation.name, "str"),
        "state": Sort("State", lambda: Grant.state, "str"),
    },
    default_sort="number",
    default_descending=False,
    filters={
        "call": _call_filter(Application.call_id),
        "state": Filter("State", lambda v: Grant.state == v, **_choices(GRANT.states)),
        "org_type": Filter(
            "Type of grantee", lambda v: Organisation.org_type == v, **_choices(ORGANISATION_TYPES)
        ),
    },
    search_columns=lambda: [Grant.number, Application.title, Organisation.name],
    columns=[
        Column("Number", lambda: Grant.number),
        Column("Title", lambda: Application.title),
        Column("Call", lambda: Call.code),
        Column("Grantee", lambda: Organisation.name),
        Column("State", lambda: Grant.state),
        Column("Amount", lambda: Grant.amount),
        Column("Paid", _paid),
        Column("Currency", lambda: Grant.currency),
        Column("Start", lambda: Grant.start_date),
        Column("End", lambda: Grant.end_date),
        Column("Signed (UTC)", lambda: Grant.signed_at),
    ],
    extras=lambda: [_paid().label("paid")],
)


def _payment_joins(s: Select[Any]) -> Select[Any]:
    return _grant_joins(s.join(Grant, Grant.id == Payment.grant_id))


PAYMENTS = ListSpec(
    name="payments",
    title="Payments",
    model=Payment,
    joins=_payment_joins,
    eager=lambda: [
        contains_eager(Payment.grant)
        .contains_eager(Grant.application)
        .contains_eager(Application.organisation),
    ],
    sorts={
        "grant": Sort("Grant", lambda: Grant.number, "str"),
        "planned": Sort("Planned amount", lambda: Payment.planned_amount, "decimal"),
        "paid": Sort("Paid", lambda: func.coalesce(Payment.paid_at, Payment.requested_at,
                                                   Grant.awarded_at), "datetime"),
        "state": Sort("State", lambda: Payment.state, "str"),
    },
    default_sort="grant",
    default_descending=False,
    filters={
        "call": _call_filter(Application.call_id),
        "state": Filter("State", lambda v: Payment.state == v, **_choices(PAYMENT.states)),
        "kind": Filter("Kind", lambda v: Payment.kind == v,
                       **_choices(("prefinancing", "further_prefinancing", "balance"))),
    },
    search_columns=lambda: [Grant.number, Application.title, Organisation.name],
    columns=[
        Column("Grant", lambda: Grant.number),
        Column("Grantee", lambda: Organisation.name),
        Column("Sequence", lambda: Payment.sequence),
        Column("Kind", lambda: Payment.kind),
        Column("State", lambda: Payment.state),
        Column("Planned amount", lambda: Payment.planned_amount),
        Column("Amount paid", lambda: Payment.amount),
        Column("Currency", lambda: Grant.currency),
        Column("Requested (UTC)", lambda: Payment.requested_at),
        Column("Paid (UTC)", lambda: Payment.paid_at),
    ],
)


def _report_joins(s: Select[Any]) -> Select[Any]:
    return _grant_joins(s.join(Grant, Grant.id == Report.grant_id))


REPORTS = ListSpec(
    name="reports",
    title="Reports",
    model=Report,
    joins=_report_joins,
    eager=lambda: [
        contains_eager(Report.grant)
        .contains_eager(Grant.application)
        .contains_eager(Application.organisation),
    ],
    sorts={
        "due": Sort("Due", lambda: Report.due_date, "date"),
        "grant": Sort("Grant", lambda: Grant.number, "str"),
        "state": Sort("State", lambda: Report.state, "str"),
    },
    default_sort="due",
    default_descending=False,
    filters={
        "call": _call_filter(Application.call_id),
        "state": Filter("State", lambda v: Report.state == v, **_choices(REPORT.states)),
        "kind": Filter("Kind", lambda v: Report.kind == v, **_choices(("interim", "final"))),
        "overdue": Filter("Overdue", _overdue, lambda: [("yes", "overdue"), ("no", "not overdue")],
                          lambda v: v in ("yes", "no")),
    },
    search_columns=lambda: [Grant.number, Application.title, Organisation.name],
    columns=[
        Column("Grant", lambda: Grant.number),
        Column("Grantee", lambda: Organisation.name),
        Column("Kind", lambda: Report.kind),
        Column("Sequence", lambda: Report.sequence),
        Column("Period start", lambda: Report.period_start),
        Column("Period end", lambda: Report.period_end),
        Column("Due", lambda: Report.due_date),
        Column("State", lambda: Report.state),
        Column("Submitted (UTC)", lambda: Report.submitted_at),
        Column("Approved (UTC)", lambda: Report.approved_at),
    ],
)

def application_detail(application_id: int) -> tuple[Application, Grant | None] | None:
    """An application with what its page shows and its grant: one query, and one each for
    its countries and dialogues (a joined many-to-many makes SQLite scan the whole
    association table)."""
    from sqlalchemy.orm import joinedload, selectinload

    from ..models import ApplicationJvapDomain

    row = db.session.execute(
        select(Application, Grant)
        .outerjoin(Grant, Grant.application_id == Application.id)
        .where(Application.id == application_id)
        .options(
            joinedload(Application.call), joinedload(Application.lot),
            joinedload(Application.organisation), selectinload(Application.countries),
            selectinload(Application.dialogues),
            joinedload(Application.jvap_links).joinedload(ApplicationJvapDomain.domain),
        )
    ).unique().first()
    return (row[0], row[1]) if row else None


def grant_detail(grant_id: int) -> Grant | None:
    """A grant with its application, grantee, payments and reports, in two queries."""
    from sqlalchemy.orm import joinedload, selectinload

    return db.session.scalar(
        select(Grant).where(Grant.id == grant_id).options(
            joinedload(Grant.application).joinedload(Application.organisation),
            selectinload(Grant.payments), selectinload(Grant.reports),
        )
    )


LISTS: dict[str, ListSpec] = {s.name: s for s in (APPLICATIONS, GRANTS, PAYMENTS, REPORTS)}


def spec_named(name: str) -> ListSpec | None:
    return LISTS.get(name)


def filter_options(spec: ListSpec) -> list[tuple[str, Filter, list[tuple[str, str]] | None]]:
    """Each filter with its choices (read once per page), for the filter form."""
    return [(key, item, item.choices() if item.choices else None)
            for key, item in spec.filters.items()]


def query_from_params(spec: ListSpec, params: dict[str, Any]) -> Query:
    """A Query back from the parameters an export job stored."""
    return parse_query(spec, params)
