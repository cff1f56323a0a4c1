"""The endpoints: read, list, history and transitions of every collection; open data.

Every write goes through the one transition pipeline with the token's user as
the actor; the errors it raises keep their codes (grants.services.errors).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from sqlalchemy import select

from reports.exports import (
    NothingToExport,
    export_360giving,
    export_iati,
    export_jvap_json,
    load_grants,
)

from ...extensions import db
from ...models import User
from ...policy import can_view
from ...services.errors import ConcurrentChange, NotFound
from ...services.transitions import allowed_transitions, history, transition
from . import bp, serializers
from .auth import api_user
from .openapi import openapi_document
from .requests import etag, if_match_version, list_query, transition_request
from .resources import COLLECTIONS, MAX_ID, Collection

COLLECTION = "<any(" + ", ".join(COLLECTIONS) + "):collection>"
OPEN_DATA_CACHE = "public, max-age=300"


def _collection(name: str) -> Collection:
    return COLLECTIONS[name]


def _load(collection: Collection, object_id: int) -> Any:
    """The object, if the user may know of it; 404 otherwise (the same answer either way)."""
    obj = db.session.get(collection.model, object_id) if object_id <= MAX_ID else None
    if obj is None or not can_view(api_user(), obj):
        raise NotFound(f"no such {collection.singular}")
    return obj


def _links(collection: Collection, object_id: int) -> dict[str, str]:
    base = url_for("api.read", collection=collection.name, object_id=object_id)
    return {"self": base, "history": base + "/history", "transitions": base + "/transitions"}


def _resource(collection: Collection, obj: Any, *, with_transitions: bool) -> dict[str, Any]:
    user = api_user()
    body = collection.serialize(obj, user)
    body["state"] = obj.state
    body["version"] = obj.version
    if with_transitions:
        body["allowed_transitions"] = [
            serializers.allowed_json(a) for a in allowed_transitions(obj, user)
        ]
    body["links"] = _links(collection, obj.id)
    return body


def _resource_response(collection: Collection, obj: Any) -> Response:
    response = jsonify(_resource(collection, obj, with_transitions=True))
    response.headers["ETag"] = etag(obj.version)
    return response


@bp.get("/me")
def me() -> Response:
    return jsonify(serializers.user_json(api_user()))


@bp.get(f"/{COLLECTION}")
def index(collection: str) -> Response:
    spec = _collection(collection)
    query = list_query(spec, request.args)
    statement = spec.query(api_user()).where(spec.model.id > query.after)
    for spec_filter in spec.filters:
        if spec_filter.name in query.filters:
            statement = statement.where(spec_filter.condition(query.filters[spec_filter.name]))
    rows = list(db.session.scalars(statement.order_by(spec.model.id).limit(query.limit + 1)))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_url = None
    if more:
        params = {**request.args.to_dict(), "after": rows[-1].id, "limit": query.limit}
        next_url = url_for("api.index", collection=collection, **params)
    items = [_resource(spec, obj, with_transitions=False) for obj in rows]
    return jsonify(serializers.page_json(items, next_url))


@bp.get(f"/{COLLECTION}/<int:object_id>")
def read(collection: str, object_id: int) -> Response:
    spec = _collection(collection)
    return _resource_response(spec, _load(spec, object_id))


@bp.get(f"/{COLLECTION}/<int:object_id>/history")
def object_history(collection: str, object_id: int) -> Response:
    spec = _collection(collection)
    events = history(_load(spec, object_id))
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    names: dict[int, str] = {}
    if actor_ids:
        rows = db.session.execute(select(User.id, User.name).where(User.id.in_(actor_ids)))
        names = {user_id: name for user_id, name in rows}
    return jsonify({"items": [serializers.history_json(e, names) for e in events]})


@bp.post(f"/{COLLECTION}/<int:object_id>/transitions")
def fire(collection: str, object_id: int) -> Response:
    spec = _collection(collection)
    obj = _load(spec, object_id)
    wanted = transition_request(spec, request.get_json(silent=True))
    header = if_match_version(request.headers.get("If-Match"))
    expected = [v for v in (wanted.version, header) if v is not None]
    if any(v != obj.version for v in expected):
        raise ConcurrentChange(
            f"{obj.label} is at version {obj.version}, not {expected[0]}: "
            "it changed since you read it; read it again and decide anew"
        )
    transition(obj, wanted.name, api_user(), comment=wanted.comment, data=wanted.data)
    return _resource_response(spec, obj)


def _open_data(document: bytes | str, mimetype: str) -> Response:
    response = Response(document, mimetype=mimetype)
    response.headers["Cache-Control"] = OPEN_DATA_CACHE
    return response


@bp.get("/open-data/iati")
def open_data_iati() -> Response:
    try:
        document = export_iati(load_grants())
    except NothingToExport:
        raise NotFound("no grant has been awarded yet, so there is no IATI activity") from None
    return _open_data(document, "application/xml")


@bp.get("/open-data/360giving")
def open_data_360giving() -> Response:
    try:
        document = export_360giving(load_grants())
    except NothingToExport:
        raise NotFound("no grant has been awarded yet, so there is no 360Giving grant") from None
    return _open_data(document, "application/json")


@bp.get("/open-data/jvap")
def open_data_jvap() -> Response:
    return _open_data(export_jvap_json(load_grants()), "application/json")


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(openapi_document(current_app.config.get("PROGRAMME_NAME")))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
