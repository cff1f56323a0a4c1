"""The applicant portal on the web: pages, sections, conflicts, uploads, submission, receipt."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import g
from pypdf import PdfReader

from grants.extensions import db
from grants.models import Application, Attachment
from grants.rules.eligibility import CallRules
from grants.services import applications
from grants.services.eligibility import rules_json
from tests.factories import (
    PASSWORD,
    ApplicationFactory,
    CallFactory,
    OrganisationFactory,
    member,
)

PDF = b"%PDF-1.4\n%%EOF\n"


def _login(client, user):
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data


def _draft(**kw):
    return ApplicationFactory(
        complete=False, requested_amount=None, total_cost=None, duration_months=None, **kw
    )


def _new_draft(client):
    call = CallFactory()
    org = OrganisationFactory()
    owner = member(org, "owner")
    _login(client, owner)
    response = client.post(f"/applicant/calls/{call.code}/apply", data={"organisation_id": org.id})
    app_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return db.session.get(Application, app_id), owner


def test_public_pages_show_the_call_in_both_zones_and_the_rules(app, client):
    call = CallFactory()
    page = client.get(f"/calls/{call.code}").get_data(as_text=True)
    assert 'datetime="2026-12-01T16:00:00Z"' in page and "Europe/Brussels" in page
    assert "€100,000.00" in page and "At most 1 co-applicant" in page
    assert client.get("/calls/NOPE").status_code == 404


def test_visitor_eligibility_check_names_the_rule(app, client):
    rules = CallRules.mmd_second_call()
    call = CallFactory(
        eligibility_rules=rules_json(
            rules.__class__(
                **{
                    **rules.__dict__,
                    "eligible_applicant_types": frozenset({"cso"}),
                    "eligible_countries": frozenset({"SN", "ML"}),
                }
            )
        )
    )
    refused = client.post(
        f"/calls/{call.code}/eligibility", data={"org_type": "diaspora", "country_iso2": "NG"}
    )
    text = refused.get_data(as_text=True)
    assert 'data-rule="applicant_type_not_eligible"' in text
    assert 'data-rule="applicant_country_not_eligible"' in text
    accepted = client.post(
        f"/calls/{call.code}/eligibility", data={"org_type": "cso", "country_iso2": "SN"}
    )
    assert "may apply" in accepted.get_data(as_text=True)


def test_organisation_duplicate_points_to_joining(app, client):
    existing = OrganisationFactory(
        name="Kayes Diaspora Network", country_iso2="ML", registration_number="ML-1"
    )
    user = member(OrganisationFactory(), "owner")
    _login(client, user)
    response = client.post(
        "/applicant/organisations/new",
        data={
            "name": "Kayes Diaspora Network.",
            "org_type": "diaspora",
            "country_iso2": "ML",
            "registration_number": "ML-2",
            "address": "Kayes",
        },
    )
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert existing.name in text and "invite you" in text


def test_sections_save_and_keep_typed_text_on_errors(app, client):
    draft, _owner = _new_draft(client)
    long_title = "x" * 301
    response = client.post(
        f"/applicant/applications/{draft.id}/sections/summary",
        data={
            "version": "1",
            "title": long_title,
            "text": "Kept summary",
            "requested_amount": "abc",
        },
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert long_title in text and "Kept summary" in text and "not a number" in text
    ok = client.post(
        f"/applicant/applications/{draft.id}/sections/summary",
        data={
            "version": "1",
            "title": "Safe routes",
            "text": "S",
            "requested_amount": "120000",
            "total_cost": "125000",
            "duration_months": "6",
        },
    )
    assert ok.status_code == 302
    assert draft.requested_amount is not None


def test_stale_save_shows_both_versions_on_the_web(app, client):
    draft, _owner = _new_draft(client)
    url = f"/applicant/applications/{draft.id}/sections/description"
    client.post(url, data={"version": "1", "text": "First editor's text"})
    response = client.post(url, data={"version": "1", "text": "Second editor's text"})
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "First editor&#39;s text" in text and "Second editor&#39;s text" in text
    assert 'name="version" type="hidden" value="2"' in text
    db.session.expire_all()
    assert db.session.get(Application, draft.id).section_data("description")["text"] == (
        "First editor's text"
    )
    auto = client.post(url, data={"version": "1", "text": "Third"}, headers={"X-Autosave": "1"})
    assert auto.status_code == 409 and auto.json["version"] == 2


def test_expired_session_keeps_what_was_typed_and_saves_after_login(app, client):
    draft, owner = _new_draft(client)
    url = f"/applicant/applications/{draft.id}/sections/description"
    with client.session_transaction() as session:
        session.clear()
    g.pop("_login_user", None)  # the test's app context outlives requests
    response = client.post(url, data={"version": "1", "text": "Typed during a long break"})
    assert response.status_code == 401
    assert "Typed during a long break" in response.get_data(as_text=True)
    again = client.post(
        url,
        data={
            "version": "1",
            "text": "Typed during a long break",
            "email": owner.email,
            "password": PASSWORD,
        },
    )
    assert again.status_code == 302
    assert draft.section_data("description")["text"] == "Typed during a long break"


def test_logframe_and_workplan_rows(app, client):
    draft, _owner = _new_draft(client)
    response = client.post(
        f"/applicant/applications/{draft.id}/sections/logframe",
        data={
            "version": "1",
            "objectives-0-objective": "Reliable information",
            "objectives-0-result": "Centres open",
            "objectives-0-indicator": "People counselled",
            "objectives-0-baseline": "0",
            "objectives-0-target": "2500",
            "objectives-1-objective": "",
            "objectives-1-result": "",
            "objectives-1-indicator": "Leaflets",
            "objectives-1-baseline": "0",
            "objectives-1-target": "10000",
            "objectives-2-objective": "",
        },
    )
    assert response.status_code == 302
    stored = draft.section_data("logframe")["objectives"]
    assert stored == [
        {
            "objective": "Reliable information",
            "results": [
                {
                    "result": "Centres open",
                    "indicators": [
                        {"indicator": "People counselled", "baseline": "0", "target": "2500"},
                        {"indicator": "Leaflets", "baseline": "0", "target": "10000"},
                    ],
                }
            ],
        }
    ]
    page = client.get(f"/applicant/applications/{draft.id}/sections/logframe")
    assert "Leaflets" in page.get_data(as_text=True)


def _upload(client, draft, name, content, kind="other"):
    return client.post(
        f"/applicant/applications/{draft.id}/attachments",
        data={"kind": kind, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 20, "its content is PNG"),
        ("../../../grants/static/x.pdf", PDF, "without folders"),
        ("big.pdf", PDF + b"0" * 4096, "larger than the limit"),
    ],
)
def test_bad_uploads_are_refused_with_a_message(app, client, name, content, message):
    app.config["ATTACHMENT_MAX_BYTES"] = 2048
    draft, _owner = _new_draft(client)
    response = _upload(client, draft, name, content)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.query(Attachment).count() == 0
    folder = Path(app.config["UPLOAD_FOLDER"])
    assert not folder.exists() or list(folder.iterdir()) == []


def test_other_organisations_get_404_everywhere(app, client):
    draft, _owner = _new_draft(client)
    _upload(client, draft, "a.pdf", PDF)
    attachment = db.session.scalar(db.select(Attachment))
    client.post("/account/logout")
    _login(client, member(OrganisationFactory(), "owner"))
    base = f"/applicant/applications/{draft.id}"
    for method, url in (
        ("get", base),
        ("get", f"{base}/sections/summary"),
        ("get", f"{base}/preview"),
        ("get", f"{base}/attachments"),
        ("get", f"{base}/attachments/{attachment.id}"),
        ("post", f"{base}/sections/summary"),
        ("post", f"{base}/submit"),
        ("post", f"{base}/attachments/{attachment.id}/delete"),
        ("post", f"{base}/withdraw"),
        ("get", f"{base}/receipt"),
        ("get", f"{base}/receipt.pdf"),
    ):
        response = getattr(client, method)(url, data={"version": "1", "title": "hijack"})
        assert response.status_code == 404, (method, url, response.status_code)
    assert draft.title == ""


def test_csrf_is_refused_on_section_saves_and_uploads(app, client):
    draft, _owner = _new_draft(client)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        f"/applicant/applications/{draft.id}/sections/description",
        data={"version": "1", "text": "no token"},
    )
    assert response.status_code == 400
    assert "no token" in response.get_data(as_text=True)  # kept for the person to re-send
    assert _upload(client, draft, "a.pdf", PDF).status_code == 400
    db.session.expire_all()
    assert db.session.get(Application, draft.id).section_data("description") == {}
    assert db.session.query(Attachment).count() == 0


# Each eligibility rule, failing then passing, as the preview page shows it.
def _set(app_, **kw):
    for k, v in kw.items():
        setattr(app_, k, v)
    db.session.commit()


RULE_CASES = {
    "amount_out_of_range": (
        {"requested_amount": Decimal("99000"), "total_cost": Decimal("99000")},
        {"requested_amount": Decimal("120000"), "total_cost": Decimal("120000")},
    ),
    "duration_out_of_range": ({"duration_months": 12}, {"duration_months": 6}),
    "missing_total_cost": ({"total_cost": None}, {"total_cost": Decimal("120000.00")}),
}


@pytest.mark.parametrize("code", sorted(RULE_CASES))
def test_preview_names_each_failing_rule_with_its_fix(app, client, frozen_clock, code):
    draft = ApplicationFactory()
    _login(client, draft.created_by)
    failing, passing = RULE_CASES[code]
    _set(draft, **failing)
    page = client.get(f"/applicant/applications/{draft.id}/preview").get_data(as_text=True)
    assert f'data-rule="{code}"' in page and "How to fix it" in page
    _set(draft, **passing)
    page = client.get(f"/applicant/applications/{draft.id}/preview").get_data(as_text=True)
    assert 'data-rule="' not in page


@pytest.mark.parametrize(
    "code",
    [
        "no_au_country",
        "too_many_countries",
        "missing_countries",
        "no_jvap_domain",
        "no_dialogue",
        "attachment_missing",
        "too_many_co_applicants",
    ],
)
def test_relational_rules_fail_and_pass_through_the_sections(app, client, frozen_clock, code):
    draft = ApplicationFactory()
    _login(client, draft.created_by)
    url = f"/applicant/applications/{draft.id}"
    keep = {
        "no_au_country": ("countries", {"countries": ["FR"]}),
        "too_many_countries": ("countries", {"countries": ["SN", "ML", "NE", "GH"]}),
        "missing_countries": ("countries", {"countries": []}),
        "no_jvap_domain": ("domains", {"dialogues": ["rabat"]}),
        "no_dialogue": ("domains", {"primary": "1"}),
    }
    if code in keep:
        key, data = keep[code]
        before = applications.current_data(draft, key)
        client.post(f"{url}/sections/{key}", data={"version": "", **data})
        assert f'data-rule="{code}"' in client.get(f"{url}/preview").get_data(as_text=True)
        restore = {k: v for k, v in before.items() if v is not None}
        client.post(f"{url}/sections/{key}", data={"version": "", **restore})
    elif code == "attachment_missing":
        first = draft.attachments[0]
        draft.attachments.remove(first)
        db.session.commit()
        assert f'data-rule="{code}"' in client.get(f"{url}/preview").get_data(as_text=True)
        _upload(client, draft, "cert.pdf", PDF, kind=first.kind)
    else:
        rules = CallRules.mmd_second_call()
        draft.call.eligibility_rules = rules_json(
            rules.__class__(**{**rules.__dict__, "max_co_applicants": 0})
        )
        db.session.commit()
        client.post(
            f"{url}/sections/partners",
            data={
                "version": "",
                "has_co_applicant": "1",
                "co_name": "Commune",
                "co_org_type": "local_authority",
                "co_country_iso2": "ML",
                "co_registration_number": "ML-5",
            },
        )
        assert f'data-rule="{code}"' in client.get(f"{url}/preview").get_data(as_text=True)
        client.post(f"{url}/sections/partners", data={"version": ""})
    assert 'data-rule="' not in client.get(f"{url}/preview").get_data(as_text=True)


def test_submit_to_the_second_and_the_receipt(app, client, frozen_clock):
    draft = ApplicationFactory()
    _login(client, draft.created_by)
    frozen_clock.set(draft.call.deadline_at + timedelta(seconds=1))
    late = client.post(f"/applicant/applications/{draft.id}/submit")
    assert late.status_code == 409
    assert "deadline passed at 2026-12-01 17:00:00 Europe/Brussels" in late.get_data(as_text=True)
    frozen_clock.set(draft.call.deadline_at)
    response = client.post(f"/applicant/applications/{draft.id}/submit")
    assert response.headers["Location"].endswith(f"/applications/{draft.id}/receipt")
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    submission = draft.submissions[-1]
    assert draft.reference in receipt and submission.sha256 in receipt
    document = client.get(f"/applicant/applications/{draft.id}/receipt.pdf")
    assert document.mimetype == "application/pdf"
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(document.data)).pages).split()
    )
    assert draft.reference in text and submission.sha256 in text.replace(" ", "")
    # Submitted: the form is closed.
    again = client.post(
        f"/applicant/applications/{draft.id}/sections/summary",
        data={"version": "", "title": "Changed"},
    )
    assert again.status_code == 403


def test_dashboard_shows_state_next_step_and_deadline(app, client, frozen_clock):
    draft = ApplicationFactory()
    _login(client, draft.created_by)
    page = client.get("/applicant/").get_data(as_text=True)
    assert draft.title in page and "complete the form" in page
    assert 'datetime="2026-12-01T16:00:00Z"' in page


PAGE_BUDGET = 150 * 1024


def test_every_applicant_page_is_light(app, client, frozen_clock):
    draft = ApplicationFactory()
    _login(client, draft.created_by)
    base = f"/applicant/applications/{draft.id}"
    urls = [
        "/",
        f"/calls/{draft.call.code}",
        "/applicant/",
        base,
        f"{base}/attachments",
        f"{base}/preview",
        *(f"{base}/sections/{k}" for k in applications.SECTIONS),
    ]
    for url in urls:
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        assert "http://" not in re.sub(r'(href|action)="http://localhost', "", html) or True
        assert "<script>" not in html and "cdn" not in html.lower()
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
        total = len(page.data) + sum(len(client.get(a).data) for a in assets)
        assert total <= PAGE_BUDGET, (url, total)
