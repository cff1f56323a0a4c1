"""Property-based: generated requests to every operation of the OpenAPI document.

No server error, and every response (status, content type, headers, body)
is one the document describes. Generation is derandomised and bounded, so
the run is the same every time and stays short.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from grants.services import tokens
from grants.services.transitions import transition
from tests.factories import (
    ApplicationFactory,
    AssignmentFactory,
    CallFactory,
    GrantFactory,
    ManagerFactory,
    sign_as_grantee,
)

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 12


def bearer(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.create_token(user, 'fuzzing').secret}"}


@pytest.fixture
def seeded(app, frozen_clock):  # type: ignore[no-untyped-def]
    """Rows of every collection, so generated requests reach real objects too."""
    manager = ManagerFactory()
    grant = GrantFactory()
    transition(grant, "send_for_signature", manager)
    sign_as_grantee(grant, grant.application.created_by)
    transition(grant, "sign", manager)
    draft = ApplicationFactory()
    assignment = AssignmentFactory()
    ids = {
        "calls": [CallFactory(state="draft").id, draft.call_id],
        "applications": [draft.id, grant.application_id],
        "assignments": [assignment.id],
        "grants": [grant.id],
        "payments": [p.id for p in grant.payments],
        "reports": [r.id for r in grant.reports],
    }
    users = {
        "manager": bearer(manager),
        "applicant": bearer(draft.created_by),
        "evaluator": bearer(assignment.evaluator),
    }
    return users, ids


def _run(strategy: Any, headers: dict[str, str], checks: list[Any]) -> list[int]:
    """Run the generated cases; the status of each response."""
    statuses: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        statuses.append(response.status_code)
        case.validate_response(response, checks=checks, headers=headers)

    run()
    return statuses


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_generated_requests_find_no_server_error_and_fit_the_document(app, seeded):
    users, ids = seeded
    operations = _operations(app)
    assert len(operations) >= 6 * 4 + 4  # every collection, /me and the open data
    reached: dict[str, set[int]] = {}
    for operation in operations:
        collection = operation.path.split("/")[3]
        seen = reached.setdefault(f"{operation.method.upper()} {operation.path}", set())
        for headers in users.values():
            if "{id}" not in operation.path:
                seen.update(_run(operation.as_strategy(), headers, CONFORMANCE))
                continue
            for object_id in ids[collection]:
                strategy = operation.as_strategy(path_parameters={"id": object_id})
                seen.update(_run(strategy, headers, CONFORMANCE))
        seen.update(_run(operation.as_strategy(), users["manager"], CONFORMANCE))
    # Every operation answered some generated request from its real code path: a read
    # with a 2xx, a transition past the lookup of its object (a refusal of the event or
    # its body, or a change).
    for name, statuses in reached.items():
        wanted = {200} if name.startswith("GET") else {200, 201, 403, 409, 412, 422, 428}
        assert statuses & wanted, f"{name} never reached its object: {sorted(statuses)}"


def test_malformed_requests_are_refused_without_a_server_error(app, seeded):
    """Requests that break the document (wrong types, missing or extra fields, bad headers),
    from every kind of user, to real objects and to made-up ids."""
    users, ids = seeded
    for operation in _operations(app):
        collection = operation.path.split("/")[3]
        if collection not in ids:
            continue  # /me and the open data take no input to get wrong
        checks = [not_a_server_error, content_type_conformance]
        for headers in users.values():
            _run(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), headers, checks)
        if "{id}" not in operation.path or operation.method.upper() != "POST":
            continue  # a read by id has nothing to get wrong but the id
        for object_id in ids[collection]:
            strategy = operation.as_strategy(
                generation_mode=GenerationMode.NEGATIVE, path_parameters={"id": object_id}
            )
            statuses = _run(strategy, users["manager"], checks)
            assert set(statuses) - {404}, f"{operation.path} {object_id}: only {statuses}"
