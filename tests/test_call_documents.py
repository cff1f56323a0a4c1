"""Documents published with a call: managers add and remove them (audited), anyone downloads
those of a public call, nobody but managers sees a draft call's."""

from __future__ import annotations

import hashlib
import html
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from grants.extensions import db
from grants.models import AuditEvent
from grants.models.calls import CallDocument
from grants.services import call_documents
from grants.services.attachments import UploadRefused
from grants.services.errors import NotFound, PermissionDenied
from tests.factories import PASSWORD, CallFactory, ManagerFactory, OrganisationFactory, member

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _login(client, user):
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data


def _add(manager, call, *, data=PDF, filename="guidelines.pdf", title="Guidelines",
         language="en", kind="guidelines"):
    return call_documents.add_document(
        manager, call, title=title, language=language, kind=kind, filename=filename,
        stream=io.BytesIO(data),
    )


def _stored_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


def test_a_manager_publishes_a_document_stored_under_a_random_name_and_audited(app):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    document = _add(manager, call, title="  Guidelines for applicants  ")
    assert document.title == "Guidelines for applicants"
    assert document.content_type == "application/pdf"
    assert document.size_bytes == len(PDF)
    assert document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert document.uploaded_by_id == manager.id and document.position == 1
    assert len(document.stored_name) == 64 and document.stored_name != "guidelines.pdf"
    stored = Path(app.config["UPLOAD_FOLDER"]) / document.stored_name
    assert stored.read_bytes() == PDF
    static = Path(app.static_folder).resolve()
    assert static not in stored.resolve().parents
    second = _add(manager, call, title="Lignes directrices", language="fr")
    assert second.position == 2
    assert [d.id for d in call_documents.documents(call)] == [document.id, second.id]
    events = list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "call_documents")
        .order_by(AuditEvent.id)
    ))
    assert [(e.event, e.object_id) for e in events] == [
        ("document_added", document.id), ("document_added", second.id)
    ]
    assert events[0].actor_id == manager.id
    assert events[0].data["sha256"] == document.sha256
    assert events[0].data["call"] == call.code and events[0].data["title"] == document.title


@pytest.mark.parametrize(
    ("data", "filename", "fields"),
    [
        (b"MZ\x90\x00 not a document", "guidelines.pdf", {"file": ["content not accepted"]}),
        (PDF, "guidelines.docx", {"file": ["the name does not match the content"]}),
        (PDF, "guidelines.exe", {"file": ["type not accepted"]}),
        (b"", "guidelines.pdf", {"file": ["empty file"]}),
        (PDF, "../guidelines.pdf", {"file": ["the file name contains a path"]}),
    ],
)
def test_a_refused_file_changes_nothing(app, data, filename, fields):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    with pytest.raises(UploadRefused) as refused:
        _add(manager, call, data=data, filename=filename)
    assert refused.value.fields == fields
    assert db.session.scalars(select(CallDocument)).all() == []
    assert _stored_files(app) == []
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_a_pdf_with_a_script_is_refused_like_an_attachment(app):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    scripted = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript "
                b"/JS (app.alert(1)) >> >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    with pytest.raises(UploadRefused):
        _add(manager, call, data=scripted)
    assert db.session.scalars(select(CallDocument)).all() == []
    assert _stored_files(app) == []


def test_a_file_over_the_limit_is_refused(app):
    app.config["CALL_DOCUMENT_MAX_BYTES"] = 1024
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    with pytest.raises(UploadRefused) as refused:
        _add(manager, call, data=PDF + b"0" * 2048)
    assert refused.value.fields == {"file": ["too large"]}
    assert _stored_files(app) == []


@pytest.mark.parametrize(
    ("title", "language", "kind", "field"),
    [("", "en", "guidelines", "title"), ("Guidelines", "de", "guidelines", "language"),
     ("Guidelines", "en", "poster", "kind"), ("x" * 201, "en", "annex", "title")],
)
def test_title_language_and_kind_are_checked(app, title, language, kind, field):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    with pytest.raises(UploadRefused) as refused:
        _add(manager, call, title=title, language=language, kind=kind)
    assert field in refused.value.fields
    assert _stored_files(app) == []


def test_only_managers_publish_or_remove(app):
    call = CallFactory()
    owner = member(OrganisationFactory())
    manager = ManagerFactory()
    db.session.commit()
    with pytest.raises(PermissionDenied):
        _add(owner, call)
    document = _add(manager, call)
    with pytest.raises(PermissionDenied):
        call_documents.remove_document(owner, call, document.id)
    assert db.session.get(CallDocument, document.id) is not None


