"""What the services say to an applicant, in French on French pages: eligibility failures
with their fixes, guard reasons with their figures, a stale save, an upload refusal, a
duplicate organisation, refused links and permissions."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from decimal import Decimal

import flask_babel
import pytest
from flask import g, request_started

from grants.extensions import db
from grants.models import Application, Organisation
from grants.services import organisations
from grants.services.errors import N_, NotFound, ValidationFailed
from tests.factories import (
    PASSWORD,
    ApplicationFactory,
    CallFactory,
    OrganisationFactory,
    member,
)

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _fresh_locale_per_request(app):
    """The test's app context outlives requests: forget the locale each request cached."""

    def forget(*args, **kwargs):
        flask_babel.refresh()
        g.pop("_login_user", None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)


def _login(client, user):
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data


def _french_owner(**org):
    organisation = OrganisationFactory(**org)
    return organisation, member(organisation, "owner", language="fr")


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# ------------------------------------------------------------------ the errors themselves


def test_a_service_error_keeps_its_catalogue_message_and_figures_apart():
    error = ValidationFailed(N_("call %(code)s is not open for applications"),
                             params={"code": "C07"})
    assert error.message == "call C07 is not open for applications"  # English for logs and API
    assert error.template == "call %(code)s is not open for applications"
    assert error.params == {"code": "C07"}
    assert error.to_dict()["message"] == "call C07 is not open for applications"
    plain = NotFound("no such call")
    assert plain.template == plain.message == "no such call" and plain.params == {}


# ------------------------------------------------------------------ on the pages


def test_eligibility_failures_with_their_fixes_and_guard_reasons_in_french(
    app, client, frozen_clock
):
    org, owner = _french_owner()
    application = ApplicationFactory(organisation=org, duration_months=9, complete=False)
    application.title = ""
    db.session.commit()
    _login(client, owner)
    preview = _page(client.get(f"/applicant/applications/{application.id}/preview"))
    assert "La durée de 9 mois diffère de la durée requise de 6 mois." in preview
    assert "Comment y remédier" in preview
    # After the deadline: every reason in French, figures kept.
    frozen_clock.set(datetime(2026, 12, 1, 17, 0, 1, tzinfo=UTC))
    response = client.post(f"/applicant/applications/{application.id}/submit", data={})
    page = _page(response)
    assert response.status_code == 409
    assert "La demande n'a pas été soumise" in page
    assert "la date limite est passée depuis le 2026-12-01 17:00:00 Europe/Brussels" in page
    assert "incomplet : le titre" in page and "incomplet : le résumé" in page
    assert "La durée de 9 mois diffère de la durée requise de 6 mois." in page
    for english in ("the deadline passed", "incomplete:", "The duration of 9 months"):
        assert english not in page


def test_a_stale_save_is_explained_in_french(app, client):
    org, owner = _french_owner()
    application = ApplicationFactory(organisation=org, complete=False)
    db.session.commit()
    _login(client, owner)
    url = f"/applicant/applications/{application.id}/sections/description"
    client.post(url, data={"version": "1", "text": "Premier texte"})
    response = client.post(url, data={"version": "1", "text": "Second texte"})
    page = _page(response)
    assert response.status_code == 409
    assert "Non enregistré : une autre personne a enregistré cette section" in page
    assert "Premier texte" in page and "Second texte" in page
    assert "someone else saved" not in page


def test_an_edit_after_submission_is_refused_in_french(app, client):
    org, owner = _french_owner()
    application = ApplicationFactory(organisation=org, state="submitted")
    db.session.commit()
    _login(client, owner)
    response = client.post(
        f"/applicant/applications/{application.id}/sections/description",
        data={"version": "", "text": "Trop tard"},
    )
    page = _page(response)
    assert response.status_code == 403
    assert "Action non autorisée" in page
    assert "la demande est au statut « soumis » et ne peut plus être modifiée" in page
    assert "can no longer be edited" not in page and "Not allowed" not in page


def test_an_upload_refusal_is_in_french(app, client):
    org, owner = _french_owner()
    application = ApplicationFactory(organisation=org, complete=False)
    db.session.commit()
    _login(client, owner)
    response = client.post(
        f"/applicant/applications/{application.id}/attachments",
        data={"kind": "other", "file": (io.BytesIO(PDF), "statuts.png")},
        content_type="multipart/form-data",
    )
    page = _page(response)
    assert response.status_code == 422
    assert "le fichier porte l'extension « .png » mais son contenu est de type PDF" in page
    assert "its content is" not in page


