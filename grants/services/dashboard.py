"""The programme manager's dashboard: pipeline, money and breakdowns, in a fixed set of queries.

Every figure is an aggregate computed by the database (GROUP BY), so the number
of queries does not depend on the number of applications: one for the calls and
their lots, one pass over the applications (with their grant and paid payments)
for the states and the money per call and lot, one for the applicant's country
and type, and one for each of the JVAP domains, dialogues and countries of
implementation. `page_figures` keeps the result per filter until something is
audited (at most a minute), so the page usually costs one indexed query.

Filters: a call, a dialogue the application names, and a period on the date of
submission (from and to, inclusive, in UTC days). Drafts have no submission
date: with a period they drop out; the breakdowns and money count submitted
applications only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, case, exists, func, select

from ..clock import now
from ..extensions import db
from ..models import (
    Application,
    ApplicationJvapDomain,
    AuditEvent,
    Call,
    Country,
    Dialogue,
    Grant,
    JvapDomain,
    Lot,
    Organisation,
    Payment,
)
from ..models.applications import application_countries, application_dialogues

ZERO = Decimal("0.00")
# The dialogue filter reads the association under its own name, so it never correlates
# with the breakdown that joins the same table.
_NAMED = application_dialogues.alias("named_dialogue")

# The funnel, from submission to award, by how far an application's current state shows
# it went. Each stage counts the applications in the states listed and in every later one.
FUNNEL = (
    ("submitted", "Submitted"),
    ("admitted", "Admitted to evaluation"),
    ("shortlisted", "Invited / full application"),
    ("selected", "Selected"),
    ("awarded", "Awarded"),
)
_REACHED: dict[str, frozenset[str]] = {
    "awarded": frozenset({"awarded"}),
    "selected": frozenset({"provisionally_selected", "ineligible"}),
    "shortlisted": frozenset({"invited", "fa_submitted", "lapsed", "fa_in_evaluation",
                              "reserve"}),
    "admitted": frozenset({"in_evaluation", "rejected"}),
    "submitted": frozenset({"submitted", "admin_rejected"}),
}
# Grants whose contract is signed: their amount is a legal commitment.
COMMITTED_GRANT_STATES = ("active", "suspended", "final_reporting", "closed", "terminated")
ORGANISATION_TYPE_LABELS = {
    "cso": "Civil-society organisation",
    "local_authority": "Local authority",
    "diaspora": "Diaspora organisation",
}


@dataclass(frozen=True)
class Filters:
    call_id: int | None = None
    dialogue: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        return any((self.call_id, self.dialogue, self.date_from, self.date_to))

    def as_params(self) -> dict[str, str]:
        """The filters as query-string parameters (for links and the PDF)."""
        params = {
            "call": str(self.call_id) if self.call_id else "",
            "dialogue": self.dialogue or "",
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
        }
        return {k: v for k, v in params.items() if v}


def parse_filters(args: Any) -> Filters:
    """Filters from a request's arguments; anything malformed is ignored, not an error."""

    def day(key: str) -> date | None:
        try:
            return date.fromisoformat(args.get(key, "") or "")
        except ValueError:
            return None

    call = args.get("call", "") or ""
    return Filters(
        call_id=int(call) if call.isdigit() else None,
        dialogue=(args.get("dialogue") or None),
        date_from=day("from"),
        date_to=day("to"),
    )


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: a label, how many applications, what they ask and got."""

    key: str
    label: str
    applications: int
    requested: Decimal
    awarded: int = 0


@dataclass(frozen=True)
class MoneyRow:
    call_code: str
    lot_code: str | None
    label: str
    currency: str
    envelope: Decimal
    requested: Decimal
    awarded: Decimal
    committed: Decimal
    paid: Decimal


@dataclass
class Dashboard:
    filters: Filters
    states: dict[str, int]
    funnel: list[tuple[str, str, int]]
    money: list[MoneyRow]
    totals: MoneyRow | None
    breakdowns: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def total_applications(self) -> int:
        return sum(self.states.values())

    @property
    def funnel_table(self) -> list[tuple[str, int, str]]:
        first = self.funnel[0][2] if self.funnel else 0
        return [(label, n, f"{n / first:.0%}" if first else "—") for _k, label, n in self.funnel]

    @property
    def state_table(self) -> list[tuple[str, int]]:
        return [(state.replace("_", " "), n) for state, n in sorted(self.states.items())]

    def breakdown_table(self, key: str) -> list[tuple[str, int, str, int]]:
        return [(r.label, r.applications, f"{r.requested:,.2f}", r.awarded)
                for r in self.breakdowns.get(key, [])]


BREAKDOWNS = (
    ("jvap_domain", "By JVAP domain"),
    ("dialogue", "By dialogue"),
    ("implementation_country", "By country of implementation"),
    ("applicant_country", "By applicant's country"),
    ("applicant_type", "By type of applicant"),
)


def _where(filters: Filters, *, submitted_only: bool) -> list[Any]:
    conditions: list[Any] = []
    if filters.call_id:
        conditions.append(Application.call_id == filters.call_id)
    if filters.dialogue:
        conditions.append(
            exists().where(
                _NAMED.c.application_id == Application.id,
                _NAMED.c.dialogue_code == filters.dialogue,
            )
        )
    if filters.date_from:
        conditions.append(
            Application.submitted_at >= datetime.combine(filters.date_from, time(), UTC)
        )
    if filters.date_to:
        conditions.append(
            Application.submitted_at
            < datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
        )
    if submitted_only:
        conditions.append(Application.submitted_at.is_not(None))
    return conditions


def _filtered(query: Select[Any], filters: Filters, *, submitted_only: bool = True) -> Select[Any]:
    conditions = _where(filters, submitted_only=submitted_only)
    return query.where(and_(*conditions)) if conditions else query


def funnel(states: dict[str, int]) -> list[tuple[str, str, int]]:
    """(key, label, count) from submission to award; each stage includes the later ones."""
    result: list[tuple[str, str, int]] = []
    running = 0
    for key, label in reversed(FUNNEL):
        running += sum(states.get(s, 0) for s in _REACHED[key])
        result.append((key, label, running))
    result.reverse()
    return result


def _sum(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def money(filters: Filters) -> tuple[dict[str, int], list[MoneyRow], MoneyRow | None]:
    """Applications per state, and envelope, requested, awarded, committed and paid per
    call and per lot: one pass over the applications, one query for the calls and lots."""
    calls_query = select(Call, Lot).outerjoin(Lot, Lot.call_id == Call.id).order_by(
        Call.code, Lot.code)
    if filters.call_id:
        calls_query = calls_query.where(Call.id == filters.call_id)
    calls: dict[int, Call] = {}
    lots: dict[int, Lot] = {}
    for call, lot in db.session.execute(calls_query):  # one query for calls and lots
        calls.setdefault(call.id, call)
        if lot is not None:
            lots[lot.id] = lot
    # One pass over the applications: requested, and through the grant (one per
    # application at most) and its paid payments, awarded, committed and paid.
    paid_per_grant = (
        select(Payment.grant_id, func.sum(Payment.amount).label("paid"))
        .where(Payment.state == "paid")
        .group_by(Payment.grant_id)
        .subquery("paid_per_grant")
    )
    live_grant = and_(Grant.application_id == Application.id, Grant.state != "lapsed")
    requested: dict[tuple[int, int | None], Decimal] = {}
    granted: dict[tuple[int, int | None], tuple[Decimal, Decimal]] = {}
    paid: dict[tuple[int, int | None], Decimal] = {}
    # Drafts are counted in the states, never in the money: requested counts submitted ones.
    states: dict[str, int] = {}
    for call_id, lot_id, state, number, asked, awarded, committed, paid_total in db.session.execute(
        _filtered(
            select(
                Application.call_id,
                Application.lot_id,
                Application.state,
                func.count(Application.id),
                _sum(case((Application.submitted_at.is_not(None), Application.requested_amount),
                          else_=None)),
                _sum(Grant.amount),
                _sum(case((Grant.state.in_(COMMITTED_GRANT_STATES), Grant.amount), else_=0)),
                _sum(paid_per_grant.c.paid),
            )
            .outerjoin(Grant, live_grant)
            .outerjoin(paid_per_grant, paid_per_grant.c.grant_id == Grant.id)
            .group_by(Application.call_id, Application.lot_id, Application.state),
            filters,
            submitted_only=False,
        )
    ):
        key = (call_id, lot_id)
        states[state] = states.get(state, 0) + int(number)
        requested[key] = requested.get(key, ZERO) + Decimal(asked)
        before = granted.get(key, (ZERO, ZERO))
        granted[key] = (before[0] + Decimal(awarded), before[1] + Decimal(committed))
        paid[key] = paid.get(key, ZERO) + Decimal(paid_total)
    rows: list[MoneyRow] = []
    for call in calls.values():
        call_lots = [lot for lot in lots.values() if lot.call_id == call.id]
        keys = [(call.id, lot.id) for lot in call_lots] + [(call.id, None)]

        def total(values: dict[Any, Any], index: int | None = None, ks: list[Any] = keys) -> Any:
            picked = [values.get(k) for k in ks]
            if index is not None:
                picked = [p[index] if p else None for p in picked]
            return sum((Decimal(p) for p in picked if p is not None), ZERO)

        rows.append(
            MoneyRow(call.code, None, f"{call.code} — {call.title}", call.currency,
                     call.budget, total(requested), total(granted, 0), total(granted, 1),
                     total(paid))
        )
        for lot in call_lots:
            key = (call.id, lot.id)
            awarded, committed = granted.get(key, (ZERO, ZERO))
            rows.append(
                MoneyRow(call.code, lot.code, f"{call.code} lot {lot.code} — {lot.title}",
                         call.currency, lot.budget, requested.get(key, ZERO), awarded,
                         committed, paid.get(key, ZERO))
            )
    call_rows = [r for r in rows if r.lot_code is None]
    currencies = {r.currency for r in call_rows}
    totals = None
    if call_rows and len(currencies) == 1:
        totals = MoneyRow(
            "", None, "All calls", currencies.pop(),
            *(sum((getattr(r, f) for r in call_rows), ZERO)
              for f in ("envelope", "requested", "awarded", "committed", "paid")),
        )
    return states, rows, totals


def _breakdown(
    filters: Filters,
    key: Any,
    joins: Iterable[tuple[Any, Any]],
    label: Any = None,
    labels: dict[str, str] | None = None,
) -> list[Row]:
    """Applications, requested and awarded per value of `key`; `label` a column joined in."""
    label = key if label is None else label
    query = select(
        key,
        label,
        func.count(Application.id),
        _sum(Application.requested_amount),
        func.coalesce(func.sum(case((Application.state == "awarded", 1), else_=0)), 0),
    ).select_from(Application)
    for target, on in joins:
        query = query.join(target, on)
    query = _filtered(query.group_by(key, label), filters)
    labels = labels or {}
    rows = [
        Row(str(k), labels.get(str(k), str(name)), int(n), Decimal(requested), int(awarded))
        for k, name, n, requested, awarded in db.session.execute(query)
    ]
    rows.sort(key=lambda r: (-r.applications, r.label))
    return rows


def breakdowns(filters: Filters) -> dict[str, list[Row]]:
    """Each breakdown in one grouped query, its labels joined from the reference tables."""
    place = Country.__table__.alias("place")
    return {
        "jvap_domain": _breakdown(
            filters, ApplicationJvapDomain.domain_number,
            [(ApplicationJvapDomain, ApplicationJvapDomain.application_id == Application.id),
             (JvapDomain, JvapDomain.number == ApplicationJvapDomain.domain_number)],
            JvapDomain.title,
        ),
        "dialogue": _breakdown(
            filters, application_dialogues.c.dialogue_code,
            [(application_dialogues, application_dialogues.c.application_id == Application.id),
             (Dialogue, Dialogue.code == application_dialogues.c.dialogue_code)],
            Dialogue.name,
        ),
        "implementation_country": _breakdown(
            filters, application_countries.c.country_iso2,
            [(application_countries, application_countries.c.application_id == Application.id),
             (place, place.c.iso2 == application_countries.c.country_iso2)],
            place.c.name,
        ),
        **_applicant_breakdowns(filters),
    }


def _applicant_breakdowns(filters: Filters) -> dict[str, list[Row]]:
    """By applicant's country and by type of applicant, from one grouped query."""
    query = _filtered(
        select(
            Organisation.country_iso2,
            Country.name,
            Organisation.org_type,
            func.count(Application.id),
            _sum(Application.requested_amount),
            func.coalesce(func.sum(case((Application.state == "awarded", 1), else_=0)), 0),
        )
        .select_from(Application)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .join(Country, Country.iso2 == Organisation.country_iso2)
        .group_by(Organisation.country_iso2, Country.name, Organisation.org_type),
        filters,
    )
    folded: dict[str, dict[str, list[Any]]] = {"applicant_country": {}, "applicant_type": {}}
    for iso, country, org_type, number, requested, awarded in db.session.execute(query):
        for kind, key, label in (
            ("applicant_country", iso, country),
            ("applicant_type", org_type, ORGANISATION_TYPE_LABELS.get(org_type, org_type)),
        ):
            entry = folded[kind].setdefault(key, [label, 0, ZERO, 0])
            entry[1] += int(number)
            entry[2] += Decimal(requested)
            entry[3] += int(awarded)
    result = {}
    for kind, entries in folded.items():
        rows = [Row(key, label, n, requested, awarded)
                for key, (label, n, requested, awarded) in entries.items()]
        rows.sort(key=lambda r: (-r.applications, r.label))
        result[kind] = rows
    return result


