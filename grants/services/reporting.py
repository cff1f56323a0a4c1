"""Reports of a grant: narrative progress and spending, review, overdue, end of implementation.

The reporting schedule is created on signature (see effects.plan_payments_and_reports):
one interim report per pre-financing period but the last, and the final report
due FINAL_REPORT_MONTHS (a setting, 3 by default) after the end of implementation.

What a report holds:
  narrative = {"summary": str,
               "results": {"<o>.<r>": {"progress": str,
                                       "indicators": {"<o>.<r>.<i>": achieved}}}}
  financial = {"spent": {heading: "amount spent in the period"}}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from ..clock import now
from ..extensions import db
from ..models import BUDGET_HEADINGS, Grant, Report, User
from ..policy import has_workflow_role
from ..rules import payments as rules
from .actors import SYSTEM, Actor
from .amendments import current_budget
from .errors import GuardFailed, PermissionDenied, ValidationFailed
from .transitions import transition

EDITABLE_STATES = ("due", "changes_requested")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class IndicatorRow:
    key: str
    indicator: str
    baseline: str
    target: str
    achieved: str


@dataclass(frozen=True)
class ResultRow:
    key: str
    objective: str
    result: str
    progress: str
    indicators: list[IndicatorRow]


@dataclass(frozen=True)
class HeadingRow:
    heading: str
    budget: Decimal
    spent: Decimal
    cumulative: Decimal
    variance: Decimal
    """Cumulative spending less the budget: negative is under budget."""
    used: Decimal
    """Share of the heading's budget used so far."""


def narrative_rows(report: Report) -> list[ResultRow]:
    """Each result of the logframe with its indicators, baseline, target and what was achieved."""
    saved = (report.narrative or {}).get("results", {})
    rows = []
    logframe = report.grant.application.section_data("logframe")
    for o, objective in enumerate(logframe.get("objectives", []), start=1):
        for r, result in enumerate(objective.get("results", []), start=1):
            key = f"{o}.{r}"
            done = saved.get(key, {})
            indicators = [
                IndicatorRow(
                    key=f"{key}.{i}",
                    indicator=str(ind.get("indicator", "")),
                    baseline=str(ind.get("baseline", "")),
                    target=str(ind.get("target", "")),
                    achieved=str(done.get("indicators", {}).get(f"{key}.{i}", "")),
                )
                for i, ind in enumerate(result.get("indicators", []), start=1)
            ]
            rows.append(
                ResultRow(
                    key=key,
                    objective=str(objective.get("objective", "")),
                    result=str(result.get("result", "")),
                    progress=str(done.get("progress", "")),
                    indicators=indicators,
                )
            )
    return rows


def spent_by_heading(report: Report) -> dict[str, Decimal]:
    spent = (report.financial or {}).get("spent", {})
    if not isinstance(spent, dict):  # one figure, not split by heading
        spent = {}
    return {h: Decimal(str(spent.get(h, "0"))) for h in BUDGET_HEADINGS}


def financial_rows(report: Report) -> list[HeadingRow]:
    """Spent per heading against the (amended) budget, with the variance.

    An interim report covers its period: its cumulative figure adds the earlier
    interim reports. The final report covers the whole action.
    """
    grant = report.grant
    budget = current_budget(grant)
    earlier: list[Report] = []
    if report.kind == "interim":
        earlier = [r for r in grant.reports if r.kind == "interim" and r.sequence < report.sequence]
    rows = []
    this = spent_by_heading(report)
    for heading in BUDGET_HEADINGS:
        cumulative = this[heading] + sum((spent_by_heading(r)[heading] for r in earlier), ZERO)
        planned = budget.get(heading, ZERO)
        if not planned and not cumulative:
            continue
        used = (cumulative / planned).quantize(Decimal("0.0001")) if planned else Decimal(0)
        rows.append(
            HeadingRow(heading, planned, this[heading], cumulative, cumulative - planned, used)
        )
    return rows


def _amount(value: Any, field: str, errors: dict[str, list[str]]) -> str:
    text = str(value or "0").strip().replace(",", "") or "0"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        errors[field] = ["not an amount"]
        return "0.00"
    if not amount.is_finite() or amount < 0:
        errors[field] = ["must be zero or more"]
        return "0.00"
    return str(rules.to_money(amount))


def save_report(
    report: Report,
    actor: User,
    summary: str,
    results: dict[str, dict[str, Any]],
    spent: dict[str, Any],
) -> Report:
    """The grantee saves the narrative and financial parts of a due report (not yet submitted)."""
    if not has_workflow_role(actor, "applicant_editor", report):
        raise PermissionDenied("owners and editors of the grantee organisation only")
    if report.state not in EDITABLE_STATES:
        raise GuardFailed(f"{report.label} is {report.state}", ["it can no longer be edited"])
    errors: dict[str, list[str]] = {}
    financial = {"spent": {h: _amount(spent.get(h), f"spent_{h}", errors) for h in BUDGET_HEADINGS}}
    if errors:
        raise ValidationFailed("some amounts are not valid", errors)
    keys = {row.key: row for row in narrative_rows(report)}
    narrative_results = {}
    for key, row in keys.items():
        given = results.get(key, {})
        narrative_results[key] = {
            "progress": str(given.get("progress", "")).strip(),
            "indicators": {
                ind.key: str(given.get("indicators", {}).get(ind.key, "")).strip()
                for ind in row.indicators
            },
        }
    report.narrative = (
        {"summary": summary.strip(), "results": narrative_results}
        if (summary.strip() or any(v["progress"] for v in narrative_results.values()))
        else {}
    )
    report.financial = financial if any(Decimal(v) for v in financial["spent"].values()) else {}
    db.session.commit()
    return report


def submit(report: Report, actor: Actor) -> Report:
    return transition(report, "submit", actor)  # type: ignore[return-value]


def approve(report: Report, actor: Actor, comment: str | None = None) -> Report:
    """Approve a report: it releases the payment it opens (or the balance, or a recovery)."""
    return transition(report, "approve", actor, comment=comment)  # type: ignore[return-value]


def request_changes(report: Report, actor: Actor, comment: str) -> Report:
    return transition(report, "request_changes", actor, comment=comment)  # type: ignore[return-value]


def awaiting_review() -> list[Report]:
    return list(
        db.session.scalars(
            select(Report).where(Report.state == "submitted").order_by(Report.submitted_at)
        )
    )


def overdue(today: date | None = None) -> list[Report]:
    """Reports past due and not submitted (overdue is derived from the due date)."""
    today = today or now().date()
    return list(
        db.session.scalars(
            select(Report)
            .join(Grant, Grant.id == Report.grant_id)
            .where(
                Report.state.in_(EDITABLE_STATES),
                Report.due_date < today,
                Grant.state.in_(("active", "suspended", "final_reporting")),
            )
            .order_by(Report.due_date)
        )
    )


def end_implementations() -> int:
    """Active grants past their end date move to final reporting; returns how many moved."""
    today = now().date()
    grants = list(
        db.session.scalars(
            select(Grant).where(Grant.state == "active", Grant.end_date < today).order_by(Grant.id)
        )
    )
    moved = 0
    for grant in grants:
        try:
            transition(grant, "end_implementation", SYSTEM)
        except GuardFailed:
            continue
        moved += 1
    return moved
