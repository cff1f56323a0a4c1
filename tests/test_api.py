"""The JSON API: every workflow moved through it, what each user sees, and every error code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from openapi_spec_validator import validate
from sqlalchemy import select

from grants.extensions import db
from grants.models import Application, Grant, Report
from grants.policy import can_view
from grants.services import evaluation, tokens
from grants.services.transitions import transition
from tests.factories import (
    DEADLINE,
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    EvaluationResultFactory,
    EvaluatorFactory,
    GrantFactory,
    ManagerFactory,
    OrganisationFactory,
    SingleStageCallFactory,
    admin_checks,
    member,
    sign_as_grantee,
)

API = "/api/v1"


class Client:
    """A user's view of the API: requests sent with their token."""

    def __init__(self, client: Any, user: Any):
        self.client = client
        self.user = user
        self.headers = {"Authorization": f"Bearer {tokens.create_token(user, 'tests').secret}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(API + path, headers=self.headers, **kwargs)

    def fire(self, path: str, name: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.client.post(
            API + path + "/transitions",
            json={"name": name, **body},
            headers={**self.headers, **(headers or {})},
        )

    def ok(self, path: str, name: str, **body: Any) -> dict[str, Any]:
        response = self.fire(path, name, **body)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code, body
    return body


@pytest.fixture
def manager(app, client):  # type: ignore[no-untyped-def]
    return Client(client, ManagerFactory())


def as_user(client: Any, user: Any) -> Client:
    return Client(client, user)


# --- every workflow through the API ---------------------------------------------


def test_a_single_stage_application_from_draft_to_a_paid_and_reported_grant(
    app, client, frozen_clock, manager
):
    call = SingleStageCallFactory(prefinancing_shares=["0.80"])
    application = ApplicationFactory(call=call)
    owner = as_user(client, application.created_by)
    path = f"/applications/{application.id}"

    draft = owner.get(path).get_json()
    assert draft["state"] == "draft" and draft["reference"] is None
    assert {t["name"]: t["blocked_by"] for t in draft["allowed_transitions"]} == {
        "submit": [],
        "withdraw": [],
    }
    submitted = owner.ok(path, "submit", version=draft["version"])
    assert submitted["state"] == "submitted" and submitted["reference"]
    assert submitted["version"] == draft["version"] + 1
    assert [t["name"] for t in submitted["allowed_transitions"]] == ["withdraw"]

    frozen_clock.set(DEADLINE + timedelta(days=1))
    admin_checks(application, manager.user)
    assert manager.ok(path, "admit")["state"] == "in_evaluation"
    EvaluationResultFactory(application=application, stage=application.stage)
    assert manager.ok(path, "select")["state"] == "provisionally_selected"

    blocked = error(manager.fire(path, "award"), 409, "guard_failed")
    assert blocked["reasons"] == ["the supporting documents have not been confirmed as verified"]
    awarded = manager.ok(
        path,
        "award",
        comment="Documents checked against the originals.",
        data={"documents_verified": True, "amount": "100000.00", "start_date": "2027-02-01"},
    )
    assert awarded["state"] == "awarded" and awarded["allowed_transitions"] == []

    page = manager.get(f"/grants?application={application.id}").get_json()
    [grant] = page["items"]
    assert grant["amount"] == "100000.00" and grant["start_date"] == "2027-02-01"
    assert grant["state"] == "contract_preparation"
    grant_path = f"/grants/{grant['id']}"
    assert manager.ok(grant_path, "send_for_signature")["state"] == "awaiting_signature"
    unsigned = error(manager.fire(grant_path, "sign"), 409, "guard_failed")
    assert unsigned["reasons"] == ["the grantee has not signed the current contract"]
    sign_as_grantee(db.session.get(Grant, grant["id"]), owner.user)
    assert manager.ok(grant_path, "sign")["state"] == "active"
    assert manager.ok(grant_path, "suspend", comment="Audit under way.")["state"] == "suspended"
    assert manager.ok(grant_path, "resume")["state"] == "active"

    payments = owner.get(f"/payments?grant={grant['id']}").get_json()["items"]
    assert [p["kind"] for p in payments] == ["prefinancing", "balance"]
    first = f"/payments/{payments[0]['id']}"
    assert owner.ok(first, "request")["state"] == "requested"
    error(owner.fire(first, "approve"), 403, "forbidden")
    assert manager.ok(first, "approve")["state"] == "approved"
    paid = manager.ok(first, "pay")
    assert paid["state"] == "paid" and paid["amount"] == payments[0]["planned_amount"]

    reports = owner.get(f"/reports?grant={grant['id']}").get_json()["items"]
    finals = owner.get(f"/reports?grant={grant['id']}&kind=final").get_json()["items"]
    assert [r["kind"] for r in finals] == ["final"]
    assert {r["kind"] for r in reports} >= {"final"}
    report = f"/reports/{reports[0]['id']}"
    empty = error(owner.fire(report, "submit"), 409, "guard_failed")
    assert empty["reasons"] == ["the narrative report is empty", "the financial report is empty"]
    row = db.session.get(Report, reports[0]["id"])
    row.narrative, row.financial = {"text": "Centres opened."}, {"spent": "40000.00"}
    db.session.commit()
    assert owner.ok(report, "submit")["state"] == "submitted"
    missing = error(manager.fire(report, "request_changes"), 422, "invalid")
    assert missing["fields"] == {"comment": ["a reason is required"]}
    manager.ok(report, "request_changes", comment="Add the attendance figures.")
    owner.ok(report, "submit")
    approved = manager.ok(report, "approve")
    assert approved["state"] == "approved" and approved["approved_at"]

    trail = owner.get(path + "/history").get_json()["items"]
    assert [(e["event"], e["from"], e["to"]) for e in trail] == [
        ("submit", "draft", "submitted"),
        ("admit", "submitted", "in_evaluation"),
        ("select", "in_evaluation", "provisionally_selected"),
        ("award", "provisionally_selected", "awarded"),
    ]
    assert trail[0]["actor"] == owner.user.name  # a name, never the address
    assert trail[3]["comment"] == "Documents checked against the originals."
    assert trail[3]["data"] == {
        "documents_verified": True,
        "amount": "100000.00",
        "start_date": "2027-02-01",
    }


def test_a_two_stage_application_is_invited_and_withdrawn_through_the_api(
    app, client, frozen_clock, manager
):
    application = ApplicationFactory()
    owner = as_user(client, application.created_by)
    path = f"/applications/{application.id}"
    owner.ok(path, "submit")
    admin_checks(application, manager.user)
    manager.ok(path, "admit")
    EvaluationResultFactory(application=application, stage="concept_note", total=Decimal("40"))
    invited = manager.ok(path, "invite")
    assert invited["state"] == "invited" and invited["stage"] == "full_application"
    editor = as_user(client, member(application.organisation, "editor"))
    error(editor.fire(path, "withdraw"), 403, "forbidden")  # owners only
    assert owner.ok(path, "withdraw")["state"] == "withdrawn"


def test_a_call_from_draft_to_archive_and_a_cancelled_one(app, client, frozen_clock, manager):
    frozen_clock.set(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    call, other = CallFactory(state="draft"), CallFactory(state="draft")
    path = f"/calls/{call.id}"
    applicant = as_user(client, member(OrganisationFactory()))
    error(applicant.get(path), 404, "not_found")  # a draft is not public

    assert manager.ok(path, "publish")["state"] == "open"
    assert applicant.get(path).get_json()["state"] == "open"
    early = error(manager.fire(path, "close"), 409, "guard_failed")
    assert early["reasons"] == [
        "the deadline 2026-12-01 17:00:00 Europe/Brussels has not passed yet"
    ]
    frozen_clock.set(DEADLINE + timedelta(seconds=1))
    manager.ok(path, "close")
    manager.ok(path, "start_evaluation")
    manager.ok(path, "decide")
    assert manager.ok(path, "archive")["state"] == "archived"

    error(manager.fire(f"/calls/{other.id}", "cancel"), 422, "invalid")
    cancelled = manager.ok(f"/calls/{other.id}", "cancel", comment="The budget was withdrawn.")
    assert cancelled["state"] == "cancelled"


def test_an_evaluator_accepts_scores_submits_and_recuses_through_the_api(
    app, client, frozen_clock, manager
):
    application = ApplicationFactory(state="in_evaluation")
    scoring = AssignmentFactory(application=application)
    recusing = AssignmentFactory(application=application)
    evaluator = as_user(client, scoring.evaluator)
    path = f"/assignments/{scoring.id}"

    assert evaluator.ok(path, "accept")["state"] == "accepted"
    unscored = error(evaluator.fire(path, "submit"), 409, "guard_failed")
    assert unscored["reasons"] == [
        f"criterion {c} is not scored" for c in ("1.1", "1.2", "1.3", "1.4", "2.1", "2.2")
    ]
    for section in evaluation.scored_sections(application.call.grid_for(scoring.stage)):
        for criterion in section.criteria:
            evaluation.save_score(scoring, criterion.id, 4, "Sound.", scoring.evaluator)
    db.session.commit()
    submitted = evaluator.ok(path, "submit")
    assert submitted["state"] == "submitted" and submitted["total"] == "40.00"
    error(evaluator.fire(path, "reopen", comment="Mine."), 403, "forbidden")
    assert manager.ok(path, "reopen", comment="Check 2.1.")["state"] == "reopened"
    assert manager.ok(path, "remove", comment="Replaced.")["state"] == "removed"

    other = as_user(client, recusing.evaluator)
    recused = other.ok(f"/assignments/{recusing.id}", "recuse", comment="I advised them.")
    assert recused["state"] == "recused"
    error(evaluator.get(f"/assignments/{recusing.id}"), 404, "not_found")


# --- error codes ----------------------------------------------------------------


@pytest.fixture
def draft(app, frozen_clock):  # type: ignore[no-untyped-def]
    return ApplicationFactory()


def test_not_found_for_what_does_not_exist_or_may_not_be_known(app, client, draft):
    stranger = as_user(client, member(OrganisationFactory()))
    path = f"/applications/{draft.id}"
    for response in (
        stranger.get(path),
        stranger.get(path + "/history"),
        stranger.fire(path, "submit"),
        stranger.get("/applications/999999"),
        stranger.get("/grants/2147483647"),
    ):
        error(response, 404, "not_found")
    assert draft.state == "draft"
    # The same answer whether the object exists or not: nothing to learn from it.
    assert (
        stranger.get(path).get_json()["message"]
        == stranger.get("/applications/999999").get_json()["message"]
    )
    error(stranger.get("/applications/99999999999"), 404, "not_found")
    error(stranger.get("/no-such-collection"), 404, "not_found")


def test_forbidden_for_what_the_user_sees_but_may_not_do(app, client, draft, manager):
    viewer = as_user(client, member(draft.organisation, "viewer"))
    body = error(viewer.fire(f"/applications/{draft.id}", "submit"), 403, "forbidden")
    assert "owners and editors" in body["message"]
    error(manager.fire(f"/applications/{draft.id}", "submit"), 403, "forbidden")
    assert viewer.get(f"/applications/{draft.id}").get_json()["allowed_transitions"] == []


def test_invalid_transition_from_the_current_state(app, client, draft, manager):
    body = error(manager.fire(f"/applications/{draft.id}", "admit"), 409, "invalid_transition")
    assert "draft" in body["message"]


def test_guard_failed_gives_every_reason(app, client, frozen_clock):
    application = ApplicationFactory(complete=False, requested_amount=Decimal("900000.00"))
    owner = as_user(client, application.created_by)
    frozen_clock.set(DEADLINE + timedelta(seconds=1))
    body = error(owner.fire(f"/applications/{application.id}", "submit"), 409, "guard_failed")
    assert "the deadline passed at 2026-12-01 17:00:00 Europe/Brussels" in body["reasons"]
    assert len(body["reasons"]) >= 3
    assert any(r.startswith("incomplete:") for r in body["reasons"])
    read = owner.get(f"/applications/{application.id}").get_json()
    submit = next(t for t in read["allowed_transitions"] if t["name"] == "submit")
    assert submit["blocked_by"] == body["reasons"]


def test_a_stale_version_is_a_conflict_and_changes_nothing(app, client, draft):
    owner = as_user(client, draft.created_by)
    path = f"/applications/{draft.id}"
    read = owner.get(path)
    assert read.headers["ETag"] == f'"{read.get_json()["version"]}"'
    stale = read.get_json()["version"] - 1 or 99
    error(owner.fire(path, "submit", version=stale), 409, "conflict")
    error(owner.fire(path, "submit", headers={"If-Match": f'"{stale}"'}), 409, "conflict")
    assert owner.get(path).get_json()["state"] == "draft"

    error(owner.fire(path, "submit", headers={"If-Match": "yesterday"}), 422, "invalid")
    response = owner.fire(path, "submit", headers={"If-Match": read.headers["ETag"]})
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'
    # The ETag read before the change is stale now.
    error(owner.fire(path, "withdraw", headers={"If-Match": read.headers["ETag"]}), 409, "conflict")


def test_a_change_made_meanwhile_by_someone_else_is_a_conflict(app, client, draft, monkeypatch):
    """Between the read and the commit another writer moved the row: never a lost update."""
    owner = as_user(client, draft.created_by)
    from grants.blueprints.api import routes

    original = routes.transition

    def racing(obj, *args, **kwargs):  # type: ignore[no-untyped-def]
        db.session.execute(
            Application.__table__.update()
            .where(Application.id == obj.id)
            .values(version=Application.version + 1)
        )
        return original(obj, *args, **kwargs)

    monkeypatch.setattr(routes, "transition", racing)
    error(owner.fire(f"/applications/{draft.id}", "submit"), 409, "conflict")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "launch"}, {"name"}),
        ({"name": ""}, {"name"}),
        ({"comment": "no name"}, {"name"}),
        ({"name": "submit", "colour": "red"}, {"colour"}),
        ({"name": "submit", "comment": 42}, {"comment"}),
        ({"name": "submit", "comment": "a\x00b"}, {"comment"}),
        ({"name": "submit", "comment": "x" * 5001}, {"comment"}),
        ({"name": "submit", "version": "1"}, {"version"}),
        ({"name": "submit", "version": True}, {"version"}),
        ({"name": "submit", "data": []}, {"data"}),
        ({"name": "submit", "data": {"amount": "1.00"}}, {"data.amount"}),
        ({"name": "award", "data": {"amount": "ten"}}, {"data.amount"}),
        ({"name": "award", "data": {"amount": "1.001"}}, {"data.amount"}),
        ({"name": "award", "data": {"amount": 12.5}}, {"data.amount"}),
        ({"name": "award", "data": {"start_date": "2027-02-30"}}, {"data.start_date"}),
        ({"name": "award", "data": {"start_date": "9999-12-01"}}, {"data.start_date"}),
        ({"name": "award", "data": {"documents_verified": "yes"}}, {"data.documents_verified"}),
    ],
)
def test_invalid_fields_are_named(app, client, draft, body, fields):
    owner = as_user(client, draft.created_by)
    response = client.post(
        f"{API}/applications/{draft.id}/transitions", json=body, headers=owner.headers
    )
    assert set(error(response, 422, "invalid")["fields"]) == fields
    assert owner.get(f"/applications/{draft.id}").get_json()["state"] == "draft"


