"""The OpenAPI 3.1 document of the API, built from the same collections the routes serve.

States, events, filters and transition data come from resources.COLLECTIONS
(and so from the workflow definitions); the fields of each resource are
listed here as serializers.py writes them.
"""

from __future__ import annotations

from typing import Any

from .requests import COMMENT_MAX, DEFAULT_LIMIT, MAX_LIMIT
from .resources import COLLECTIONS, MAX_ID, Collection

PREFIX = "/api/v1"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


STRING = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "description": "Exact amount."}
MOMENT = {"type": "string", "format": "date-time"}
DAY = {"type": "string", "format": "date"}


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


# The fields serializers.py writes for each collection (state, version, links added to all).
FIELDS: dict[str, dict[str, Any]] = {
    "calls": {
        "id": ID,
        "code": STRING,
        "year": {"type": "integer"},
        "title": STRING,
        "summary": STRING,
        "workflow": {
            "type": "string",
            "enum": ["application_two_stage", "application_single_stage"],
        },
        "currency": {"type": "string", "minLength": 3, "maxLength": 3},
        "budget": MONEY,
        "grant_min": MONEY,
        "grant_max": MONEY,
        "time_zone": STRING,
        "opens_at": _nullable(MOMENT),
        "deadline_at": MOMENT,
        "full_deadline_at": _nullable(MOMENT),
        "published_at": _nullable(MOMENT),
    },
    "applications": {
        "id": ID,
        "reference": TEXT_OR_NULL,
        "call_id": ID,
        "lot_id": _nullable(ID),
        "organisation": {
            "oneOf": [
                _object({"id": ID, "name": STRING, "country": STRING}),
                {"type": "null"},
            ],
            "description": "The applicant; null for an evaluator of a blind-review call.",
        },
        "title": STRING,
        "language": {"type": "string", "enum": ["en", "fr"]},
        "stage": {"type": "string", "enum": ["concept_note", "full_application"]},
        "requested_amount": _nullable(MONEY),
        "total_cost": _nullable(MONEY),
        "duration_months": {"type": ["integer", "null"]},
        "created_at": MOMENT,
        "submitted_at": _nullable(MOMENT),
        "decided_at": _nullable(MOMENT),
        "decision_reason": TEXT_OR_NULL,
    },
    "assignments": {
        "id": ID,
        "application_id": ID,
        "evaluator": _object({"id": ID, "name": STRING}),
        "stage": {"type": "string", "enum": ["concept_note", "full_application"]},
        "assigned_at": MOMENT,
        "due_at": _nullable(MOMENT),
        "submitted_at": _nullable(MOMENT),
        "total": _nullable(MONEY),
    },
    "grants": {
        "id": ID,
        "number": STRING,
        "application_id": ID,
        "amount": MONEY,
        "currency": STRING,
        "funding_rate": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{4}$"},
        "start_date": DAY,
        "end_date": DAY,
        "awarded_at": MOMENT,
        "sent_for_signature_at": _nullable(MOMENT),
        "signed_at": _nullable(MOMENT),
        "termination_reason": TEXT_OR_NULL,
    },
    "payments": {
        "id": ID,
        "grant_id": ID,
        "sequence": {"type": "integer"},
        "kind": {"type": "string", "enum": ["prefinancing", "further_prefinancing", "balance"]},
        "trigger": STRING,
        "planned_amount": MONEY,
        "amount": _nullable(MONEY),
        "explanation": TEXT_OR_NULL,
        "requested_at": _nullable(MOMENT),
        "paid_at": _nullable(MOMENT),
    },
    "reports": {
        "id": ID,
        "grant_id": ID,
        "kind": {"type": "string", "enum": ["interim", "final"]},
        "sequence": {"type": "integer"},
        "period_start": DAY,
        "period_end": DAY,
        "due_date": DAY,
        "overdue": {
            "type": "boolean",
            "description": "Past its due date and not submitted (derived, not a state).",
        },
        "submitted_at": _nullable(MOMENT),
        "approved_at": _nullable(MOMENT),
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _title(collection: Collection) -> str:
    return collection.singular.capitalize()


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


ERRORS = {
    "401": _error_response(
        "`unauthorised`: no token, an unknown or revoked one, or the token of a disabled "
        "account or of staff who have not turned on the two-factor login they must use."
    ),
    "403": _error_response("`forbidden`: the user may see the object but not do this."),
    "404": _error_response("`not_found`: no such object, or one the user may not know of."),
    "409": _error_response(
        "`invalid_transition` (not from the current state), `guard_failed` (every failing "
        "reason in `reasons`) or `conflict` (the object changed: a stale version)."
    ),
    "422": _error_response("`invalid`: fields that do not fit, each named in `fields`."),
}

ETAG_HEADER = {
    "ETag": {"description": "The resource's version, for If-Match.", "schema": STRING},
}


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable: unauthorised, forbidden, not_found, "
                    "invalid_transition, guard_failed, conflict, invalid, method_not_allowed.",
                },
                "message": STRING,
                "reasons": {"type": "array", "items": STRING},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": STRING},
                },
            },
            "required": ["code", "message"],
        },
        "AllowedTransition": _object(
            {
                "name": STRING,
                "to": STRING,
                "comment_required": {"type": "boolean"},
                "blocked_by": {
                    "type": "array",
                    "items": STRING,
                    "description": "Conditions that fail now; empty when it may be fired.",
                },
            }
        ),
        "Links": _object({"self": STRING, "history": STRING, "transitions": STRING}),
        "HistoryEntry": _object(
            {
                "id": ID,
                "occurred_at": MOMENT,
                "event": STRING,
                "from": TEXT_OR_NULL,
                "to": TEXT_OR_NULL,
                "actor": STRING,
                "comment": TEXT_OR_NULL,
                "data": {"type": "object"},
            }
        ),
        "History": _object({"items": {"type": "array", "items": _ref("HistoryEntry")}}),
        "User": _object(
            {
                "id": ID,
                "name": STRING,
                "email": STRING,
                "roles": {"type": "array", "items": STRING},
                "organisations": {
                    "type": "array",
                    "items": _object({"id": ID, "name": STRING, "role": STRING}),
                },
            }
        ),
    }
    for collection in COLLECTIONS.values():
        title = _title(collection)
        properties = {
            **FIELDS[collection.name],
            "state": {"type": "string", "enum": list(collection.states)},
            "version": {"type": "integer", "minimum": 1},
            "allowed_transitions": {
                "type": "array",
                "items": _ref("AllowedTransition"),
                "description": "What the token's user may fire now (single reads only).",
            },
            "links": _ref("Links"),
        }
        schemas[title] = _object(
            properties, required=[k for k in properties if k != "allowed_transitions"]
        )
        schemas[f"{title}Page"] = _object(
            {
                "items": {"type": "array", "items": _ref(title)},
                "next": {
                    "type": ["string", "null"],
                    "description": "The next page, or null on the last one.",
                },
            }
        )
        data_fields = {
            event: {key: spec.schema for key, spec in fields.items()}
            for event, fields in collection.data.items()
        }
        data_properties = {k: v for fields in data_fields.values() for k, v in fields.items()}
        data_description = (
            "; ".join(
                f"'{event}' takes {', '.join(fields)}" for event, fields in data_fields.items()
            )
            or "No transition of this collection takes data."
        )
        schemas[f"{title}TransitionRequest"] = _object(
            {
                "name": {"type": "string", "enum": list(collection.events)},
                "comment": {
                    "type": ["string", "null"],
                    "maxLength": COMMENT_MAX,
                    "pattern": "^[^\\x00]*$",
                    "description": "The reason; required where the transition says so.",
                },
                "data": {
                    "type": ["object", "null"],
                    "properties": data_properties,
                    "additionalProperties": False,
                    "description": data_description,
                },
                "version": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_ID,
                    "description": "The version read; 409 `conflict` when it changed since.",
                },
            },
            required=["name"],
        )
    return schemas


