"""Award, letters, contract signature (in the application or by upload) and lapse."""

from __future__ import annotations

import errno
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from grants.extensions import db
from grants.models import Application, AuditEvent, EvaluationResult, Grant, Notification, Signature
from grants.services import awards, letters
from grants.services.actors import SYSTEM
from grants.services.attachments import StorageUnavailable, UploadRefused, upload_folder
from grants.services.errors import GuardFailed, NotFound, PermissionDenied, ValidationFailed
from grants.services.transitions import transition
from tests.factories import (
    ApplicationFactory,
    ManagerFactory,
    SingleStageCallFactory,
    member,
)


@pytest.fixture
def manager(app):  # type: ignore[no-untyped-def]
    return ManagerFactory()


def text_of(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def selected(app, frozen_clock) -> Application:  # type: ignore[no-untyped-def]
    application = ApplicationFactory(
        state="provisionally_selected",
        requested_amount=Decimal("120000.00"),
        total_cost=Decimal("150000.00"),
    )
    db.session.add(
        EvaluationResult(
            application_id=application.id,
            stage="full_application",
            total=Decimal("81.50"),
            section_scores={},
            passes=True,
            final=True,
        )
    )
    db.session.commit()
    return application


def test_award_creates_the_grant_with_co_financing_and_tells_the_applicant(selected, manager):
    grant = awards.award(
        selected,
        manager,
        amount=Decimal("100000.00"),
        start_date=date(2027, 2, 1),
        documents_verified=True,
    )
    assert grant.amount == Decimal("100000.00")
    assert awards.cofinancing(grant) == Decimal("50000.00")
    assert grant.funding_rate == Decimal("0.6667")
    assert (grant.start_date, grant.end_date) == (date(2027, 2, 1), date(2027, 7, 31))
    kinds = db.session.scalars(select(Notification.kind)).all()
    assert "grant.award_letter" in kinds


def test_award_refuses_more_than_requested(selected, manager):
    with pytest.raises(ValidationFailed):
        awards.award(selected, manager, amount=Decimal("120000.01"), documents_verified=True)
    assert db.session.scalar(select(Grant)) is None
    assert db.session.scalars(select(Notification)).all() == []


def test_the_award_letter_in_english_with_the_scores(selected, manager):
    grant = awards.award(selected, manager, documents_verified=True)
    text = text_of(letters.letter_pdf(selected))
    assert "AWARD LETTER" in text and grant.number in text
    assert "one hundred and twenty thousand euros" in text.replace("\n", " ").lower()
    assert "81.50" in text


def test_the_rejection_letter_in_french_gives_the_reason(app, frozen_clock, manager):
    rejected = ApplicationFactory(state="submitted", language="fr")
    transition(rejected, "reject_admin", manager, comment="Déclaration non signée.")
    name, pdf = letters.decision_letter(rejected.created_by, rejected.id)
    assert name.endswith("-rejection-letter.pdf")
    text = text_of(pdf)
    assert "NOTIFICATION DE REJET" in text and "Déclaration non signée." in text
    assert "Aucune note" in text
    # The same decision renders the same bytes.
    assert letters.letter_pdf(rejected) == pdf


def test_no_letter_before_a_decision_or_for_strangers(selected, manager):
    with pytest.raises(NotFound):
        letters.decision_letter(manager, selected.id)
    awards.award(selected, manager, documents_verified=True)
    stranger = member(ApplicationFactory().organisation)
    with pytest.raises(NotFound):
        letters.decision_letter(stranger, selected.id)


@pytest.fixture
def sent(selected, manager) -> Grant:  # type: ignore[no-untyped-def]
    grant = awards.award(selected, manager, documents_verified=True)
    awards.send_for_signature(grant, manager)
    return grant


def test_sending_records_the_hash_of_the_exact_document(sent):
    version = sent.current_contract
    assert sent.state == "awaiting_signature"
    assert version.document_sha256 is not None and len(version.document_sha256) == 64


def test_signing_in_the_application_records_name_time_address_and_hash(sent, manager, frozen_clock):
    owner = sent.application.created_by
    digest = sent.current_contract.document_sha256
    with pytest.raises(GuardFailed) as caught:
        awards.sign_in_app(
            sent, owner, name="Awa Diop", address="192.0.2.1", document_sha256="0" * 64
        )
    assert "the contract changed" in caught.value.reasons[0]
    with pytest.raises(ValidationFailed):
        awards.sign_in_app(sent, owner, name=" ", address="192.0.2.1", document_sha256=digest)
    editor = member(sent.application.organisation, "editor")
    with pytest.raises(PermissionDenied):
        awards.sign_in_app(sent, editor, name="E", address="192.0.2.1", document_sha256=digest)

    signature = awards.sign_in_app(
        sent, owner, name="Awa Diop", address="192.0.2.1", document_sha256=digest
    )
    assert (signature.side, signature.method, signature.signer_name, signature.address) == (
        "grantee",
        "in_app",
        "Awa Diop",
        "192.0.2.1",
    )
    assert signature.document_sha256 == digest
    assert signature.signed_at == frozen_clock.current
    with pytest.raises(GuardFailed):
        awards.sign_in_app(sent, owner, name="Awa", address="x", document_sha256=digest)

    awards.countersign(sent, manager, address="198.51.100.7")
    assert sent.state == "active" and sent.signed_at == frozen_clock.current
    sides = {s.side for s in sent.current_contract.signatures}
    assert sides == {"grantee", "programme"}
    assert [p.kind for p in sent.payments] == ["prefinancing", "balance"]


def test_signing_by_uploading_the_countersigned_pdf(sent, manager):
    owner = sent.application.created_by
    with pytest.raises(ValidationFailed):
        awards.sign_by_upload(
            sent,
            owner,
            name="Awa Diop",
            address="192.0.2.1",
            stream=io.BytesIO(b"PK\x03\x04 not a pdf"),
        )
    assert db.session.scalars(select(Signature)).all() == []
    scripted = (b"%PDF-1.7\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n"
                b"%%EOF\n")
    with pytest.raises(UploadRefused):
        awards.sign_by_upload(sent, owner, name="Awa Diop", address="192.0.2.1",
                              stream=io.BytesIO(scripted))
    assert db.session.scalars(select(Signature)).all() == []
    assert not any(upload_folder().iterdir())
    signed = b"%PDF-1.7\n% the contract, signed and scanned\n%%EOF\n"
    signature = awards.sign_by_upload(
        sent, owner, name="Awa Diop", address="192.0.2.1", stream=io.BytesIO(signed)
    )
    assert signature.method == "upload" and signature.stored_name
    assert signature.document_sha256 == sent.current_contract.document_sha256
    stored = awards.uploaded_contract(owner, signature.id)
    assert stored.path.read_bytes() == signed
    stranger = member(ApplicationFactory().organisation)
    with pytest.raises(NotFound):
        awards.uploaded_contract(stranger, signature.id)


def test_a_full_disk_refuses_the_countersigned_pdf_and_keeps_nothing(sent, manager, monkeypatch):
    owner = sent.application.created_by
    real_open = open

    def full_disk(path, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        handle = real_open(path, mode, *args, **kwargs)
        if "x" in mode:
            handle.write = lambda _chunk: (_ for _ in ()).throw(  # type: ignore[method-assign]
                OSError(errno.ENOSPC, "No space left on device"))
        return handle

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(StorageUnavailable):
        awards.sign_by_upload(sent, owner, name="Awa Diop", address="192.0.2.1",
                              stream=io.BytesIO(b"%PDF-1.7\n%%EOF\n"))
    monkeypatch.undo()
    assert db.session.scalars(select(Signature)).all() == []
    assert not any(upload_folder().iterdir())


def test_the_programme_signs_only_after_the_grantee(sent, manager):
    with pytest.raises(GuardFailed):
        awards.countersign(sent, manager, address="198.51.100.7")
    assert sent.state == "awaiting_signature"
    assert db.session.scalars(select(Signature)).all() == []


def test_an_unsigned_contract_lapses_and_the_next_reserve_is_promoted(app, frozen_clock, manager):
    call = SingleStageCallFactory(budget=Decimal("240000.00"), state="decided")
    apps = []
    for state, total in (
        ("provisionally_selected", "90"),
        ("provisionally_selected", "89"),
        ("reserve", "70"),
    ):
        application = ApplicationFactory(call=call, state=state)
        db.session.add(
            EvaluationResult(
                application_id=application.id,
                stage="full_application",
                total=Decimal(total),
                section_scores={},
                passes=True,
                final=True,
            )
        )
        apps.append(application)
    db.session.commit()
    winner, _, waiting = apps
    grant = awards.award(winner, manager, documents_verified=True)
    awards.send_for_signature(grant, manager)

    frozen_clock.advance(days=30)
    with pytest.raises(GuardFailed) as caught:
        awards.lapse_unsigned(grant)
    assert caught.value.reasons == ["the 30-day signature period has not expired"]
    frozen_clock.advance(seconds=1)
    awards.lapse_unsigned(grant)
    assert grant.state == "lapsed"
    assert db.session.get(Application, waiting.id).state == "provisionally_selected"
    assert grant.sent_for_signature_at + timedelta(days=30) < frozen_clock.current
    # The lapse went through the pipeline: its audit row names the system.
    row = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "grants").order_by(AuditEvent.id)
    ).all()[-1]
    assert (row.event, row.actor_label) == ("lapse", SYSTEM.label)


def test_the_contract_job_renders_a_contract_by_id(sent, app):
    from grants.jobs.documents import contract_path, enqueue_contract_renders, render_contract_job

    digest = render_contract_job(sent.id)
    assert digest == sent.current_contract.document_sha256
    path = contract_path(sent)
    assert path.name == f"{sent.number}-v1.pdf" and path.read_bytes().startswith(b"%PDF-")
    # Without Redis the batch renders in-process, to the same bytes.
    assert enqueue_contract_renders([sent.id]) == [digest]
    with pytest.raises(LookupError):
        render_contract_job(10**6)
