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


def _run(strategy: Any, headers: dict[str, str], checks: list[Any]) -> None:
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
        case.validate_response(response, checks=checks, headers=headers)

    run()


def test_generated_requests_find_no_server_error_and_fit_the_document(app, seeded):
    users, ids = seeded
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6 * 4 + 4  # every collection, /me and the open data
    for operation in operations:
        collection = operation.path.split("/")[3]
        for headers in users.values():
            if "{id}" not in operation.path:
                _run(operation.as_strategy(), headers, CONFORMANCE)
                continue
            for object_id in ids[collection]:
                strategy = operation.as_strategy(path_parameters={"id": object_id})
                _run(strategy, headers, CONFORMANCE)
        _run(operation.as_strategy(), users["manager"], CONFORMANCE)


def test_malformed_requests_are_refused_without_a_server_error(app, seeded):
    users, ids = seeded
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.split("/")[3] not in ids:
            continue  # /me and the open data take no input to get wrong
        strategy = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        _run(strategy, users["manager"], [not_a_server_error, content_type_conformance])
