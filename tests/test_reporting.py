"""Reporting: narrative against the logframe, spending against the budget, review, overdue,
and the end of implementation leading to final reporting."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import Grant
from grants.services import amendments, reporting
from grants.services.errors import GuardFailed, PermissionDenied, ValidationFailed
from grants.services.transitions import transition
from tests.factories import (
    ApplicationFactory,
    ManagerFactory,
    SingleStageCallFactory,
    member,
    sign_as_grantee,
)

LOGFRAME = {
    "objectives": [
        {
            "objective": "Reliable information on safe migration",
            "results": [
                {
                    "result": "Information centres open",
                    "indicators": [
                        {"indicator": "Centres open", "baseline": "0", "target": "4"},
                        {"indicator": "People informed", "baseline": "100", "target": "6000"},
                    ],
                }
            ],
        }
    ]
}


@pytest.fixture
def manager(app):  # type: ignore[no-untyped-def]
    return ManagerFactory()


@pytest.fixture
def grant(app, frozen_clock, manager) -> Grant:  # type: ignore[no-untyped-def]
    call = SingleStageCallFactory(state="decided", prefinancing_shares=["0.50", "0.30"])
    application = ApplicationFactory(call=call, state="provisionally_selected")
    for section in application.sections:
        if section.key == "logframe":
            section.data = LOGFRAME
    db.session.commit()
    transition(application, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant))
    transition(grant, "send_for_signature", manager)
    sign_as_grantee(grant, application.created_by)
    transition(grant, "sign", manager)
    return grant


def owner(grant: Grant):  # type: ignore[no-untyped-def]
    return grant.application.created_by


def test_the_schedule_one_interim_per_period_and_the_final_three_months_after(grant):
    # Six months from 1 December 2026: interim report 1 covers the first three.
    interim, final = grant.reports
    assert (interim.period_start, interim.period_end, interim.due_date) == (
        date(2026, 12, 1),
        date(2027, 2, 28),
        date(2027, 3, 28),
    )
    assert (final.period_start, final.period_end, final.due_date) == (
        date(2026, 12, 1),
        date(2027, 5, 31),
        date(2027, 8, 31),
    )


def test_the_narrative_follows_the_logframe(grant):
    interim = grant.reports[0]
    reporting.save_report(
        interim,
        owner(grant),
        "Two centres opened.",
        {
            "1.1": {
                "progress": "Two of four centres open.",
                "indicators": {"1.1.1": "2", "1.1.2": "1850"},
            }
        },
        {"human_resources": "20000.00"},
    )
    [row] = reporting.narrative_rows(interim)
    assert (row.key, row.result, row.progress) == (
        "1.1",
        "Information centres open",
        "Two of four centres open.",
    )
    assert [(i.indicator, i.baseline, i.target, i.achieved) for i in row.indicators] == [
        ("Centres open", "0", "4", "2"),
        ("People informed", "100", "6000", "1850"),
    ]


def test_spending_against_the_budget_with_variance(grant):
    interim = grant.reports[0]
    reporting.save_report(
        interim,
        owner(grant),
        "First period.",
        {},
        {"human_resources": "20000.00", "other_services": "5000.50"},
    )
    rows = {r.heading: r for r in reporting.financial_rows(interim)}
    assert set(rows) == {"human_resources", "other_services"}
    hr = rows["human_resources"]
    assert (hr.budget, hr.spent, hr.cumulative, hr.variance, hr.used) == (
        Decimal("60000.00"),
        Decimal("20000.00"),
        Decimal("20000.00"),
        Decimal("-40000.00"),
        Decimal("0.3333"),
    )
    assert rows["other_services"].variance == Decimal("-54999.50")


def test_the_budget_is_the_amended_one(grant):
    amendments.notify_change(
        grant,
        owner(grant),
        "budget_transfer",
        "More outreach",
        {"from_heading": "human_resources", "to_heading": "other_services", "amount": "6000"},
    )
    interim = grant.reports[0]
    reporting.save_report(interim, owner(grant), "x", {}, {"other_services": "70000.00"})
    rows = {r.heading: r for r in reporting.financial_rows(interim)}
    assert rows["other_services"].budget == Decimal("66000.00")
    assert rows["other_services"].variance == Decimal("4000.00")


def test_invalid_amounts_are_refused(grant):
    with pytest.raises(ValidationFailed) as caught:
        reporting.save_report(grant.reports[0], owner(grant), "x", {}, {"travel": "-5"})
    assert caught.value.fields == {"spent_travel": ["must be zero or more"]}


def test_review_requests_changes_then_approves(grant, manager):
    interim = grant.reports[0]
    with pytest.raises(GuardFailed) as caught:
        reporting.submit(interim, owner(grant))
    assert caught.value.reasons == [
        "the narrative report is empty",
        "the financial report is empty",
    ]
    reporting.save_report(interim, owner(grant), "Done.", {}, {"travel": "100"})
    reporting.submit(interim, owner(grant))
    assert reporting.awaiting_review() == [interim]
    with pytest.raises(GuardFailed):
        reporting.save_report(interim, owner(grant), "Edit", {}, {"travel": "1"})
    reporting.request_changes(interim, manager, "Add the attendance lists.")
    assert interim.state == "changes_requested"
    reporting.save_report(interim, owner(grant), "Done, with lists.", {}, {"travel": "100"})
    reporting.submit(interim, owner(grant))
    reporting.approve(interim, manager)
    assert interim.state == "approved" and reporting.awaiting_review() == []


def test_a_viewer_may_not_write_a_report(grant):
    viewer = member(grant.application.organisation, "viewer")
    with pytest.raises(PermissionDenied):
        reporting.save_report(grant.reports[0], viewer, "x", {}, {"travel": "1"})


def test_overdue_is_derived_from_the_due_date(grant, frozen_clock):
    interim = grant.reports[0]
    assert reporting.overdue(date(2027, 3, 28)) == []
    assert reporting.overdue(date(2027, 3, 29)) == [interim]
    assert interim.is_overdue(date(2027, 3, 29))
    reporting.save_report(interim, owner(grant), "Late.", {}, {"travel": "1"})
    reporting.submit(interim, owner(grant))
    assert reporting.overdue(date(2027, 3, 29)) == []


def test_the_end_of_implementation_leads_to_final_reporting(grant, frozen_clock):
    frozen_clock.set(datetime(2027, 5, 31, 23, 0, tzinfo=UTC))
    assert reporting.end_implementations() == 0
    assert grant.state == "active"
    frozen_clock.set(datetime(2027, 6, 1, 0, 0, 1, tzinfo=UTC))
    assert reporting.end_implementations() == 1
    assert grant.state == "final_reporting"
    assert reporting.end_implementations() == 0


def test_a_suspended_grant_is_not_moved(grant, manager, frozen_clock):
    transition(grant, "suspend", manager, comment="Audit under way.")
    frozen_clock.set(datetime(2027, 7, 1, 9, 0, tzinfo=UTC))
    assert reporting.end_implementations() == 0
    assert grant.state == "suspended"


def test_sections_without_a_logframe_give_no_rows(grant):
    for section in grant.application.sections:
        if section.key == "logframe":
            section.data = {}
    db.session.commit()
    assert reporting.narrative_rows(grant.reports[0]) == []


def test_the_months_for_the_final_report_are_a_setting(app, frozen_clock, manager):
    app.config["FINAL_REPORT_MONTHS"] = 2
    call = SingleStageCallFactory(state="decided")
    application = ApplicationFactory(call=call, state="provisionally_selected")
    transition(application, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant).where(Grant.application_id == application.id))
    transition(grant, "send_for_signature", manager)
    sign_as_grantee(grant, application.created_by)
    transition(grant, "sign", manager)
    [final] = grant.reports
    assert (final.period_end, final.due_date) == (date(2027, 5, 31), date(2027, 7, 31))


def test_the_periodic_sweeps_end_implementation_once(grant, frozen_clock):
    """The sweep moves an ended grant to final reporting, and a second run does nothing."""
    from grants.services import sweeps

    frozen_clock.set(datetime(2027, 6, 1, 0, 0, 1, tzinfo=UTC))
    assert sweeps.run_all()["end_implementations"] == 1
    assert grant.state == "final_reporting"
    assert sweeps.run_all()["end_implementations"] == 0