def _id_parameter(collection: Collection) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"The {collection.singular}'s id.",
        "schema": ID,
    }


def _list_parameters(collection: Collection) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": "limit",
            "in": "query",
            "description": "Rows per page.",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        {
            "name": "after",
            "in": "query",
            "description": "Rows after this id (the `next` link sets it).",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        },
    ]
    for spec in collection.filters:
        if spec.kind == "enum":
            schema: dict[str, Any] = {"type": "string", "enum": list(spec.values)}
        elif spec.kind == "id":
            schema = ID
        else:
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        parameters.append(
            {"name": spec.name, "in": "query", "description": spec.description, "schema": schema}
        )
    return parameters


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def _collection_paths(collection: Collection) -> dict[str, Any]:
    title = _title(collection)
    plural = collection.name.capitalize()
    base = f"{PREFIX}/{collection.name}"
    tag = [collection.name]
    return {
        base: {
            "get": {
                "operationId": f"list{plural}",
                "summary": f"The {collection.name} the user may see, by id, a page at a time.",
                "tags": tag,
                "parameters": _list_parameters(collection),
                "responses": {
                    "200": _json(_ref(f"{title}Page"), "A page."),
                    "401": ERRORS["401"],
                    "422": ERRORS["422"],
                },
            }
        },
        base + "/{id}": {
            "get": {
                "operationId": f"get{title}",
                "summary": f"One {collection.singular}, with what the user may do to it now.",
                "tags": tag,
                "parameters": [_id_parameter(collection)],
                "responses": {
                    "200": _json(_ref(title), f"The {collection.singular}.", headers=ETAG_HEADER),
                    "401": ERRORS["401"],
                    "404": ERRORS["404"],
                },
            }
        },
        base + "/{id}/history": {
            "get": {
                "operationId": f"get{title}History",
                "summary": f"The {collection.singular}'s changes of state, oldest first.",
                "tags": tag,
                "parameters": [_id_parameter(collection)],
                "responses": {
                    "200": _json(_ref("History"), "The audit trail."),
                    "401": ERRORS["401"],
                    "404": ERRORS["404"],
                },
            }
        },
        base + "/{id}/transitions": {
            "post": {
                "operationId": f"transition{title}",
                "summary": f"Move the {collection.singular} through its workflow.",
                "tags": tag,
                "parameters": [
                    _id_parameter(collection),
                    {
                        "name": "If-Match",
                        "in": "header",
                        "description": "The ETag read; 409 `conflict` when it changed since.",
                        "schema": {"type": "string", "pattern": r'^(\*|(W/)?"[0-9]{1,9}")$'},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(f"{title}TransitionRequest")}},
                },
                "responses": {
                    "200": _json(
                        _ref(title),
                        f"The {collection.singular} after the change.",
                        headers=ETAG_HEADER,
                    ),
                    **{code: ERRORS[code] for code in ("401", "403", "404", "409", "422")},
                },
            }
        },
    }


