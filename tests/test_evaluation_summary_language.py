"""The applicant's evaluation summary follows the reader's language, as the decision letter
does: labels, headings, the date and the figures in English or French; the call's criteria
and the evaluators' comments as written; evaluators never named. The committee's copy
(evaluation area, managers) stays as it was unless a language is asked for."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import flask_babel
import pytest
from flask import g, request_started
from pypdf import PdfReader

from grants.extensions import db
from grants.models import Application
from grants.services import evaluation
from grants.services.transitions import transition
from reports.evaluation import evaluation_summary_context
from reports.pdf import render_html
from tests.factories import (
    PASSWORD,
    ApplicationFactory,
    CallFactory,
    EvaluationResultFactory,
    EvaluatorFactory,
    ManagerFactory,
    OrganisationFactory,
    member,
)

EVALUATORS = ("Aminata Evaluatrix-Diallo", "Jonas Scorekeeper-Berg")
SUMMARY = "/applicant/applications/{}/evaluation-summary/{}.pdf"
COMMITTEE_COPY = "/evaluation/summaries/{}/concept_note.pdf"
FRENCH_LABELS = (
    "RÉSUMÉ DE L'ÉVALUATION",
    "Notes succinctes",
    "Demandeur",
    "Intitulé",
    "Décision",
    "Date d'émission",
    "2 évaluations indépendantes",
    "la note est la moyenne des évaluations.",
    "Commentaires des évaluateurs",
    "La demande n'a pas atteint tous les seuils requis.",
)
ENGLISH_LABELS = (
    "EVALUATION SUMMARY",
    "Concept notes",
    "Applicant",
    "Issued",
    "2 independent evaluations",
    "the score is the mean of the evaluations.",
    "Comments of the evaluators",
    "The application did not reach every threshold.",
)


@pytest.fixture(autouse=True)
def _fresh_locale_per_request(app):  # type: ignore[no-untyped-def]
    """The test's app context outlives requests: forget the locale each request cached."""

    def forget(*args, **kwargs):  # type: ignore[no-untyped-def]
        flask_babel.refresh()
        g.pop("_login_user", None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)


def _login(client, user) -> None:  # type: ignore[no-untyped-def]
    client.post("/account/logout")
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.data


