"""An evaluator in a real browser: declare, score every criterion, submit, see the others."""

from __future__ import annotations

import pytest

from grants.extensions import db
from grants.services import evaluation, panels
from tests.factories import PASSWORD
from tests.test_evaluation_services import build, live, score_all

pytestmark = pytest.mark.e2e


def test_evaluator_scores_and_then_sees_the_other_scores(  # type: ignore[no-untyped-def]
    app, frozen_clock, live_server, page
):
    s = build(count=1, evaluators=2)
    panels.auto_assign(s.call, "concept_note", s.manager)
    mine, peer = live(s.applications[0])
    evaluation.declare(peer, peer.evaluator, has_conflict=False)
    score_all(peer, 3, comment="Peer view: plausible but thin on sustainability.")
    evaluation.submit(peer, peer.evaluator)
    grid = s.call.grid_for("concept_note")
    criteria = [(c.id, c.code) for section in grid.sections for c in section.criteria]
    email, assignment_id = mine.evaluator.email, mine.id
    db.session.remove()  # the server thread opens its own sessions

    page.goto(f"{live_server}/account/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server}/evaluation/")
    assert "declaration needed" in page.inner_text("main")
    page.click(f"a[href='/evaluation/assignments/{assignment_id}']")

    body = page.inner_text("main")
    assert "Peer view" not in body and "Information centres" not in body
    page.check("input[name=conflict][value=no]")
    page.click("input[name=submit]")
    assert "Declaration recorded" in page.inner_text("main")
    assert "Peer view" not in page.inner_text("main")

    for criterion_id, code in criteria:
        page.check(f"input[name=score_{criterion_id}][value='4']")
        page.fill(f"textarea[name=comment_{criterion_id}]", f"My assessment of {code}.")
    page.click("input[name=submit_sheet]")

    body = page.inner_text("main")
    assert "Your evaluation is submitted." in body
    assert "Peer view: plausible but thin on sustainability." in body
    assert "Evaluator A" in body
    assert "40.00" in body and "30.00" in body  # my total and the other's