def test_a_body_that_is_not_a_json_object_is_invalid(app, client, draft):
    owner = as_user(client, draft.created_by)
    url = f"{API}/applications/{draft.id}/transitions"
    for kwargs in ({"data": "name=submit"}, {"json": ["submit"]}, {"data": "{"}):
        response = client.post(url, headers=owner.headers, **kwargs)
        assert error(response, 422, "invalid")["fields"] == {"body": ["a JSON object"]}


def test_an_out_of_range_award_is_invalid(app, client, frozen_clock, manager):
    selected = ApplicationFactory(state="provisionally_selected")
    body = error(
        manager.fire(
            f"/applications/{selected.id}",
            "award",
            data={"documents_verified": True, "amount": "999999.00"},
        ),
        422,
        "invalid",
    )
    assert body["fields"] == {"amount": ["out of range"]}
    assert db.session.scalar(select(Grant)) is None


def test_a_revoked_token_is_unauthorised(app, client, draft):
    new = tokens.create_token(draft.created_by, "revoked soon")
    tokens.revoke_token(draft.created_by, new.token.id)
    response = client.post(
        f"{API}/applications/{draft.id}/transitions",
        json={"name": "submit"},
        headers={"Authorization": f"Bearer {new.secret}"},
    )
    error(response, 401, "unauthorised")
    assert draft.state == "draft"