def _text(document: bytes) -> str:
    assert document.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _evaluated(frozen_clock, language: str = "en") -> tuple[Application, object]:  # type: ignore[no-untyped-def]
    """A concept note scored 2 on every criterion by two named evaluators, below the
    threshold, not yet decided."""
    frozen_clock.set(datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    manager = ManagerFactory()
    call = CallFactory()
    application = ApplicationFactory(call=call, state="in_evaluation", language=language)
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


def _rejected(frozen_clock, language: str = "en") -> tuple[Application, object]:  # type: ignore[no-untyped-def]
    application, manager = _evaluated(frozen_clock, language)
    transition(application, "reject", manager, comment="Below the threshold of the concept note.")
    db.session.commit()
    return application, manager


def _figures(application: Application) -> tuple[str, str]:
    """The total and the first section's score, as the PDF prints them in English."""
    from grants.models import EvaluationResult

    result = db.session.scalar(
        db.select(EvaluationResult).where(EvaluationResult.application_id == application.id)
    )
    first = application.call.grid_for("concept_note").sections[0]
    return f"{result.total:.2f}", f"{Decimal(str(result.section_scores[first.code])):.2f}"


def _assert_no_evaluator(text: str) -> None:
    for name in EVALUATORS:
        assert name not in text
        for part in name.replace("-", " ").split():
            assert part not in text


def test_a_french_member_reads_the_summary_in_french(app, client, frozen_clock):  # type: ignore[no-untyped-def]
    application, _manager = _rejected(frozen_clock)
    assert application.language == "en"  # the reader's language counts, not the form's
    french = member(application.organisation, "viewer", language="fr")
    db.session.commit()
    _login(client, french)
    response = client.get(SUMMARY.format(application.id, "concept_note"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].endswith(
        f'"{application.reference}-evaluation-summary-concept_note-fr.pdf"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    text = _text(response.data)
    for label in FRENCH_LABELS:
        assert label in text, label
    for label in ENGLISH_LABELS:
        assert label not in text, label
    # The decision and the date in French; figures with a decimal comma.
    assert "rejeté" in text and "20 décembre 2026" in text
    total, first = _figures(application)
    assert total.replace(".", ",") in text and first.replace(".", ",") in text
    assert total not in text and first not in text
    assert re.search(r"seuil \d+,\d\d", text) and not re.search(r"threshold \d", text)
    # The call's criteria and what evaluators and the manager wrote stay as written.
    criterion = application.call.grid_for("concept_note").sections[0].criteria[0]
    assert criterion.title in text
    assert f"{criterion.code}: weakly argued." in text
    assert "Below the threshold of the concept note." in text
    _assert_no_evaluator(text)


def test_an_english_member_reads_the_summary_in_english(app, client, frozen_clock):  # type: ignore[no-untyped-def]
    application, _manager = _rejected(frozen_clock, language="fr")
    english = member(application.organisation, "editor", language="en")
    db.session.commit()
    _login(client, english)
    response = client.get(SUMMARY.format(application.id, "concept_note"))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('-concept_note-en.pdf"')
    text = _text(response.data)
    for label in ENGLISH_LABELS:
        assert label in text, label
    for label in FRENCH_LABELS:
        assert label not in text, label
    assert "rejected" in text and "20 December 2026" in text
    total, first = _figures(application)
    assert total in text and first in text
    assert re.search(r"threshold \d+\.\d\d", text) and "seuil" not in text
    _assert_no_evaluator(text)


def test_the_release_rules_are_the_same_in_french(app, client, frozen_clock):  # type: ignore[no-untyped-def]
    application, manager = _evaluated(frozen_clock)
    french = member(application.organisation, "owner", language="fr")
    stranger = member(OrganisationFactory(), "owner", language="fr")
    db.session.commit()
    _login(client, french)
    # Not decided yet: nothing released, in any language.
    assert client.get(SUMMARY.format(application.id, "concept_note")).status_code == 404
    transition(application, "reject", manager, comment="Sous le seuil.")
    db.session.commit()
    assert client.get(SUMMARY.format(application.id, "concept_note")).status_code == 200
    # A stage never evaluated, another organisation, programme staff: 404 all the same.
    assert client.get(SUMMARY.format(application.id, "full_application")).status_code == 404
    assert client.get(SUMMARY.format(application.id + 999, "concept_note")).status_code == 404
    _login(client, stranger)
    assert client.get(SUMMARY.format(application.id, "concept_note")).status_code == 404
    _login(client, manager)
    assert client.get(SUMMARY.format(application.id, "concept_note")).status_code == 404


def test_the_committee_copy_is_unchanged_for_managers(app, client, frozen_clock):  # type: ignore[no-untyped-def]
    application, manager = _rejected(frozen_clock, language="fr")
    manager.language = "fr"
    db.session.commit()
    _login(client, manager)
    response = client.get(COMMITTEE_COPY.format(application.id))
    assert response.status_code == 200
    text = _text(response.data)
    # English text, the ISO date, figures in the application's language: as before.
    for label in ENGLISH_LABELS:
        assert label in text, label
    assert "Commentaires des évaluateurs" not in text
    assert "2026-12-20" in text and "20 décembre 2026" not in text
    total, _first = _figures(application)
    assert total.replace(".", ",") in text
    _assert_no_evaluator(text)


def test_asked_for_french_the_committee_copy_is_french_too(app, frozen_clock):  # type: ignore[no-untyped-def]
    application, manager = _rejected(frozen_clock)
    context = evaluation_summary_context(application, "concept_note", manager, "fr")
    html = render_html("evaluation_summary.html", context)
    assert '<html lang="fr">' in html
    assert "Résumé de l&#39;évaluation" in html and "Notes succinctes" in html
    assert "20 décembre 2026" in html
    # French typography: a no-break space before the colon and the semicolon.
    assert "indépendantes\u00a0;" in html and "rejeté\u00a0:" in html


def test_an_unknown_language_falls_back_to_english(app, frozen_clock):  # type: ignore[no-untyped-def]
    application, manager = _rejected(frozen_clock)
    context = evaluation_summary_context(application, "concept_note", manager, "de")
    assert context["language"] == "en" and context["labels"]["title"] == "Evaluation summary"


def test_a_consensus_of_one_evaluation_reads_well_in_french(app, frozen_clock):  # type: ignore[no-untyped-def]
    frozen_clock.set(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    application = ApplicationFactory(
        state="rejected", decided_at=datetime(2027, 3, 1, 9, 0, tzinfo=UTC),
        decision_reason="Budget insuffisamment justifié.",
    )
    EvaluationResultFactory(
        application=application, stage="concept_note", method="consensus",
        justification="Le comité a retenu la note la plus basse.", total=Decimal("31.50"),
        passes=False,
    )
    manager = ManagerFactory()
    db.session.commit()
    html = render_html(
        "evaluation_summary.html",
        evaluation_summary_context(application, "concept_note", manager, "fr"),
    )
    assert "0 évaluation indépendante\u00a0;" in html
    assert "la note résulte d&#39;un consensus du comité d&#39;évaluation." in html
    assert "Le comité a retenu la note la plus basse." in html
    assert "Budget insuffisamment justifié." in html
    assert "1er mars 2027" in html and "31,50" in html
    # No evaluation submitted: every criterion says so, in French.
    assert "Aucun commentaire." in html and "No comment." not in html


def test_a_french_member_reads_the_evaluation_area_copy_in_french_too(app, client, frozen_clock):  # type: ignore[no-untyped-def]
    application, _manager = _rejected(frozen_clock)
    french = member(application.organisation, "viewer", language="fr")
    db.session.commit()
    _login(client, french)
    response = client.get(COMMITTEE_COPY.format(application.id))
    assert response.status_code == 200
    text = _text(response.data)
    for label in FRENCH_LABELS:
        assert label in text, label
    _assert_no_evaluator(text)
