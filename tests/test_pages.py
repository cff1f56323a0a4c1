"""The web shell: public calls, logging in, and each role's home page."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest

from grants.services.actors import SYSTEM
from grants.services.transitions import transition
from tests.factories import (
    DEADLINE,
    PASSWORD,
    AdminFactory,
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    EvaluatorFactory,
    ManagerFactory,
    OrganisationFactory,
    SingleStageCallFactory,
    UserFactory,
    member,
)

WRONG = "The email or password is not right."


def login(client, email: str, password: str = PASSWORD, next_: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/account/login",
        query_string={"next": next_} if next_ is not None else None,
        data={"email": email, "password": password},
    )


def shows_local_time(html: str, day: str, hour: str, zone: str) -> bool:
    """The moment appears as the call's local time, however the locale writes it."""
    plain = f"{day} {hour}"
    day_obj = date.fromisoformat(day)
    h, m = (int(x) for x in hour.split(":"))
    twelve = f"{(h - 1) % 12 + 1}:{m:02d}"
    written = (
        plain in html
        or f"{day_obj:%b} {day_obj.day}, {day_obj.year}, {twelve}" in html
        or f"{day_obj.day} {day_obj:%b} {day_obj.year}" in html
    )
    return written and zone in html


def page(client, url: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# --- public pages ---


@pytest.fixture
def calls(app):  # type: ignore[no-untyped-def]
    return {
        "open": CallFactory(code="C21", title="Call for diaspora-led actions"),
        "closed": SingleStageCallFactory(
            code="C22", title="Call for local authorities", state="closed"
        ),
        "draft": CallFactory(code="C23", title="Call still being drafted", state="draft"),
        "cancelled": CallFactory(code="C24", title="Call that was cancelled", state="cancelled"),
    }


def test_the_front_page_lists_the_published_calls_only(client, calls):
    html = page(client, "/")
    assert "Call for diaspora-led actions" in html
    assert "Call for local authorities" in html
    assert "/calls/C21" in html and "/calls/C22" in html
    assert "Call still being drafted" not in html and "/calls/C23" not in html
    assert "Call that was cancelled" not in html
    # the deadline is shown in the call's own time zone
    assert shows_local_time(html, "2026-12-01", "17:00", "Europe/Brussels")


def test_the_front_page_says_when_nothing_is_published(client, app):
    CallFactory(state="draft")
    assert "No call is published at the moment." in page(client, "/")


def test_a_call_page_shows_the_call(client, calls):
    html = page(client, "/calls/C21")
    assert "Call for diaspora-led actions" in html
    assert shows_local_time(html, "2026-12-01", "17:00", "Europe/Brussels")
    # full applications, on invitation
    assert shows_local_time(html, "2027-01-15", "17:00", "Europe/Brussels")
    assert "Two stages" in html
    assert "100,000.00" in html and "150,000.00" in html  # grant size, however written
    assert "Rabat Process" in html and "Khartoum Process" in html
    assert "One stage" in page(client, "/calls/C22")


@pytest.mark.parametrize("code", ["C23", "C24", "NOPE"])
def test_an_unpublished_or_unknown_call_is_not_found(client, calls, code):
    response = client.get(f"/calls/{code}")
    assert response.status_code == 404
    assert "Call still being drafted" not in response.get_data(as_text=True)


def test_a_draft_call_stays_hidden_even_from_a_signed_in_manager(client, calls):
    manager = ManagerFactory()
    login(client, manager.email)
    assert client.get("/calls/C23").status_code == 404


# --- logging in ---


def test_home_needs_a_login(client, app):
    response = client.get("/home/")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/login"
    assert "next=%2Fhome%2F" in location.query


def test_logging_in_leads_home_and_logging_out_ends_the_session(client, app):
    user = UserFactory(name="Awa Traore")
    response = login(client, user.email)
    assert response.status_code == 302 and response.headers["Location"] == "/home/"
    assert "Welcome, Awa Traore" in page(client, "/home/")
    # already signed in: the login page sends the person home
    assert client.get("/account/login").headers["Location"] == "/home/"

    response = client.post("/account/logout")
    assert response.status_code == 302
    assert client.get("/home/").status_code == 302


def test_the_email_is_not_case_sensitive(client, app):
    UserFactory(email="moussa.sow@example.org")
    assert login(client, "Moussa.Sow@EXAMPLE.org").status_code == 302
    assert client.get("/home/").status_code == 200


def test_a_wrong_password_reads_exactly_like_an_unknown_email(client, app):
    known = UserFactory(email="known@example.org")
    wrong_password = login(client, known.email, "not the password at all")
    unknown_email = login(client, "nobody@example.org", PASSWORD)

    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert WRONG in response.get_data(as_text=True)
    same = [
        r.get_data(as_text=True).replace(email, "EMAIL")
        for r, email in ((wrong_password, known.email), (unknown_email, "nobody@example.org"))
    ]
    assert same[0] == same[1]
    assert client.get("/home/").status_code == 302  # still signed out


def test_a_deactivated_account_cannot_log_in_and_is_told_nothing_more(client, app):
    user = UserFactory(active=False)
    response = login(client, user.email)
    assert response.status_code == 200 and WRONG in response.get_data(as_text=True)
    assert client.get("/home/").status_code == 302


OFF_SITE = [
    "https://evil.example/steal",
    "//evil.example/steal",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
]


def test_next_never_leaves_the_site(client, app):
    user = UserFactory()
    for target in OFF_SITE:
        response = login(client, user.email, next_=target)
        assert response.status_code == 302, target
        location = response.headers["Location"]
        parsed = urlsplit(location)
        assert parsed.scheme in ("", "http") and parsed.netloc in ("", "localhost"), target
        assert location.startswith("/") and not location.startswith("//"), target
        assert "\\" not in location and "evil.example" not in parsed.netloc, target
        client.post("/account/logout")


def test_next_keeps_a_same_site_path(client, app):
    user = UserFactory()
    response = login(client, user.email, next_="/calls/C21?tab=documents")
    assert response.headers["Location"] == "/calls/C21?tab=documents"


# --- each role's home page ---


@pytest.fixture
def world(app, frozen_clock):  # type: ignore[no-untyped-def]
    """Two organisations with applications in one call, a manager and an evaluator."""
    call = CallFactory(code="C31")
    alpha = OrganisationFactory(name="Alpha Migrants Forum")
    beta = OrganisationFactory(name="Beta Diaspora Network", org_type="diaspora")
    alpha_draft = ApplicationFactory(
        call=call, organisation=alpha, title="Alpha legal aid in Dakar"
    )
    alpha_owner = alpha_draft.created_by
    beta_submitted = ApplicationFactory(
        call=call,
        organisation=beta,
        title="Beta mentoring in Lagos",
        state="submitted",
        reference="MMD-2026-C31-0001",
    )
    beta_evaluated = ApplicationFactory(
        call=call,
        organisation=beta,
        title="Beta returnees in Sfax",
        state="in_evaluation",
        reference="MMD-2026-C31-0002",
    )
    evaluator = EvaluatorFactory(name="Grace Evaluator")
    AssignmentFactory(application=beta_evaluated, evaluator=evaluator, state="accepted")
    return {
        "call": call,
        "alpha_owner": alpha_owner,
        "alpha_viewer": member(alpha, "viewer"),
        "beta_owner": beta_submitted.created_by,
        "manager": ManagerFactory(),
        "admin": AdminFactory(),
        "evaluator": evaluator,
    }


def test_the_manager_sees_every_organisations_applications_and_their_states(client, world):
    login(client, world["manager"].email)
    html = page(client, "/home/")
    for text in (
        "Alpha legal aid in Dakar",
        "Beta mentoring in Lagos",
        "Beta returnees in Sfax",
        "Alpha Migrants Forum",
        "Beta Diaspora Network",
        "MMD-2026-C31-0001",
        "MMD-2026-C31-0002",
    ):
        assert text in html, text
    for state in ("state-draft", "state-submitted", "state-in_evaluation"):
        assert state in html
    # the pipeline per call, counted by state
    assert "draft: 1" in html and "submitted: 1" in html and "in evaluation: 1" in html


def test_an_admin_gets_the_managers_overview(client, world):
    login(client, world["admin"].email)
    html = page(client, "/home/")
    assert "Alpha legal aid in Dakar" in html and "Beta mentoring in Lagos" in html


@pytest.mark.parametrize("who", ["alpha_owner", "alpha_viewer"])
def test_an_applicant_sees_only_their_organisations_applications(client, world, who):
    login(client, world[who].email)
    html = page(client, "/home/")
    assert "Alpha legal aid in Dakar" in html
    assert "state-draft" in html
    for hidden in (
        "Beta mentoring in Lagos",
        "Beta returnees in Sfax",
        "Beta Diaspora Network",
        "MMD-2026-C31-0001",
    ):
        assert hidden not in html, hidden


def test_the_other_applicant_sees_only_theirs(client, world):
    login(client, world["beta_owner"].email)
    html = page(client, "/home/")
    assert "Beta mentoring in Lagos" in html and "Beta returnees in Sfax" in html
    assert "Alpha legal aid in Dakar" not in html


def test_an_evaluator_sees_their_assignments_only(client, world):
    other = EvaluatorFactory()
    ApplicationFactory(
        call=world["call"],
        title="Gamma unassigned",
        state="in_evaluation",
        reference="MMD-2026-C31-0003",
    )
    login(client, world["evaluator"].email)
    html = page(client, "/home/")
    assert "My evaluation assignments" in html
    assert "MMD-2026-C31-0002" in html and "Beta returnees in Sfax" in html
    assert "state-accepted" in html
    for hidden in ("Alpha legal aid in Dakar", "Beta mentoring in Lagos", "Gamma unassigned"):
        assert hidden not in html, hidden

    client.post("/account/logout")
    login(client, other.email)
    html = page(client, "/home/")
    assert "MMD-2026-C31-0002" not in html and "My evaluation assignments" not in html


def test_a_blind_review_hides_the_title_from_the_evaluator(client, app, frozen_clock):
    call = CallFactory(blind_review=True)
    application = ApplicationFactory(
        call=call, title="Identifying title", state="in_evaluation", reference="MMD-2026-X-0001"
    )
    assignment = AssignmentFactory(application=application)
    login(client, assignment.evaluator.email)
    html = page(client, "/home/")
    assert "MMD-2026-X-0001" in html
    assert "Identifying title" not in html


def test_someone_with_nothing_yet_is_pointed_to_the_calls(client, app):
    user = UserFactory()
    login(client, user.email)
    html = page(client, "/home/")
    assert "Nothing here yet." in html
    assert "My evaluation assignments" not in html


def test_a_state_change_shows_on_the_next_page_view(client, world, frozen_clock):
    login(client, world["manager"].email)
    assert "state-closed" not in page(client, "/home/")
    frozen_clock.set(DEADLINE + timedelta(seconds=1))
    transition(world["call"], "close", SYSTEM)
    assert "state-closed" in page(client, "/home/")