# --- lists ----------------------------------------------------------------------


def test_each_user_lists_only_what_they_may_see(app, client, frozen_clock, manager):
    mine = ApplicationFactory()
    ApplicationFactory(organisation=mine.organisation, call=mine.call)
    theirs = ApplicationFactory(state="in_evaluation", call=mine.call)
    assigned = AssignmentFactory(application=theirs)
    CallFactory(state="draft")

    owner = as_user(client, mine.created_by)
    evaluator = as_user(client, assigned.evaluator)
    stranger = as_user(client, member(OrganisationFactory()))

    def ids(user: Client, collection: str) -> set[int]:
        return {row["id"] for row in user.get(f"/{collection}").get_json()["items"]}

    assert ids(owner, "applications") == {mine.id, mine.id + 1}
    assert ids(evaluator, "applications") == {theirs.id}
    assert ids(stranger, "applications") == set()
    assert len(ids(manager, "applications")) == 3
    assert ids(evaluator, "assignments") == {assigned.id}
    assert ids(owner, "assignments") == set()
    assert len(ids(manager, "calls")) == 2 and len(ids(owner, "calls")) == 1

    for user in (owner, evaluator, stranger, manager):
        for collection, model in (("applications", type(mine)), ("calls", type(mine.call))):
            for row in user.get(f"/{collection}").get_json()["items"]:
                assert can_view(user.user, db.session.get(model, row["id"]))


