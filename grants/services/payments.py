"""Payments of a grant: the contract's money rules applied to the grant's records.

The pure rules live in ``grants.rules.payments``; this module feeds them what
the grant has paid and what its reports declare:

* pre-financing is released on signature, at its planned amount;
* a further pre-financing is released when the interim report closing the
  previous period is approved, reduced where less than 70% of the previous
  payment was used (and 100% of the earlier ones);
* the balance is released when the final report is approved, or, where more
  was paid than the final grant, a recovery order is issued instead;
* total pre-financing paid never exceeds 90% of the grant.

Amounts are decided when the report opening a payment is approved; the
grantee (or the system) then requests the payment, which the workflow refuses
before it is due, and a manager approves and pays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from ..extensions import db
from ..models import Grant, Payment, RecoveryOrder, Report
from ..rules import payments as rules
from .actors import Actor
from .transitions import transition

if TYPE_CHECKING:
    from .transitions import TransitionContext

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Release:
    """What a report's approval (or the signature) releases: an amount, or a recovery."""

    payment: Payment | None
    amount: Decimal
    recovery: Decimal
    explanation: str


def paid_payments(grant: Grant, before: Payment | None = None) -> list[Payment]:
    """Payments actually paid, in order; only those before `before` when given."""
    paid = [p for p in grant.payments if p.state == "paid" and p.amount is not None]
    if before is not None:
        paid = [p for p in paid if p.sequence < before.sequence]
    return sorted(paid, key=lambda p: p.sequence)


def prefinancing_paid(grant: Grant) -> Decimal:
    return sum((p.amount or ZERO for p in paid_payments(grant) if p.kind != "balance"), ZERO)


def total_paid(grant: Grant) -> Decimal:
    return sum((p.amount or ZERO for p in paid_payments(grant)), ZERO)


def report_spent(report: Report) -> Decimal:
    """Total costs the report declares: per budget heading, or as one figure."""
    spent = (report.financial or {}).get("spent", {})
    if isinstance(spent, dict):
        return sum((Decimal(str(v)) for v in spent.values()), ZERO)
    return Decimal(str(spent))


def eu_expenditure(grant: Grant, up_to: Report) -> Decimal:
    """Cumulative costs of the interim reports up to `up_to`, at the grant's funding rate."""
    interim = [r for r in grant.reports if r.kind == "interim" and r.sequence <= up_to.sequence]
    costs = sum((report_spent(r) for r in interim), ZERO)
    return rules.to_money(costs * grant.funding_rate)


def further_prefinancing(grant: Grant, payment: Payment, report: Report) -> Release:
    """The 70% rule on the payment the approved interim `report` opens."""
    paid = paid_payments(grant, before=payment)
    if not paid:
        return Release(payment, payment.planned_amount, ZERO, "no earlier payment was made")
    previous, earlier = paid[-1].amount or ZERO, [p.amount or ZERO for p in paid[:-1]]
    decision = rules.further_prefinancing_amount(
        payment.planned_amount, previous, earlier, eu_expenditure(grant, report)
    )
    amount, explanation = decision.amount, decision.explanation
    # Never above the 90% ceiling, whatever earlier amendments or reductions did.
    room = rules.to_money(grant.amount * rules.PREFINANCING_CEILING) - prefinancing_paid(grant)
    if amount > room:
        amount = max(room, ZERO)
        explanation += (
            f" Capped at {rules.format_eur(amount)} so that total pre-financing stays within "
            "90% of the grant."
        )
    return Release(payment, amount, ZERO, explanation)


def balance(grant: Grant, report: Report) -> Release:
    """The balance after the approved final report, or the amount to recover."""
    payment = next((p for p in grant.payments if p.kind == "balance"), None)
    decision = rules.final_balance(
        grant.amount, report_spent(report), grant.funding_rate, total_paid(grant)
    )
    return Release(payment, decision.balance, decision.recovery, decision.explanation)


