"""The programme manager's dashboard: pipeline, money and breakdowns, from running totals.

The figures are sums of `dashboard_rollups` rows, which `dashboard_facts` keeps in step
with every change in the change's own transaction: so the page reads a few hundred
rows whatever the size of the programme, and its figures are those of the last commit
(no cache to expire). Three queries: the calls with their lots, the totals, and the
labels of the countries, dialogues and JVAP domains.

Filters: a call, a dialogue the application names, and a period on the date of
submission (from and to, inclusive, in UTC days). Drafts have no submission
date: with a period they drop out; the breakdowns and money count submitted
applications only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, literal, select, union_all

from ..clock import now
from ..extensions import db
from ..models import Call, Country, Dialogue, JvapDomain, Lot
from ..models.dashboard import ALL_TIME, DashboardRollup
from . import dashboard_facts
from .dashboard_facts import COMMITTED_GRANT_STATES  # noqa: F401 (part of this module's API)

ZERO = Decimal("0.00")
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


def funnel(states: dict[str, int]) -> list[tuple[str, str, int]]:
    """(key, label, count) from submission to award; each stage includes the later ones."""
    result: list[tuple[str, str, int]] = []
    running = 0
    for key, label in reversed(FUNNEL):
        running += sum(states.get(s, 0) for s in _REACHED[key])
        result.append((key, label, running))
    result.reverse()
    return result


def _money(amount: int) -> Decimal:
    return Decimal(int(amount)).scaleb(-2)


def _totals_query(filters: Filters) -> Select[Any]:
    """The rollup rows the filters select, added up per kind, value, call, lot and state."""
    rollup = DashboardRollup
    conditions: list[Any] = []
    if filters.call_id:
        conditions.append(rollup.call_id == filters.call_id)
    if filters.dialogue:
        code = filters.dialogue.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(rollup.dialogues.like(f"%,{code},%", escape="\\"))
    if filters.date_from or filters.date_to:
        # Days of submission; a period leaves out what was never submitted.
        conditions.append(rollup.day >= (filters.date_from.toordinal() if filters.date_from
                                         else ALL_TIME + 1))
        if filters.date_to:
            conditions.append(rollup.day <= filters.date_to.toordinal())
    else:
        conditions.append(rollup.day == ALL_TIME)
    return (
        select(
            rollup.kind, rollup.value, rollup.call_id, rollup.lot_id, rollup.state,
            *[func.sum(getattr(rollup, m)) for m in (
                "applications", "awarded_applications", "requested_cents", "awarded_cents",
                "committed_cents", "paid_cents")],
        )
        .where(and_(*conditions))
        .group_by(rollup.kind, rollup.value, rollup.call_id, rollup.lot_id, rollup.state)
    )


def _labels() -> dict[str, dict[str, str]]:
    """Names of the countries, dialogues and JVAP domains, in one query."""
    query = union_all(
        select(literal("country"), Country.iso2, Country.name),
        select(literal("dialogue"), Dialogue.code, Dialogue.name),
        select(literal("jvap_domain"), cast(JvapDomain.number, String), JvapDomain.title),
    )
    labels: dict[str, dict[str, str]] = {"country": {}, "dialogue": {}, "jvap_domain": {}}
    for kind, key, name in db.session.execute(query):
        labels[kind][str(key)] = name
    return labels


_LABELS_OF = {
    "jvap_domain": "jvap_domain",
    "dialogue": "dialogue",
    "implementation_country": "country",
    "applicant_country": "country",
}


def _compute(filters: Filters) -> tuple[Dashboard, dict[str, list[tuple[str, str]]]]:
    """The dashboard for these filters, and the choices of the filter form."""
    dashboard_facts.bring_up_to_date(db.session)
    calls: dict[int, Call] = {}
    lots: dict[int, list[Lot]] = {}
    for call, lot in db.session.execute(  # every call with its lots: the form lists them all
        select(Call, Lot).outerjoin(Lot, Lot.call_id == Call.id).order_by(Call.code, Lot.code)
    ):
        calls.setdefault(call.id, call)
        lots.setdefault(call.id, [])
        if lot is not None:
            lots[call.id].append(lot)
    states: dict[str, int] = {}
    money: dict[tuple[int, int], list[int]] = {}
    folded: dict[str, dict[str, list[int]]] = {kind: {} for kind in dashboard_facts.BREAKDOWN_KINDS}
    for kind, value, call_id, lot_id, state, *sums in db.session.execute(_totals_query(filters)):
        number, awarded_number, requested, awarded, committed, paid = (int(v or 0) for v in sums)
        if not number:
            continue
        if kind == dashboard_facts.PIPELINE:
            states[state] = states.get(state, 0) + number
            entry = money.setdefault((call_id, lot_id), [0, 0, 0, 0])
            for i, amount in enumerate((requested, awarded, committed, paid)):
                entry[i] += amount
        elif kind in folded:
            entry = folded[kind].setdefault(value, [0, 0, 0])
            entry[0] += number
            entry[1] += requested
            entry[2] += awarded_number
    labels = _labels()
    breakdowns: dict[str, list[Row]] = {}
    for kind, entries in folded.items():
        names = (ORGANISATION_TYPE_LABELS if kind == "applicant_type"
                 else labels[_LABELS_OF[kind]])
        rows = [Row(value, names.get(value, value), n, _money(requested), awarded)
                for value, (n, requested, awarded) in entries.items()]
        rows.sort(key=lambda r: (-r.applications, r.label))
        breakdowns[kind] = rows
    money_rows: list[MoneyRow] = []
    for call in calls.values():
        if filters.call_id and call.id != filters.call_id:
            continue
        whole = [0, 0, 0, 0]
        for (call_id, _lot), amounts in money.items():
            if call_id == call.id:
                whole = [a + b for a, b in zip(whole, amounts, strict=True)]
        money_rows.append(MoneyRow(call.code, None, f"{call.code} — {call.title}",
                                   call.currency, call.budget, *map(_money, whole)))
        for lot in lots[call.id]:
            amounts = money.get((call.id, lot.id), [0, 0, 0, 0])
            money_rows.append(MoneyRow(
                call.code, lot.code, f"{call.code} lot {lot.code} — {lot.title}", call.currency,
                lot.budget, *map(_money, amounts)))
    call_rows = [r for r in money_rows if r.lot_code is None]
    currencies = {r.currency for r in call_rows}
    totals = None
    if call_rows and len(currencies) == 1:
        totals = MoneyRow(
            "", None, "All calls", currencies.pop(),
            *(sum((getattr(r, f) for r in call_rows), ZERO)
              for f in ("envelope", "requested", "awarded", "committed", "paid")),
        )
    board = Dashboard(filters=filters, states=states, funnel=funnel(states), money=money_rows,
                      totals=totals, breakdowns=breakdowns)
    choices = {
        "calls": [(str(c.id), f"{c.code} — {c.title}") for c in calls.values()],
        "dialogues": sorted(labels["dialogue"].items(), key=lambda item: item[1]),
    }
    return board, choices


def build(filters: Filters) -> Dashboard:
    """Every figure of the dashboard for these filters."""
    return _compute(filters)[0]


@dataclass(frozen=True)
class PageFigures:
    board: Dashboard
    choices: dict[str, list[tuple[str, str]]]
    computed_at: datetime


def page_figures(filters: Filters) -> PageFigures:
    """The dashboard as the page shows it, with the filter form's choices and the time."""
    board, choices = _compute(filters)
    return PageFigures(board, choices, now())


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """What the filter form offers: the calls and the dialogues."""
    return _compute(Filters())[1]