def test_the_grantee_lists_its_own_grants_payments_and_reports(app, client, frozen_clock, manager):
    grant, other = GrantFactory(), GrantFactory()
    transition(grant, "send_for_signature", manager.user)
    sign_as_grantee(grant, grant.application.created_by)
    transition(grant, "sign", manager.user)
    grantee = as_user(client, grant.application.created_by)
    assert [g["id"] for g in grantee.get("/grants").get_json()["items"]] == [grant.id]
    payments = grantee.get("/payments").get_json()["items"]
    assert payments and {p["grant_id"] for p in payments} == {grant.id}
    assert {r["grant_id"] for r in grantee.get("/reports").get_json()["items"]} == {grant.id}
    error(grantee.get(f"/grants/{other.id}"), 404, "not_found")
    calls = {
        g["id"]
        for g in manager.get(f"/grants?call={grant.application.call_id}").get_json()["items"]
    }
    assert calls == {grant.id}


def test_pages_follow_next_links_to_every_row_once(app, client, frozen_clock, manager):
    call = CallFactory()
    made = [ApplicationFactory(call=call).id for _ in range(7)]
    ApplicationFactory()  # another call: filtered out
    seen: list[int] = []
    url: str | None = f"{API}/applications?call={call.id}&limit=3&state=draft"
    pages = 0
    while url:
        body = client.get(url, headers=manager.headers).get_json()
        seen += [row["id"] for row in body["items"]]
        assert all("allowed_transitions" not in row for row in body["items"])
        url = body["next"]
        pages += 1
    assert seen == made and pages == 3

    assert manager.get("/applications?state=submitted").get_json() == {"items": [], "next": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("after=-1", "after"),
        ("after=99999999999", "after"),
        ("state=lost", "state"),
        ("call=0", "call"),
        ("call=abc", "call"),
    ],
)
def test_invalid_list_parameters_are_named(app, client, manager, query, field):
    body = error(manager.get(f"/applications?{query}"), 422, "invalid")
    assert set(body["fields"]) == {field}