def test_removing_a_document_deletes_its_file_and_is_audited(app):
    manager = ManagerFactory()
    call = CallFactory()
    other = CallFactory()
    db.session.commit()
    document = _add(manager, call)
    path = Path(app.config["UPLOAD_FOLDER"]) / document.stored_name
    with pytest.raises(NotFound):
        call_documents.remove_document(manager, other, document.id)
    call_documents.remove_document(manager, call, document.id)
    assert db.session.scalars(select(CallDocument)).all() == []
    assert not path.exists()
    events = [e.event for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events == ["document_added", "document_removed"]


def test_the_public_call_page_lists_documents_and_anyone_downloads_them(app, client):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    document = _add(manager, call, title="Guidelines for applicants")
    _add(manager, call, title="Budget template", kind="budget_template", language="fr",
         filename="budget.xlsx", data=_xlsx())
    page = client.get(f"/calls/{call.code}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Guidelines for applicants" in text and "Budget template" in text
    assert "PDF, 1 KB" in text and "XLSX" in text and "French" in text
    response = client.get(f"/calls/{call.code}/documents/{document.id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "guidelines.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_public_page_in_french_names_kind_language_and_size_in_french(app, client):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    _add(manager, call, title="Lignes directrices", language="fr")
    client.post("/account/language", data={"language": "fr", "next": f"/calls/{call.code}"})
    text = html.unescape(client.get(f"/calls/{call.code}").get_data(as_text=True))
    assert "Lignes directrices à l'intention des demandeurs" in text
    assert "Français" in text and "1 Ko" in text


def test_a_draft_calls_documents_are_not_public(app, client):
    manager = ManagerFactory()
    call = CallFactory(state="draft")
    db.session.commit()
    document = _add(manager, call)
    assert client.get(f"/calls/{call.code}/documents/{document.id}").status_code == 404
    _login(client, manager)
    assert client.get(f"/calls/{call.code}/documents/{document.id}").status_code == 200


def test_a_document_is_reached_through_its_own_call_only(app, client):
    manager = ManagerFactory()
    call, other = CallFactory(), CallFactory()
    db.session.commit()
    document = _add(manager, call)
    assert client.get(f"/calls/{other.code}/documents/{document.id}").status_code == 404
    assert client.get(f"/calls/{call.code}/documents/{document.id + 99}").status_code == 404


def test_the_manage_page_adds_and_removes_documents(app, client):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    _login(client, manager)
    home = client.get("/home/").get_data(as_text=True)
    assert f"/manage/calls/{call.code}/documents" in home
    page = client.get(f"/manage/calls/{call.code}/documents")
    assert page.status_code == 200 and "No document yet." in page.get_data(as_text=True)
    response = client.post(
        f"/manage/calls/{call.code}/documents",
        data={"title": "Guidelines", "language": "en", "kind": "guidelines",
              "file": (io.BytesIO(PDF), "guidelines.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    document = db.session.scalars(select(CallDocument)).one()
    assert "Guidelines" in client.get(f"/manage/calls/{call.code}/documents").get_data(as_text=True)
    refused = client.post(
        f"/manage/calls/{call.code}/documents",
        data={"title": "Form", "language": "en", "kind": "application_form",
              "file": (io.BytesIO(PDF), "form.docx")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "its content is PDF" in refused.get_data(as_text=True)
    removed = client.post(f"/manage/calls/{call.code}/documents/{document.id}/delete")
    assert removed.status_code == 302
    assert db.session.scalars(select(CallDocument)).all() == []


def test_the_manage_page_is_for_managers_only(app, client):
    call = CallFactory()
    owner = member(OrganisationFactory())
    db.session.commit()
    _login(client, owner)
    assert client.get(f"/manage/calls/{call.code}/documents").status_code in (403, 404)


def _xlsx() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


# --- guidelines generated from the call ---


def _pdf_text(document: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_guidelines_are_rendered_from_the_call_in_english_and_french(app, client):
    manager = ManagerFactory()
    call = CallFactory(title="MMD Grant Facility: call for local actors")
    db.session.commit()
    english, french = call_documents.publish_guidelines(manager, call)
    assert (english.language, french.language) == ("en", "fr")
    assert english.kind == french.kind == "guidelines"
    assert english.filename == f"{call.code}-guidelines.pdf"
    assert french.filename == f"{call.code}-lignes-directrices.pdf"
    assert english.content_type == "application/pdf"
    stored = Path(app.config["UPLOAD_FOLDER"]) / english.stored_name
    assert stored.read_bytes() == call_documents.guidelines_pdf(call, "en")  # same bytes again
    text = _pdf_text(stored.read_bytes())
    assert "GUIDELINES FOR APPLICANTS" in text.upper()
    assert "MMD Grant Facility: call for local actors" in text
    assert "EUR 600,000.00" in text and "EUR 100,000.00" in text
    assert "1 December 2026, 17:00 (Europe/Brussels)" in text
    assert "Rabat Process" in text and "Legal migration and mobility" in text
    assert "Support the dialogues' priorities at local level." in text
    response = client.get(f"/calls/{call.code}/documents/{french.id}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    texte = _pdf_text(response.data)
    assert "LIGNES DIRECTRICES" in texte.upper()
    assert "600 000,00 EUR" in texte
    assert "1er décembre 2026 à 17 h 00 (Europe/Brussels)" in texte
    assert "Processus de Rabat" in texte and "Migration légale et mobilité" in texte
    assert "Au plus 1 co-demandeur(s)." in texte


def test_the_manage_page_generates_the_guidelines(app, client):
    manager = ManagerFactory()
    call = CallFactory()
    db.session.commit()
    _login(client, manager)
    response = client.post(f"/manage/calls/{call.code}/documents/guidelines")
    assert response.status_code == 302
    documents = call_documents.documents(call)
    assert [(d.language, d.kind) for d in documents] == [("en", "guidelines"),
                                                        ("fr", "guidelines")]


def test_the_demo_calls_publish_their_guidelines(app, runner, client):
    result = runner.invoke(args=["grants", "demo-data"])
    assert result.exit_code == 0, result.output
    from grants.models import Call

    for call in db.session.scalars(select(Call)):
        documents = call_documents.documents(call)
        assert sorted(d.language for d in documents) == ["en", "fr"], call.code
        for document in documents:
            path = Path(app.config["UPLOAD_FOLDER"]) / document.stored_name
            assert path.read_bytes().startswith(b"%PDF-")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == document.sha256
            assert call.title in _pdf_text(path.read_bytes())
        page = client.get(f"/calls/{call.code}").get_data(as_text=True)
        assert f"/calls/{call.code}/documents/{documents[0].id}" in page
