"""Applicant use cases: organisations, section saves with conflicts, attachments, submission."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from grants.extensions import db
from grants.models import Application, Attachment, Submission
from grants.services import applications, attachments, organisations
from grants.services.errors import GuardFailed, NotFound, PermissionDenied, ValidationFailed
from grants.services.snapshots import snapshot_hash
from tests.factories import (
    ApplicationFactory,
    CallFactory,
    OrganisationFactory,
    UserFactory,
    member,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _org_data(**kw: str) -> organisations.OrganisationData:
    values = {
        "name": "Réseau Migrations et Développement",
        "org_type": "cso",
        "country_iso2": "SN",
        "registration_number": "SN-2019-0042",
        "address": "Dakar",
        "website": "https://rmd.example.org",
    }
    values.update(kw)
    return organisations.OrganisationData(**values)


def test_create_organisation_makes_the_creator_owner(app):
    user = UserFactory()
    org = organisations.create_organisation(user, _org_data())
    assert user.membership_in(org.id).role == "owner"


@pytest.mark.parametrize(
    ("name", "number", "exact"),
    [
        ("Another name entirely", "sn 2019 0042", True),
        ("Reseau Migration & Developpement", "SN-OTHER-1", False),
    ],
)
def test_likely_duplicates_are_refused_and_named(app, name, number, exact):
    organisations.create_organisation(UserFactory(), _org_data())
    with pytest.raises(organisations.DuplicateOrganisation) as caught:
        organisations.create_organisation(
            UserFactory(), _org_data(name=name, registration_number=number)
        )
    assert caught.value.exact is exact
    assert [o.name for o in caught.value.matches] == ["Réseau Migrations et Développement"]


def test_same_name_in_another_country_is_not_a_duplicate(app):
    organisations.create_organisation(UserFactory(), _org_data())
    other = organisations.create_organisation(UserFactory(), _org_data(country_iso2="ML"))
    assert other.id


def test_invitation_joins_with_the_invited_role_and_only_for_that_address(app):
    owner = UserFactory()
    org = organisations.create_organisation(owner, _org_data())
    invited = UserFactory(email="editor@example.org")
    token = organisations.invitation_token(owner, org.id, "Editor@Example.org", "editor")
    with pytest.raises(PermissionDenied):
        organisations.accept_invitation(UserFactory(), token)
    membership = organisations.accept_invitation(invited, token)
    assert membership.role == "editor" and membership.organisation_id == org.id
    with pytest.raises(PermissionDenied):  # editors may not invite
        organisations.invitation_token(invited, org.id, "x@example.org", "owner")


def _draft(**kw) -> Application:
    return ApplicationFactory(
        complete=False, requested_amount=None, total_cost=None, duration_months=None, **kw
    )


def _new(app_) -> tuple[Application, object]:
    call = CallFactory()
    org = OrganisationFactory()
    owner = member(org, "owner")
    created = applications.start_application(owner, call.id, org.id)
    return created, owner


def test_start_creates_every_section_and_is_idempotent(app):
    created, owner = _new(app)
    assert sorted(s.key for s in created.sections) == sorted(applications.SECTIONS)
    again = applications.start_application(owner, created.call_id, created.organisation_id)
    assert again.id == created.id


def test_viewer_cannot_start_or_save(app):
    created, _owner = _new(app)
    viewer = member(created.organisation, "viewer")
    with pytest.raises(PermissionDenied):
        applications.save_section(viewer, created.id, "summary", 1, {"title": "x"})


def test_save_summary_and_limits(app):
    created, owner = _new(app)
    row = applications.save_section(
        owner,
        created.id,
        "summary",
        1,
        {
            "title": "Safe routes",
            "text": "Summary",
            "requested_amount": "120000",
            "total_cost": "130000",
            "duration_months": "6",
        },
    )
    assert row.version == 2
    assert created.requested_amount == Decimal("120000.00")
    assert created.total_cost == Decimal("130000.00")
    with pytest.raises(ValidationFailed) as caught:
        applications.save_section(
            owner,
            created.id,
            "summary",
            2,
            {"title": "x" * 301, "text": "", "requested_amount": "200000", "total_cost": "100"},
        )
    assert set(caught.value.fields) == {"title", "requested_amount"}
    assert created.title == "Safe routes"


def test_stale_save_is_refused_with_both_versions_and_nothing_overwritten(app):
    created, owner = _new(app)
    editor = member(created.organisation, "editor")
    applications.save_section(owner, created.id, "description", 1, {"text": "Owner's text"})
    with pytest.raises(applications.SectionConflict) as caught:
        applications.save_section(editor, created.id, "description", 1, {"text": "Editor's text"})
    conflict = caught.value
    assert conflict.current["text"] == "Owner's text"
    assert conflict.yours["text"] == "Editor's text"
    assert conflict.changed_fields == ["text"]
    assert conflict.version == 2 and conflict.status == 409
    db.session.expire_all()
    assert db.session.get(Application, created.id).section_data("description")["text"] == (
        "Owner's text"
    )
    # Saving against the version shown in the conflict goes through.
    applications.save_section(editor, created.id, "description", 2, {"text": "Merged"})
    assert created.section_data("description")["text"] == "Merged"


def test_relational_sections_and_budget_totals(app):
    created, owner = _new(app)
    applications.save_section(
        owner,
        created.id,
        "summary",
        1,
        {
            "title": "T",
            "text": "S",
            "requested_amount": "100000",
            "total_cost": "100000",
            "duration_months": "6",
        },
    )
    applications.save_section(
        owner,
        created.id,
        "domains",
        1,
        {"primary": "2", "secondary": ["1", "2", "4"], "dialogues": ["rabat"]},
    )
    assert {(x.domain_number, x.is_primary) for x in created.jvap_links} == {
        (2, True),
        (1, False),
        (4, False),
    }
    applications.save_section(owner, created.id, "countries", 1, {"countries": ["sn", "ML"]})
    assert sorted(c.iso2 for c in created.countries) == ["ML", "SN"]
    applications.save_section(
        owner,
        created.id,
        "partners",
        1,
        {
            "co_applicant": {
                "name": "Commune de Kayes",
                "org_type": "local_authority",
                "country_iso2": "ML",
                "registration_number": "ML-77",
            }
        },
    )
    assert [o.name for o in created.co_applicants] == ["Commune de Kayes"]
    with pytest.raises(ValidationFailed) as caught:
        applications.save_section(
            owner,
            created.id,
            "budget",
            1,
            {
                "lines": [
                    {
                        "heading": "travel",
                        "description": "Flights",
                        "quantity": "2",
                        "unit_cost": "10",
                    }
                ]
            },
        )
    assert "below the requested amount" in caught.value.fields["lines"][0]
    applications.save_section(
        owner,
        created.id,
        "budget",
        1,
        {
            "lines": [
                {
                    "heading": "travel",
                    "description": "Flights",
                    "quantity": "10",
                    "unit_cost": "1000",
                },
                {
                    "heading": "human_resources",
                    "description": "Staff",
                    "quantity": "6",
                    "unit_cost": "16000",
                },
                {"heading": "", "description": "", "quantity": "", "unit_cost": ""},
            ]
        },
    )
    summary = applications.budget_summary(created)
    assert summary.total == Decimal("106000.00") == created.total_cost
    assert summary.by_heading == {
        "travel": Decimal("10000.00"),
        "human_resources": Decimal("96000.00"),
    }
    assert summary.co_financing == Decimal("6000.00")


def test_member_of_another_organisation_gets_404(app):
    created, _owner = _new(app)
    outsider = member(OrganisationFactory(), "owner")
    for call in (
        lambda: applications.get_application(outsider, created.id),
        lambda: applications.save_section(outsider, created.id, "summary", 1, {}),
        lambda: applications.submit(outsider, created.id),
    ):
        with pytest.raises(NotFound):
            call()


# ---------------------------------------------------------------- attachments


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _stored(app_) -> list[Path]:
    folder = Path(app_.config["UPLOAD_FOLDER"])
    return sorted(folder.iterdir()) if folder.exists() else []


def test_upload_sniffs_content_and_stores_under_a_random_name(app):
    created, owner = _new(app)
    pdf = attachments.upload(owner, created.id, "budget_annex", "budget.pdf", io.BytesIO(PDF))
    docx = attachments.upload(owner, created.id, "other", "cv.docx", io.BytesIO(_docx()))
    assert pdf.content_type == "application/pdf" and docx.content_type.endswith("document")
    files = _stored(app)
    assert len(files) == 2 and all(len(f.name) == 64 for f in files)
    assert "static" not in str(files[0])
    stored = attachments.open_attachment(owner, created.id, pdf.id)
    assert stored.path.read_bytes() == PDF and stored.filename == "budget.pdf"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("scan.pdf", PNG, "its content is PNG"),
        ("tool.pdf", b"MZ\x90\x00binary", "not of an accepted type"),
        ("../../etc/passwd.pdf", PDF, "without folders"),
        ("..\\evil.pdf", PDF, "without folders"),
        ("notes.exe", PDF, "not accepted"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(app, name, content, message):
    created, owner = _new(app)
    with pytest.raises(attachments.UploadRefused) as caught:
        attachments.upload(owner, created.id, "other", name, io.BytesIO(content))
    assert message in caught.value.message
    assert _stored(app) == []
    assert db.session.query(Attachment).count() == 0


def test_oversized_upload_is_refused_and_nothing_is_stored(app):
    app.config["ATTACHMENT_MAX_BYTES"] = 1024
    created, owner = _new(app)
    with pytest.raises(attachments.UploadRefused) as caught:
        attachments.upload(owner, created.id, "other", "big.pdf", io.BytesIO(PDF + b"0" * 2000))
    assert "larger than the limit" in caught.value.message
    assert _stored(app) == []


def test_attachments_of_another_organisation_are_404(app):
    created, owner = _new(app)
    pdf = attachments.upload(owner, created.id, "other", "a.pdf", io.BytesIO(PDF))
    outsider = member(OrganisationFactory(), "owner")
    with pytest.raises(NotFound):
        attachments.open_attachment(outsider, created.id, pdf.id)
    other_created, other_owner = _new(app)
    with pytest.raises(NotFound):  # right application id of theirs, attachment of ours
        attachments.open_attachment(other_owner, other_created.id, pdf.id)


# ---------------------------------------------------------------- submission


def test_submit_freezes_a_snapshot_with_its_hash(app, frozen_clock):
    draft = ApplicationFactory()
    owner = draft.created_by
    applications.submit(owner, draft.id)
    assert draft.state == "submitted" and draft.reference
    submission = applications.latest_submission(owner, draft.id)
    assert submission.sha256 == snapshot_hash(submission.snapshot)
    assert submission.snapshot["reference"] == draft.reference


def test_submit_reports_every_failing_rule(app, frozen_clock):
    draft = _draft()
    with pytest.raises(GuardFailed) as caught:
        applications.submit(draft.created_by, draft.id)
    text = " ".join(caught.value.reasons)
    for expected in ("incomplete: the summary", "requested amount", "country", "JVAP"):
        assert expected in text
    assert draft.state == "draft" and not draft.submissions


@pytest.mark.parametrize(("offset", "ok"), [(-1, True), (0, True), (1, False)])
def test_deadline_to_the_second(app, frozen_clock, offset, ok):
    draft = ApplicationFactory()
    frozen_clock.set(draft.call.deadline_at + timedelta(seconds=offset))
    if ok:
        applications.submit(draft.created_by, draft.id)
        assert draft.state == "submitted"
    else:
        with pytest.raises(GuardFailed) as caught:
            applications.submit(draft.created_by, draft.id)
        assert "deadline passed at 2026-12-01 17:00:00 Europe/Brussels" in caught.value.reasons[0]


@pytest.mark.parametrize(("offset", "ok"), [(-1, True), (1, False)])
def test_deadline_across_a_daylight_saving_change(app, frozen_clock, offset, ok):
    # Brussels leaves summer time on 2026-10-25 at 03:00 CEST: a 10:00 local deadline that
    # day is 09:00 UTC, not 08:00 as it would be the day before.
    deadline = datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
    call = CallFactory(deadline=deadline)
    draft = ApplicationFactory(call=call)
    frozen_clock.set(datetime(2026, 10, 24, 8, 0, tzinfo=UTC))  # still summer time
    frozen_clock.set(deadline + timedelta(seconds=offset))
    if ok:
        applications.submit(draft.created_by, draft.id)
    else:
        with pytest.raises(GuardFailed) as caught:
            applications.submit(draft.created_by, draft.id)
        assert "2026-10-25 10:00:00 Europe/Brussels" in caught.value.reasons[0]


def test_withdraw_goes_through_the_pipeline_owner_only(app, frozen_clock):
    draft = ApplicationFactory()
    applications.submit(draft.created_by, draft.id)
    editor = member(draft.organisation, "editor")
    with pytest.raises(PermissionDenied):
        applications.withdraw(editor, draft.id)
    applications.withdraw(draft.created_by, draft.id, "Partner left")
    assert draft.state == "withdrawn"


def test_invited_application_keeps_concept_note_content_locked(app, frozen_clock):
    invited = ApplicationFactory(state="invited")
    db.session.add(
        Submission(
            application_id=invited.id,
            stage="concept_note",
            snapshot={},
            sha256="0" * 64,
            submitted_by_id=invited.created_by.id,
        )
    )
    db.session.commit()
    owner = invited.created_by
    assert applications.current_data(invited, "summary")["title"] == invited.title
    with pytest.raises(PermissionDenied) as caught:
        applications.save_section(owner, invited.id, "summary", None, {"title": "Changed"})
    assert "concept-note stage" in caught.value.message
    applications.save_section(
        owner,
        invited.id,
        "workplan",
        None,
        {
            "activities": [
                {
                    "activity": "Training",
                    "start_month": "1",
                    "end_month": "3",
                    "responsible": "Lead",
                }
            ]
        },
    )
    assert invited.section_data("workplan")["activities"][0]["activity"] == "Training"


def test_dashboard_lists_own_organisations_only(app, frozen_clock):
    mine = ApplicationFactory()
    ApplicationFactory()
    rows = applications.dashboard(mine.created_by)
    assert [r.application.id for r in rows] == [mine.id]
    assert rows[0].deadline == mine.call.deadline_at and rows[0].can_edit