def test_a_blind_review_hides_the_applicant_from_the_evaluator(app, client, frozen_clock, manager):
    call = CallFactory(blind_review=True)
    organisation = OrganisationFactory(name="Zanzibar Lighthouse Collective")
    application = ApplicationFactory(
        call=call,
        organisation=organisation,
        state="in_evaluation",
        title="Zanzibar Lighthouse Collective information desks",
    )
    assigned = AssignmentFactory(application=application)
    seen = as_user(client, assigned.evaluator).get(f"/applications/{application.id}").get_json()
    assert seen["organisation"] is None and "Zanzibar" not in seen["title"]
    full = manager.get(f"/applications/{application.id}").get_json()
    assert full["organisation"]["name"] == "Zanzibar Lighthouse Collective"


def test_me_names_the_tokens_user(app, client):
    owner_org = OrganisationFactory()
    user = member(owner_org, "editor")
    body = as_user(client, user).get("/me").get_json()
    assert body["id"] == user.id and body["roles"] == []
    assert body["organisations"] == [{"id": owner_org.id, "name": owner_org.name, "role": "editor"}]


# --- open data and the document -------------------------------------------------


def test_open_data_is_public(app, client, frozen_clock):
    assert client.get(f"{API}/open-data/jvap").get_json() == []
    error(client.get(f"{API}/open-data/iati"), 404, "not_found")
    error(client.get(f"{API}/open-data/360giving"), 404, "not_found")

    grant = GrantFactory()
    iati = client.get(f"{API}/open-data/iati")
    assert iati.status_code == 200 and iati.mimetype == "application/xml"
    assert grant.number.encode() in iati.data and b"<iati-activities" in iati.data
    giving = client.get(f"{API}/open-data/360giving")
    assert giving.mimetype == "application/json" and len(giving.get_json()["grants"]) == 1
    [record] = client.get(f"{API}/open-data/jvap").get_json()
    assert record and giving.headers["Cache-Control"].startswith("public")


