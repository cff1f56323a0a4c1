"""The payment services apply the contract's money rules to a grant's records, with figures.

Grant of EUR 100,000.00 at a funding rate of 100%, pre-financing shares 40% +
30% + 20%: payments of 40,000 on signature, 30,000 after interim report 1,
20,000 after interim report 2, and a planned balance of 10,000.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import Grant, Payment, RecoveryOrder
from grants.services import payments, reporting
from grants.services.actors import SYSTEM
from grants.services.errors import GuardFailed, PermissionDenied
from grants.services.transitions import transition
from tests.factories import (
    ApplicationFactory,
    ManagerFactory,
    SingleStageCallFactory,
    member,
    sign_as_grantee,
)


@pytest.fixture
def manager(app):  # type: ignore[no-untyped-def]
    return ManagerFactory()


def signed_grant(
    manager,  # type: ignore[no-untyped-def]
    shares: list[str],
    amount: str = "100000.00",
    total_cost: str | None = None,
) -> Grant:
    call = SingleStageCallFactory(
        state="decided",
        prefinancing_shares=shares,
        grant_max=Decimal("200000.00"),
        duration_max_months=24,
    )
    application = ApplicationFactory(
        call=call,
        state="provisionally_selected",
        requested_amount=Decimal(amount),
        total_cost=Decimal(total_cost or amount),
        duration_months=24,
    )
    transition(application, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant).where(Grant.application_id == application.id))
    transition(grant, "send_for_signature", manager)
    sign_as_grantee(grant, application.created_by)
    transition(grant, "sign", manager)
    return grant


def grantee(grant: Grant):  # type: ignore[no-untyped-def]
    return grant.application.created_by


def pay(payment: Payment, grant: Grant, manager) -> Payment:  # type: ignore[no-untyped-def]
    payments.request(payment, grantee(grant))
    payments.approve(payment, manager)
    return payments.pay(payment, manager)


def report_spending(report, grant: Grant, manager, spent: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    reporting.save_report(report, grantee(grant), "Progress as planned.", {}, spent)
    reporting.submit(report, grantee(grant))
    reporting.approve(report, manager)


@pytest.fixture
def grant(app, frozen_clock, manager) -> Grant:  # type: ignore[no-untyped-def]
    return signed_grant(manager, ["0.40", "0.30", "0.20"])


def test_the_schedule_follows_the_call_shares(grant):
    assert [(p.kind, p.trigger, p.planned_amount) for p in grant.payments] == [
        ("prefinancing", "signature", Decimal("40000.00")),
        ("further_prefinancing", "interim_report_1", Decimal("30000.00")),
        ("further_prefinancing", "interim_report_2", Decimal("20000.00")),
        ("balance", "final_report", Decimal("10000.00")),
    ]
    assert [(r.kind, r.sequence) for r in grant.reports] == [
        ("interim", 1),
        ("interim", 2),
        ("final", 1),
    ]


def test_prefinancing_is_paid_on_signature_at_its_share(grant, manager):
    first = pay(grant.payments[0], grant, manager)
    assert (first.state, first.amount) == ("paid", Decimal("40000.00"))
    assert payments.summary(grant).paid == Decimal("40000.00")
    assert payments.summary(grant).planned == Decimal("60000.00")


def test_further_prefinancing_waits_for_the_interim_report(grant, manager):
    pay(grant.payments[0], grant, manager)
    with pytest.raises(GuardFailed) as caught:
        payments.request(grant.payments[1], grantee(grant))
    assert caught.value.reasons == [f"Interim report 1 of {grant.label} is not approved yet"]
    assert grant.payments[1].state == "planned"


def test_a_viewer_may_not_request_a_payment(grant):
    viewer = member(grant.application.organisation, "viewer")
    with pytest.raises(PermissionDenied):
        payments.request(grant.payments[0], viewer)


def test_seventy_per_cent_used_means_the_full_further_payment(grant, manager):
    pay(grant.payments[0], grant, manager)
    # 28,000.00 is exactly 70% of the 40,000.00 paid: no reduction.
    report_spending(grant.reports[0], grant, manager, {"human_resources": "28000.00"})
    second = grant.payments[1]
    assert second.amount == Decimal("30000.00")
    assert "paid in full" in second.explanation
    pay(second, grant, manager)
    assert second.amount == Decimal("30000.00")


def test_less_than_seventy_per_cent_used_reduces_the_further_payment(grant, manager):
    pay(grant.payments[0], grant, manager)
    # 27,999.99 used of 40,000.00: reduced by one cent.
    report_spending(grant.reports[0], grant, manager, {"human_resources": "27999.99"})
    assert grant.payments[1].amount == Decimal("29999.99")


def test_the_reduction_counts_earlier_payments_in_full(grant, manager):
    pay(grant.payments[0], grant, manager)
    report_spending(grant.reports[0], grant, manager, {"human_resources": "30000.00"})
    pay(grant.payments[1], grant, manager)  # 30,000.00
    # Cumulative spending 50,000: 40,000 absorb the first payment, 10,000 used of the
    # second (30,000), whose 70% is 21,000: the third is reduced by 11,000 to 9,000.
    report_spending(
        grant.reports[1], grant, manager, {"human_resources": "15000.00", "travel": "5000.00"}
    )
    third = grant.payments[2]
    assert third.amount == Decimal("9000.00")
    assert "reduced by EUR 21,000.00 - EUR 10,000.00 = EUR 11,000.00" in third.explanation
    pay(third, grant, manager)
    assert payments.summary(grant).paid == Decimal("79000.00")


def test_a_reduction_beyond_the_planned_payment_leaves_nothing_to_pay(app, frozen_clock, manager):
    grant = signed_grant(manager, ["0.40", "0.10"])  # 40,000 then 10,000
    pay(grant.payments[0], grant, manager)
    # 1,000 used of 40,000: 27,000 short of 70%, more than the 10,000 planned.
    report_spending(grant.reports[0], grant, manager, {"human_resources": "1000.00"})
    second = grant.payments[1]
    assert second.amount == Decimal("0.00")
    assert "nothing is paid" in second.explanation
    with pytest.raises(GuardFailed) as caught:
        payments.request(second, grantee(grant))
    assert caught.value.reasons[0].startswith("nothing is due")


def test_a_reduction_below_the_planned_payment(grant, manager):
    pay(grant.payments[0], grant, manager)
    # 1,000 used of 40,000: reduced by 28,000 - 1,000 = 27,000, from 30,000 to 3,000.
    report_spending(grant.reports[0], grant, manager, {"human_resources": "1000.00"})
    assert grant.payments[1].amount == Decimal("3000.00")


def test_the_funding_rate_applies_to_the_expenditure(app, frozen_clock, manager):
    # EUR 90,000 on EUR 100,000 of costs: a rate of 90%; one share of 40% then 30%.
    grant = signed_grant(manager, ["0.40", "0.30"], amount="90000.00", total_cost="100000.00")
    assert grant.payments[0].planned_amount == Decimal("36000.00")
    pay(grant.payments[0], grant, manager)
    # 27,000 of costs x 90% = 24,300 used; 70% of 36,000 is 25,200: reduced by 900.
    report_spending(grant.reports[0], grant, manager, {"human_resources": "27000.00"})
    assert grant.payments[1].amount == Decimal("27000.00") - Decimal("900.00")


def test_the_balance_after_the_final_report(grant, manager, frozen_clock):
    pay(grant.payments[0], grant, manager)
    report_spending(grant.reports[0], grant, manager, {"human_resources": "30000.00"})
    pay(grant.payments[1], grant, manager)
    report_spending(grant.reports[1], grant, manager, {"human_resources": "20000.00"})
    pay(grant.payments[2], grant, manager)  # 9,000 after the reduction: 79,000 paid
    frozen_clock.set(datetime(2029, 1, 2, 9, 0, tzinfo=UTC))
    reporting.end_implementations()
    assert grant.state == "final_reporting"
    # Eligible costs 80,000 at 100%: final grant 80,000, paid 79,000, balance 1,000.
    report_spending(grant.reports[2], grant, manager, {"human_resources": "80000.00"})
    balance = grant.payments[3]
    assert balance.amount == Decimal("1000.00")
    assert "Balance to pay: EUR 1,000.00" in balance.explanation
    with pytest.raises(GuardFailed) as caught:
        transition(grant, "close", manager)
    assert caught.value.reasons == ["payment 4 (balance) is still planned"]
    pay(balance, grant, manager)
    transition(grant, "close", manager)
    assert grant.state == "closed"
    assert payments.summary(grant).paid == Decimal("80000.00")
    assert db.session.scalars(select(RecoveryOrder)).all() == []


def test_the_balance_is_capped_at_the_maximum_grant(grant, manager, frozen_clock):
    pay(grant.payments[0], grant, manager)
    frozen_clock.set(datetime(2029, 1, 2, 9, 0, tzinfo=UTC))
    transition(grant, "end_implementation", SYSTEM)
    report_spending(grant.reports[2], grant, manager, {"human_resources": "130000.00"})
    assert grant.payments[3].amount == Decimal("60000.00")  # 100,000 - 40,000


def test_a_recovery_order_when_less_was_spent_than_paid(grant, manager, frozen_clock):
    pay(grant.payments[0], grant, manager)
    report_spending(grant.reports[0], grant, manager, {"human_resources": "30000.00"})
    pay(grant.payments[1], grant, manager)  # 70,000 paid
    frozen_clock.set(datetime(2029, 1, 2, 9, 0, tzinfo=UTC))
    transition(grant, "end_implementation", SYSTEM)
    report_spending(grant.reports[2], grant, manager, {"human_resources": "60000.00"})
    [order] = payments.recovery_orders(grant)
    assert (order.amount, order.status) == (Decimal("10000.00"), "issued")
    assert "a recovery order of EUR 10,000.00 is issued" in order.reason
    balance = grant.payments[3]
    assert balance.amount == Decimal("0.00") and payments.nothing_due(balance)
    with pytest.raises(GuardFailed) as caught:
        payments.request(balance, grantee(grant))
    assert caught.value.reasons[0].startswith("nothing is due")
    # Interim report 2 was never approved; the grant closes on the final report and recovery.
    transition(grant, "close", manager)
    assert grant.state == "closed"
    assert payments.summary(grant).recovered == Decimal("10000.00")


def test_further_prefinancing_is_capped_at_ninety_per_cent(app, frozen_clock, manager):
    from grants.services import amendments

    grant = signed_grant(manager, ["0.40", "0.50"])
    pay(grant.payments[0], grant, manager)  # 40,000
    amendments.request_addendum(grant, grantee(grant), "Smaller action", {"amount": "80000.00"})
    amendments.decide_addendum(grant.amendments[0], manager, True, "Agreed.")
    assert grant.amount == Decimal("80000.00")
    report_spending(grant.reports[0], grant, manager, {"human_resources": "40000.00"})
    # 90% of 80,000 is 72,000; 40,000 paid: at most 32,000 more, not the planned 50,000.
    second = grant.payments[1]
    assert second.amount == Decimal("32000.00")
    assert "Capped at EUR 32,000.00" in second.explanation
    payments.request(second, grantee(grant))
    payments.approve(second, manager)
    second.amount = Decimal("32000.01")
    db.session.commit()
    with pytest.raises(GuardFailed) as caught:
        payments.pay(second, manager)
    assert caught.value.reasons == [
        "Total pre-financing paid, EUR 72,000.01, exceeds 90% of the grant of EUR 80,000.00 "
        "(EUR 72,000.00) by EUR 0.01."
    ]
    db.session.refresh(second)
    assert second.state == "approved"
    second.amount = Decimal("32000.00")
    db.session.commit()
    payments.pay(second, manager)
    assert payments.prefinancing_paid(grant) == Decimal("72000.00")


def test_a_further_payment_without_an_earlier_one_is_paid_as_planned(grant, manager):
    # The pre-financing was never paid (e.g. rejected): nothing to measure usage against.
    payments.request(grant.payments[0], grantee(grant))
    payments.reject(grant.payments[0], manager, "Bank details missing.")
    report_spending(grant.reports[0], grant, manager, {"human_resources": "100.00"})
    assert grant.payments[1].amount == Decimal("30000.00")
    assert grant.payments[1].explanation == "no earlier payment was made"


def test_money_summary_counts_requested_payments_as_due(grant, manager):
    payments.request(grant.payments[0], grantee(grant))
    summary = payments.summary(grant)
    assert (summary.paid, summary.due, summary.planned) == (
        Decimal("0.00"),
        Decimal("40000.00"),
        Decimal("60000.00"),
    )
    assert grant.end_date - grant.start_date > timedelta(days=600)