def test_a_duplicate_organisation_is_reported_in_french(app, client):
    existing = OrganisationFactory(name="Association Sahel Migrations", country_iso2="ML",
                                   registration_number="ML-BKO-2020-0042")
    newcomer = member(OrganisationFactory(country_iso2="SN"), "owner", language="fr")
    db.session.commit()
    _login(client, newcomer)
    data = {
        "name": "Association Sahel Migrations",
        "org_type": "cso",
        "country_iso2": "ML",
        "registration_number": "ml bko 2020 0042",
        "address": "Bamako",
        "contact_email": "contact@sahel.example.org",
    }
    response = client.post("/applicant/organisations/new", data=data)
    page = _page(response)
    assert response.status_code == 409
    assert "Cette organisation semble déjà enregistrée :" in page
    assert "demandez à l'un de ses propriétaires de vous inviter" in page
    assert existing.name in page
    assert "seems to be registered" not in page
    assert db.session.query(Organisation).filter_by(name=data["name"]).count() == 1


def test_the_duplicate_refusal_names_its_matches_and_field(app):
    existing = OrganisationFactory(country_iso2="ML", registration_number="ML-1")
    db.session.commit()
    user = member(OrganisationFactory(), "owner")
    with pytest.raises(organisations.DuplicateOrganisation) as refused:
        organisations.create_organisation(
            user,
            organisations.OrganisationData(
                name="Autre", org_type="cso", country_iso2="ML", registration_number="ml 1"
            ),
        )
    assert refused.value.matches == [existing]
    assert refused.value.fields == {"registration_number": ["already registered"]}


def test_starting_on_a_closed_call_names_the_call_in_french(app, client):
    org, owner = _french_owner()
    call = CallFactory(state="closed")
    db.session.commit()
    _login(client, owner)
    response = client.post(f"/applicant/calls/{call.code}/apply",
                           data={"organisation_id": org.id})
    page = _page(response)
    assert response.status_code == 422
    assert f"l'appel {call.code} n'est pas ouvert aux demandes" in page
    assert "Veuillez vérifier votre saisie" in page
    assert db.session.query(Application).count() == 0


def test_an_unknown_invitation_is_not_found_in_french(app, client):
    _org, owner = _french_owner()
    db.session.commit()
    _login(client, owner)
    response = client.get("/applicant/invitations/not-a-token")
    page = _page(response)
    assert response.status_code == 404
    assert "Introuvable" in page and "invitation introuvable" in page
    assert "no such invitation" not in page


def test_a_broken_account_link_is_explained_in_french(app, client):
    client.post("/account/language", data={"language": "fr", "next": "/"})
    response = client.get("/account/verify/not-a-token")
    assert response.status_code == 400
    assert "ce lien n'est pas valable ; demandez-en un nouveau" in _page(response)


def test_english_pages_keep_the_english_messages(app, client):
    org = OrganisationFactory()
    owner = member(org, "owner", language="en")
    application = ApplicationFactory(organisation=org, state="submitted",
                                     requested_amount=Decimal("120000.00"))
    db.session.commit()
    _login(client, owner)
    response = client.post(
        f"/applicant/applications/{application.id}/sections/description",
        data={"version": "", "text": "Too late"},
    )
    page = _page(response)
    assert "Not allowed" in page
    assert "the application is submitted and can no longer be edited" in page


def test_a_second_submission_and_a_withdrawal_by_an_editor_are_refused_in_french(
    app, client, frozen_clock
):
    frozen_clock.set(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    org, owner = _french_owner()
    editor = member(org, "editor", language="fr")
    application = ApplicationFactory(organisation=org)
    db.session.commit()
    _login(client, owner)
    url = f"/applicant/applications/{application.id}"
    assert client.post(f"{url}/submit", data={}).status_code == 302
    again = client.post(f"{url}/submit", data={})
    page = _page(again)
    assert again.status_code == 409
    assert "Cette action n'est pas possible pour le moment" in page
    assert f"Demande {application.reference} : statut « soumis », cette action n'est plus" in page
    assert "cannot be fired" not in page
    client.post("/account/logout")
    _login(client, editor)
    refused = client.post(f"{url}/withdraw", data={"reason": "Erreur"})
    page = _page(refused)
    assert refused.status_code == 403
    assert f"vous ne pouvez pas effectuer cette action (Demande {application.reference})" in page
    assert "réservé aux propriétaires de l'organisation" in page
    assert "you may not" not in page