def test_the_document_is_valid_and_covers_every_route(app, client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")

    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    from grants.blueprints.api.resources import COLLECTIONS

    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if "<any(" in rule.rule:
                for name in COLLECTIONS:
                    path = rule.rule.replace(
                        rule.rule[rule.rule.index("<any(") :].split(">")[0] + ">", name
                    )
                    served.add((path.replace("<int:object_id>", "{id}"), method))
            else:
                served.add((rule.rule, method))
    assert documented == served

    schemas = document["components"]["schemas"]
    assert schemas["ApplicationTransitionRequest"]["properties"]["name"]["enum"][0] == "submit"
    assert set(schemas["Call"]["properties"]["state"]["enum"]) == {
        "draft",
        "open",
        "closed",
        "evaluation",
        "decided",
        "archived",
        "cancelled",
    }


def test_every_resource_read_matches_its_schema(app, client, frozen_clock, manager):
    """Each collection's JSON has exactly the fields its schema lists (nothing undocumented)."""
    grant = GrantFactory()
    transition(grant, "send_for_signature", manager.user)
    sign_as_grantee(grant, grant.application.created_by)
    transition(grant, "sign", manager.user)
    assignment = AssignmentFactory(evaluator=EvaluatorFactory())
    schemas = client.get(f"{API}/openapi.json").get_json()["components"]["schemas"]
    objects = {
        "calls": grant.application.call_id,
        "applications": grant.application_id,
        "assignments": assignment.id,
        "grants": grant.id,
        "payments": grant.payments[0].id,
        "reports": grant.reports[0].id,
    }
    from grants.blueprints.api.resources import COLLECTIONS

    for name, object_id in objects.items():
        body = manager.get(f"/{name}/{object_id}").get_json()
        schema = schemas[COLLECTIONS[name].singular.capitalize()]
        assert set(body) == set(schema["properties"]), name
        assert body["links"]["self"] == f"{API}/{name}/{object_id}"


def test_a_page_costs_the_same_number_of_queries_however_many_rows(app, client, manager):
    from sqlalchemy import event

    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    def cost(collection: str) -> int:
        db.session.expunge_all()  # nothing already loaded: every read is counted
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            assert manager.get(f"/{collection}?limit=100").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        return len(statements)

    manager.get("/me")  # the token's first use is recorded: not part of any page
    call = CallFactory()
    first = [AssignmentFactory(application=ApplicationFactory(call=call, state="in_evaluation"))]
    few = {name: cost(name) for name in ("applications", "assignments", "calls")}
    first += [
        AssignmentFactory(application=ApplicationFactory(call=call, state="in_evaluation"))
        for _ in range(6)
    ]
    assert {name: cost(name) for name in few} == few
