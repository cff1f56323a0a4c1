"""Who calls the API: the owner of the Bearer token, and nobody else.

The API reads no session cookie. A browser's cookie therefore grants nothing
here, which is why the API can be exempt from CSRF: a request is authorised
only by a header another site cannot make a browser send.
"""

from __future__ import annotations

from flask import g, request

from ...models import User
from ...services import tokens, two_factor
from ...services.errors import DomainError

REALM = 'Bearer realm="api"'


class Unauthorised(DomainError):
    """No token, a token that is unknown or revoked, or one of an account that may not use
    it: disabled, or staff without the two-factor login they must use."""

    code = "unauthorised"
    status = 401


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate_request() -> None:
    """Set g.api_user from the Bearer token, or refuse with 401 `unauthorised`."""
    secret = bearer_token()
    if secret is None:
        raise Unauthorised("send a personal API token: 'Authorization: Bearer <token>'")
    user = tokens.authenticate(secret)
    if user is None:
        raise Unauthorised("the token is unknown or revoked")
    if two_factor.missing(user):
        # The website holds such staff on the set-up page; a token must not be the way round.
        raise Unauthorised(
            "staff accounts must turn on two-factor login on the website before their "
            "API tokens work"
        )
    g.api_user = user


def api_user() -> User:
    user: User = g.api_user
    return user