def build(filters: Filters) -> Dashboard:
    """Every figure of the dashboard for these filters."""
    states, rows, totals = money(filters)
    return Dashboard(
        filters=filters,
        states=states,
        funnel=funnel(states),
        money=rows,
        totals=totals,
        breakdowns=breakdowns(filters),
    )


# --------------------------------------------------------------------------
# The page's figures, kept for a short while
# --------------------------------------------------------------------------

DEFAULT_CACHE_SECONDS = 60
CACHE_ENTRIES = 64


@dataclass(frozen=True)
class PageFigures:
    board: Dashboard
    choices: dict[str, list[tuple[str, str]]]
    computed_at: datetime
    version: int


def page_figures(filters: Filters) -> PageFigures:
    """The dashboard as the page shows it, reused while nothing was audited since.

    Aggregating a large programme takes a while, so the figures of each filter are
    kept in the process for DASHBOARD_CACHE_SECONDS (60 by default; 0 turns this
    off), and recomputed at once when an audit event was written since (every
    transition writes one: a submission, a decision, a grant signed, a payment made).
    Reusing them costs one indexed query (the newest audit event's id).
    """
    seconds = int(current_app.config.get("DASHBOARD_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))
    version = int(db.session.scalar(select(func.max(AuditEvent.id))) or 0)
    moment = now()
    store = current_app.extensions.setdefault(
        "grants_dashboard", {"lock": threading.Lock(), "entries": OrderedDict()}
    )
    if seconds > 0:
        with store["lock"]:
            entry = store["entries"].get(filters)
            if (
                entry is not None
                and entry.version == version
                and timedelta(0) <= moment - entry.computed_at < timedelta(seconds=seconds)
            ):
                store["entries"].move_to_end(filters)
                return entry  # type: ignore[no-any-return]
    entry = PageFigures(build(filters), filter_choices(), moment, version)
    if seconds > 0:
        with store["lock"]:
            store["entries"][filters] = entry
            while len(store["entries"]) > CACHE_ENTRIES:
                store["entries"].popitem(last=False)
    return entry


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """What the filter form offers: the calls and the dialogues."""
    return {
        "calls": [(str(i), f"{code} — {title}") for i, code, title in db.session.execute(
            select(Call.id, Call.code, Call.title).order_by(Call.code))],
        "dialogues": [(c, n) for c, n in db.session.execute(
            select(Dialogue.code, Dialogue.name).order_by(Dialogue.name))],
    }