def _open_data_paths() -> dict[str, Any]:
    public: list[dict[str, Any]] = []
    none_yet = _error_response("`not_found`: no grant has been awarded yet.")
    return {
        f"{PREFIX}/open-data/iati": {
            "get": {
                "operationId": "openDataIati",
                "summary": "IATI 2.03 activity XML of the grants.",
                "tags": ["open data"],
                "security": public,
                "responses": {
                    "200": {
                        "description": "An iati-activities document.",
                        "content": {"application/xml": {"schema": STRING}},
                    },
                    "404": none_yet,
                },
            }
        },
        f"{PREFIX}/open-data/360giving": {
            "get": {
                "operationId": "openData360Giving",
                "summary": "A 360Giving package of the grants made.",
                "tags": ["open data"],
                "security": public,
                "responses": {
                    "200": _json(
                        {"type": "object", "required": ["grants"]}, "A 360Giving package."
                    ),
                    "404": none_yet,
                },
            }
        },
        f"{PREFIX}/open-data/jvap": {
            "get": {
                "operationId": "openDataJvap",
                "summary": "JVAP follow-up database records, one per grant.",
                "tags": ["open data"],
                "security": public,
                "responses": {
                    "200": _json({"type": "array", "items": {"type": "object"}}, "The records.")
                },
            }
        },
        f"{PREFIX}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "tags": ["meta"],
                "security": public,
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
    }


def openapi_document(programme: str | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {
        f"{PREFIX}/me": {
            "get": {
                "operationId": "me",
                "summary": "The user the token belongs to.",
                "tags": ["meta"],
                "responses": {"200": _json(_ref("User"), "The user."), "401": ERRORS["401"]},
            }
        }
    }
    for collection in COLLECTIONS.values():
        paths.update(_collection_paths(collection))
    paths.update(_open_data_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{programme or 'MMD Grant Facility'} API",
            "version": "1.0.0",
            "description": (
                "Calls, applications, evaluator assignments, grants, payments and reports of "
                "the grants component of the Africa-EU Migration and Mobility Dialogue. "
                "Authenticate with a personal token (Authorization: Bearer <token>), created "
                "at /account/tokens. Every error is JSON with a stable `code`."
            ),
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token from /account/tokens.",
                }
            },
        },
    }
