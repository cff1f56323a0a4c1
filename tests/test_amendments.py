"""Amendments: changes by notification (25% cumulative transfers, bank account, address) and
by addendum (approval, no increase of the maximum grant, none after the end of implementation).

The application's budget: human resources EUR 60,000.00 and other services EUR 60,000.00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import Amendment, AuditEvent, Grant
from grants.services import amendments
from grants.services.errors import GuardFailed, PermissionDenied, ValidationFailed
from grants.services.transitions import transition
from tests.factories import ApplicationFactory, ManagerFactory, member, sign_as_grantee


@pytest.fixture
def manager(app):  # type: ignore[no-untyped-def]
    return ManagerFactory()


@pytest.fixture
def grant(app, frozen_clock, manager) -> Grant:  # type: ignore[no-untyped-def]
    application = ApplicationFactory(state="provisionally_selected")
    transition(application, "award", manager, data={"documents_verified": True})
    grant = db.session.scalar(select(Grant))
    transition(grant, "send_for_signature", manager)
    sign_as_grantee(grant, application.created_by)
    transition(grant, "sign", manager)
    return grant


def owner(grant: Grant):  # type: ignore[no-untyped-def]
    return grant.application.created_by


def transfer(
    grant: Grant, amount: str, source: str = "human_resources", target: str = "other_services"
) -> Amendment:
    return amendments.notify_change(
        grant,
        owner(grant),
        "budget_transfer",
        f"Move {amount}",
        {"from_heading": source, "to_heading": target, "amount": amount},
    )


def test_the_original_budget_comes_from_the_application(grant):
    budget = amendments.current_budget(grant)
    assert budget["human_resources"] == Decimal("60000.00")
    assert budget["other_services"] == Decimal("60000.00")
    assert budget["travel"] == Decimal("0.00")


def test_transfers_up_to_25_per_cent_cumulatively_by_notification(grant):
    first = transfer(grant, "10000.00")  # 16.67% of 60,000
    assert (first.kind, first.status) == ("notification", "approved")
    second = transfer(grant, "5000.00")  # 15,000 cumulatively: exactly 25%
    assert second.status == "approved"
    budget = amendments.current_budget(grant)
    assert budget["human_resources"] == Decimal("45000.00")
    assert budget["other_services"] == Decimal("75000.00")
    assert [v.number for v in grant.contracts] == [1, 2, 3]
    assert grant.contracts[-1].reason == "Notification: Move 5000.00"

    with pytest.raises(GuardFailed) as caught:
        transfer(grant, "0.01")  # one cent beyond 25%, counted cumulatively
    assert caught.value.reasons[-1] == "this transfer needs an addendum to the contract"
    assert any("25%" in reason for reason in caught.value.reasons[:-1])
    assert len(grant.contracts) == 3
    assert db.session.scalar(select(db.func.count(Amendment.id))) == 2


def test_a_transfer_back_frees_the_limit(grant):
    transfer(grant, "15000.00")
    transfer(grant, "15000.00", "other_services", "human_resources")  # back to the original
    assert transfer(grant, "15000.00").status == "approved"


def test_a_heading_with_no_original_amount_cannot_be_fed_by_notification(grant):
    with pytest.raises(GuardFailed):
        transfer(grant, "100.00", target="travel")


def test_a_single_transfer_above_25_per_cent_is_refused(grant):
    with pytest.raises(GuardFailed) as caught:
        transfer(grant, "15000.01")
    assert "this transfer needs an addendum to the contract" in caught.value.reasons
    assert amendments.current_budget(grant)["human_resources"] == Decimal("60000.00")


def test_bank_account_and_address_by_notification(grant):
    amendments.notify_change(
        grant, owner(grant), "bank_account", "New bank", {"bank_account": "SN08 SN01 0015 2000"}
    )
    amendments.notify_change(
        grant, owner(grant), "address", "Moved", {"address": "5 Rue Carnot, Dakar"}
    )
    terms = amendments.current_terms(grant)
    assert terms["bank_account"] == "SN08 SN01 0015 2000"
    assert terms["address"] == "5 Rue Carnot, Dakar"
    assert len(grant.contracts) == 3
    events = db.session.scalars(
        select(AuditEvent.event).where(AuditEvent.object_type == "grants")
    ).all()
    assert events.count("amendment_notified") == 2


def test_anything_else_needs_an_addendum(grant):
    with pytest.raises(GuardFailed) as caught:
        amendments.notify_change(grant, owner(grant), "end_date", "Later", {})
    assert caught.value.reasons == [
        "'end_date' cannot be changed by notification: request an addendum"
    ]


def test_a_viewer_may_not_request_a_change(grant):
    viewer = member(grant.application.organisation, "viewer")
    with pytest.raises(PermissionDenied):
        amendments.notify_change(grant, viewer, "address", "x", {"address": "y"})


def test_an_addendum_never_increases_the_maximum_grant(grant):
    with pytest.raises(GuardFailed) as caught:
        amendments.request_addendum(grant, owner(grant), "More money", {"amount": "120000.01"})
    assert caught.value.reasons == ["the maximum grant of EUR 120,000.00 may not be increased"]
    assert grant.amendments == []


def test_an_addendum_extends_the_action_once_approved(grant, manager):
    asked = amendments.request_addendum(
        grant, owner(grant), "Three more months", {"end_date": "2027-08-31"}
    )
    assert asked.status == "requested" and amendments.pending_addenda() == [asked]
    assert len(grant.contracts) == 1
    with pytest.raises(PermissionDenied):
        amendments.decide_addendum(asked, owner(grant), True, "")
    amendments.decide_addendum(asked, manager, True, "Justified by the delays.")
    assert asked.status == "approved" and asked.decided_by_id == manager.id
    assert grant.end_date == date(2027, 8, 31)
    assert grant.contracts[-1].number == 2
    assert grant.contracts[-1].terms == {"end_date": "2027-08-31"}
    with pytest.raises(GuardFailed):
        amendments.decide_addendum(asked, manager, False, "Twice")


def test_an_addendum_moves_budget_beyond_25_per_cent(grant, manager):
    asked = amendments.request_addendum(
        grant,
        owner(grant),
        "New balance of headings",
        {"budget": {"human_resources": "30000.00", "other_services": "90000.00"}},
    )
    amendments.decide_addendum(asked, manager, True, "Agreed.")
    assert amendments.current_budget(grant)["other_services"] == Decimal("90000.00")


def test_an_addendum_budget_must_keep_the_total(grant):
    with pytest.raises(GuardFailed) as caught:
        amendments.request_addendum(
            grant, owner(grant), "Uneven", {"budget": {"human_resources": "70000.00"}}
        )
    assert caught.value.reasons == [
        "the headings add up to 130,000.00, not the budget total of 120,000.00"
    ]


def test_a_refusal_needs_a_reason_and_changes_nothing(grant, manager):
    asked = amendments.request_addendum(grant, owner(grant), "Smaller", {"amount": "100000"})
    with pytest.raises(ValidationFailed):
        amendments.decide_addendum(asked, manager, False, " ")
    amendments.decide_addendum(asked, manager, False, "Not justified.")
    assert asked.status == "refused" and asked.decision_comment == "Not justified."
    assert grant.amount == Decimal("120000.00") and len(grant.contracts) == 1


def test_no_amendment_after_the_end_of_implementation(grant, frozen_clock):
    frozen_clock.set(datetime(2027, 6, 1, 9, 0, tzinfo=UTC))  # the action ended on 31 May
    with pytest.raises(GuardFailed) as caught:
        amendments.request_addendum(grant, owner(grant), "Later", {"end_date": "2027-09-30"})
    assert caught.value.reasons == [
        "the implementation period ended on 2027-05-31: no amendment after the end of "
        "implementation"
    ]
    with pytest.raises(GuardFailed):
        transfer(grant, "100.00")


def test_an_addendum_approved_late_is_refused(grant, manager, frozen_clock):
    asked = amendments.request_addendum(grant, owner(grant), "Later", {"end_date": "2027-09-30"})
    frozen_clock.set(datetime(2027, 6, 1, 9, 0, tzinfo=UTC))
    with pytest.raises(GuardFailed):
        amendments.decide_addendum(asked, manager, True, "Too late")
    assert asked.status == "requested"


def test_a_terminated_grant_cannot_be_amended(grant, manager):
    transition(grant, "terminate", manager, comment="Serious breach.")
    with pytest.raises(GuardFailed) as caught:
        transfer(grant, "100.00")
    assert caught.value.reasons[0] == f"{grant.label} is terminated: it cannot be amended"


def test_each_version_renders_the_contract_as_it_stood(grant, manager):
    import io

    from pypdf import PdfReader

    from grants.services.contracts import render_contract

    first = grant.contracts[0]
    original = render_contract(grant, first)
    amendments.notify_change(
        grant, owner(grant), "address", "Moved", {"address": "5 Rue Carnot, Dakar"}
    )
    asked = amendments.request_addendum(
        grant, owner(grant), "Three more months", {"end_date": "2027-08-31"}
    )
    amendments.decide_addendum(asked, manager, True, "Agreed.")
    # The signed version still renders to the very same document.
    assert render_contract(grant, first) == original
    latest = render_contract(grant)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(latest)).pages)
    assert "Article 7" in text and "Addendum: Three more months" in text
    assert "5 Rue Carnot, Dakar" in text and "31 August 2027" in text
    assert grant.contracts[-1].document_sha256 != first.document_sha256
