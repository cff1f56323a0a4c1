"""Evaluation screens: who sees what, blind review in pages and PDFs, the manager's screens."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from grants.extensions import db
from grants.models import Application, Assignment, EvaluationResult, User
from grants.services import evaluation, panels
from tests.factories import PASSWORD, EvaluatorFactory, OrganisationFactory
from tests.test_evaluation_services import ALL_PASS, build, evaluate, live, score_all

SECRET_NAME = "Zanzibar Lighthouse Collective"


def login(client, user: User) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/account/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def logout(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/account/logout")


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def assigned(app, frozen_clock):  # type: ignore[no-untyped-def]
    s = build(count=2, evaluators=3)
    panels.auto_assign(s.call, "concept_note", s.manager)
    return s


def test_an_evaluator_opens_only_live_assignments_of_their_own(client, assigned):
    s = assigned
    first = s.applications[0]
    mine, other = live(first)
    login(client, mine.evaluator)
    assert client.get(f"/evaluation/assignments/{mine.id}").status_code == 200
    assert client.get(f"/evaluation/assignments/{other.id}").status_code == 404
    dashboard = client.get("/evaluation/").get_data(as_text=True)
    own = db.session.scalars(select(Assignment).where(
        Assignment.evaluator_id == mine.evaluator_id)).all()
    assert all(f"/evaluation/assignments/{a.id}" in dashboard for a in own)
    assert f"/evaluation/assignments/{other.id}\"" not in dashboard
    # Once recused, the assignment and its application are out of reach.
    response = client.post(f"/evaluation/assignments/{mine.id}/declaration",
                           data={"conflict": "yes", "statement": "I drafted it."})
    assert response.status_code == 302
    assert client.get(f"/evaluation/assignments/{mine.id}").status_code == 404
    assert client.post(f"/evaluation/assignments/{mine.id}/scores", data={}).status_code == 404
    assert db.session.get(Assignment, mine.id).state == "recused"


def test_the_content_is_shown_only_after_the_declaration(client, assigned):
    mine = live(assigned.applications[0])[0]
    application = mine.application
    login(client, mine.evaluator)
    before = client.get(f"/evaluation/assignments/{mine.id}").get_data(as_text=True)
    assert "Information centres on safe routes." not in before
    assert "no conflict of interest" in before
    client.post(f"/evaluation/assignments/{mine.id}/declaration", data={"conflict": "no"})
    after = client.get(f"/evaluation/assignments/{mine.id}").get_data(as_text=True)
    assert "Information centres on safe routes." in after
    assert application.organisation.name in after  # not a blind call


def test_no_evaluator_reads_another_score_before_submitting_their_own(client, assigned):
    first, second = live(assigned.applications[0])
    evaluation.declare(first, first.evaluator, has_conflict=False)
    score_all(first, 5, comment="PEER-COMMENT-ALPHA")
    evaluation.submit(first, first.evaluator)
    evaluation.declare(second, second.evaluator, has_conflict=False)

    login(client, second.evaluator)
    page = client.get(f"/evaluation/assignments/{second.id}").get_data(as_text=True)
    assert "PEER-COMMENT-ALPHA" not in page
    assert client.get(f"/evaluation/assignments/{first.id}").status_code == 404
    grid = assigned.call.grid_for("concept_note")
    form = {}
    for section in grid.sections:
        for c in section.criteria:
            form[f"score_{c.id}"] = "5"
            form[f"comment_{c.id}"] = f"Own view on {c.code}"
    draft = client.post(f"/evaluation/assignments/{second.id}/scores",
                        data={**form, "save": "Save draft"}, follow_redirects=True)
    assert "PEER-COMMENT-ALPHA" not in draft.get_data(as_text=True)
    done = client.post(f"/evaluation/assignments/{second.id}/scores",
                       data={**form, "submit_sheet": "Submit"}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "PEER-COMMENT-ALPHA" in text
    assert first.evaluator.name not in text  # peers are shown without their names


def test_an_incomplete_sheet_is_not_submitted_and_says_why(client, assigned):
    mine = live(assigned.applications[0])[0]
    evaluation.declare(mine, mine.evaluator, has_conflict=False)
    login(client, mine.evaluator)
    response = client.post(f"/evaluation/assignments/{mine.id}/scores",
                           data={"submit_sheet": "Submit"}, follow_redirects=True)
    assert "Not submitted" in response.get_data(as_text=True)
    assert db.session.get(Assignment, mine.id).state == "accepted"


def test_blind_review_leaks_no_applicant_name_in_pages_or_pdfs(client, app, frozen_clock):
    s = build(count=0, evaluators=2, blind_review=True)
    from tests.test_evaluation_services import admitted

    organisation = OrganisationFactory(name=SECRET_NAME, acronym="ZLC")
    application = admitted(s.call, s.manager, 1, organisation=organisation,
                           title=f"{SECRET_NAME} information centres")[0]
    panels.auto_assign(s.call, "concept_note", s.manager)
    first, second = live(application)
    leaks = (SECRET_NAME, "ZLC", organisation.registration_number)

    login(client, first.evaluator)
    pages = [client.get("/evaluation/").get_data(as_text=True),
             client.get(f"/evaluation/assignments/{first.id}").get_data(as_text=True)]
    client.post(f"/evaluation/assignments/{first.id}/declaration", data={"conflict": "no"})
    pages.append(client.get(f"/evaluation/assignments/{first.id}").get_data(as_text=True))
    pages.append(client.get("/home/").get_data(as_text=True))
    evaluate(second, 4)
    score_all(db.session.get(Assignment, first.id), 4)
    evaluation.submit(db.session.get(Assignment, first.id), first.evaluator)
    pages.append(client.get(f"/evaluation/assignments/{first.id}").get_data(as_text=True))
    assert "[applicant] information centres" in pages[2]
    for page in pages:
        for leak in leaks:
            assert leak not in page
    # The applicant's summary is not the evaluator's to read.
    assert client.get(f"/evaluation/summaries/{application.id}/concept_note.pdf").status_code == 404
    logout(client)

    evaluation.compute_results(s.call, "concept_note", s.manager)
    login(client, s.manager)
    report = client.get(f"/manage/calls/{s.call.code}/committee-report/concept_note.pdf")
    assert report.status_code == 200
    text = pdf_text(report.data)
    assert application.reference in text
    for leak in leaks:
        assert leak not in text


def test_manager_runs_the_evaluation_through_the_screens(client, app, frozen_clock):
    from tests.test_evaluation_services import submitted_application

    s = build(count=0, evaluators=0)
    apps = [submitted_application(s.call) for _ in range(3)]
    evaluators = [EvaluatorFactory() for _ in range(3)]
    login(client, s.manager)
    code = s.call.code

    # Grid: the default is there; the threshold changes.
    page = client.get(f"/manage/calls/{code}/grid/concept_note").get_data(as_text=True)
    assert "Relevance of the action" in page and "very good" in page
    client.post(f"/manage/calls/{code}/grid/concept_note/settings",
                data={"total_threshold": "32", "minimum_relevance": "", "minimum_design": ""})
    assert s.call.grid_for("concept_note").total_threshold == Decimal("32.00")

    # Opening check: two admitted, one rejected with its reason.
    for application in apps[:2]:
        data = {f"result_{item}": "pass" for item in ALL_PASS}
        client.post(f"/manage/applications/{application.id}/admin-check", data=data)
    failing = {f"result_{item}": "pass" for item in ALL_PASS}
    failing["result_declaration_signed"] = "fail"
    failing["reason_declaration_signed"] = "Unsigned declaration."
    client.post(f"/manage/applications/{apps[2].id}/admin-check", data=failing)
    db.session.expire_all()
    assert [a.state for a in apps] == ["in_evaluation", "in_evaluation", "admin_rejected"]
    assert "Unsigned declaration." in apps[2].decision_reason

    # Panel and automatic assignment.
    for evaluator in evaluators:
        client.post(f"/manage/calls/{code}/panel/concept_note/members",
                    data={"evaluator_id": evaluator.id})
    client.post(f"/manage/calls/{code}/panel/concept_note/auto", data={"due_date": "2026-12-20"})
    assignments = db.session.scalars(select(Assignment)).all()
    assert len(assignments) == 4 and all(a.due_at is not None for a in assignments)

    panel_page = client.get(f"/manage/calls/{code}/panel/concept_note").get_data(as_text=True)
    assert all(e.name in panel_page for e in evaluators) and "Remove" in panel_page
    assert client.get(f"/manage/calls/{code}/admin-check").status_code == 200
    for assignment in assignments:
        evaluate(assignment, 4 if assignment.application_id == apps[0].id else 3)
    sheet = client.get(f"/evaluation/assignments/{assignments[0].id}")
    assert sheet.status_code == 200
    assert assignments[0].evaluator.name in sheet.get_data(as_text=True)
    consensus_page = client.get(f"/manage/applications/{apps[0].id}/consensus/concept_note")
    assert consensus_page.status_code == 200
    overview = client.get(f"/manage/calls/{code}/evaluation/concept_note")
    assert overview.status_code == 200 and evaluators[0].name in overview.get_data(as_text=True)

    client.post(f"/manage/calls/{code}/results/concept_note", data={})
    assert len(db.session.scalars(select(EvaluationResult)).all()) == 2
    results_page = client.get(f"/manage/calls/{code}/results/concept_note").get_data(as_text=True)
    assert "40.00" in results_page and "30.00" in results_page
    ranking = client.get(f"/manage/calls/{code}/ranking/concept_note").get_data(as_text=True)
    assert "Confirm these decisions" in ranking
    fingerprint = ranking.split('name="fingerprint" type="hidden" value="')[1].split('"')[0]
    client.post(f"/manage/calls/{code}/ranking/concept_note", data={"fingerprint": fingerprint})
    db.session.expire_all()
    assert apps[0].state == "invited" and apps[1].state == "rejected"  # 30 < 32

    # The applicant gets the summary with the decision: comments, no evaluator names.
    logout(client)
    login(client, apps[1].created_by)
    summary = client.get(f"/evaluation/summaries/{apps[1].id}/concept_note.pdf")
    text = pdf_text(summary.data)
    assert "Argued." in text and "30.00" in text
    for evaluator in evaluators:
        assert evaluator.name not in text


def test_the_summary_waits_for_the_decision_and_managers_screens_for_managers(
    client, assigned
):
    application = assigned.applications[0]
    for assignment in live(application):
        evaluate(assignment, 4)
    evaluation.compute_results(assigned.call, "concept_note", assigned.manager)
    owner = db.session.get(Application, application.id).created_by
    login(client, owner)
    assert client.get(f"/evaluation/summaries/{application.id}/concept_note.pdf").status_code == 404
    assert client.get(f"/manage/calls/{assigned.call.code}/ranking/concept_note").status_code == 403
    logout(client)
    login(client, assigned.evaluators[0])
    assert client.get(f"/manage/calls/{assigned.call.code}/panel/concept_note").status_code == 403
