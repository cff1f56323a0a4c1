"""The JSON API under /api/v1, described by the OpenAPI document at /api/v1/openapi.json.

Modules: auth (Bearer tokens), resources (collections, visibility, filters),
requests (reading parameters and bodies), serializers (the JSON of each
resource), routes (the endpoints), openapi (the document).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .auth import REALM, Unauthorised, authenticate_request

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Readable without a token: the document itself and the open data.
PUBLIC_ENDPOINTS = frozenset(
    {"api.openapi", "api.open_data_iati", "api.open_data_360giving", "api.open_data_jvap"}
)


@bp.before_request
def _authenticate() -> None:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        authenticate_request()


@bp.errorhandler(Unauthorised)
def _unauthorised(exc: Unauthorised) -> tuple[Response, int]:
    response = jsonify(exc.to_dict())
    response.headers["WWW-Authenticate"] = REALM
    return response, exc.status


from . import routes  # noqa: E402,F401  (the endpoints register themselves on bp)
