"""The grantee's and the manager's grant screens, end to end through the views."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import Grant, Payment, Signature, User
from tests.factories import PASSWORD, ApplicationFactory, ManagerFactory, member


def login(client, user: User) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def logout(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/account/logout")


@pytest.fixture
def manager(app):  # type: ignore[no-untyped-def]
    return ManagerFactory()


@pytest.fixture
def selected(app, frozen_clock):  # type: ignore[no-untyped-def]
    return ApplicationFactory(state="provisionally_selected")


def test_from_award_to_a_paid_prefinancing_through_the_screens(client, manager, selected):
    owner = selected.created_by
    login(client, manager)
    page = client.get("/manage/grants/")
    assert page.status_code == 200 and selected.reference in page.text

    refused = client.post(f"/manage/grants/award/{selected.id}", data={"amount": "100000"},
                          follow_redirects=True)
    assert "supporting documents have not been confirmed" in refused.text
    done = client.post(
        f"/manage/grants/award/{selected.id}",
        data={"amount": "100000", "documents_verified": "y"},
        follow_redirects=True,
    )
    grant = db.session.scalar(select(Grant))
    assert done.status_code == 200 and grant.number in done.text
    assert grant.amount == Decimal("100000.00")

    client.post(f"/manage/grants/{grant.id}/send")
    db.session.refresh(grant)
    assert grant.state == "awaiting_signature"
    logout(client)

    login(client, owner)
    mine = client.get("/grants/")
    assert grant.number in mine.text and "Contract to sign" in mine.text
    page = client.get(f"/grants/{grant.id}")
    assert "Sign the contract" in page.text
    pdf = client.get(f"/grants/{grant.id}/contract.pdf")
    assert pdf.data.startswith(b"%PDF-")
    digest = grant.current_contract.document_sha256
    client.post(f"/grants/{grant.id}/sign",
                data={"name": "Awa Diop", "document_sha256": digest, "confirm": "y"})
    signature = db.session.scalar(select(Signature))
    assert (signature.signer_name, signature.document_sha256) == ("Awa Diop", digest)
    logout(client)

    login(client, manager)
    client.post(f"/manage/grants/{grant.id}/countersign")
    db.session.refresh(grant)
    assert grant.state == "active"
    logout(client)

    login(client, owner)
    first = grant.payments[0]
    client.post(f"/grants/payments/{first.id}/request")
    logout(client)

    login(client, manager)
    overview = client.get("/manage/grants/")
    assert "Payment 1 of" in overview.text
    client.post(f"/manage/grants/payments/{first.id}/approve")
    client.post(f"/manage/grants/payments/{first.id}/pay")
    db.session.refresh(first)
    assert (first.state, first.amount) == ("paid", Decimal("80000.00"))
    page = client.get(f"/manage/grants/{grant.id}")
    assert "80,000.00" in page.text


def test_reports_written_by_the_grantee_and_reviewed_by_the_manager(client, manager, selected):
    from grants.services import awards
    from tests.factories import sign_as_grantee

    grant = awards.award(selected, manager, documents_verified=True)
    awards.send_for_signature(grant, manager)
    sign_as_grantee(grant, selected.created_by)
    awards.countersign(grant, manager, address="192.0.2.9")
    final = grant.reports[-1]

    login(client, selected.created_by)
    form = client.get(f"/grants/reports/{final.id}")
    assert form.status_code == 200 and "Financial report" in form.text
    client.post(f"/grants/reports/{final.id}", data={
        "summary": "All done.", "spent_human_resources": "50000", "spent_travel": "0",
        "spent_equipment": "0", "spent_local_office": "0", "spent_other_services": "0",
        "spent_other": "0",
    })
    db.session.refresh(final)
    assert final.financial["spent"]["human_resources"] == "50000.00"
    client.post(f"/grants/reports/{final.id}/submit")
    db.session.refresh(final)
    assert final.state == "submitted"
    logout(client)

    login(client, manager)
    review = client.get(f"/manage/grants/reports/{final.id}")
    assert "Request changes" in review.text and "50,000.00" in review.text
    client.post(f"/manage/grants/reports/{final.id}/request_changes",
                data={"comment": "Add receipts."})
    db.session.refresh(final)
    assert final.state == "changes_requested"


def test_amendment_requests_from_the_grant_page(client, manager, selected):
    from grants.services import awards
    from tests.factories import sign_as_grantee

    grant = awards.award(selected, manager, documents_verified=True)
    awards.send_for_signature(grant, manager)
    sign_as_grantee(grant, selected.created_by)
    awards.countersign(grant, manager, address="192.0.2.9")
    login(client, selected.created_by)
    refused = client.post(f"/grants/{grant.id}/notify", data={
        "change": "budget_transfer", "description": "Too much",
        "from_heading": "human_resources", "to_heading": "other_services", "amount": "20000",
    }, follow_redirects=True)
    assert "needs an addendum" in refused.text
    client.post(f"/grants/{grant.id}/addendum",
                data={"description": "Three more months", "end_date": "2027-08-31"})
    logout(client)
    login(client, manager)
    [addendum] = grant.amendments
    client.post(f"/manage/grants/amendments/{addendum.id}",
                data={"decision": "approve", "comment": "Fine."})
    db.session.refresh(grant)
    assert grant.end_date.isoformat() == "2027-08-31" and len(grant.contracts) == 2


def test_strangers_and_non_managers_see_nothing(client, manager, selected):
    from grants.services import awards

    grant = awards.award(selected, manager, documents_verified=True)
    stranger = member(ApplicationFactory().organisation)
    login(client, stranger)
    assert client.get(f"/grants/{grant.id}").status_code == 404
    assert client.get("/manage/grants/").status_code == 403
    payment_count = db.session.scalar(select(db.func.count(Payment.id)))
    assert payment_count == 0


def test_the_decision_letter_is_downloaded(client, manager, selected):
    from grants.services import awards

    awards.award(selected, manager, documents_verified=True)
    login(client, selected.created_by)
    listing = client.get("/grants/")
    assert "Decision letters" in listing.text
    letter = client.get(f"/grants/letters/{selected.id}.pdf")
    assert letter.status_code == 200 and letter.data.startswith(b"%PDF-")


def test_a_countersigned_pdf_is_uploaded(client, manager, selected):
    from grants.services import awards

    grant = awards.award(selected, manager, documents_verified=True)
    awards.send_for_signature(grant, manager)
    login(client, selected.created_by)
    client.post(
        f"/grants/{grant.id}/sign-upload",
        data={"name": "Awa Diop", "file": (io.BytesIO(b"%PDF-1.7\nsigned\n"), "signed.pdf")},
        content_type="multipart/form-data",
    )
    signature = db.session.scalar(select(Signature))
    assert signature.method == "upload"
    copy = client.get(f"/grants/signed/{signature.id}")
    assert copy.data == b"%PDF-1.7\nsigned\n"
