"""The applicant dashboard gives the decision letter and the evaluation summary once the
decision is out: to the organisation's members only, the letter in the reader's language,
the summary without the evaluators' names."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import flask_babel
import pytest
from flask import g, request_started
from pypdf import PdfReader

from grants.extensions import db
from grants.models import Application
from grants.services import evaluation
from grants.services.transitions import transition
from tests.factories import (
    PASSWORD,
    ApplicationFactory,
    CallFactory,
    EvaluatorFactory,
    ManagerFactory,
    OrganisationFactory,
    member,
)

EVALUATORS = ("Aminata Evaluatrix-Diallo", "Jonas Scorekeeper-Berg")


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
    client.post("/account/logout")
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data


def _text(document: bytes) -> str:
    reader = PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _evaluated(frozen_clock) -> tuple[Application, object]:
    """A concept note scored by two named evaluators, below the threshold, not yet decided."""
    frozen_clock.set(datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    manager = ManagerFactory()
    call = CallFactory()
    application = ApplicationFactory(call=call, state="in_evaluation")
    db.session.commit()
    for name in EVALUATORS:
        evaluator = EvaluatorFactory(name=name)
        db.session.commit()
        assignment = evaluation.assign(application, evaluator, manager, "concept_note")
        db.session.commit()
        transition(assignment, "accept", evaluator, comment="No conflict of interest.")
        for section in call.grid_for("concept_note").sections:
            for criterion in section.criteria:
                evaluation.save_score(
                    assignment, criterion.id, 2, f"{criterion.code}: weakly argued.", evaluator
                )
        db.session.commit()
        transition(assignment, "submit", evaluator)
    evaluation.compute_result(application, "concept_note", manager)
    db.session.commit()
    return application, manager


LETTER = "/applicant/applications/{}/decision-letter.pdf"
SUMMARY = "/applicant/applications/{}/evaluation-summary/concept_note.pdf"


def test_nothing_is_released_before_the_decision(app, client, frozen_clock):
    application, _manager = _evaluated(frozen_clock)
    _login(client, application.created_by)
    page = client.get("/applicant/").get_data(as_text=True)
    assert "Decision letter" not in page and "Evaluation summary" not in page
    assert client.get(LETTER.format(application.id)).status_code == 404
    assert client.get(SUMMARY.format(application.id)).status_code == 404


def test_after_the_decision_members_download_letter_and_summary(app, client, frozen_clock):
    application, manager = _evaluated(frozen_clock)
    transition(application, "reject", manager, comment="Below the threshold of the concept note.")
    viewer = member(application.organisation, "viewer")
    db.session.commit()
    _login(client, viewer)
    page = client.get("/applicant/").get_data(as_text=True)
    assert LETTER.format(application.id) in page and SUMMARY.format(application.id) in page
    assert "Decision letter (PDF)" in page

    letter = client.get(LETTER.format(application.id))
    assert letter.status_code == 200 and letter.mimetype == "application/pdf"
    assert letter.headers["Content-Disposition"].startswith("attachment;")
    text = _text(letter.data)
    assert "NOTIFICATION OF REJECTION" in text
    assert "Below the threshold of the concept note." in text

    summary = client.get(SUMMARY.format(application.id))
    assert summary.status_code == 200 and summary.mimetype == "application/pdf"
    text = _text(summary.data)
    assert "EVALUATION SUMMARY" in text and "weakly argued." in text
    for name in EVALUATORS:
        assert name not in text
        assert name.split()[-1] not in text
    # The full application was never evaluated: nothing to release for it.
    full = client.get(f"/applicant/applications/{application.id}/evaluation-summary/"
                      "full_application.pdf")
    assert full.status_code == 404


def test_the_letter_is_in_the_members_language(app, client, frozen_clock):
    application, manager = _evaluated(frozen_clock)
    transition(application, "reject", manager, comment="Sous le seuil.")
    french = member(application.organisation, "editor", language="fr")
    db.session.commit()
    assert application.language == "en"
    _login(client, french)
    page = client.get("/applicant/").get_data(as_text=True)
    assert "Lettre de décision (PDF)" in page
    text = _text(client.get(LETTER.format(application.id)).data)
    assert "NOTIFICATION DE REJET" in text and "Madame, Monsieur," in text


def test_other_organisations_and_staff_get_not_found(app, client, frozen_clock):
    application, manager = _evaluated(frozen_clock)
    transition(application, "reject", manager, comment="Below the threshold.")
    stranger = member(OrganisationFactory(), "owner")
    db.session.commit()
    for person in (stranger, manager):
        _login(client, person)
        assert client.get(LETTER.format(application.id)).status_code == 404
        assert client.get(SUMMARY.format(application.id)).status_code == 404
    _login(client, stranger)
    assert f"{application.id}/decision-letter" not in client.get("/applicant/").get_data(
        as_text=True
    )
    client.post("/account/logout")
    assert client.get(LETTER.format(application.id)).status_code in (302, 401)


def test_an_invited_concept_note_has_its_summary_but_no_letter_yet(app, client, frozen_clock):
    application = ApplicationFactory(state="invited", decided_at=datetime(2026, 12, 20,
                                                                          tzinfo=UTC))
    from tests.factories import EvaluationResultFactory

    EvaluationResultFactory(application=application, stage="concept_note")
    db.session.commit()
    _login(client, application.created_by)
    page = client.get("/applicant/").get_data(as_text=True)
    assert SUMMARY.format(application.id) in page
    assert LETTER.format(application.id) not in page
    assert client.get(LETTER.format(application.id)).status_code == 404


def test_an_application_still_in_evaluation_shows_no_release(app, client):
    application = ApplicationFactory(state="in_evaluation")
    db.session.commit()
    _login(client, application.created_by)
    page = client.get("/applicant/").get_data(as_text=True)
    assert "decision-letter" not in page and "evaluation-summary" not in page