def release_after_report(report: Report, ctx: TransitionContext) -> None:
    """An approved report releases the payment it opens (or issues a recovery order)."""
    grant = report.grant
    if report.kind == "interim":
        trigger = f"interim_report_{report.sequence}"
        payment = next((p for p in grant.payments if p.trigger == trigger), None)
        if payment is None or payment.state != "planned":
            return
        release = further_prefinancing(grant, payment, report)
    else:
        # The final report settles everything: pre-financing not yet due never will be.
        for left in grant.payments:
            if left.kind == "further_prefinancing" and left.state == "planned":
                left.amount = ZERO
                left.explanation = "Not due: superseded by the approval of the final report."
        release = balance(grant, report)
        payment = release.payment
        if payment is None or payment.state != "planned":
            return
    payment.amount = release.amount
    payment.explanation = release.explanation
    if release.recovery > 0:
        db.session.add(
            RecoveryOrder(
                grant=grant,
                amount=release.recovery,
                reason=release.explanation,
                issued_at=ctx.now,
                issued_by_id=ctx.actor.id,
                status="issued",
            )
        )


# A grant whose payments may be requested.
PAYABLE_GRANT_STATES = ("active", "suspended", "final_reporting")


def opening_report(payment: Payment) -> Report | None:
    """The report whose approval makes the payment due; None for the payment due at
    signature, or while that report is not planned."""
    if payment.trigger == "signature":
        return None
    if payment.trigger == "final_report":
        kind, sequence = "final", None
    else:
        kind, sequence = "interim", int(payment.trigger.removeprefix("interim_report_"))
    return next(
        (r for r in payment.grant.reports
         if r.kind == kind and (sequence is None or r.sequence == sequence)),
        None,
    )


def request_reasons(payment: Payment) -> list[str]:
    """Why the payment cannot be requested yet (empty: it is due)."""
    grant = payment.grant
    if grant.state not in PAYABLE_GRANT_STATES:
        return [f"{grant.label} is {grant.state.replace('_', ' ')}: no payment is due"]
    if payment.trigger == "signature":
        return []
    report = opening_report(payment)
    if report is None or report.state != "approved":
        label = report.label if report is not None else payment.trigger.replace("_", " ")
        return [f"{label} is not approved yet"]
    if payment.amount is not None and payment.amount <= 0:
        return [f"nothing is due: {payment.explanation or 'the amount is zero'}"]
    return []




def request(payment: Payment, actor: Actor) -> Payment:
    """The grantee (or the system) requests a payment that is due."""
    return transition(payment, "request", actor)  # type: ignore[return-value]


def ceiling_reasons(payment: Payment) -> list[str]:
    """Why paying would take pre-financing above 90% of the grant (empty: it would not)."""
    if payment.kind == "balance":
        return []
    already = sum(
        (
            p.amount or ZERO
            for p in paid_payments(payment.grant)
            if p.kind != "balance" and p is not payment
        ),
        ZERO,
    )
    return rules.check_prefinancing_ceiling(
        payment.grant.amount, already + (payment.amount or payment.planned_amount)
    )


def nothing_due(payment: Payment) -> bool:
    """A planned payment set to zero: reduced to nothing, superseded, or a recovery instead."""
    return payment.state == "planned" and payment.amount == ZERO


def approve(payment: Payment, actor: Actor, comment: str | None = None) -> Payment:
    """A manager approves a requested payment."""
    return transition(payment, "approve", actor, comment=comment)  # type: ignore[return-value]


def pay(payment: Payment, actor: Actor, comment: str | None = None) -> Payment:
    """A manager records an approved payment as paid."""
    return transition(payment, "pay", actor, comment=comment)  # type: ignore[return-value]


def reject(payment: Payment, actor: Actor, comment: str) -> Payment:
    return transition(payment, "reject", actor, comment=comment)  # type: ignore[return-value]


def recovery_orders(grant: Grant) -> list[RecoveryOrder]:
    return list(grant.recovery_orders)


@dataclass(frozen=True)
class MoneySummary:
    amount: Decimal
    paid: Decimal
    due: Decimal
    """Requested or approved, not yet paid."""
    planned: Decimal
    recovered: Decimal


def summary(grant: Grant) -> MoneySummary:
    """Money of one grant: paid, awaiting payment, still planned, to recover."""
    due = sum(
        (
            p.amount or p.planned_amount
            for p in grant.payments
            if p.state in ("requested", "approved")
        ),
        ZERO,
    )
    planned = sum(
        (p.planned_amount for p in grant.payments if p.state == "planned" and not nothing_due(p)),
        ZERO,
    )
    recovered = sum((r.amount for r in recovery_orders(grant) if r.status != "cancelled"), ZERO)
    return MoneySummary(grant.amount, total_paid(grant), due, planned, recovered)
